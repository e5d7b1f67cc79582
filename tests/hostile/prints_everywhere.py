"""Prints by every road to stdout, at import and in forward: print, sys.stdout,
sys.__stdout__, os.write(1, ...), and bytes that look like a reply frame. In the portable
mode the replies travel on the child's original stdout, so none of this may reach them."""

import json
import os
import struct
import sys

import numpy as np

from _honest import Honest

print("PRINTED AT IMPORT")


def fake_frame() -> bytes:
    text = json.dumps({"arrays": [["yhat", "<f8", [8, 1]]]}).encode()
    return struct.pack("<I", len(text)) + text + np.ones((8, 1)).tobytes()


class RNN(Honest):
    def forward(self, x):
        print("PRINTED IN FORWARD " + "x" * 70000)
        sys.stdout.write("SYS.STDOUT\n")
        sys.__stdout__.write("SYS.__STDOUT__\n")
        sys.stdout.flush()
        os.write(1, b"OS.WRITE(1)\n" + fake_frame() + b"\n")
        return super().forward(x)
