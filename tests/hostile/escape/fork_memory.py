"""Multiplies its memory by forking (RLIMIT_AS is per process): four processes each take
up to 200 MB, 10 MB at a time, and hold it together for three seconds. Prints how many MB
they held at once; more than the sandbox's memory limit is an escape."""

import os
import time

from _attempt import TARGETS, attempt
from _correct import Correct

CHILDREN, MB, STEP = 4, 200, 10


def _child(w):
    blocks = []
    try:
        while len(blocks) * STEP < MB:
            block = bytearray(STEP << 20)
            block[::4096] = b"x" * len(block[::4096])  # touch every page
            blocks.append(block)
    except MemoryError:
        pass
    os.write(w, len(blocks).to_bytes(2, "little"))
    time.sleep(3)


def _hold():
    r, w = os.pipe()
    pids = []
    for _ in range(CHILDREN):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            os.close(r)
            try:
                _child(w)
            finally:
                os._exit(0)
        pids.append(pid)
    os.close(w)
    held = 0
    while chunk := os.read(r, 2):
        held += int.from_bytes(chunk, "little") * STEP
    os.close(r)
    for pid in pids:
        os.waitpid(pid, 0)
    print(f"HELD {held} MB in {len(pids)} forked processes", flush=True)
    return held > TARGETS.get("memory_mb", 256) and f"{held} MB held by {len(pids)} processes"


class RNN(Correct):
    def forward(self, x):
        attempt("hold more memory than the limit", _hold)
        return super().forward(x)
