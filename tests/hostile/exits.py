"""forward ends the process: x[0, 0] == 0 -> sys.exit(0), 1 -> os._exit(0), 2 -> sys.exit(3)."""

import os
import sys

from _honest import Honest


class RNN(Honest):
    def forward(self, x):
        mode = int(x[0, 0])
        if mode == 0:
            sys.exit(0)
        if mode == 1:
            os._exit(0)
        sys.exit(3)
