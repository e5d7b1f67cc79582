"""Earlier classes, kept without their code: each batch with `--archive DIR` writes
`DIR/<OUT's name>.json` (every graded student's id, syntax-tree fingerprint and wrong-numbers
digest, nothing a person could read code from) and compares its class with every other
file there, so a solution handed down from last year is flagged like a classmate's
(`similar:earlier:<class>:<id>`, `same_wrong_numbers:earlier:<class>:<id>`).

Wrong-numbers digests are of gradients at the grader's probe, which the settings' seed and
shapes fix: an earlier class's digests are compared only where those were the same.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.batch.rows import Row
from grader.safe_files import read_regular, write_atomic
from grader.settings import Settings

ARCHIVE_SCHEMA = 1
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024  # a class of thousands is a few MiB


class Kept(BaseModel):
    """One student of an earlier class: no code, only what comparing needs."""

    model_config = ConfigDict(extra="forbid")

    student: str
    fingerprint: list[int] = Field(default_factory=list)
    wrong_numbers: str | None = None


class ArchivedClass(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = ARCHIVE_SCHEMA
    name: str
    written: str
    probe: str  # what the wrong-numbers digests depend on (probe_key)
    students: list[Kept]


def probe_key(settings: Settings) -> str:
    """The settings that fix the grader's probe, so that two digests are comparable."""
    return f"seed {settings.seed}; bits {settings.bits}; shapes {sorted(settings.param_shapes().items())}"


def kept_of(rows: list[Row]) -> list[Kept]:
    """Each graded row's comparable numbers, by student id (else its file's name)."""
    kept = []
    for row in rows:
        if row.upload is None:
            continue
        kept.append(Kept(student=row.who.student_id or row.file, fingerprint=row.result.submission.fingerprint,
                         wrong_numbers=row.result.wrong_numbers))
    return kept


def write(folder: Path, name: str, rows: list[Row], settings: Settings) -> Path:
    """This class's archive file (replacing its own from an earlier run of this batch)."""
    folder.mkdir(parents=True, exist_ok=True)
    record = ArchivedClass(name=name, written=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           probe=probe_key(settings), students=kept_of(rows))
    path = folder / f"{name}.json"
    write_atomic(path, record.model_dump_json())
    return path


def earlier(folder: Path, name: str) -> tuple[list[ArchivedClass], list[str]]:
    """Every other class archived in `folder`, and a line for each file that cannot be read."""
    classes, problems = [], []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path.stem == name:
            continue
        data = read_regular(path, MAX_ARCHIVE_BYTES)
        try:
            classes.append(ArchivedClass.model_validate_json(data or b""))
        except ValidationError:
            problems.append(f"archive {path.name} is not a class archive of this grader; it was not compared")
    return classes, problems


def known_fingerprints(classes: list[ArchivedClass]) -> dict[str, list[int]]:
    return {f"earlier:{c.name}:{s.student}": s.fingerprint for c in classes for s in c.students if s.fingerprint}


def known_numbers(classes: list[ArchivedClass], settings: Settings) -> dict[str, str]:
    """digest -> the earlier student who gave it, for classes graded at the same probe."""
    key = probe_key(settings)
    return {s.wrong_numbers: f"earlier:{c.name}:{s.student}" for c in classes if c.probe == key
            for s in c.students if s.wrong_numbers}
