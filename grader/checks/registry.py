"""The one list of checks: their order, what each waits for, what it may be worth.

Everything else derives from it: `results.CHECK_NAMES` (the order of every output), the
settings' `Points` fields and `Gate` names (grader/settings.py), the flags of a result, and
which function in contract.py runs which check. Pure data with no imports of the grader,
so the settings can read it without pulling in the checks.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckSpec:
    """One check: `needs` must all pass before it runs (else it is skipped, waiting for
    them); `points` is the field of the settings' Points that prices it (None: it earns no
    points); `gate`: the settings may make the performance points wait for it; `flag`: its
    failure is flagged for the instructor; `pipeline`: run by the pipeline itself, before
    (or, for policy, around) the contract's checks; `reference_only`: it computes with the
    reference model itself, which the student kit does not hold, so only the grader runs it."""

    name: str
    needs: tuple[str, ...] = ()
    points: str | None = None
    gate: bool = True
    flag: bool = False
    pipeline: bool = False
    reference_only: bool = False


def _check(name: str, *needs: str, **kind: object) -> CheckSpec:
    return CheckSpec(name, needs, **{"points": name, **kind})  # type: ignore[arg-type]


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("discover", gate=False, pipeline=True),
    _check("policy", flag=True, pipeline=True),
    CheckSpec("import", gate=False, pipeline=True),
    _check("api"),
    _check("forward_shape", "api"),
    _check("forward_values", "forward_shape"),
    _check("forward_stateless", "forward_shape"),
    _check("forward_lengths", "forward_values"),
    _check("backward_shape", "forward_shape"),
    _check("backward_pure", "backward_shape"),
    _check("gradient_numeric", "backward_shape"),
    _check("gradient_reference", "backward_shape"),
    _check("update", "api"),
    _check("train", "forward_shape", "backward_shape", "update", points="performance", gate=False),
    _check("integrity", "train", "forward_values", flag=True, reference_only=True),
    _check("generalize", "train", reference_only=True),
)


def _validated(checks: tuple[CheckSpec, ...]) -> tuple[CheckSpec, ...]:
    """Each name once, each prerequisite an earlier check (a misspelt one would skip forever)."""
    seen: set[str] = set()
    for spec in checks:
        late = [n for n in spec.needs if n not in seen]
        if spec.name in seen or late:
            raise ValueError(f"check {spec.name!r}: " + ("listed twice" if spec.name in seen else
                             f"needs {', '.join(late)}, which is not an earlier check"))
        seen.add(spec.name)
    return checks


SPECS = {spec.name: spec for spec in _validated(CHECKS)}
CHECK_NAMES = tuple(SPECS)
POINT_FIELDS = tuple(spec.points for spec in CHECKS if spec.points)
GATES = tuple(spec.name for spec in CHECKS if spec.gate)
FLAGGED = tuple(spec.name for spec in CHECKS if spec.flag)
