"""The class's grades as one table: a row per submission, safe to open in a spreadsheet.

Student-controlled text (file names, exception messages) reaches the CSV, so every text
cell is cut, kept on one line and neutralised against formula injection.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import charset_normalizer
import pandas as pd

from grader.batch.rows import Row
from grader.messages import Lang, say
from grader.results import CHECK_NAMES
from grader.safe_text import neutralise, one_line
from grader.safe_files import write_atomic
from grader.settings import Settings

CELL_MAX = 300
FEEDBACK_MAX = 280  # a gradebook comment: the score, the one thing to fix, lateness
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Text on one line, at most CELL_MAX characters, never read as a formula."""
    if not isinstance(value, str):
        return value
    text = neutralise(value).replace("\n", "\\n")
    if len(text) > CELL_MAX:
        text = text[: CELL_MAX - 3] + "..."
    if text.startswith(FORMULA_START):
        text = "'" + text
    return text


def report_columns(settings: Settings) -> list[str]:
    """The manual report rubric's columns, from the settings."""
    return [f"report_{c.name}" for c in settings.report.criteria]


def feedback_text(row: Row, lang: Lang = "en", limit: int = FEEDBACK_MAX) -> str:
    """What a gradebook's comment column says to the student, in `lang`: score, status, the one
    thing to fix first and lateness, as plain text on one line, cut to `limit` characters."""
    result = row.result
    parts = [say(lang, "Automatic score {score:g}/{max:g}", score=result.score, max=result.max_score)
             if result.status != "missing" else say(lang, "No submission was found")]
    if result.status not in ("graded", "missing"):
        parts.append(say(lang, "not graded ({status}): {message}", status=result.status,
                         message=result.in_lang(result.message, lang)))
    elif (first := result.fix_first()) is not None:
        parts.append(say(lang, "fix first: {check}: {message}", check=first.name,
                         message=first.in_lang(first.message, lang)))
    if row.late.late:
        days = row.late.days_late
        parts.append(say(lang, "late {days:.2f} days (grade x {factor:g})", days=days, factor=row.late.factor)
                     if days is not None and row.late.lowered else
                     say(lang, "late (grade x {factor:g})", factor=row.late.factor) if row.late.lowered else
                     say(lang, "late {days:.2f} days", days=days) if days is not None else say(lang, "late"))
    return one_line(neutralise(say(lang, ". ").join(parts)).replace("\n", " "), limit)


def row_record(row: Row, settings: Settings, feedback_page: str = "") -> dict:
    """One row of grades.csv: who, when, how it was graded, check and run columns."""
    result, who, late = row.result, row.who, row.late
    out: dict[str, object] = {
        "student_id": who.student_id or "",
        "name": who.name or "",
        "file": row.file,
        "sha256": row.upload.sha256 if row.upload else "",
        "identity_source": who.source,
        "email": who.email or "",
        "section": who.section or "",
        "lms": who.lms,
        "lms_id": who.lms_id or "",
        "submitted_at": late.submitted_at.isoformat() if late.submitted_at else "",
        "time_source": late.time_source,
        "late": "late" if late.late else "",
        "late_days": None if late.days_late is None else round(late.days_late, 4),
        "late_factor": late.factor,
        "status": result.status,
        "message": result.explanation,
        "feedback": feedback_text(row, settings.lang),
        "feedback_page": feedback_page,
    }
    checks = {c.name: c for c in result.checks}
    for name in CHECK_NAMES:
        c = checks.get(name)
        out[f"{name}_status"] = c.status if c else ""
        out[f"{name}_points"] = c.points if c else 0.0
    for i in range(max(settings.runs, settings.max_runs)):  # a straddling submission's added runs too
        out[f"accuracy_run{i + 1}"] = result.accuracy_runs[i] if i < len(result.accuracy_runs) else None
    out["accuracy_spread"] = (round(max(result.accuracy_runs) - min(result.accuracy_runs), 4)
                              if result.accuracy_runs else None)
    out.update(
        accuracy=result.accuracy,
        accuracy_window=result.accuracy_window,
        accuracy_exhaustive=result.accuracy_exhaustive,
        loss_recognised=result.loss_recognised or "",
        score=result.score,
        max_score=result.max_score,
        report=row.report.path if row.report else "",
        report_pages=row.report.pages if row.report and row.report.pages else "",
    )
    for column in report_columns(settings):
        out[column] = None
    out["total"] = None
    out["flags"] = ";".join(row.flag_labels)
    out["sandbox"] = result.sandbox  # the mode and each guarantee that held
    out["notes"] = "; ".join(row.notes)
    out["seconds"] = result.timings.get("total")
    out["grader_version"] = result.grader_version
    out["settings_hash"] = result.settings_hash
    return out


