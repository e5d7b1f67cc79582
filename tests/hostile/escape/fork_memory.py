"""Multiplies its memory by forking (RLIMIT_AS is per process): four processes each take
up to 200 MB, 10 MB at a time, and hold it for three seconds. Prints the most MB that
processes which survived their hold held at one moment; more than the sandbox's memory
limit is an escape."""

import os
import struct
import time

from _attempt import TARGETS, attempt
from _correct import Correct

CHILDREN, MB, STEP, HOLD = 4, 200, 10, 3.0
RECORD = struct.calcsize("<iHd")


def _child(w):
    blocks = []
    try:
        while len(blocks) * STEP < MB:
            block = bytearray(STEP << 20)
            block[::4096] = b"x" * len(block[::4096])  # touch every page
            blocks.append(block)
    except MemoryError:
        pass
    os.write(w, struct.pack("<iHd", os.getpid(), len(blocks) * STEP, time.monotonic()))
    time.sleep(HOLD)


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
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    os.close(r)
    survived = {pid for pid in pids if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0}
    records = [struct.unpack_from("<iHd", data, i) for i in range(0, len(data) - RECORD + 1, RECORD)]
    held = [(mb, t) for pid, mb, t in records if pid in survived]
    held = max([sum(mb for mb, t in held if t <= moment <= t + HOLD) for _, moment in held] or [0])
    print(f"HELD {held} MB in {len(pids)} forked processes", flush=True)
    return held > TARGETS.get("memory_mb", 256) and f"{held} MB held by {len(pids)} processes"


class RNN(Correct):
    def forward(self, x):
        attempt("hold more memory than the limit", _hold)
        return super().forward(x)
