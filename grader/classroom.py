"""The instructor's job end to end: submissions in, grades.csv, feedback and summary out."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from pathlib import Path

from grader import batch, feedback
from grader.results import GradeResult
from grader.table import row, write_csv
from reference.spec import Settings


def duplicate_flags(results: dict[batch.Item, GradeResult]) -> dict[batch.Item, list[str]]:
    """Submissions whose file or graded module is byte-identical to another's."""
    groups: dict[str, list[batch.Item]] = defaultdict(list)
    for item, result in results.items():
        groups["file:" + item.sha256].append(item)
        if result.submission.module_sha256:
            groups["module:" + result.submission.module_sha256].append(item)
    flags: dict[batch.Item, list[str]] = defaultdict(list)
    for members in groups.values():
        if len({m.file for m in members}) > 1:
            for item in members:
                if "duplicate" not in flags[item]:
                    flags[item].append("duplicate")
    return flags


def _feedback_name(result: GradeResult, item: batch.Item, taken: set[str]) -> str:
    """A file-system safe, unique base name: the student id, else the file's stem."""
    base = result.submission.student_id or Path(item.file).stem
    base = re.sub(r"[^\w.-]+", "_", base).strip("._") or "submission"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def grade_class(
    source: Path,
    out: Path,
    settings: Settings,
    jobs: int,
    force: bool = False,
    only: set[str] | None = None,
    progress: bool = True,
) -> str:
    """Grade every submission in `source` into `out`; returns a short summary to print."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    items = batch.find_submissions(source)
    results = batch.run(items, settings, out, jobs, force=force, only=only, progress=progress)
    dup = duplicate_flags(results)
    fb = out / "feedback"
    fb.mkdir(exist_ok=True)
    rows, taken = [], set()
    for item in items:
        result = results[item]
        rows.append(row(result, item.file, item.sha256, settings, dup.get(item, [])))
        name = _feedback_name(result, item, taken)
        png = fb / f"{name}.png"
        has_png = feedback.learning_curve_png(result, png)
        (fb / f"{name}.md").write_text(
            feedback.student_markdown(result, png.name if has_png else None), encoding="utf-8"
        )
    table = write_csv(rows, out / "grades.csv")
    histogram = out / "scores.png"
    has_hist = feedback.score_histogram_png(table, histogram)
    (out / "summary.md").write_text(
        feedback.summary_markdown(table, histogram.name if has_hist else None), encoding="utf-8"
    )
    wall = time.perf_counter() - started
    statuses = table["status"].value_counts().to_dict() if len(table) else {}
    counts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    return (
        f"{len(items)} submissions ({counts}) in {wall:.1f} s\n"
        f"wrote {out / 'grades.csv'}, {out / 'summary.md'} and {fb}/"
    )
