"""Grades back into the platform: a file each gradebook imports as it is.

The grade is the row's `total` (automatic score plus the merged report, out of the
settings' maximum, 100 by the handout, times the late factor) where `merge` filled it
in, else the automatic score times the late factor; a row without one (a `missing` student, an id on two rows) is
left blank, which every platform reads as "no grade". Column rules, as each documents:

* Moodle, "Import grades from CSV": an identifier column mapped to the users' ID number
  (or email), a grade column, a feedback column; where the participants are known (a
  Moodle download), also the assignment's offline grading worksheet (`Identifier` =
  `Participant <id>`, `Grade`, `Feedback comments`).
* Canvas, gradebook import: `Student`, `ID` (Canvas's user id), `SIS User ID`,
  `SIS Login ID`, `Section`, then one column named `<assignment> (<assignment id>)`;
  Canvas's import takes no comments (an unknown column would become a new assignment),
  so they are written beside it (`-comments.csv`).
* Blackboard, Grade Centre upload: `Username`, a column named `<column> |<column id>`,
  `Feedback to Learner` and its `Feedback Format`.
* csv: student id, name, grade, feedback.

Every line is one student: rows that share a key (two uploads claiming one student id)
become one line with no grade, listed for a person. The feedback is the row's score,
status, the one thing to fix first and lateness, as plain text cut to FEEDBACK_MAX.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from grader.outputs.table import FEEDBACK_MAX, CsvError, id_counts, numbers_of, read_text_csv, text_of, write_safe_csv
from grader.messages import Lang, say
from grader.safe_text import one_line

Target = Literal["moodle", "canvas", "blackboard", "csv"]


class ExportError(CsvError):
    """The grades cannot be exported as asked; one line saying why."""


@dataclass(frozen=True)
class Exported:
    files: list[Path]
    graded: int
    blank: int
    scale: str
    late_lowered: list[str]  # whose grade a late factor lowered
    shared: list[str]  # keys on several rows, exported blank


def _grades(table: pd.DataFrame) -> tuple[pd.Series, str]:
    """The grade of each row and what scale it is on."""
    total = numbers_of(table, "total")
    if total.notna().any():
        return total.round(2), (f"total (0-{_most(table):g}: the automatic score plus the merged report, times "
                                "the late factor; a report not graded yet leaves the grade blank)")
    factor = numbers_of(table, "late_factor").fillna(1.0)
    score = numbers_of(table, "score") * factor
    top = numbers_of(table, "max_score").max()
    return score.round(2), (f"the automatic score (0-{top:g}, times the late factor; merge the report first for "
                            "the total)")


def _most(table: pd.DataFrame) -> float:
    """The total's maximum: the settings' rubric plus the automatic part, as merge wrote it
    (100, the handout's, for a final.csv from before merge wrote it)."""
    most = numbers_of(table, "max_total").max()
    return 100.0 if pd.isna(most) else float(most)


def _feedback(table: pd.DataFrame, lang: Lang) -> pd.Series:
    """The comment each student gets: the total where one was merged, then the grader's line
    (grades.csv's `feedback`, written in the batch's language)."""
    said = text_of(table, "feedback").where(text_of(table, "feedback") != "", text_of(table, "message"))
    total = numbers_of(table, "total")
    most = _most(table)
    prefix = total.map(lambda v: "" if pd.isna(v) else say(lang, "Total {total:g}/{most:g}. ", total=v, most=most))
    return (prefix + said).map(lambda text: one_line(text, FEEDBACK_MAX))


def _one_per_student(table: pd.DataFrame, by: pd.Series, blank: pd.Series) -> tuple[pd.DataFrame, list[str]]:
    """One line per student key: several rows under one key (`shared_id`) become one line
    with no grade, named in the returned list for a person."""
    counts = id_counts(by)
    shared = sorted(counts[counts > 1].index)
    keep = ~by.duplicated() | (by == "")
    table = table.assign(_blank=blank | by.isin(shared))[keep]
    return table, shared


@dataclass(frozen=True)
class Lines:
    """A sheet's rows as a gradebook takes them: `table` one line per student (`_grade`,
    `_feedback`, `_blank`), `every` each row, the keys several rows share, the grade's scale."""

    table: pd.DataFrame
    every: pd.DataFrame
    shared: list[str]
    scale: str


def gradebook_lines(table: pd.DataFrame, by_platform_id: bool, lang: Lang = "en") -> Lines:
    """Each student's grade and comment, a line per student: matched by the platform's user
    id where the platform names users so (`by_platform_id`), else by the student id."""
    grade, scale = _grades(table)
    table = table.assign(_grade=grade, _feedback=_feedback(table, lang))
    lms, sid = text_of(table, "lms_id"), text_of(table, "student_id")
    key = lms.where(lms != "", sid) if by_platform_id else sid.where(sid != "", "lms:" + lms)
    blank = table["_grade"].isna() | (text_of(table, "status") == "missing")
    every, (table, shared) = table, _one_per_student(table, key, blank)
    return Lines(table, every.assign(_blank=blank | key.isin(shared)), shared, scale)


def export(grades_csv: Path, target: Target, output: Path, assignment: str | None = None,
           feedback_files: bool = False, lang: Lang = "en") -> Exported:
    """Write the gradebook file(s) for `target` from a grades.csv or final.csv, the comments in `lang`."""
    table = read_text_csv(grades_csv)
    if "student_id" not in table or "score" not in table:
        raise ExportError(f"{grades_csv}: not a grades.csv or final.csv (no student_id and score columns)")
    if target in ("canvas", "blackboard") and not assignment:
        example = "Lab 4 (12345)" if target == "canvas" else "Lab 4 |1234567"
        raise ExportError(f"{target} needs --assignment, the gradebook column's name as the platform shows it "
                          f"(e.g. '{example}')")
    lines = gradebook_lines(table, by_platform_id=target in ("canvas", "blackboard"), lang=lang)
    every, table, shared, scale = lines.every, lines.table, lines.shared, lines.scale
    sid, name, email, lms = (text_of(table, c) for c in ("student_id", "name", "email", "lms_id"))
    files = [output]
    if target == "moodle":
        write_safe_csv(pd.DataFrame({"ID number": sid, "Email address": email, "Full name": name,
                                     "Grade": _shown(table), "Feedback": _said(table, lang)}), output)
        lms_every = text_of(every, "lms_id")
        participants = every[(text_of(every, "lms") == "moodle") & lms_every.str.fullmatch(r"\d+")]
        if len(participants):  # Moodle's own participant ids: every row, each its own line
            worksheet = output.with_name(output.stem + "-worksheet.csv")
            write_safe_csv(pd.DataFrame({"Identifier": "Participant " + text_of(participants, "lms_id"),
                                         "Full name": text_of(participants, "name"),
                                         "Email address": text_of(participants, "email"),
                                         "Grade": _shown(participants), "Feedback comments": _said(participants, lang)}),
                           worksheet)
            files.append(worksheet)
            if feedback_files:
                files.append(_moodle_feedback_zip(participants, grades_csv.parent,
                                                  output.with_name(output.stem + "-feedback.zip")))
    elif target == "canvas":  # Canvas imports no comments: they go beside, for a person or the API
        write_safe_csv(pd.DataFrame({"Student": name, "ID": lms.where(lms.str.fullmatch(r"\d+"), ""),
                                     "SIS User ID": sid, "SIS Login ID": email, "Section": text_of(table, "section"),
                                     assignment: _shown(table)}), output)
        comments = output.with_name(output.stem + "-comments.csv")
        write_safe_csv(pd.DataFrame({"Student": name, "ID": lms, "SIS User ID": sid, "Comment": _said(table, lang)}),
                       comments)
        files.append(comments)
    elif target == "blackboard":
        write_safe_csv(pd.DataFrame({"Username": lms.where(lms != "", sid), "Student ID": sid,
                                     assignment: _shown(table), "Feedback to Learner": _said(table, lang),
                                     "Feedback Format": "PLAIN_TEXT"}), output)
    else:
        write_safe_csv(pd.DataFrame({"student_id": sid, "name": name, "grade": _shown(table),
                                     "feedback": _said(table, lang)}), output)
    lowered = sorted(text_of(table, "student_id")[numbers_of(table, "late_factor").fillna(1.0) < 1.0]
                     .where(lambda s: s != "", text_of(table, "file")))
    return Exported(files, int((~table["_blank"]).sum()), int(table["_blank"].sum()), scale, lowered, shared)


def _shown(table: pd.DataFrame) -> pd.Series:
    """The grade as the platform reads it: a number, or empty for no grade."""
    return table["_grade"].where(~table["_blank"], None).map(lambda v: "" if v is None or pd.isna(v) else f"{v:g}")


def _said(table: pd.DataFrame, lang: Lang) -> pd.Series:
    shared = table["_blank"] & (text_of(table, "status") != "missing") & table["_grade"].notna()
    return table["_feedback"].where(~shared, say(lang, "No grade yet: more than one submission names you; your "
                                                       "instructor will sort it out"))


def _moodle_feedback_zip(table: pd.DataFrame, out: Path, path: Path) -> Path:
    """Moodle's "Upload multiple feedback files in a zip": a folder per participant, named as
    the download names it, holding the student's feedback page (and learning curves)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for record in table.to_dict("records"):
            page = str(record.get("feedback_page", ""))
            source = out / page if page else None
            if source is None or not source.is_file() or out.resolve() not in source.resolve().parents:
                continue
            folder = f"{record['name'] or 'student'}_{record['lms_id']}_assignsubmission_file_"
            folder = folder.replace("/", "_").replace("\\", "_")
            z.write(source, f"{folder}/feedback.md")
            curves = source.with_suffix(".png")
            if curves.is_file():
                z.write(curves, f"{folder}/{curves.name}")
    return path
