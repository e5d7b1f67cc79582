"""The lab's data: LSB-first bits, every operand pair, the seeded training stream."""

from __future__ import annotations

import numpy as np

from reference.data import all_pairs, draw_operands, encode, from_bits, sample_stream, to_bits
from grader.settings import Settings


def test_bits_are_least_significant_first() -> None:
    np.testing.assert_array_equal(to_bits(6, 8), [0, 1, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(to_bits(128, 8), [0, 0, 0, 0, 0, 0, 0, 1])
    assert to_bits(np.array([1, 2, 255]), 8).shape == (3, 8)
    assert to_bits(5, 8).dtype == np.float64
    values = np.arange(256)
    np.testing.assert_array_equal(from_bits(to_bits(values, 8)), values)
    assert from_bits(np.array([0.2, 0.5, 0.9])) == 6  # thresholded at 0.5


def test_encode_puts_bit_t_at_step_t() -> None:
    x, y = encode(np.array([5]), np.array([3]), 8)  # 5 + 3 = 8
    assert x.shape == (1, 8, 2) and y.shape == (1, 8, 1)
    np.testing.assert_array_equal(x[0, :, 0], [1, 0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(x[0, :, 1], [1, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(y[0, :, 0], [0, 0, 0, 1, 0, 0, 0, 0])


def test_all_pairs_is_exhaustive_and_correct() -> None:
    ab, x, y = all_pairs(Settings())
    assert ab.shape == (16384, 2) and x.shape == (16384, 8, 2) and y.shape == (16384, 8, 1)
    assert len({(a, b) for a, b in ab.tolist()}) == 16384
    assert ab.min() == 0 and ab.max() == 127
    np.testing.assert_array_equal(from_bits(x[..., 0]), ab[:, 0])
    np.testing.assert_array_equal(from_bits(x[..., 1]), ab[:, 1])
    np.testing.assert_array_equal(from_bits(y[..., 0]), ab.sum(axis=1))
    index = {(a, b): i for i, (a, b) in enumerate(ab.tolist())}
    for a, b in ((0, 0), (1, 1), (127, 127), (100, 27), (64, 64)):
        assert from_bits(y[index[a, b], :, 0]) == a + b
    np.testing.assert_array_equal(y[index[127, 127], :, 0], [0, 1, 1, 1, 1, 1, 1, 1])  # 254


def test_stream_is_deterministic_and_in_range() -> None:
    settings = Settings()
    x1, y1 = sample_stream(5, 300, settings)
    x2, y2 = sample_stream(5, 300, settings)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    x3, _ = sample_stream(6, 300, settings)
    assert not np.array_equal(x1, x3)
    assert x1.shape == (300, 8, 2) and y1.shape == (300, 8, 1)
    a, b = from_bits(x1[..., 0]), from_bits(x1[..., 1])
    np.testing.assert_array_equal(from_bits(y1[..., 0]), a + b)
    ab = draw_operands(5, 300, settings)
    np.testing.assert_array_equal(ab, np.stack([a, b], axis=1))
    assert ab.min() >= 0 and ab.max() < settings.operand_max


def test_stream_follows_the_settings() -> None:
    settings = Settings(bits=5, operand_max=16, iterations=10, accuracy_window=5)
    x, y = sample_stream(1, 200, settings)
    assert x.shape == (200, 5, 2) and y.shape == (200, 5, 1)
    assert from_bits(x[..., 0]).max() < 16
