"""The manual sheet: a student per line, the report's criteria as columns. `bptt-grader
sheet` writes it blank for those who grade in a spreadsheet; `bptt-grader review` writes
it filled (OUT/manual.csv); `merge` reads either, as it reads a sheet made by hand.

Only rows with a student id of their own can carry report scores: merge joins on the id,
so a row without one (or with an id several rows claim) is listed, not put on the sheet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from grader.outputs.table import id_counts, read_text_csv, text_of
from grader.settings import Settings


@dataclass(frozen=True)
class Gradable:
    """The class's rows as the report is graded: who can be, and who cannot and why."""

    rows: pd.DataFrame  # one per student id, in grades.csv's order
    left_out: list[str]  # "file: why" for each row that cannot be on a sheet


def gradable(grades_csv: Path) -> Gradable:
    """The rows of grades.csv a report score can be given to."""
    grades = read_text_csv(grades_csv)
    ids = text_of(grades, "student_id")
    counts = id_counts(ids)
    left_out = [f"{file or '(no file)'}: no student id (give batch a --roster to name it)"
                for file, sid in zip(text_of(grades, "file"), ids) if not sid]
    left_out += [f"{file}: student id {sid} is on {counts[sid]} rows (flag shared_id)"
                 for file, sid in zip(text_of(grades, "file"), ids) if sid and counts[sid] > 1]
    keep = (ids != "") & ids.map(lambda sid: counts.get(sid, 0) == 1)
    return Gradable(grades[keep].reset_index(drop=True), left_out)


def sheet_columns(settings: Settings) -> list[str]:
    return ["student_id", "name", "section", "report", *(c.name for c in settings.report.criteria), "comments"]


def blank_sheet(grades_csv: Path, settings: Settings) -> tuple[pd.DataFrame, list[str]]:
    """Every gradable student with their report's path, the criteria's cells empty."""
    found = gradable(grades_csv)
    table = pd.DataFrame({column: text_of(found.rows, column) if column in ("student_id", "name", "section", "report")
                          else "" for column in sheet_columns(settings)})
    return table, found.left_out