def write_safe_csv(table: pd.DataFrame, path: Path) -> None:
    """Every CSV the grader writes: text cells made safe, UTF-8 with a BOM (so a spreadsheet
    shows the students' Chinese names right), written atomically."""
    safe = table.apply(lambda column: column.map(safe_cell)) if not table.empty else table
    write_atomic(path, "\ufeff" + safe.to_csv(index=False, lineterminator="\n"), 0o644)


class CsvError(ValueError):
    """A sheet that cannot be used (unreadable, or not the one asked for); one line saying why."""


SHEET_BYTES = 64 << 20  # a class's sheet is kilobytes; anything near this is not one


def sheet_codec(raw: bytes) -> str:
    """The text encoding of a sheet a person saved: a byte-order mark first (Excel's "CSV
    UTF-8", UTF-16 "Unicode text"), then UTF-8, then what the bytes look like (Excel on a
    zh-TW Windows saves Big5 as cp950, its superset)."""
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(raw).best()
    if best is None:
        raise CsvError("cannot tell the sheet's text encoding; save it as \"CSV UTF-8\"")
    return {"big5": "cp950"}.get(best.encoding, best.encoding)


def read_sheet(path: Path) -> tuple[pd.DataFrame, str]:
    """A CSV the grader wrote or a person saved, in whatever encoding, every cell as text
    ("" where empty, so ids keep their leading zeros and spaces exactly), and its codec."""
    try:
        with open(path, "rb") as f:
            raw = f.read(SHEET_BYTES + 1)
    except OSError as exc:
        raise CsvError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > SHEET_BYTES:
        raise CsvError(f"{path}: larger than {SHEET_BYTES >> 20} MiB; is it the class's sheet?")
    try:
        codec = sheet_codec(raw)
        text = raw.decode(codec)
    except CsvError as exc:
        raise CsvError(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise CsvError(f"{path}: not readable as {codec} ({exc.reason}); save it as \"CSV UTF-8\"") from None
    try:
        header = text.lstrip("\ufeff").split("\n", 1)[0]
        tabs = "\t" in header and "," not in header  # Excel's "Unicode text" is UTF-16 with tabs
        table = pd.read_csv(io.StringIO(text.lstrip("\ufeff")), dtype=str, keep_default_na=False,
                            sep="\t" if tabs else ",")
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CsvError(f"{path}: cannot read as CSV: {exc}") from None
    table.columns = [str(c).strip() for c in table.columns]
    return table, codec


def read_text_csv(path: Path) -> pd.DataFrame:
    """A sheet's cells as text (see read_sheet)."""
    return read_sheet(path)[0]


def text_of(table: pd.DataFrame, column: str) -> pd.Series:
    """A text column, stripped; all empty where the sheet lacks it."""
    if column not in table:
        return pd.Series([""] * len(table), index=table.index)
    return table[column].fillna("").astype(str).str.strip()


def id_counts(ids: pd.Series) -> pd.Series:
    """How many rows carry each non-empty id; above 1, several uploads claim it (`shared_id`),
    and no sheet, merge or export can say whose grade it is."""
    return ids[ids != ""].value_counts()


def numbers_of(table: pd.DataFrame, column: str) -> pd.Series:
    """A column as numbers, NaN where a cell is empty, not a number, or the column is missing."""
    return pd.to_numeric(text_of(table, column).replace("", None), errors="coerce")


def write_csv(rows: list[dict], path: Path) -> pd.DataFrame:
    """Sorted rows (deterministic order), written with write_safe_csv."""
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.sort_values(["student_id", "file"], kind="stable").reset_index(drop=True)
    write_safe_csv(table, path)
    return table
