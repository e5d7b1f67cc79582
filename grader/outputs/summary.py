"""The instructor's overview of a batch, computed from its rows (not from the CSV): the
results, the flags the class added (duplicates, similarity, shared ids) and lateness."""

from __future__ import annotations

import math
import statistics
from collections import Counter

import numpy as np

from grader.batch.rows import Row
from grader.outputs.feedback import late_text
from grader.outputs.markdown import image, md_table, md_text, number
from grader.outputs.misconceptions import ClassView, class_view, quantiles
from grader.results import GradeResult

QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)


def summary_markdown(rows: list[Row], histogram_png: str | None, warnings: list[str] | None = None) -> str:
    """The summary page: status, score, accuracy, checks, losses, flags and lateness of the class."""
    results = [r.result for r in rows]
    view = class_view(rows)
    parts = [f"# Lab 4 (BPTT) grading summary\n\n**Submissions:** {len(results)}"]
    parts += [f"**Warning:** {md_text(w)}" for w in warnings or []]
    if results:
        parts += [
            "## Status\n\n" + _counts_table([r.status for r in results], "status"),
            "## Score\n\n" + _score_table(results),
            "## Accuracy\n\n" + _accuracy_table(results),
            "## What the class gets wrong\n\n" + _misconceptions(view),
            "## Checks\n\n" + _checks_summary(view),
            "## Gradient errors\n\n" + _gradient_errors(view),
            "## Loss recognised\n\n" + _counts_table([r.loss_recognised or "" for r in results], "loss"),
            "## Flagged submissions\n\n" + _flagged(rows),
            "## Late submissions\n\n" + _late(rows),
        ]
    if histogram_png:
        parts.append("## Score histogram\n\n" + image("score histogram", histogram_png))
    return "\n\n".join(parts) + "\n"


def _counts_table(values: list[str], what: str) -> str:
    """How many submissions have each value, most common first; empty values count as "none"."""
    counts = Counter(v or "none" for v in values)
    return md_table([what, "submissions"], [[k, n] for k, n in counts.most_common()])


def _finite(values: list[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and not math.isnan(v)]


def _score_table(results: list[GradeResult]) -> str:
    """Mean, median, spread of the scores."""
    s = _finite([r.score for r in results])
    spread = statistics.stdev(s) if len(s) > 1 else None  # the sample's, as pandas and a spreadsheet
    stats = [
        ("max possible", max((r.max_score for r in results), default=None)),
        ("mean", statistics.fmean(s) if s else None), ("median", statistics.median(s) if s else None),
        ("min", min(s, default=None)), ("max", max(s, default=None)), ("std", spread),
    ]
    return md_table(["statistic", "score"], [[k, number(v, ".2f")] for k, v in stats])


def _accuracy_table(results: list[GradeResult]) -> str:
    """Quantiles of the scored and the all-pairs accuracy, over submissions that have one."""
    window = next((r.accuracy_window_text for r in results if r.accuracy_window), "last iterations")
    rows = []
    for label, values in ((f"{window}, median of runs", _finite([r.accuracy for r in results])),
                          ("all pairs", _finite([r.accuracy_exhaustive for r in results]))):
        cells = [number(q) for q in np.quantile(values, QUANTILES)] if values else ["—"] * len(QUANTILES)
        rows.append([label, len(values), *cells])
    return md_table(["accuracy", "n", "min", "25%", "median", "75%", "max"], rows)


def _names(students: tuple[str, ...], most: int = 30) -> str:
    return ", ".join(students[:most]) + (f" (+{len(students) - most})" if len(students) > most else "")


def _misconceptions(view: ClassView) -> str:
    """How many students have each diagnosed bug, and who."""
    if not view.bugs:
        return "No diagnosed bug."
    return md_table(["bug", "what it is", "students", "who"],
                    [[b.name, b.sentence, len(b.students), _names(b.students)] for b in view.bugs])


def _checks_summary(view: ClassView) -> str:
    """Each check's pass rate among the submissions it ran on, and who failed it."""
    if not view.rates:
        return "No check ran."
    return md_table(["check", "passed", "failed", "skipped", "pass rate", "failed by"],
                    [[r.check, len(r.passed), len(r.failed), r.skipped, number(r.rate, ".0%"), _names(r.failed, 10)]
                     for r in view.rates])


def _gradient_errors(view: ClassView) -> str:
    """Each parameter's relative gradient error among the submissions whose gradients differ
    from the reference (under the loss they are closest to), and the largest's owner."""
    if not view.gradient_errors:
        return "None: every gradient that was checked matches the reference."
    rows = [[p, len(e), *(f"{q:.1e}" for q in quantiles([v for _, v in e])), e[0][0]]
            for p, e in view.gradient_errors.items()]
    return md_table(["parameter", "wrong in", "median", "90%", "max", "max: whose"], rows)


def _flagged(rows: list[Row]) -> str:
    """Submissions an instructor should look at, with why."""
    table = [[r.who.student_id or r.file, r.who.name or "", ", ".join(r.flag_labels)] for r in rows if r.flag_labels]
    return md_table(["student id", "name", "flags"], table) if table else "None."


def _late(rows: list[Row]) -> str:
    """Every row that is late, or that only a file time calls late, with what it cost."""
    table = [[r.who.student_id or r.file, r.who.name or "", late_text(r.late), f"{r.late.factor:g}"]
             for r in rows if r.late.late or r.late.unsure]
    return md_table(["student id", "name", "lateness", "grade kept"], table) if table else "None."
