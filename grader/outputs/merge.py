"""Join the report scores a person entered with the automatic grades, and total them.

Every problem in the manual sheet (an unknown id, a score out of the rubric's range, a
non-number, a student graded twice) is reported by row; nothing is dropped silently, and
nothing is guessed: a blank cell is "not graded yet", never 0. The sheet may be in any
encoding a spreadsheet saves (UTF-8 with or without BOM, UTF-16, Big5/cp950, ...). Every
cell is read and written as text, so ids keep their leading zeros and spaces exactly;
numbers are parsed only where a total is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from grader.outputs.table import CsvError, id_counts, numbers_of, read_sheet, read_text_csv, text_of, write_safe_csv
from grader.settings import Criterion, Settings


class MergeError(CsvError):
    """The inputs cannot be merged at all (missing file or column)."""


def _with_leading_zeros(sid: str, known: set[str]) -> str | None:
    """The one known id that `sid` is once a spreadsheet dropped its leading zeros."""
    if sid in known or not sid.isdigit():
        return None
    matches = [k for k in known if k.isdigit() and k.lstrip("0") == sid.lstrip("0") and k.startswith("0")]
    return matches[0] if len(matches) == 1 else None


@dataclass
class Merged:
    """What merge made: the final table, the sheet's problems (each by line), the students
    whose report is not fully graded yet (their total is left blank), and the sheet's codec."""

    table: pd.DataFrame
    problems: list[str]
    not_graded: list[str]
    codec: str
    kept_higher: list[str] = field(default_factory=list)  # students whose earlier, higher total was kept


def total_of(score, report, late_factor):  # noqa: ANN001, ANN201 - numbers or pandas Series alike
    """The lab's total: (automatic score + report) x the late factor, to 4 decimals."""
    return round((score + report) * late_factor, 4)


def _points(raw: str, criterion: Criterion) -> float | str:
    """A cell's points, or why they cannot be used."""
    try:
        value = float(raw)
    except ValueError:
        return f"{raw!r} is not a number"
    return criterion.refuses(value) or value


def merge(grades_csv: Path, manual_csv: Path, settings: Settings) -> Merged:
    """The grades with report columns and totals filled in. A blank cell (or a student the
    sheet does not list) is "not graded yet": listed, and that student's total left blank,
    never counted as 0."""
    grades = read_text_csv(grades_csv)
    manual, codec = read_sheet(manual_csv)
    if not {"student_id", "score"} <= set(grades.columns):
        raise MergeError(f"{grades_csv}: not a grades.csv (no student_id and score columns); give the one batch wrote")
    criteria = {f"report_{c.name}": c for c in settings.report.criteria}
    for column in criteria:  # a sheet from before the rubric changed
        grades[column] = ""
    if "student_id" not in manual.columns:
        raise MergeError(f"{manual_csv}: needs a student_id column")
    manual = manual.rename(columns={k.removeprefix("report_"): k for k in criteria if k.removeprefix("report_") in manual})
    columns = [c for c in criteria if c in manual.columns]
    if not columns:
        raise MergeError(f"{manual_csv}: no report columns; expected some of {', '.join(criteria)} "
                         "(`bptt-grader sheet OUT` writes a sheet with all of them)")
    problems: list[str] = []
    counts = id_counts(grades["student_id"])
    known = set(counts.index)
    shared = set(counts[counts > 1].index)  # one id on several rows: whose report is it?
    for sid in sorted(shared):
        files = ", ".join(grades.loc[grades["student_id"] == sid, "file"].astype(str))
        problems.append(f"{grades_csv.name}: student id {sid} is on {counts[sid]} rows ({files}); "
                        "their report scores are not filled in or totalled until one row is left")
    seen: set[str] = set()
    comments = "comments" in manual.columns
    if comments:
        grades["report_comments"] = ""
    for line, record in enumerate(manual.to_dict("records"), start=2):
        sid = str(record["student_id"]).strip()
        restored = _with_leading_zeros(sid, known)
        if restored is not None:
            problems.append(f"{manual_csv.name} line {line}: student id {sid} read as {restored} "
                            "(a spreadsheet dropped its leading zeros)")
            sid = restored
        if not sid and not any(str(record[c]).strip() for c in columns):
            continue  # an empty line
        if sid not in known:
            problems.append(f"{manual_csv.name} line {line}: unknown student id {sid!r}")
            continue
        if sid in seen:
            problems.append(f"{manual_csv.name} line {line}: student {sid} appears again; first row kept")
            continue
        seen.add(sid)
        if sid in shared:
            continue
        mine = grades["student_id"] == sid
        for column in columns:
            raw = str(record[column]).strip()
            if not raw:
                continue
            points = _points(raw, criteria[column])
            if isinstance(points, str):
                problems.append(f"{manual_csv.name} line {line}: {column} = {points}")
            else:
                grades.loc[mine, column] = f"{points:g}"
        if comments:
            grades.loc[mine, "report_comments"] = str(record["comments"])
    report = pd.DataFrame({column: numbers_of(grades, column) for column in criteria})
    complete = report.notna().all(axis=1)
    kept = numbers_of(grades, "late_factor").fillna(1.0)
    ungraded = grades["student_id"].isin(shared) | (grades["status"] == "missing") | ~complete
    grades["report_total"] = report.sum(axis=1).map(lambda v: f"{v:g}").where(complete, "")
    total = total_of(numbers_of(grades, "score").fillna(0), report.sum(axis=1), kept)
    grades["total"] = total.map(lambda v: f"{v:g}").where(~ungraded, "")
    grades["max_total"] = (numbers_of(grades, "max_score").fillna(0) + settings.report.max_points).map(lambda v: f"{v:g}")
    not_graded = sorted({sid or file for sid, file, done, status in
                         zip(grades["student_id"], grades["file"], complete, grades["status"])
                         if not done and status != "missing" and sid not in shared})
    return Merged(grades, problems, not_graded, codec)


def keep_higher(merged: Merged, earlier_csv: Path) -> Merged:
    """Never lower a published grade: where an earlier final.csv gave a student a higher
    total, that total is kept (and the student listed); a total not graded yet stays blank."""
    earlier = read_text_csv(earlier_csv)
    if not {"student_id", "total"} <= set(earlier.columns):
        raise MergeError(f"{earlier_csv}: not a final.csv (no student_id and total columns)")
    before = dict(zip(text_of(earlier, "student_id"), numbers_of(earlier, "total")))
    table = merged.table
    now = numbers_of(table, "total")
    kept = []
    for i, sid in zip(table.index, text_of(table, "student_id")):
        old = before.get(sid)
        if sid and old is not None and not pd.isna(old) and not pd.isna(now[i]) and old > now[i]:
            table.loc[i, "total"] = f"{old:g}"
            kept.append(sid)
    table["total_kept_from"] = text_of(table, "student_id").map(lambda sid: earlier_csv.name if sid in kept else "")
    merged.kept_higher = sorted(kept)
    return merged


def write(table: pd.DataFrame, path: Path) -> None:
    write_safe_csv(table, path)


STALE_KEYS = ("student_id", "file", "status", "score", "late_factor")


def graded_sheet(out: Path) -> Path:
    """The sheet a gradebook gets its grades from: OUT/final.csv after merge (refused when a
    regrade since made it stale), else OUT/grades.csv; CsvError saying what to run."""
    grades, final = out / "grades.csv", out / "final.csv"
    if not grades.is_file():
        raise CsvError(f"{out}: no grades.csv in it; run bptt-grader batch first")
    if final.is_file():
        if stale := stale_final(grades, final):
            raise CsvError(stale)
        return final
    return grades


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
