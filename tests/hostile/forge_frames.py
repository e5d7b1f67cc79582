"""forward writes well-formed frames claiming yhat = 1 to other file descriptors.

x[0, 0] == 0: blindly to fds 3..63; 1: to every fd in /proc/self/fd; 2: as 1, but with the
request id read from the worker's stack (the most a submission can do).
"""

import json
import os
import struct
import sys

import numpy as np

from _honest import Honest


def frame(rid, shape):
    header = {"arrays": [["yhat", "<f8", list(shape)]]}
    if rid is not None:
        header["id"] = rid
    text = json.dumps(header).encode()
    return struct.pack("<I", len(text)) + text + np.ones(shape).astype("<f8").tobytes()


def request_id():
    f = sys._getframe(1)
    while f is not None:
        if "rid" in f.f_locals:
            return f.f_locals["rid"]
        f = f.f_back
    return None


class RNN(Honest):
    def forward(self, x):
        mode = int(x[0, 0])
        shape = (len(x), self.c.shape[0])
        rid = request_id() if mode == 2 else 0
        fds = range(3, 64) if mode == 0 else [int(f) for f in os.listdir("/proc/self/fd")]
        data = frame(rid, shape)
        for fd in fds:
            if fd > 2:
                try:
                    os.write(fd, data)
                except OSError:
                    pass
        return super().forward(x)
