"""`batch` as a test calls it (the stages with its options, the summary it prints), and
class rows around single results for the outputs' tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from grader.batch.rows import Identity, Lateness, Row, Upload
from grader.batch.run import BatchOptions, run_batch
from grader.outputs.table import row_record
from grader.results import GradeResult
from grader.settings import Settings


def batch(source: Path, out: Path, settings: Settings, **options: object) -> str:
    """Run a batch (no progress bar, two jobs unless told) and return what the command prints."""
    options = {"jobs": 2, "progress": False, **options}
    if "only" in options:
        options["only"] = frozenset(options["only"])  # type: ignore[arg-type]
    return run_batch(source, out, settings, BatchOptions(**options)).text(out)  # type: ignore[arg-type]


def row_of(result: GradeResult, file: str = "", sha256: str = "", flags: Iterable[str] = (),
           who: Identity | None = None, late: Lateness | None = None) -> Row:
    """A class row around one result: named as its submission says unless `who` is given;
    `flags` as the CSV writes them (`similar:<partner>`)."""
    sub = result.submission
    named = Identity(sub.student_id, sub.name, ("handout" if sub.naming_ok else "file_name") if sub.student_id
                     else "none")
    row = Row(result, who or named)
    if file:
        row.upload = Upload(Path(file), file, sha256)
    if late is not None:
        row.late = late
    for label in flags:
        name, _, detail = label.partition(":")
        row.flag(name, detail)  # type: ignore[arg-type]
    return row


def record(result: GradeResult, file: str, sha256: str, settings: Settings, flags: Iterable[str] = ()) -> dict:
    """The grades.csv row of one result."""
    return row_record(row_of(result, file, sha256, flags), settings)
