"""The class's grades as one table: a row per submission, safe to open in a spreadsheet.

Student-controlled text (file names, exception messages) reaches the CSV, so every text
cell is cut, kept on one line and neutralised against formula injection.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from grader.results import CHECK_NAMES, GradeResult, neutralise
from grader.safe_files import write_atomic
from reference.spec import Settings

CELL_MAX = 300
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
    return [f"report_{name}" for name in type(settings.report).model_fields]


def row(result: GradeResult, file: str, sha256: str, settings: Settings, extra_flags: list[str]) -> dict:
    """One submission's row; check columns for every check, run columns for every run."""
    sub = result.submission
    out: dict[str, object] = {
        "student_id": sub.student_id or "",
        "name": sub.name or "",
        "file": file,
        "sha256": sha256,
        "identity_source": sub.identity_source,
        "email": sub.email or "",
        "lms": sub.lms,
        "lms_id": sub.lms_id or "",
        "submitted_at": sub.submitted_at or "",
        "time_source": sub.time_source,
        "late": "late" if sub.late else "",
        "late_days": sub.late_days,
        "late_factor": sub.late_factor,
        "status": result.status,
        "message": result.explanation,
    }
    checks = {c.name: c for c in result.checks}
    for name in CHECK_NAMES:
        c = checks.get(name)
        out[f"{name}_status"] = c.status if c else ""
        out[f"{name}_points"] = c.points if c else 0.0
    for i in range(settings.runs):
        out[f"accuracy_run{i + 1}"] = result.accuracy_runs[i] if i < len(result.accuracy_runs) else None
    out.update(
        accuracy=result.accuracy,
        accuracy_window=result.accuracy_window,
        accuracy_exhaustive=result.accuracy_exhaustive,
        loss_recognised=result.loss_recognised or "",
        score=result.score,
        max_score=result.max_score,
        report_pdf=sub.report_pdf or "",
        report_pages=sub.report_pages,
    )
    for column in report_columns(settings):
        out[column] = None
    out["total"] = None
    out["flags"] = ";".join(sorted(set(result.flags + extra_flags)))
    out["sandbox"] = result.sandbox  # the mode and each guarantee that held
    out["notes"] = "; ".join(sub.notes)
    out["seconds"] = result.timings.get("total")
    out["grader_version"] = result.grader_version
    out["settings_hash"] = result.settings_hash
    return out


def write_safe_csv(table: pd.DataFrame, path: Path) -> None:
    """Every CSV the grader writes: text cells made safe, UTF-8 with a BOM (so a spreadsheet
    shows the students' Chinese names right), written atomically."""
    safe = table.apply(lambda column: column.map(safe_cell)) if not table.empty else table
    write_atomic(path, "\ufeff" + safe.to_csv(index=False, lineterminator="\n"), 0o644)


def write_csv(rows: list[dict], path: Path) -> pd.DataFrame:
    """Sorted rows (deterministic order), written with write_safe_csv."""
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.sort_values(["student_id", "file"], kind="stable").reset_index(drop=True)
    write_safe_csv(table, path)
    return table
