"""Leaves a process in a session of its own that outlives grading, and files in /tmp and
/dev/shm (the test looks for both afterwards, on the host)."""

import os
import sys

from _attempt import MARK, model


def _leave():
    for folder in ("/tmp", "/dev/shm"):
        try:
            with open(os.path.join(folder, MARK), "w") as f:
                f.write("left behind")
        except OSError:
            pass
    try:
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, ["left-behind", "-c", "import time; time.sleep(120)"])
            os._exit(0)
    except OSError:  # no process may be started: nothing to leave
        pass



RNN = model(_leave)
