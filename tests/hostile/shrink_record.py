"""At import, tries to shrink and to grow every file descriptor it has, the grader's shared
memory for the training record among them (a shrunk mapping would kill the grader with
SIGBUS when it reads the record). Prints what it managed."""

import os

from _honest import Honest

for name in os.listdir("/proc/self/fd"):
    fd = int(name)
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        continue
    if "memfd" in target:
        for size in (0, 1 << 30):
            try:
                os.ftruncate(fd, size)
                print(f"RESIZED {target} to {size}", flush=True)
            except OSError:
                pass
        print(f"FOUND {target}", flush=True)


class RNN(Honest):
    pass
