"""Cheap signs that a submission's gradients may not come from BPTT, for a person to read.

Finite or complex-step differences inside `backward` give exact gradients, so they pass
the gradient checks; what can be seen cheaply is flagged, never failed:

* complex arithmetic in the source (a `1j` literal, `complex(...)`, `.imag`, a complex
  dtype): the complex-step trick;
* a `backward` that takes far longer than `forward` (as a loop of forwards over every
  parameter does; BPTT costs a few forwards at most).
"""

from __future__ import annotations

import ast

from grader.checks.static import nodes

SLOW_FACTOR = 30.0  # BPTT is a few forwards; differences over 321 parameters are hundreds
SLOW_SECONDS = 0.005  # below this, round trips dominate and the ratio means nothing
COMPLEX_NAMES = {"complex", "complex64", "complex128", "complex256", "cdouble", "csingle", "clongdouble"}


def complex_arithmetic(sources: dict[str, str]) -> list[str]:
    """Where the sources use complex numbers ("path:line"), at most a few."""
    found: list[str] = []
    for path, node in nodes(sources):
        if (isinstance(node, ast.Constant) and isinstance(node.value, complex)) or (
                isinstance(node, ast.Attribute) and node.attr in ("imag", *COMPLEX_NAMES)) or (
                isinstance(node, ast.Name) and node.id in COMPLEX_NAMES):
            found.append(f"{path}:{node.lineno}")
    return sorted(set(found))[:5]


def slow_backward(forward_seconds: list[float], backward_seconds: list[float]) -> str | None:
    """A note when backward is many forwards long (the fastest call of each is compared)."""
    if not forward_seconds or not backward_seconds:
        return None
    fwd, bwd = min(forward_seconds), min(backward_seconds)
    if bwd >= SLOW_SECONDS and bwd >= SLOW_FACTOR * fwd:
        return (f"backward takes {bwd * 1e3:.1f} ms, {bwd / max(fwd, 1e-9):.0f}x forward: "
                "are its gradients finite differences rather than BPTT?")
    return None
