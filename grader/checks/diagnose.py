"""Name the classic BPTT bug behind wrong gradients by comparing them with the bug's own.

Each classic mistake is a switch in a plain per-step BPTT (bptt_variants.py); the oracle
knows each switched version's gradients at the probe (computed, or shipped as numbers in
the student kit), and when a submission's gradients match one, the message can say exactly
what went wrong instead of "gradient mismatch". Clipping and a wrong output factor are
recognised by their shape, from the true gradients alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from grader.messages import Message
from reference.loss import PARAMS, Loss

if TYPE_CHECKING:  # the oracle reads BUGS from here
    from grader.checks.oracle import Probe

BUGS = {
    "no_recurrent": Message("the recurrent term W^T da_{{t+1}} is missing from dh_t (BPTT truncated to one step)"),
    "w_not_transposed": Message("dh_t uses W da_{{t+1}} where BPTT needs W^T da_{{t+1}} (W is not transposed)"),
    "dw_from_h_t": Message("dW is summed from da_t h_t^T; it needs the previous state: da_t h_{{t-1}}^T"),
    "tanh_on_preactivation": Message(
        "the tanh derivative is taken on the pre-activation (1 - a_t^2); it is 1 - h_t^2 with h_t = tanh(a_t)"),
}


class Diagnosis(NamedTuple):
    """A named bug: a short name (what outputs count and tag) and the sentence a student reads."""

    name: str
    sentence: str


def relative_errors(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> dict[str, float]:
    """Per parameter: |got - want| / max(|got|, |want|, 1e-8), in the Frobenius norm."""
    errors = {}
    for k in PARAMS:
        diff = np.linalg.norm(got[k] - want[k])
        scale = max(np.linalg.norm(got[k]), np.linalg.norm(want[k]), 1e-8)
        errors[k] = float(diff / scale)
    return errors


def _concat(grads: list[dict[str, np.ndarray]], name: str) -> np.ndarray:
    return np.concatenate([g[name].ravel() for g in grads])


def name_the_bug(
    student: list[dict[str, np.ndarray]], probe: Probe, losses: tuple[Loss, ...], rtol: float
) -> Diagnosis | None:
    """The classic bug the student's gradients (one per sequence of the probe) reproduce, if any."""
    for bug, sentence in BUGS.items():
        for loss in losses:
            variant = probe.gradients(loss, bug)
            if all(max(relative_errors(s, v).values()) < rtol for s, v in zip(student, variant)):
                return Diagnosis(bug, sentence)
    reference = probe.gradients(losses[0])
    return _clipping(student, reference) or _output_factor(student, reference, losses[0])


def _clipping(student: list[dict], reference: list[dict]) -> Diagnosis | None:
    """Gradients equal to the true ones except where those are large: clipped in backward.

    Every parameter of every sequence must be either right, capped elementwise, or the
    true gradient scaled down; anything else is some other bug.
    """
    capped, scaled = None, None
    for s, r in zip(student, reference):
        for k in PARAMS:
            got, want = s[k].ravel(), r[k].ravel()
            if np.allclose(got, want, rtol=1e-6, atol=1e-10):
                continue
            cap = np.abs(got).max()
            small = np.abs(want) <= cap * (1 + 1e-9)
            if (
                np.allclose(got[small], want[small], rtol=1e-6)
                and np.allclose(np.abs(got[~small]), cap, rtol=1e-6)
                and np.array_equal(np.sign(got[~small]), np.sign(want[~small]))
            ):
                if got.size > 1:  # a single number fits both kinds of clipping
                    capped = capped or (k, cap)
                continue
            norm_s, norm_r = np.linalg.norm(got), np.linalg.norm(want)
            cosine = float(got @ want) / max(norm_s * norm_r, 1e-300)
            if cosine > 1 - 1e-9 and norm_s < norm_r * (1 - 1e-6):
                if got.size > 1:
                    scaled = scaled or (k, norm_s, norm_r)
                continue
            return None
    if capped:
        return Diagnosis("clipped_in_backward", Message(
            "{name}'s gradient looks clipped to +-{cap:.3g} inside backward; backward must return the full gradient "
            "(clip in update, only gradients with norm above 1)", name=capped[0], cap=capped[1]))
    if scaled:
        k, norm_s, norm_r = scaled
        return Diagnosis("clipped_in_backward", Message(
            "{name}'s gradient points the right way but its norm is cut to {norm:.3g} (true norm {true:.3g}): it looks "
            "clipped inside backward; backward must return the full gradient and clipping belongs in update",
            name=k, norm=norm_s, true=norm_r))
    return None


def _output_factor(student: list[dict], reference: list[dict], loss: Loss) -> Diagnosis | None:
    """Every gradient off by one common factor: a loss with a different output term."""
    ratios = []
    for k in PARAMS:
        got, want = _concat(student, k), _concat(reference, k)
        if np.linalg.norm(want) < 1e-12:
            continue
        ratio = float(got @ want) / float(want @ want)
        if not np.allclose(got, ratio * want, rtol=1e-6, atol=1e-12):
            return None
        ratios.append(ratio)
    if not ratios or not np.allclose(ratios, ratios[0], rtol=1e-6) or abs(ratios[0] - 1) < 1e-6:
        return None
    factor = ratios[0]
    if abs(factor) < 1e-9:
        return Diagnosis("zero_gradients", Message(
            "backward returns all-zero gradients: it must compute them from the last forward"))
    if abs(factor + 1) < 1e-6:
        return Diagnosis("wrong_sign", Message(
            "every gradient has the wrong sign: dL/do_t is yhat_t - y_t (not y_t - yhat_t), and update subtracts "
            "alpha * g"))
    term = "yhat_t - y_t" if loss == "bce" else "(yhat_t - y_t) yhat_t (1 - yhat_t)"
    return Diagnosis("scaled_output_term", Message(
        "every gradient is {factor:.4g} x the {loss} gradient: the output term dL/do is scaled (a loss the settings "
        "don't accept; for {loss} dL/do_t = {term})", factor=factor, loss=loss, term=term))
