"""Is every step of training what the contract's `update` does with backward's gradient?

The contract: `update(grads, alpha)` is `p -= alpha * g` for every parameter, and gradient
clipping may only change a gradient whose norm is above 1. So, per parameter, the step
s = (p_before - p_after) / alpha must be

* exactly g when ||g|| <= 1;
* otherwise a shrink of g toward zero, element by element: each s_i between 0 and g_i
  (this covers rescaling to a smaller norm and element-wise clipping alike).

Anything else (weights replaced, moved against or beyond their gradient, moved while the
gradient is zero, recovered from NaN) is a change that no gradient step explains. The
checks are vectorised over a whole training chunk: rows are iterations.
"""

from __future__ import annotations

import numpy as np

from grader.messages import Message

EPS = np.finfo(np.float64).eps
# An entry of a step may differ from what the rule allows by rel x (1 + |g|), plus the
# rounding of p - alpha * s seen through the division by alpha, for the row's largest |p|.
# rel is REL for the gradient backward returned; against the reference's gradient it is
# the gradient tolerance, within which a submission's gradient counts as the reference's.
REL, ROUNDING = 1e-9, 16 * EPS


def _tolerance(size: np.ndarray, scale: float, alpha: float, rel: float) -> np.ndarray:
    return rel * (1.0 + size) + (ROUNDING / alpha) * scale


def unexplained_steps(before: np.ndarray, after: np.ndarray, grads: np.ndarray,
                      segments: list[tuple[str, slice]], alpha: float, rel: float = REL) -> list[tuple[int, str]]:
    """[(row, what is wrong)] for the rows whose step before -> after no update of that
    row's gradient explains; `segments` names each parameter's columns (in order). Runs
    on every training chunk, beside the child's training (so its cost slows training
    down): one cheap pass finds the rows whose step is exactly alpha x g, the rule for
    clipping runs on the others only, and rows are explained one by one only where it
    found something."""
    step, size, tol, work, exact = _buffers(before.shape)
    suspect = np.arange(len(before))
    with np.errstate(all="ignore"):
        scale = max(-before.min(initial=0.0), before.max(initial=0.0), -after.min(initial=0.0),
                    after.max(initial=0.0))
        if np.isfinite(scale):  # the chunk's largest |p| bounds every row's (non-finite: no shortcut)
            np.subtract(before, after, out=step)  # alpha x s
            np.multiply(grads, alpha, out=size)  # alpha x g
            step -= size
            np.abs(step, out=step)
            np.abs(size, out=tol)
            tol *= rel
            tol += alpha * rel + ROUNDING * scale  # alpha x _tolerance(|g|, scale, alpha, rel)
            np.less_equal(step, tol, out=exact)
            suspect = np.flatnonzero(~exact.all(1))  # NaN is never exact
    if not len(suspect):
        return []
    m = len(suspect)
    found = _clipping_rule(before[suspect], after[suspect], grads[suspect], segments, alpha, rel,
                           (step[:m], size[:m], tol[:m], work[:m]))
    return [(int(suspect[row]), why) for row, why in found]


def _clipping_rule(before: np.ndarray, after: np.ndarray, grads: np.ndarray, segments: list[tuple[str, slice]],
                   alpha: float, rel: float, buffers: tuple[np.ndarray, ...]) -> list[tuple[int, str]]:
    """The whole rule (exact below norm 1, a shrink above it), on rows that are not exact
    steps: whole-array passes into the given buffers, then each row found explained."""
    starts = [cols.start for _, cols in segments]
    sizes = [cols.stop - cols.start for _, cols in segments]
    step, size, tol, work = buffers
    with np.errstate(all="ignore"):
        finite = np.isfinite(before).all(1) & np.isfinite(after).all(1) & np.isfinite(grads).all(1)
        np.subtract(before, after, out=step)
        step /= alpha
        np.abs(grads, out=size)
        scale = np.maximum(np.abs(before, out=work).max(1), np.abs(after, out=tol).max(1))
        np.multiply(size, rel, out=tol)  # _tolerance, in place and for every row at once
        tol += (rel + (ROUNDING / alpha) * scale)[:, None]
        small = np.repeat(np.add.reduceat(np.square(grads, out=work), starts, axis=1) <= 1.0, sizes, axis=1)
        np.subtract(step, grads, out=work)
        wrong = small & (np.abs(work, out=work) > tol)
        np.multiply(step, grads, out=work)
        against = work < -(tol * size)
        beyond = np.abs(step, out=work) > size + tol
        wrong |= ~small & (against | beyond)
    suspect = sorted(np.flatnonzero(wrong.any(1) & finite).tolist() + np.flatnonzero(~finite).tolist())
    found = []
    for row in suspect:
        why = _explain(before[row], after[row], grads[row], segments, alpha, rel, float(scale[row]))
        if why:
            found.append((row, why))
    return found


