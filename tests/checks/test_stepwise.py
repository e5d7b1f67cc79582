"""The batched reference of every training step equals the per-sequence reference."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks.bptt_variants import bptt
from grader.checks.params import flatten, unflatten
from grader.checks.stepwise import BLOCK, forward_and_gradients, forward_each
from reference.rnn import forward_batch
from grader.settings import Settings


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_every_row_gets_the_reference_forward_and_bptt_of_its_own_parameters(loss):
    settings = Settings()
    rng = np.random.default_rng(3)
    k = BLOCK + 45  # more than one block, the last one short
    rows = rng.normal(0.0, 0.4, (k, settings.n_params))
    x = rng.integers(0, 2, (k, settings.bits, settings.input_dim)).astype(float)
    y = rng.integers(0, 2, (k, settings.bits, settings.output_dim)).astype(float)
    yhat, grads = forward_and_gradients(rows, x, y, settings, loss)
    np.testing.assert_array_equal(forward_each(rows, x, settings), yhat)  # the forward alone
    for i in range(k):
        params = unflatten(rows[i], settings)
        np.testing.assert_allclose(yhat[i], forward_batch(params, x[i][None])[0], rtol=0, atol=1e-14)
        np.testing.assert_allclose(grads[i], flatten(bptt(params, x[i], y[i], loss)), rtol=1e-12, atol=1e-13)
