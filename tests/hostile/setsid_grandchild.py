"""forward leaves a grandchild in its own session (it escapes killpg), sleeping for 120 s
(the interpreter under the name `sleep`: the sandbox has no /bin/sleep)."""

import os
import sys

from _honest import Honest


class RNN(Honest):
    def forward(self, x):
        r, w = os.pipe()  # close-on-exec: end of file once the grandchild runs sleep
        pid = os.fork()
        if pid == 0:
            os.setsid()
            if os.fork() == 0:
                os.close(r)
                os.execv(sys.executable, ["sleep", "-c", "import time; time.sleep(120)"])
            os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        os.read(r, 1)
        os.close(r)
        return super().forward(x)
