"""The batch's last stage: every output of the class, from its rows alone."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from grader.batch.rows import Row, page_names
from grader.intake.layouts import ClassDownload
from grader.messages import Message
from grader.outputs.feedback import student_markdown
from grader.outputs.html_report import write_report
from grader.outputs.plots import learning_curve_png, reference_curve, score_histogram_png
from grader.outputs.summary import summary_markdown
from grader.outputs.table import row_record, write_csv, write_safe_csv
from grader.safe_files import private_dir, write_atomic
from grader.settings import Settings


def write_outputs(rows: list[Row], download: ClassDownload, out: Path, settings: Settings,
                  warnings: list[str]) -> None:
    """grades.csv and attempts.csv first (nothing after them can lose a grade), then
    feedback/<name>.md and .png, summary.md, scores.png and index.html with a page per row."""
    names = page_names(rows)
    write_csv([row_record(row, settings, f"feedback/{name}.md") for row, name in zip(rows, names)],
              out / "grades.csv")
    write_attempts(download, out / "attempts.csv")
    feedback = private_dir(out / "feedback")
    reference = reference_curve(settings) if any(row.result.runs for row in rows) else None
    for row, name in zip(rows, names):
        png = feedback / f"{name}.png"
        try:
            has_png = row.upload is not None and learning_curve_png(row.result, png, reference, settings.lang)
        except Exception as exc:  # noqa: BLE001 - one student's curves never stop the class's outputs
            error = f"{type(exc).__name__}: {exc}"[:200]
            row.result.submission.notes.append(Message("no learning curves: {error}", error=error))
            has_png = False
        write_atomic(feedback / f"{name}.md", student_markdown(row, png.name if has_png else None, settings.lang),
                     0o644)
    histogram = out / "scores.png"
    scored = [r for r in rows if r.result.status != "missing"]
    has_hist = score_histogram_png([r.result.score for r in scored],
                                   max((r.result.max_score for r in scored), default=None), histogram)
    write_atomic(out / "summary.md", summary_markdown(rows, histogram.name if has_hist else None, warnings), 0o644)
    write_report(list(zip(rows, names)), out, histogram.name if has_hist else None, settings.lang)


def write_attempts(download: ClassDownload, path: Path) -> None:
    """Each student's attempts and files that were not graded, next to the one that was."""
    records = [{"student": e.lms_name or e.student_id or e.lms_id or "", "lms_id": e.lms_id or "",
                "not_graded": e.file, "why": "an earlier attempt",
                "submitted_at": e.submitted_at.isoformat() if e.submitted_at else "", "graded": kept.file}
               for e, kept in download.superseded]
    records += [{"student": e.lms_name or e.student_id or e.lms_id or "", "lms_id": e.lms_id or "",
                 "not_graded": other, "why": "another code file of the same submission", "submitted_at": "",
                 "graded": e.file}
                for e in download.entries for other in e.left_out]
    table = pd.DataFrame(records, columns=["student", "lms_id", "not_graded", "why", "submitted_at", "graded"])
    write_safe_csv(table.drop_duplicates(), path)
