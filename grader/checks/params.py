"""The five parameters as one vector, in the contract's order U, W, V, b, c: how finite
differences perturb them and how training's record stores a step."""

from __future__ import annotations

import numpy as np

from reference.loss import PARAMS
from grader.settings import Settings


def flatten(params: dict[str, np.ndarray]) -> np.ndarray:
    """Parameters as one vector in the contract's order U, W, V, b, c."""
    return np.concatenate([params[k].ravel() for k in PARAMS])


def segments(settings: Settings) -> list[tuple[str, slice]]:
    """Each parameter's columns in a flattened vector, in the contract's order U, W, V, b, c."""
    out, start = [], 0
    for name, shape in settings.param_shapes().items():
        size = int(np.prod(shape))
        out.append((name, slice(start, start + size)))
        start += size
    return out


def unflatten(vector: np.ndarray, settings: Settings) -> dict[str, np.ndarray]:
    """The inverse of `flatten`, with the shapes of the settings."""
    shapes = settings.param_shapes()
    return {name: vector[cols].reshape(shapes[name]) for name, cols in segments(settings)}
