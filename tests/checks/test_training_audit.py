"""The audit of a training chunk where backward is the reference's BPTT: every step's
gradient and every prediction come from the grader (no sandbox needed to test it)."""

from __future__ import annotations

import numpy as np

from grader.checks.params import flatten
from grader.checks.reference_oracle import BatchedReference
from grader.checks.training import Trainer
from reference.data import sample_stream
from reference.rnn import RNN
from grader.settings import Settings

SETTINGS = Settings()
K = 40


def honest_chunk(jump_at: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, y, the predictions and the parameters at every step (and after the last) of K
    steps of the reference without clipping, honest but for U moved by 0.01 in `jump_at`."""
    model = RNN(seed=3, clip_norm=None)
    x, y = sample_stream(5, K, SETTINGS)
    yhat, rows = np.empty(y.shape), []
    for k in range(K):
        yhat[k] = model.forward(x[k])
        rows.append(flatten(model.params()))
        model.update(model.backward(y[k]), SETTINGS.alpha)
        if k == jump_at:
            model.U = model.U + 0.01
    rows.append(flatten(model.params()))
    return x, y, yhat, np.array(rows)


def audit(x: np.ndarray, y: np.ndarray, yhat: np.ndarray, params: np.ndarray) -> Trainer:
    trainer = Trainer(None, SETTINGS, np.random.default_rng(0), BatchedReference(), gradient_loss="bce", curve_loss="bce")  # type: ignore[arg-type]
    trainer._audit(x, y, yhat, (params, None), False, 0, None, 1)
    return trainer


def test_an_honest_chunk_passes_every_step_and_every_prediction():
    audits = audit(*honest_chunk()).training.audits
    assert (audits.steps, audits.checked, audits.jumps, audits.mismatches) == (K, K, [], [])


def test_one_forged_step_or_prediction_anywhere_is_caught():
    x, y, yhat, params = honest_chunk(jump_at=16)  # weights moved by something other than the gradient, once
    yhat[29, 3] = 1.0 - yhat[29, 3]  # one prediction that is not what the weights compute
    audits = audit(x, y, yhat, params).training.audits
    assert [it for it, _, _ in audits.jumps] == [16]
    assert [it for it, _, _ in audits.mismatches] == [29]


def test_a_step_to_inf_is_divergence_and_a_way_back_is_not():
    """The submission's own gradient may overflow where the reference's does not: weights
    that turn non-finite (and stay so: p - alpha x NaN) are the student's loss, not a
    forgery; finite again is one."""
    x, y, yhat, params = honest_chunk()
    params[21:31] = np.nan
    yhat[21:31] = np.nan  # what those weights compute
    audits = audit(x, y, yhat, params).training.audits
    assert [it for it, _, _ in audits.jumps] == [30] and "not finite" in audits.jumps[0][2]
    assert audits.mismatches == []
