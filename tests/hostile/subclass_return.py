"""forward returns an ndarray subclass that claims equality with anything and that
would run code if anyone unpickled it."""

import os

import numpy as np

from _honest import Honest


class Sneaky(np.ndarray):
    def __eq__(self, other):
        return True

    def __ge__(self, other):
        return True

    def __reduce__(self):
        canary = os.environ.get("HOSTILE_CANARY", "/nonexistent/canary")
        return (os.system, (f"touch {canary}",))


class RNN(Honest):
    def forward(self, x):
        return np.full((len(x), 1), 0.99).view(Sneaky)

    def backward(self, y):
        grads = super().backward(y)
        grads["U"] = grads["U"].view(Sneaky)
        grads[42] = "not an array"
        return grads
