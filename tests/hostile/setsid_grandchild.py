"""forward leaves a grandchild in its own session (escapes killpg), sleeping."""

import os
import time

from _honest import Honest


class RNN(Honest):
    def forward(self, x):
        pid = os.fork()
        if pid == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(120)
            os._exit(0)
        os.waitpid(pid, 0)
        return super().forward(x)
