"""What the class gets wrong, from what grading already knows: how many students have each
diagnosed BPTT bug, each check's pass rate, and how far each parameter's gradient is from
the reference. One record that the summary and the class page both show, each figure with
the students it counts (what to re-teach, and whom to ask)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.batch.rows import Row
from grader.results import CHECK_NAMES

PARAMS = ("U", "W", "V", "b", "c")


@dataclass(frozen=True)
class Bug:
    name: str  # the short name (tags, counts)
    sentence: str  # what it is, as the students read it
    students: tuple[str, ...]


@dataclass(frozen=True)
class Rate:
    check: str
    passed: tuple[str, ...]
    failed: tuple[str, ...]  # failed or errored: the students to look at
    skipped: int

    @property
    def rate(self) -> float | None:
        ran = len(self.passed) + len(self.failed)
        return len(self.passed) / ran if ran else None


@dataclass(frozen=True)
class ClassView:
    bugs: list[Bug]
    rates: list[Rate]
    gradient_errors: dict[str, list[tuple[str, float]]]  # parameter -> (student, relative error), wrong ones


def who(row: Row) -> str:
    return row.who.student_id or row.file or "?"


def _closest(details: dict) -> dict[str, float]:
    """The relative errors under the loss the check named closest (its message's)."""
    report, loss = details.get("relative_errors"), details.get("closest_loss")
    errors = report.get(loss) if isinstance(report, dict) else None
    return errors if isinstance(errors, dict) else {}


def class_view(rows: list[Row]) -> ClassView:
    graded = [r for r in rows if r.result.checks]
    bugs: dict[str, tuple[str, list[str]]] = {}
    errors: dict[str, list[tuple[str, float]]] = {p: [] for p in PARAMS}
    for row in graded:
        reference = row.result.check("gradient_reference")
        if reference is None or reference.status != "failed":
            continue
        if name := reference.details.get("bug_name"):
            bugs.setdefault(str(name), (str(reference.details.get("bug", "")), []))[1].append(who(row))
        for param, error in _closest(reference.details).items():
            if param in errors:
                errors[param].append((who(row), float(error)))
    rates = []
    for name in CHECK_NAMES:
        checks = [(who(r), r.result.check(name)) for r in graded]
        ran = [(student, c) for student, c in checks if c is not None]
        if ran:
            rates.append(Rate(name, tuple(s for s, c in ran if c.status == "passed"),
                              tuple(s for s, c in ran if c.status in ("failed", "error")),
                              sum(c.status == "skipped" for _, c in ran)))
    ranked = sorted(bugs.items(), key=lambda kv: (-len(kv[1][1]), kv[0]))
    return ClassView([Bug(name, sentence, tuple(sorted(students))) for name, (sentence, students) in ranked],
                     rates, {p: sorted(e, key=lambda t: -t[1]) for p, e in errors.items() if e})


def quantiles(values: list[float]) -> tuple[float, float, float]:
    """The median, 90th percentile and largest."""
    return (float(np.median(values)), float(np.quantile(values, 0.9)), max(values))
