"""When a submission came in, against when it was due for that student, and what the
settings' late policy keeps of its grade.

The time is the platform's where it records one (Canvas's `_LATE` is a mark, not a time;
Gradescope's `:created_at:`, Blackboard's attempt time) and otherwise the newest member
time of the student's zip; times without a zone are read in the due date's zone. A
roster's `extension` is a number of days or a new due date (ISO 8601).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from grader.classroom.roster import Student
from reference.spec import Late


@dataclass(frozen=True)
class Lateness:
    submitted_at: datetime | None
    time_source: str  # "lms", "zip_members" or "" (unknown)
    days_late: float | None  # None: not known (no due date or no time)
    factor: float  # what the late policy keeps of the grade


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


def assess(late: Late, student: Student | None, submitted_at: datetime | None, time_source: str,
           marked_late: bool) -> Lateness:
    """Days late and the policy's factor (1.0 when on time, unknown, or the policy is none)."""
    due = due_for(late, student)
    if due is not None and submitted_at is not None and submitted_at.utcoffset() is None:
        submitted_at = submitted_at.replace(tzinfo=due.tzinfo)
    if due is None or submitted_at is None:
        days = None
    else:
        over = (submitted_at - due).total_seconds() / 86400
        days = max(over, 0.0) if over * 1440 > late.grace_minutes else 0.0
    if days is None and marked_late:
        days = math.nan  # the platform says late, but not by how much
    return Lateness(submitted_at, time_source, days, factor(late, days))


def factor(late: Late, days: float | None) -> float:
    if late.policy == "none" or days is None or days == 0:
        return 1.0
    if late.policy == "zero_after":
        return 0.0
    if math.isnan(days):  # marked late, by an unknown amount: nothing to deduct by
        return 1.0
    return max(0.0, 1.0 - late.percent_per_day / 100 * math.ceil(days))
