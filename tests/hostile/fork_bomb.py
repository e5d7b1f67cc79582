"""forward forks (bounded, so it cannot wreck an unprotected machine) children that linger."""

import os
import time

from _honest import Honest

TRIES = 150


class RNN(Honest):
    def forward(self, x):
        forked = 0
        for _ in range(TRIES):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            forked += 1
        print(f"FORKED {forked}", flush=True)
        return super().forward(x)
