"""The class list an instructor exports from the platform: who is enrolled, under which
student id, and the platform's own id and email for each (to name students whose files
do not say who they are, and to list who submitted nothing)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

COLUMNS = ("student_id", "name", "email", "lms_user_id", "section", "extension")


class RosterError(ValueError):
    """The roster cannot be used (unreadable, no student_id column); one line saying why."""


@dataclass(frozen=True)
class Student:
    student_id: str
    name: str | None = None
    email: str | None = None
    lms_user_id: str | None = None
    section: str | None = None
    extension: str | None = None


def comparable(text: str | None) -> str:
    """An id, email or name as it is compared: NFKC (fullwidth digits are digits), case-folded."""
    return unicodedata.normalize("NFKC", text or "").casefold().strip()


class Roster:
    def __init__(self, students: list[Student]) -> None:
        self.students = students
        self._by = {kind: {comparable(getattr(s, kind)): s for s in students if getattr(s, kind)}
                    for kind in ("student_id", "lms_user_id", "email", "name")}

    def find(self, lms_id: str | None = None, email: str | None = None, name: str | None = None,
             student_id: str | None = None) -> Student | None:
        """The enrolled student these facts name: student id, platform id, email, then name."""
        for kind, value in (("student_id", student_id), ("lms_user_id", lms_id), ("email", email), ("name", name)):
            found = self._by[kind].get(comparable(value)) if value else None
            if found is not None:
                return found
        return None


def load_roster(path: Path) -> Roster:
    """Read a roster CSV (UTF-8, with or without BOM); ids are kept as text (leading zeros)."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise RosterError(f"{path}: cannot read as CSV: {exc}") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    if "student_id" not in table.columns:
        raise RosterError(f"{path}: needs a student_id column (and may have {', '.join(COLUMNS[1:])})")
    students = []
    for record in table.to_dict("records"):
        values = {c: (str(record.get(c, "")).strip() or None) for c in COLUMNS}
        if values["student_id"]:
            students.append(Student(**values))  # type: ignore[arg-type]
    return Roster(students)
