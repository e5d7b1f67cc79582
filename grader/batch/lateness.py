"""When a row's submission came in, against when it was due for that student, and what
the settings' late policy keeps of its grade.

Only the platform's time counts (Gradescope's `:created_at:`, Blackboard's attempt time).
A platform's late mark without a time (Canvas's `_LATE`) counts as late by an unknown
amount: `zero_after` keeps nothing, `percent_per_day` charges one started day, and the row
is flagged `late?` for a person to set the real days. Where only a file time exists (the
newest member of a student's zip: a time the student can set), the row is flagged `late?`
when that time is past due, and the policy applies only if `late.trust_file_times` is on.
Times without a zone are read in the due date's zone. A roster's `extension` is a number of
days or a new due date (ISO 8601).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

from grader.batch.rows import Lateness, TimeSource
from grader.batch.roster import Student
from grader.intake.layouts import Entry
from grader.intake.unzip import newest_member_time
from grader.messages import Message
from grader.settings import Late


def due_for(late: Late, student: Student | None) -> datetime | None:
    """The due date of one student: the settings', moved by the roster's extension."""
    extension = (student.extension or "").strip() if student else ""
    if late.due is None or not extension:
        return late.due
    try:
        return late.due + timedelta(days=float(extension))
    except ValueError:
        pass
    try:
        moved = datetime.fromisoformat(extension)
    except ValueError:
        return late.due
    return moved if moved.utcoffset() is not None else moved.replace(tzinfo=late.due.tzinfo)


def submitted(entry: Entry | None, path: Path | None) -> tuple[datetime | None, TimeSource]:
    """When the platform says it came in, else the newest member time of the student's zip."""
    if entry is not None and entry.submitted_at is not None:
        return entry.submitted_at, "lms"
    if entry is not None and entry.late:
        return None, "lms_mark"
    if path is not None and path.is_file() and path.suffix.lower() == ".zip":
        newest = newest_member_time(path)
        if newest is not None:
            return newest, "file_times"
    return None, ""


def days_late(late: Late, student: Student | None, when: datetime | None) -> float | None:
    """Days past the student's due date (0 within the grace), None when either is unknown."""
    due = due_for(late, student)
    if due is None or when is None:
        return None
    if when.utcoffset() is None:
        when = when.replace(tzinfo=due.tzinfo)
    over = (when - due).total_seconds() / 86400
    return max(over, 0.0) if over * 1440 > late.grace_minutes else 0.0


def assess(late: Late, student: Student | None, entry: Entry | None, path: Path | None) -> Lateness:
    """The row's lateness by the rules above."""
    when, source = submitted(entry, path)
    if source == "lms_mark":
        return Lateness(None, source, True, None, factor(late, 1.0), unsure=True,
                        note=Message("the platform marks it late without a time: charged as one day late, check it"))
    days = days_late(late, student, when)
    is_late = None if days is None else days > 0
    if source == "file_times" and is_late:
        applied = late.trust_file_times
        note = Message("only the zip's file times say when it came in (a time the student sets): {days:.2f} days late",
                       days=days)
        note += "" if applied else Message(", not charged (late.trust_file_times is off)")
        return Lateness(when, source, True, days, factor(late, days) if applied else 1.0, unsure=True, note=note)
    return Lateness(when, source, is_late, days, factor(late, days))


def factor(late: Late, days: float | None) -> float:
    if late.policy == "none" or not days:
        return 1.0
    if late.policy == "zero_after":
        return 0.0
    return max(0.0, 1.0 - late.percent_per_day / 100 * math.ceil(days))


def on_time(late: Late, student: Student | None, entry: Entry) -> bool:
    """For `late.attempt = latest_on_time`: whether an attempt came in by its due date, by the
    platform's time (an attempt without one is not known to be on time)."""
    return entry.submitted_at is not None and days_late(late, student, entry.submitted_at) == 0
