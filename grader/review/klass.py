"""The class as the review app shows it: each gradable student's automatic result (from
grades.csv, as batch wrote it) and where their report and feedback are in OUT."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.outputs.sheet import gradable
from grader.results import CHECK_NAMES
from grader.settings import Settings


@dataclass(frozen=True)
class Student:
    """One row of grades.csv that a report score can be given to (text, as the CSV holds it)."""

    key: str  # the student id
    name: str
    section: str
    status: str
    score: str
    max_score: str
    message: str
    feedback: str  # the gradebook's one line: score, what to fix first, lateness
    flags: str
    late: str
    late_factor: str
    report: str  # relative to OUT, "" where none
    feedback_page: str  # relative to OUT
    checks: tuple[tuple[str, str], ...]  # (check, status) in the grader's order


@dataclass(frozen=True)
class Klass:
    out: Path
    settings: Settings
    students: list[Student]
    left_out: list[str]  # rows that cannot be graded here, and why

    def find(self, key: str) -> Student | None:
        return next((s for s in self.students if s.key == key), None)

    def neighbours(self, key: str) -> tuple[str | None, str | None]:
        keys = [s.key for s in self.students]
        i = keys.index(key)
        return (keys[i - 1] if i > 0 else None), (keys[i + 1] if i + 1 < len(keys) else None)


def load_class(out: Path, settings: Settings) -> Klass:
    found = gradable(out / "grades.csv")
    students = []
    for r in found.rows.to_dict("records"):
        students.append(Student(
            key=r["student_id"], name=r.get("name", ""), section=r.get("section", ""), status=r.get("status", ""),
            score=r.get("score", ""), max_score=r.get("max_score", ""), message=r.get("message", ""),
            feedback=r.get("feedback", ""), flags=r.get("flags", ""), late=r.get("late", ""),
            late_factor=r.get("late_factor", ""), report=r.get("report", ""),
            feedback_page=r.get("feedback_page", ""),
            checks=tuple((c, r.get(f"{c}_status", "")) for c in CHECK_NAMES if r.get(f"{c}_status", ""))))
    return Klass(out, settings, students, found.left_out)
