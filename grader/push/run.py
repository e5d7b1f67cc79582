"""The push, in order: the grades of OUT (final.csv after merge, else grades.csv), each
student matched to an LMS user, what would change (old -> new), sending what changed with a
line in OUT's push log after each, then reading the LMS back to check it holds every grade.

A rerun after a failure half-way sends only what the LMS does not hold yet; a rerun with
nothing changed sends nothing (a comment already there is not posted twice). A student the
LMS does not know, a row without a grade and an id several rows claim are listed, never sent.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import pandas as pd

from grader.batch.roster import comparable
from grader.outputs.gradebook import Lines, gradebook_lines
from grader.outputs.merge import graded_sheet
from grader.outputs.table import read_text_csv
from grader.push.http import LMSError
from grader.push.lms import LMS, Held, Person
from grader.settings import batch_settings

Action = Literal["send", "unchanged", "not_in_course", "no_grade", "shared"]
SAME = 1e-6  # grades closer than this are the same grade


@dataclass(frozen=True)
class Planned:
    """One student's line of the push."""

    student: str
    user: str | None
    old: float | None
    new: float | None
    comment: str | None  # None: the LMS already shows it
    action: Action


@dataclass
class PushReport:
    planned: list[Planned]
    sent: list[Planned] = field(default_factory=list)
    failed: list[tuple[Planned, str]] = field(default_factory=list)
    mismatched: list[tuple[Planned, float | None]] = field(default_factory=list)

    def count(self, action: Action) -> int:
        return sum(p.action == action for p in self.planned)


def grades_of(out: Path) -> Lines:
    """A line per student with `_grade`, `_feedback` and `_blank`, from final.csv (refused if
    a regrade made it stale) or grades.csv."""
    return gradebook_lines(read_text_csv(graded_sheet(out)), by_platform_id=False, lang=batch_settings(out).lang)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def read_log(path: Path) -> dict[str, dict]:
    """The last line sent to each LMS user, from the push log."""
    sent: dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash
            if isinstance(record, dict) and "user" in record:
                sent[str(record["user"])] = record
    return sent


MATCHED_BY = ("student_id", "email")


def _index(people: list[Person]) -> dict[str, dict[str, list[str]]]:
    """The LMS users under each student id and email, compared as the roster compares them."""
    index: dict[str, dict[str, list[str]]] = {key: defaultdict(list) for key in MATCHED_BY}
    for p in people:
        for key in MATCHED_BY:
            if value := comparable(getattr(p, key)):
                index[key][value].append(p.user)
    return index


def _match(row: dict, lms_name: str, users: set[str], index: dict[str, dict[str, list[str]]]) -> str | None:
    """The LMS user a row is: its platform id where the row came from this LMS, else the
    student id, else the email (each only where it names one user)."""
    if row.get("lms") == lms_name and row.get("lms_id"):
        return row["lms_id"] if row["lms_id"] in users else None
    for key in MATCHED_BY:
        found = index[key].get(comparable(row.get(key)), []) if row.get(key) else []
        if len(found) == 1:
            return found[0]
    return None


def plan(table: pd.DataFrame, lms: LMS, log: dict[str, dict], people: list[Person],
         held: dict[str, Held], shared: set[str]) -> list[Planned]:
    """What the push would do for each student."""
    users, index = {p.user for p in people}, _index(people)
    lines = []
    for row in table.to_dict("records"):
        student = str(row.get("student_id") or row.get("file") or "")
        grade = None if pd.isna(row["_grade"]) or row["_blank"] else float(row["_grade"])
        if student in shared:
            lines.append(Planned(student, None, None, None, None, "shared"))
            continue
        user = _match(row, lms.name, users, index)
        if user is None:
            lines.append(Planned(student, None, None, grade, None, "not_in_course"))
            continue
        now = held.get(user, Held())
        if grade is None:
            lines.append(Planned(student, user, now.grade, None, None, "no_grade"))
            continue
        comment = str(row["_feedback"])
        shown = comment in now.comments or log.get(user, {}).get("comment_sha256") == _digest(comment)
        same = now.grade is not None and abs(now.grade - grade) < SAME
        lines.append(Planned(student, user, now.grade, grade, None if shown else comment,
                             "unchanged" if same and shown else "send"))
    return lines


def push(out: Path, lms: LMS, log_path: Path, dry_run: bool = False) -> PushReport:
    """Plan the push; unless `dry_run`, send what changed, logging each, and read back."""
    lines = grades_of(out)
    people, held = lms.snapshot()
    log = read_log(log_path)
    report = PushReport(plan(lines.table, lms, log, people, held, set(lines.shared)))
    if dry_run:
        return report
    for line in report.planned:
        if line.action != "send" or line.user is None or line.new is None:
            continue
        try:
            lms.send(line.user, line.new, line.comment)
        except LMSError as exc:
            report.failed.append((line, str(exc)))
            continue
        record = {"user": line.user, "student": line.student, "grade": line.new,
                  "comment_sha256": _digest(line.comment) if line.comment is not None
                  else log.get(line.user, {}).get("comment_sha256"),
                  "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        log[line.user] = record
        report.sent.append(line)
    if report.sent:
        now = lms.held()
        for line in report.sent:
            got = now.get(str(line.user), Held()).grade
            if got is None or line.new is None or abs(got - line.new) >= SAME:
                report.mismatched.append((line, got))
    return report
