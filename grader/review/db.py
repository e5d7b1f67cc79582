"""The TAs' report scores in SQLite (OUT/review.sqlite): a row per student with a version,
and a journal of every change (who, when, old, new).

A save names the version it was made on; if another TA saved since, nothing is written and
the caller gets the current row (a conflict to show, never a silent overwrite). Each save
is one transaction in WAL mode with synchronous=FULL, so a server killed at any moment
leaves every answered save on disk and no half of one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    student TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    points TEXT NOT NULL,      -- JSON {criterion: points}
    comments TEXT NOT NULL,    -- JSON {criterion: text}
    ta TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL,
    ta TEXT NOT NULL,
    at TEXT NOT NULL,
    field TEXT NOT NULL,       -- points.<criterion> or comment.<criterion>
    old TEXT,
    new TEXT
);
CREATE TABLE IF NOT EXISTS hints (
    report TEXT PRIMARY KEY,   -- the report's path and content hash
    data TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Grade:
    """One student's report scores as stored (version 0: never saved)."""

    student: str
    version: int = 0
    points: dict[str, float] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    ta: str = ""
    updated: str = ""

    def as_json(self) -> dict[str, object]:
        return {"student": self.student, "version": self.version, "points": self.points,
                "comments": self.comments, "ta": self.ta, "updated": self.updated}


@dataclass(frozen=True)
class Conflict:
    """A save made on an older version: what is stored now."""

    current: Grade


class ReviewDB:
    """The database of one batch's output folder; a connection per call (the server's
    threads and processes share the file, SQLite serialises the writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    @staticmethod
    def _grade(row: tuple) -> Grade:
        student, version, points, comments, ta, updated = row
        return Grade(student, version, json.loads(points), json.loads(comments), ta, updated)

    def get(self, student: str) -> Grade:
        with self._connect() as db:
            row = db.execute("SELECT student, version, points, comments, ta, updated FROM grades WHERE student = ?",
                             (student,)).fetchone()
        return self._grade(row) if row else Grade(student)

    def all(self) -> dict[str, Grade]:
        with self._connect() as db:
            rows = db.execute("SELECT student, version, points, comments, ta, updated FROM grades").fetchall()
        return {row[0]: self._grade(row) for row in rows}

    def save(self, student: str, version: int, ta: str, points: dict[str, float | None],
             comments: dict[str, str]) -> Grade | Conflict:
        """Apply the changed fields (a None point clears it) if `version` is the stored one."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT student, version, points, comments, ta, updated FROM grades "
                                 "WHERE student = ?", (student,)).fetchone()
                stored = self._grade(row) if row else Grade(student)
                if stored.version != version:
                    db.execute("ROLLBACK")
                    return Conflict(stored)
                new_points, new_comments = dict(stored.points), dict(stored.comments)
                changes: list[tuple[str, object, object]] = []
                for name, value in points.items():
                    if new_points.get(name) != value:
                        changes.append((f"points.{name}", new_points.get(name), value))
                        if value is None:
                            new_points.pop(name, None)
                        else:
                            new_points[name] = value
                for name, text in comments.items():
                    if new_comments.get(name, "") != text:
                        changes.append((f"comment.{name}", new_comments.get(name, ""), text))
                        new_comments[name] = text
                if not changes:
                    db.execute("ROLLBACK")
                    return stored
                saved = Grade(student, version + 1, new_points, new_comments, ta, now)
                db.execute("INSERT OR REPLACE INTO grades VALUES (?, ?, ?, ?, ?, ?)",
                           (student, saved.version, json.dumps(new_points, sort_keys=True),
                            json.dumps(new_comments, sort_keys=True, ensure_ascii=False), ta, now))
                db.executemany("INSERT INTO journal (student, ta, at, field, old, new) VALUES (?, ?, ?, ?, ?, ?)",
                               [(student, ta, now, name, _text(old), _text(new)) for name, old, new in changes])
                db.execute("COMMIT")
                return saved
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def journal(self, student: str | None = None) -> list[dict[str, object]]:
        query = "SELECT student, ta, at, field, old, new FROM journal"
        args: tuple[str, ...] = ()
        if student is not None:
            query, args = query + " WHERE student = ?", (student,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        return [dict(zip(("student", "ta", "at", "field", "old", "new"), row)) for row in rows]

    def hint(self, report: str) -> dict | None:
        with self._connect() as db:
            row = db.execute("SELECT data FROM hints WHERE report = ?", (report,)).fetchone()
        return json.loads(row[0]) if row else None

    def keep_hint(self, report: str, data: dict) -> None:
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO hints VALUES (?, ?)", (report, json.dumps(data)))


def _text(value: object) -> str | None:
    """A journal cell: None, the text, or the points as a sheet shows them (8, not 8.0)."""
    if value is None or isinstance(value, str):
        return value
    return f"{value:g}" if isinstance(value, float) else json.dumps(value)
