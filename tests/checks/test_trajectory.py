"""The step rule, without a sandbox: what update(g, alpha) may and may not do to a row."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks.trajectory import unexplained_steps

SEGMENTS = [("W", slice(0, 4)), ("c", slice(4, 5))]
ALPHA = 0.1


def check(before, grads, after):  # noqa: ANN001, ANN201
    rows = [np.asarray(v, dtype=float)[None] for v in (before, after, grads)]
    return unexplained_steps(rows[0], rows[1], rows[2], SEGMENTS, ALPHA)


B = np.array([0.5, -1.0, 2.0, 0.0, 0.3])
SMALL = np.array([0.1, -0.2, 0.05, 0.0, 0.4])  # norms <= 1: may not be clipped
BIG = np.array([30.0, -40.0, 0.0, 0.0, 0.4])  # W's norm is 50


@pytest.mark.parametrize("after", [
    B - ALPHA * SMALL,  # exactly p - alpha g
    B - ALPHA * np.where(np.arange(5) < 4, BIG * 5 / 50, BIG),  # W rescaled to norm 5
    B - ALPHA * np.clip(BIG, -5, 5),  # W clipped element-wise
    B - ALPHA * np.where(np.arange(5) < 4, 0.0, BIG),  # W not moved at all (a shrink to 0)
])
def test_what_update_may_do(after):
    grads = SMALL if np.allclose(after, B - ALPHA * SMALL) else BIG
    assert check(B, grads, after) == []


@pytest.mark.parametrize("grads, after, why", [
    (SMALL, B - 0.5 * ALPHA * SMALL, "too small to clip"),  # a small gradient clipped
    (np.zeros(5), B + 1.0, "too small to clip"),  # weights swapped in while g = 0
    (BIG, B + ALPHA * BIG, "against its gradient"),
    (BIG, B - 2 * ALPHA * BIG, "further than alpha times its gradient"),
    (np.full(5, np.nan), B + 1.0, "although its gradient is not finite"),
])
def test_what_no_update_explains(grads, after, why):
    found = check(B, grads, after)
    assert len(found) == 1 and why in found[0][1], found


def test_clipping_by_the_joint_norm_is_named_and_still_not_allowed():
    """torch's clip_grad_norm_ shrinks every gradient by one factor, the small ones too: the
    contract clips each on its own, so the step stays unexplained, and the reason says which
    clipping it was."""
    grads = np.array([0.6, -0.8, 0.0, 0.0, 2.0])  # W's norm is 1 (not to be clipped), c's is 2
    clipped = grads * (1.0 / np.linalg.norm(grads))  # all of them to a joint norm of 1
    found = check(B, grads, B - ALPHA * clipped)
    assert len(found) == 1 and "too small to clip" in found[0][1] and "the same 0.447 of alpha" in found[0][1], found
    halved_w_only = np.where(np.arange(5) < 4, 0.5 * grads, grads)  # not one common factor: no such reason
    found = check(B, grads, B - ALPHA * halved_w_only)
    assert len(found) == 1 and "all the gradients together" not in found[0][1], found


def test_nan_that_an_honest_update_makes_is_allowed_and_a_recovery_is_not():
    nan = np.full(5, np.nan)
    assert check(B, nan, B - ALPHA * nan) == []
    assert "finite again" in check(nan, SMALL, B)[0][1]


def test_one_inf_entry_exempts_none_of_the_others():
    """W[3] holds inf (it stays inf, as an honest update leaves it): W's finite entries must
    still follow their gradient, and an overwrite of them is found."""
    before = np.array([0.5, -1.0, 2.0, np.inf, 0.3])
    assert check(before, SMALL, before - ALPHA * SMALL) == []
    jumped = before - ALPHA * SMALL
    jumped[:3] += 1.0
    found = check(before, SMALL, jumped)
    assert len(found) == 1 and "W moved" in found[0][1] and "inf or NaN" in found[0][1], found


def test_a_whole_chunk_gets_the_verdicts_of_its_rows_one_by_one():
    """The shortcut for exact steps must change no verdict: a chunk mixing every kind of row
    (exact, rescaled, clipped, frozen, forged, diverged) gets, row for row, what each row
    gets alone."""
    rng = np.random.default_rng(5)
    kinds = [
        lambda b, g: (g, b - ALPHA * g),  # exact
        # W rescaled to norm 5 where its norm is above 5:
        lambda b, g: (g * 40, b - ALPHA * g * 40 * np.where(np.arange(5) < 4, min(1, 5 / np.linalg.norm(g[:4] * 40)), 1)),
        lambda b, g: (g * 40, b - ALPHA * np.clip(g * 40, -1, 1)),  # W clipped element-wise, c too
        lambda b, g: (g, b - 0.5 * ALPHA * g),  # a small gradient shrunk: forged
        lambda b, g: (g, b + ALPHA * g),  # against its gradient
        lambda b, g: (np.zeros(5), b + 0.01),  # moved while g = 0
        lambda b, g: (np.full(5, np.nan), b - ALPHA * np.full(5, np.nan)),  # honest NaN
    ]
    before = rng.normal(size=(300, 5))
    grads, after = [], []
    for i, b in enumerate(before):
        g, a = kinds[i % len(kinds)](b, rng.normal(size=5) * 0.2)
        grads.append(g)
        after.append(a)
    grads, after = np.array(grads), np.array(after)
    whole = unexplained_steps(before, after, grads, SEGMENTS, ALPHA)
    alone = [(i, found[0][1]) for i in range(len(before))
             if (found := unexplained_steps(before[i : i + 1], after[i : i + 1], grads[i : i + 1], SEGMENTS, ALPHA))]
    assert whole == alone
    assert {i % len(kinds) for i, _ in whole} == {3, 4, 5}  # exactly the forged kinds, every time
    assert len(whole) == sum(1 for i in range(300) if i % len(kinds) in (3, 4, 5))
