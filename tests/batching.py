"""`batch` as a test calls it (the stages with its options, the summary it prints), and
class rows around single results for the outputs' tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from grader.batch.rows import Identity, Lateness, Row, Upload
from grader.batch.run import BatchOptions, run_batch
from grader.intake.submission import SubmissionError, open_submission, parse_name
from grader.outputs.table import row_record
from grader.results import GradeResult, SubmissionInfo
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


def intake_only(todo: list[Upload], settings: Settings, jobs: int, isolation: object, logs: Path,
                save: object, progress: object) -> None:
    """Grading replaced by the intake: its status where it refuses, else a score by content."""
    for upload in todo:
        named = parse_name(upload.path.name)
        try:
            found = open_submission(upload.path, logs)
        except SubmissionError as exc:
            result = GradeResult.ungraded(exc.status, exc.message, settings.digest(), str(upload.path),
                                          student_id=named[0], name=named[1], naming_ok=named[2])
        else:
            score = int(found.sha256[:4], 16) % 31
            result = GradeResult(grader_version="t", settings_hash=settings.digest(), status="graded", score=score,
                                 max_score=30.0, submission=SubmissionInfo(source=str(upload.path), sha256=found.sha256,
                                                                           student_id=named[0], name=named[1]))
        save(upload, result)  # type: ignore[operator]
