"""forward leaves a grandchild in its own session (it escapes killpg): `sleep 120`."""

import os

from _honest import Honest


class RNN(Honest):
    def forward(self, x):
        r, w = os.pipe()  # close-on-exec: end of file once the grandchild runs sleep
        pid = os.fork()
        if pid == 0:
            os.setsid()
            if os.fork() == 0:
                os.close(r)
                os.execv("/bin/sleep", ["sleep", "120"])
            os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        os.read(r, 1)
        os.close(r)
        return super().forward(x)