_BUFFERS: dict[tuple[int, ...], tuple[np.ndarray, ...]] = {}


def _buffers(shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Four float and one bool scratch arrays of `shape`, kept between chunks (fresh ones
    cost page faults)."""
    if shape not in _BUFFERS:
        _BUFFERS.clear()
        _BUFFERS[shape] = (*(np.empty(shape) for _ in range(4)), np.empty(shape, dtype=bool))
    return _BUFFERS[shape]


def _explain(b: np.ndarray, a: np.ndarray, g: np.ndarray, segments: list[tuple[str, slice]],
             alpha: float, rel: float, scale: float) -> str:
    """For one step: why no update of its gradient explains it ("" if one does), by the same
    rule and tolerance as the whole-chunk pass (`scale`: the row's largest |p|)."""
    if not np.isfinite(scale):  # the row's largest finite |p| bounds the rounding of its finite entries
        scale = max(np.abs(v[np.isfinite(v)]).max(initial=0.0) for v in (b, a))
    for name, cols in segments:
        pb, pa, pg = b[cols], a[cols], g[cols]
        finite = np.isfinite(pb) & np.isfinite(pa) & np.isfinite(pg)
        if not finite.all():
            why = _non_finite(name, pb, pa, pg, alpha) or _finite_entries(name, pb[finite], pa[finite], pg[finite],
                                                                          alpha, rel, scale)
            if why:
                return why
            continue
        step = (pb - pa) / alpha
        tol = _tolerance(np.abs(pg), scale, alpha, rel)
        if np.linalg.norm(pg) ** 2 <= 1.0:
            if (np.abs(step - pg) > tol).any():
                why = Message("{name} changed by up to {moved:.3g} where alpha x its gradient (norm {norm:.3g}, "
                              "too small to clip) moves it by {step:.3g}", name=name, moved=np.abs(pb - pa).max(),
                              norm=np.linalg.norm(pg), step=np.abs(alpha * pg).max())
                if (factor := _global_clip(b, a, g, alpha)) is not None:
                    why += Message("; every parameter moved by the same {factor:.3g} of alpha x its gradient: that "
                                   "is clipping by the norm of all the gradients together, and the contract clips "
                                   "each gradient on its own (only one whose norm is above 1)", factor=factor)
                return why
        elif why := _not_a_shrink(name, step, pg, tol):
            return why
    return ""


def _global_clip(b: np.ndarray, a: np.ndarray, g: np.ndarray, alpha: float) -> float | None:
    """The one factor below 1 that scales every parameter's step alike, where the gradients'
    joint norm is above 1 (what torch's clip_grad_norm_ does), else None: the likeliest reason
    for a small gradient that did not move as its own step."""
    step = (b - a) / alpha
    squared = float(g @ g)
    if not squared > 1.0:
        return None
    factor = float(step @ g) / squared
    return factor if 0.0 < factor < 1.0 and np.allclose(step, factor * g, rtol=1e-9, atol=1e-12) else None


def _not_a_shrink(name: str, step: np.ndarray, g: np.ndarray, tol: np.ndarray) -> str:
    """Why a step s is no clipped gradient step (each s_i between 0 and g_i), or ""."""
    if (step * g < -tol * np.abs(g)).any():
        return Message("{name} moved against its gradient", name=name)
    if (np.abs(step) > np.abs(g) + tol).any():
        return Message("{name} moved further than alpha times its gradient", name=name)
    return ""


def _finite_entries(name: str, b: np.ndarray, a: np.ndarray, g: np.ndarray, alpha: float, rel: float,
                    scale: float) -> str:
    """The finite entries of a block that holds inf or NaN elsewhere: one non-finite entry
    exempts none of the others, which must each move as a shrink of their gradient (the
    block's norm is unknown, so clipping is allowed)."""
    why = _not_a_shrink(name, (b - a) / alpha, g, _tolerance(np.abs(g), scale, alpha, rel))
    return Message("{why} (where its other entries are inf or NaN)", why=why) if why else ""


def _non_finite(name: str, b: np.ndarray, a: np.ndarray, g: np.ndarray, alpha: float) -> str:
    """With NaN or inf somewhere: "" if an honest update could do this, else the reason."""
    finite_b, finite_a, finite_g = (bool(np.isfinite(v).all()) for v in (b, a, g))
    if not finite_g:  # p - alpha * NaN is NaN: the weights may stay, or turn non-finite
        if not finite_a or np.array_equal(a, b):
            return ""
        return Message("{name} moved although its gradient is not finite", name=name)
    if not finite_b:  # diverged earlier: no update brings it back
        return Message("{name} became finite again without a finite step", name=name) if finite_a else ""
    with np.errstate(all="ignore"):
        honest = np.isfinite(b - alpha * g).all()
    return Message("{name} became non-finite", name=name) if honest else ""
