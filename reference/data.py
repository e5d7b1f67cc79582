"""The lab's data: 8-bit binary addition, least significant bit first.

Time step t carries bit t: x[t] = (bit_t(A), bit_t(B)) and y[t] = bit_t(A + B), so the
carry flows forward in time, which is what the RNN has to learn.
"""

from __future__ import annotations

import numpy as np

from grader.settings import Settings


def to_bits(values: np.ndarray | int, bits: int) -> np.ndarray:
    """Integers -> float64 bits, LSB first, on a new last axis of length `bits`."""
    v = np.asarray(values, dtype=np.int64)
    return ((v[..., None] >> np.arange(bits)) & 1).astype(np.float64)


def from_bits(bits: np.ndarray) -> np.ndarray:
    """Bits on the last axis (LSB first, thresholded at 0.5) -> integers."""
    on = np.asarray(bits) >= 0.5
    return (on.astype(np.int64) << np.arange(on.shape[-1])).sum(axis=-1)


def encode(a: np.ndarray, b: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Operand pairs -> inputs (N, bits, 2) and targets (N, bits, 1)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    x = np.stack([to_bits(a, bits), to_bits(b, bits)], axis=-1)
    y = to_bits(a + b, bits)[..., None]
    return x, y


def draw_operands(seed: int, n: int, settings: Settings) -> np.ndarray:
    """The grader's own seeded stream of (A, B), shape (n, 2), uniform in [0, operand_max)."""
    rng = np.random.default_rng([seed, 0])
    return rng.integers(0, settings.operand_max, size=(n, 2))


def sample_stream(seed: int, n: int, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """n training samples, drawn once and vectorised: x (n, bits, 2), y (n, bits, 1)."""
    ab = draw_operands(seed, n, settings)
    return encode(ab[:, 0], ab[:, 1], settings.bits)


def all_pairs(settings: Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every operand pair: ab (N, 2), x (N, bits, 2), y (N, bits, 1), N = operand_max**2."""
    grid = np.arange(settings.operand_max)
    a, b = (g.ravel() for g in np.meshgrid(grid, grid, indexing="ij"))
    x, y = encode(a, b, settings.bits)
    return np.stack([a, b], axis=1), x, y
