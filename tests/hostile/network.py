"""forward tries to reach a TCP listener on 127.0.0.1; yhat is 1 if it connected, 0 if not."""

import os
import socket

import numpy as np

from _honest import Honest


class RNN(Honest):
    def forward(self, x):
        port = int(os.environ["HOSTILE_PORT"])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"LEAK")
            ok = 1.0
        except OSError:
            ok = 0.0
        return np.full((len(x), 1), ok)
