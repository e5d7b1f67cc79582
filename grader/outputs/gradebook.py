"""Grades back into the platform: a file each gradebook imports as it is.

The grade is the row's `total` (automatic score plus the merged report, on the handout's
0-100 scale, times the late factor) where `merge` filled it in, else the automatic score
times the late factor; a row without one (a `missing` student, an id on two rows) is
left blank, which every platform reads as "no grade". Column rules, as each documents:

* Moodle, "Import grades from CSV": an identifier column mapped to the users' ID number
  (or email), a grade column, a feedback column; where the participants are known (a
  Moodle download), also the assignment's offline grading worksheet (`Identifier` =
  `Participant <id>`, `Grade`, `Feedback comments`).
* Canvas, gradebook import: `Student`, `ID` (Canvas's user id), `SIS User ID`,
  `SIS Login ID`, `Section`, then one column named `<assignment> (<assignment id>)`.
* Blackboard, Grade Centre upload: `Username` and a column named `<column> |<column id>`.
* csv: student id, name, grade.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from grader.outputs.table import write_safe_csv

Target = Literal["moodle", "canvas", "blackboard", "csv"]


class ExportError(ValueError):
    """The grades cannot be exported as asked; one line saying why."""


@dataclass(frozen=True)
class Exported:
    files: list[Path]
    graded: int
    blank: int
    scale: str


def _text(table: pd.DataFrame, column: str) -> pd.Series:
    if column not in table:
        return pd.Series([""] * len(table), index=table.index)
    return table[column].fillna("").astype(str).str.strip()


def _grades(table: pd.DataFrame) -> tuple[pd.Series, str]:
    """The grade of each row and what scale it is on."""
    factor = pd.to_numeric(table["late_factor"], errors="coerce").fillna(1.0) if "late_factor" in table else 1.0
    total = pd.to_numeric(table["total"], errors="coerce") if "total" in table else None
    if total is not None and total.notna().any():
        return total.round(2), "total (0-100: the automatic score plus the merged report, times the late factor)"
    score = pd.to_numeric(table["score"], errors="coerce") * factor
    top = pd.to_numeric(table.get("max_score"), errors="coerce").max() if "max_score" in table else math.nan
    return score.round(2), f"the automatic score (0-{top:g}, times the late factor; merge the report first for 0-100)"


def export(grades_csv: Path, target: Target, output: Path, assignment: str | None = None) -> Exported:
    """Write the gradebook file(s) for `target` from a grades.csv or final.csv."""
    try:
        table = pd.read_csv(grades_csv, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ExportError(f"{grades_csv}: cannot read as CSV: {exc}") from None
    if "student_id" not in table or "score" not in table:
        raise ExportError(f"{grades_csv}: not a grades.csv or final.csv (no student_id and score columns)")
    if target in ("canvas", "blackboard") and not assignment:
        example = "Lab 4 (12345)" if target == "canvas" else "Lab 4 |1234567"
        raise ExportError(f"{target} needs --assignment, the gradebook column's name as the platform shows it "
                          f"(e.g. '{example}')")
    grade, scale = _grades(table)
    blank = ~grade.notna() | (_text(table, "status") == "missing")
    shown = grade.where(~blank, None).map(lambda v: "" if v is None or pd.isna(v) else f"{float(v):g}")
    sid, name, email, lms = (_text(table, c) for c in ("student_id", "name", "email", "lms_id"))
    feedback = _text(table, "message")
    files = [output]
    if target == "moodle":
        write_safe_csv(pd.DataFrame({"ID number": sid, "Email address": email, "Full name": name,
                             "Grade": shown, "Feedback": feedback}), output)
        participants = (_text(table, "lms") == "moodle") & lms.str.fullmatch(r"\d+")
        if participants.any():
            worksheet = output.with_name(output.stem + "-worksheet.csv")
            write_safe_csv(pd.DataFrame({"Identifier": "Participant " + lms[participants], "Full name": name[participants],
                                 "Email address": email[participants], "Grade": shown[participants],
                                 "Feedback comments": feedback[participants]}), worksheet)
            files.append(worksheet)
    elif target == "canvas":
        write_safe_csv(pd.DataFrame({"Student": name, "ID": lms.where(lms.str.fullmatch(r"\d+"), ""), "SIS User ID": sid,
                             "SIS Login ID": email, "Section": _text(table, "section"), assignment: shown}), output)
    elif target == "blackboard":
        write_safe_csv(pd.DataFrame({"Username": lms.where(lms != "", sid), "Student ID": sid, assignment: shown}), output)
    else:
        write_safe_csv(pd.DataFrame({"student_id": sid, "name": name, "grade": shown}), output)
    return Exported(files, int((~blank).sum()), int(blank.sum()), scale)
