"""Each student's report, taken out of their submission into OUT/reports/<student id>.<ext>,
so a person grading the report's 70% opens one file per student.

Chosen among all the student's files by the intake's rule (intake/report_rule.py, so the
feedback and the copy name the same file); the others are listed on the row. Zips are read by
the intake's rules (sizes, names, members, nesting), and only the report is written.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from grader.batch.rows import ReportFile, Row, page_names
from grader.intake.layouts import submission_files
from grader.intake.report_rule import KINDS, is_candidate, rank
from grader.intake.submission import count_pdf_pages, display_name
from grader.intake.unzip import MAX_MEMBER, SubmissionError, unpack_zip
from grader.safe_files import private_dir

REPORTS = "reports"


def _candidates(source: Path, scratch: Path) -> list[tuple[str, Path]]:
    """(display name, where it is now) of every report candidate in a student's files:
    loose files, and what their zips hold (unpacked under `scratch`)."""
    if source.is_dir():
        files, root = submission_files(source)
    else:
        files, root = [source], source.parent
    found: list[tuple[str, Path]] = []
    for file in files:
        shown = "/".join(display_name(p) for p in file.relative_to(root).parts)
        if is_candidate(file.name):
            if file.stat().st_size <= MAX_MEMBER:  # a zip's member may be no larger
                found.append((shown, file))
        elif file.suffix.lower() == ".zip":
            into = private_dir(scratch / str(len(found)) / "files")
            try:
                unpacked = unpack_zip(file, into, into.parent, lenient=True, only=is_candidate)
            except SubmissionError:
                continue  # the intake says what is wrong with the zip
            found += [(f"{shown}/{w.display}", w.path) for w in unpacked.written]
    return found


def collect(rows: list[Row], out: Path) -> None:
    """Copy each row's report into OUT/reports (rebuilt each batch), set `row.report`, and
    flag `no_report` where a submission holds none."""
    target, building = out / REPORTS, out / f"{REPORTS}.new"
    shutil.rmtree(building, ignore_errors=True)
    private_dir(building)
    with tempfile.TemporaryDirectory(dir=private_dir(out / "staging")) as tmp:
        for n, (row, stem) in enumerate(zip(rows, page_names(rows))):
            source = row.entry.folder or row.entry.path if row.entry else None
            if source is None:
                continue
            found = sorted(_candidates(source, Path(tmp) / str(n)), key=lambda c: rank(c[0]))
            if not found:
                row.flag("no_report")
                continue
            (shown, path), others = found[0], tuple(c[0] for c in found[1:])
            suffix = next(k for k in KINDS if shown.casefold().endswith(k))
            name = f"{stem}{suffix}"
            shutil.copyfile(path, building / name)
            pages = count_pdf_pages(building / name) if suffix == ".pdf" else None
            row.report = ReportFile(f"{REPORTS}/{name}", shown, pages, others)
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)
