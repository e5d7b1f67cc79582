"""One row of the class: the platform's entry, what was graded, the result, who it is,
when it came in and the flags, in one record that every output reads.

The graded result is never rewritten here: who and when are the class's facts and live
beside it, so a stored result is the same whatever the roster or the late policy says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from grader.intake.layouts import Entry
from grader.intake.submission import display_name, parse_name
from grader.intake.report_rule import report_note
from grader.messages import Message
from grader.results import Flag, GradeResult

IdentitySource = Literal["lms_metadata", "roster", "handout", "file_name", "lms_wrapper", "none"]
TimeSource = Literal["lms", "lms_mark", "file_times", ""]


@dataclass(frozen=True)
class Upload:
    """One file or folder to grade; rows may share one (the members of a group submission)."""

    path: Path
    file: str  # its name in the download
    sha256: str


@dataclass(frozen=True)
class Identity:
    """Who a row is, and where that came from (`source`)."""

    student_id: str | None
    name: str | None
    source: IdentitySource
    lms: str = ""  # the platform download it came from, if any
    lms_id: str | None = None  # the platform's own id of the student
    email: str | None = None
    section: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lateness:
    """When a row's submission came in against its due date, and what the late policy keeps."""

    submitted_at: datetime | None = None
    time_source: TimeSource = ""
    late: bool | None = None  # None: not known (no due date, or no time)
    days_late: float | None = None  # None: not known
    factor: float = 1.0
    unsure: bool = False  # a person should look: only a file time says late, or a mark has no time
    note: str = ""

    @property
    def lowered(self) -> bool:
        return self.factor < 1.0


@dataclass(frozen=True)
class ReportFile:
    """A row's report, copied into OUT: its path there, the name the student gave it, and
    the other candidates its submission held."""

    path: str  # relative to OUT, e.g. reports/0756001.pdf
    original: str
    pages: int | None = None
    others: tuple[str, ...] = ()

    @property
    def note(self) -> Message:
        return report_note(self.original, self.pages, self.others)


@dataclass
class Row:
    """Everything the class knows about one student's row."""

    result: GradeResult
    who: Identity
    entry: Entry | None = None  # None: a roster's student with no submission
    upload: Upload | None = None  # None: nothing to grade
    late: Lateness = Lateness()
    flags: dict[Flag, str] = field(default_factory=dict)  # flag -> detail (similar: the partner)
    report: ReportFile | None = None  # set by reports.collect

    @property
    def file(self) -> str:
        return self.upload.file if self.upload else (self.entry.file if self.entry else "")

    def flag(self, name: Flag, detail: str = "") -> None:
        if name not in self.flags or (detail and not self.flags[name]):
            self.flags[name] = detail

    @property
    def flag_labels(self) -> list[str]:
        """The result's flags and the class's, as short labels (`similar:<partner>`)."""
        labels = {f: "" for f in self.result.flags} | self.flags
        return sorted(f"{f}:{d}" if d else f for f, d in labels.items())

    @property
    def notes(self) -> list[str]:
        report = self.report.note if self.report else self.result.submission.report_note  # the batch saw all files
        extra = [n for n in (*self.who.notes, *(self.entry.notes if self.entry else ()), self.late.note, report) if n]
        return list(dict.fromkeys([*self.result.submission.notes, *extra]))


def named_in(entry: Entry) -> tuple[str | None, str | None, bool]:
    """(student id, name, follows the handout) as the student's own file or folder names it."""
    named = display_name(entry.path.name) if entry.path is not None else entry.file
    student_id, name, naming_ok, _ = parse_name(named)
    return student_id, name, naming_ok


def page_names(rows: list[Row]) -> list[str]:
    """A file-system safe, unique base name per row (its feedback page, its report): the
    student id, else the platform's id, else the file's stem. Rows added at the end (the
    roster's missing students) leave the names before them as they were."""
    taken: set[str] = set()
    names = []
    for row in rows:
        base = row.who.student_id or (f"{row.who.lms}-{row.who.lms_id}" if row.who.lms_id else Path(row.file).stem)
        base = re.sub(r"[^\w.-]+", "_", base).strip("._") or "submission"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        names.append(name)
    return names
