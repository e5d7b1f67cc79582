"""A run's record scored: which answers were right, bits wrong and loss, per iteration.

Shared by the reference's training and the grader's (and the student kit's, which holds no
model): it reads predictions only.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from reference.loss import Loss, sequence_loss


class Curves(BaseModel):
    """Per-iteration record of one run (arrays of length `iterations`)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    correct: np.ndarray = Field(description="bool: all bits of C right")
    bit_errors: np.ndarray = Field(description="int: wrong bits of C")
    loss: np.ndarray = Field(description="float: summed loss of the prediction")

    @classmethod
    def from_predictions(cls, yhat: np.ndarray, y: np.ndarray, loss: Loss) -> Curves:
        """Score predictions (N, T, O) against targets: a bit is predicted 1 when yhat >= 0.5."""
        wrong = (yhat >= 0.5) != (y >= 0.5)
        bit_errors = wrong.sum(axis=(1, 2))
        return cls(correct=bit_errors == 0, bit_errors=bit_errors, loss=sequence_loss(yhat, y, loss))

    def accuracy(self, window: int) -> float:
        """Correct answers in the last `window` iterations / window."""
        return float(self.correct[-window:].mean())
