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

EPS = np.finfo(np.float64).eps
# An entry of a step may differ from what the rule allows by REL x (1 + |g|), plus the
# rounding of p - alpha * s seen through the division by alpha, for the row's largest |p|.
REL, ROUNDING = 1e-9, 16 * EPS


def _tolerance(size: np.ndarray, scale: float, alpha: float) -> np.ndarray:
    return REL * (1.0 + size) + (ROUNDING / alpha) * scale


def unexplained_steps(before: np.ndarray, after: np.ndarray, grads: np.ndarray,
                      segments: list[tuple[str, slice]], alpha: float) -> list[tuple[int, str]]:
    """[(row, what is wrong)] for the rows whose step before -> after no update of that
    row's gradient explains; `segments` names each parameter's columns (in order). Runs
    on every training chunk: whole-array passes into reused buffers, rows explained one
    by one only where a pass found something."""
    starts = [cols.start for _, cols in segments]
    sizes = [cols.stop - cols.start for _, cols in segments]
    step, size, tol, work = _buffers(before.shape)
    with np.errstate(all="ignore"):
        finite = np.isfinite(before).all(1) & np.isfinite(after).all(1) & np.isfinite(grads).all(1)
        np.subtract(before, after, out=step)
        step /= alpha
        np.abs(grads, out=size)
        scale = np.maximum(np.abs(before, out=work).max(1), np.abs(after, out=tol).max(1))
        np.multiply(size, REL, out=tol)  # _tolerance, in place and for every row at once
        tol += (REL + (ROUNDING / alpha) * scale)[:, None]
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
        why = _explain(before[row], after[row], grads[row], segments, alpha, float(scale[row]))
        if why:
            found.append((row, why))
    return found


_BUFFERS: dict[tuple[int, ...], tuple[np.ndarray, ...]] = {}


def _buffers(shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Four scratch arrays of `shape`, kept between chunks (fresh ones cost page faults)."""
    if shape not in _BUFFERS:
        _BUFFERS.clear()
        _BUFFERS[shape] = tuple(np.empty(shape) for _ in range(4))
    return _BUFFERS[shape]


def _explain(b: np.ndarray, a: np.ndarray, g: np.ndarray, segments: list[tuple[str, slice]],
             alpha: float, scale: float) -> str:
    """For one step: why no update of its gradient explains it ("" if one does), by the same
    rule and tolerance as the whole-chunk pass (`scale`: the row's largest |p|)."""
    for name, cols in segments:
        pb, pa, pg = b[cols], a[cols], g[cols]
        if not (np.isfinite(pb).all() and np.isfinite(pa).all() and np.isfinite(pg).all()):
            why = _non_finite(name, pb, pa, pg, alpha)
            if why:
                return why
            continue
        step = (pb - pa) / alpha
        tol = _tolerance(np.abs(pg), scale, alpha)
        if np.linalg.norm(pg) ** 2 <= 1.0:
            if (np.abs(step - pg) > tol).any():
                return (f"{name} changed by up to {np.abs(pb - pa).max():.3g} where alpha x its gradient "
                        f"(norm {np.linalg.norm(pg):.3g}, too small to clip) moves it by "
                        f"{np.abs(alpha * pg).max():.3g}")
        elif (step * pg < -tol * np.abs(pg)).any():
            return f"{name} moved against its gradient"
        elif (np.abs(step) > np.abs(pg) + tol).any():
            return f"{name} moved further than alpha times its gradient"
    return ""


def _non_finite(name: str, b: np.ndarray, a: np.ndarray, g: np.ndarray, alpha: float) -> str:
    """With NaN or inf somewhere: "" if an honest update could do this, else the reason."""
    finite_b, finite_a, finite_g = (bool(np.isfinite(v).all()) for v in (b, a, g))
    if not finite_g:  # p - alpha * NaN is NaN: the weights may stay, or turn non-finite
        return "" if not finite_a or np.array_equal(a, b) else f"{name} moved although its gradient is not finite"
    if not finite_b:  # diverged earlier: no update brings it back
        return f"{name} became finite again without a finite step" if finite_a else ""
    with np.errstate(all="ignore"):
        honest = np.isfinite(b - alpha * g).all()
    return f"{name} became non-finite" if honest else ""
