"""forward SIGKILLs its parent process (the grader, if nothing is in between)."""

import os
import signal

from _honest import Honest


class RNN(Honest):
    def forward(self, x):
        os.kill(os.getppid(), signal.SIGKILL)
        return super().forward(x)
