"""Every graded result, stored atomically the moment it is known.

A result's key is the upload's identity (its name in the download and its content hash),
the settings' hash and the grader version: a batch killed at any point and run again grades
only what is missing. A result stored under other settings or another grader version is
not silently replaced: `stale` finds it, so the batch can say how many grades a change of
settings would change and regrade them only when asked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from grader import __version__
from grader.batch.rows import Upload
from grader.results import RESULT_SCHEMA, GradeResult
from grader.safe_files import private_dir, read_regular, write_atomic
from grader.settings import Settings


def identity(upload: Upload) -> str:
    """This submission under this name: identical zips of two students are two of them."""
    named = upload.file.encode("utf-8", "surrogateescape") + b"\0" + upload.sha256.encode()
    return hashlib.sha256(named).hexdigest()[:20]


def key(upload: Upload, settings: Settings) -> str:
    return f"{identity(upload)}-{settings.digest()}-{__version__}"


@dataclass(frozen=True)
class Stale:
    """A stored result of an upload made with other settings or another grader."""

    upload: Upload
    settings_hash: str
    grader_version: str


class Store:
    """One JSON file per graded submission, written atomically (tmp + rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = private_dir(folder)

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def load(self, name: str) -> GradeResult | None:
        data = read_regular(self.path(name))
        if data is None:
            return None  # missing, or not a regular file: grade again
        try:
            result = GradeResult.model_validate_json(data)
        except ValueError:
            return None  # torn by a crash, or an older grader's schema: grade again
        return result if result.schema_version == RESULT_SCHEMA else None

    def save(self, name: str, result: GradeResult) -> None:
        write_atomic(self.path(name), result.model_dump_json())

    def stale(self, uploads: list[Upload], settings: Settings) -> list[Stale]:
        """Uploads with no result under these settings but one under others."""
        stored: dict[str, tuple[str, str]] = {}  # identity -> (settings hash, version): one listing
        for path in sorted(self.folder.glob("*.json"), reverse=True):
            ident, _, made_with = path.stem.partition("-")
            if len(parts := made_with.split("-", 1)) == 2:
                stored[ident] = (parts[0], parts[1])
        return [Stale(upload, *stored[ident]) for upload in uploads
                if (ident := identity(upload)) in stored and not self.path(key(upload, settings)).exists()]
