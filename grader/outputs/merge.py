"""Join the report scores a person entered with the automatic grades, and total them.

Every problem in the manual sheet (an unknown id, a score out of the rubric's range, a
non-number, a student graded twice) is reported by row; nothing is dropped silently. Every
cell is read and written as text, so ids keep their leading zeros and spaces exactly;
numbers are parsed only where a total is computed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from grader.outputs.table import CsvError, numbers_of, read_text_csv, report_columns, write_safe_csv
from grader.settings import Settings


class MergeError(CsvError):
    """The inputs cannot be merged at all (missing file or column)."""


def _with_leading_zeros(sid: str, known: set[str]) -> str | None:
    """The one known id that `sid` is once a spreadsheet dropped its leading zeros."""
    if sid in known or not sid.isdigit():
        return None
    matches = [k for k in known if k.isdigit() and k.lstrip("0") == sid.lstrip("0") and k.startswith("0")]
    return matches[0] if len(matches) == 1 else None


def merge(grades_csv: Path, manual_csv: Path, settings: Settings) -> tuple[pd.DataFrame, list[str]]:
    """The grades with report columns and totals filled in, and the problems found."""
    grades, manual = read_text_csv(grades_csv), read_text_csv(manual_csv)
    if not {"student_id", "score"} <= set(grades.columns):
        raise MergeError(f"{grades_csv}: not a grades.csv (no student_id and score columns); give the one batch wrote")
    for column in report_columns(settings):  # a sheet from before the rubric changed
        if column not in grades:
            grades[column] = ""
    if "student_id" not in manual.columns:
        raise MergeError(f"{manual_csv}: needs a student_id column")
    maxima = {f"report_{k}": float(v) for k, v in settings.report.model_dump().items()}
    manual = manual.rename(columns={k.removeprefix("report_"): k for k in maxima if k.removeprefix("report_") in manual.columns})
    columns = [c for c in report_columns(settings) if c in manual.columns]
    if not columns:
        raise MergeError(f"{manual_csv}: no report columns; expected some of {', '.join(maxima)}")
    problems: list[str] = []
    named = grades["student_id"][grades["student_id"] != ""]
    known = set(named)
    counts = named.value_counts()
    shared = set(counts[counts > 1].index)  # one id on several rows: whose report is it?
    for sid in sorted(shared):
        files = ", ".join(grades.loc[grades["student_id"] == sid, "file"].astype(str))
        problems.append(f"{grades_csv.name}: student id {sid} is on {counts[sid]} rows ({files}); "
                        "their report scores are not filled in or totalled until one row is left")
    seen: set[str] = set()
    for line, record in enumerate(manual.to_dict("records"), start=2):
        sid = str(record["student_id"]).strip()
        restored = _with_leading_zeros(sid, known)
        if restored is not None:
            problems.append(f"{manual_csv.name} line {line}: student id {sid} read as {restored} "
                            "(a spreadsheet dropped its leading zeros)")
            sid = restored
        if sid not in known:
            problems.append(f"{manual_csv.name} line {line}: unknown student id {sid!r}")
            continue
        if sid in seen:
            problems.append(f"{manual_csv.name} line {line}: student {sid} appears again; first row kept")
            continue
        seen.add(sid)
        if sid in shared:
            continue
        for column in columns:
            raw = str(record[column]).strip()
            if not raw:
                continue
            try:
                value = float(raw)
            except (TypeError, ValueError):
                problems.append(f"{manual_csv.name} line {line}: {column} = {raw!r} is not a number")
                continue
            if not 0 <= value <= maxima[column]:
                problems.append(
                    f"{manual_csv.name} line {line}: {column} = {value:g} is outside 0..{maxima[column]:g}"
                )
                continue
            grades.loc[grades["student_id"] == sid, column] = f"{value:g}"
    for sid in sorted(known - seen):
        problems.append(f"no report scores for student {sid}")
    report = pd.DataFrame({column: numbers_of(grades, column) for column in report_columns(settings)})
    kept = numbers_of(grades, "late_factor").fillna(1.0)
    total = ((numbers_of(grades, "score").fillna(0) + report.fillna(0).sum(axis=1)) * kept).round(4)
    grades["total"] = total.map(lambda v: f"{v:g}").where(~grades["student_id"].isin(shared), "")
    grades.loc[grades["status"] == "missing", "total"] = ""
    return grades, problems


def write(table: pd.DataFrame, path: Path) -> None:
    write_safe_csv(table, path)


STALE_KEYS = ("student_id", "file", "status", "score", "late_factor")


def stale_final(grades_csv: Path, final_csv: Path) -> str | None:
    """Why final.csv no longer matches the grades.csv beside it (a regrade since `merge`),
    or None: the rows' identity, status, score and late factor must be the same."""
    grades, final = read_text_csv(grades_csv), read_text_csv(final_csv)
    columns = [c for c in STALE_KEYS if c in grades and c in final]

    def rows(table: pd.DataFrame) -> list[tuple[str, ...]]:
        return sorted(tuple(r) for r in table[columns].itertuples(index=False))

    before, now = rows(final), rows(grades)
    if before == now:
        return None
    changed = len(set(now) - set(before)) or len(set(before) - set(now))
    return (f"{final_csv} is older than {grades_csv.name}: {changed} rows differ (a regrade since merge); "
            f"run `bptt-grader merge {grades_csv} <manual.csv>` again")
