"""What the contract defines and a self-check may hold: the parameter names and the loss.

The loss is the assignment's definition (a finite-difference check needs it); how to
differentiate it through time is the solution, and lives in reference/rnn.py, which the
student kit leaves out (grader/kit.py).
"""

from __future__ import annotations

import numpy as np

from grader.settings import Loss

__all__ = ["PARAMS", "Loss", "sequence_loss"]
PARAMS = ("U", "W", "V", "b", "c")


def sequence_loss(yhat: np.ndarray, y: np.ndarray, loss: Loss) -> np.ndarray:
    """L summed over the last two axes (time, output), for any leading batch shape."""
    if loss == "bce":
        p = np.clip(yhat, 1e-12, 1.0 - 1e-12)
        return -(y * np.log(p) + (1.0 - y) * np.log1p(-p)).sum(axis=(-2, -1))
    if loss == "mse":
        return 0.5 * ((yhat - y) ** 2).sum(axis=(-2, -1))
    raise ValueError(f"unknown loss {loss!r}; expected 'bce' or 'mse'")
