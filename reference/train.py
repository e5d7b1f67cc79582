"""The contract's training loop and its typed result (accuracy and learning curves).

`train` drives any object with the contract's `forward`, `backward` and `update`: the
reference, the benchmark's baseline, or (through the grader's proxy) a submission. The
prediction of iteration i is recorded before its update, as the contract says; every
figure is then computed from the recorded predictions in one vectorised pass.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from reference.data import sample_stream
from reference.curves import Curves
from reference.rnn import RNN, Loss
from grader.settings import Settings


class Model(Protocol):
    def forward(self, x: np.ndarray) -> np.ndarray: ...
    def backward(self, y: np.ndarray) -> dict[str, np.ndarray]: ...
    def update(self, grads: dict[str, np.ndarray], alpha: float) -> None: ...


class TrainResult(BaseModel):
    """One training run: its seed, accuracy over the last window, time and curves."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    seed: int
    iterations: int
    accuracy: float = Field(description="accuracy over the last accuracy_window iterations")
    seconds: float = Field(description="wall time of the loop, data drawing excluded")
    curves: Curves


def run_loop(model: Model, x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Per-sample SGD over the stream; returns every prediction, made before its update."""
    yhat = np.empty(y.shape)
    forward, backward, update = model.forward, model.backward, model.update
    for i in range(len(x)):
        yhat[i] = forward(x[i])
        update(backward(y[i]), alpha)
    return yhat


def train(
    model: Model, settings: Settings, seed: int, loss: Loss | None = None
) -> TrainResult:
    """Train `model` on the seeded stream of `seed` for settings.iterations iterations."""
    x, y = sample_stream(seed, settings.iterations, settings)
    start = time.perf_counter()
    yhat = run_loop(model, x, y, settings.alpha)
    seconds = time.perf_counter() - start
    curves = Curves.from_predictions(yhat, y, loss or settings.reference_loss)
    return TrainResult(
        seed=seed,
        iterations=settings.iterations,
        accuracy=curves.accuracy(settings.accuracy_window),
        seconds=seconds,
        curves=curves,
    )


def reference_model(settings: Settings, seed: int, loss: Loss | None = None) -> RNN:
    """The reference RNN as the settings define it."""
    return RNN(
        settings.input_dim,
        settings.hidden_dim,
        settings.output_dim,
        seed=seed,
        loss=loss or settings.reference_loss,
        clip_norm=settings.clip_norm,
    )


def train_reference(settings: Settings, seed: int, loss: Loss | None = None) -> TrainResult:
    """Train the reference with the given seed (model init and data stream)."""
    loss = loss or settings.reference_loss
    return train(reference_model(settings, seed, loss), settings, seed, loss)
