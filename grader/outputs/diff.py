"""What a regrade changes, before anything is exported: two batches' grades.csv side by side,
each student's old and new score and status, and the checks that flipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from grader.outputs.table import CsvError, id_counts, numbers_of, read_text_csv, text_of
from grader.results import CHECK_NAMES
from grader.settings import SettingsError, load_settings


@dataclass(frozen=True)
class Change:
    """One student whose grade, status or checks differ between the two batches."""

    student: str
    old_score: float | None
    new_score: float | None
    old_status: str
    new_status: str
    flipped: tuple[tuple[str, str, str], ...]  # (check, old status, new status)

    def text(self) -> str:
        def shown(v: float | None) -> str:
            return "-" if v is None else f"{v:g}"

        parts = [f"{self.student}: {shown(self.old_score)} -> {shown(self.new_score)}"]
        if self.old_status != self.new_status:
            parts.append(f"status {self.old_status} -> {self.new_status}")
        parts += [f"{check} {old or '-'} -> {new or '-'}" for check, old, new in self.flipped]
        return "; ".join(parts)


@dataclass
class Diff:
    changes: list[Change] = field(default_factory=list)
    same: int = 0
    only_old: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)  # what grades differently, "name: old -> new"


def _keyed(table: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Each row under its student id (its file where the id is missing or on several rows)."""
    ids, files = text_of(table, "student_id"), text_of(table, "file")
    counts = id_counts(ids)
    keys = [sid if sid and counts[sid] == 1 else f"file:{file}" for sid, file in zip(ids, files)]
    table = table.assign(_score=numbers_of(table, "score"))
    return {key: record for key, record in zip(keys, table.to_dict("records"))}


def _settings_changes(old: Path, new: Path) -> list[str]:
    """The grading settings that differ between the batches (each writes OUT/settings.toml)."""
    try:
        return load_settings(new / "settings.toml").changes_from(load_settings(old / "settings.toml"))
    except SettingsError:  # a folder without one (or an unreadable one): nothing to compare
        return []


def diff_outputs(old: Path, new: Path) -> Diff:
    """The students of both batches' grades.csv, and what changed for each."""
    tables = []
    for out in (old, new):
        if not (out / "grades.csv").is_file():
            raise CsvError(f"{out}: no grades.csv in it; give two folders batch wrote")
        tables.append(_keyed(read_text_csv(out / "grades.csv")))
    before, after = tables
    result = Diff(only_old=sorted(before.keys() - after.keys()), only_new=sorted(after.keys() - before.keys()),
                  settings=_settings_changes(old, new))
    for key in sorted(before.keys() & after.keys()):
        a, b = before[key], after[key]
        scores = [None if pd.isna(r["_score"]) else float(r["_score"]) for r in (a, b)]
        flipped = tuple((c, a.get(f"{c}_status", ""), b.get(f"{c}_status", "")) for c in CHECK_NAMES
                        if a.get(f"{c}_status", "") != b.get(f"{c}_status", ""))
        if scores[0] != scores[1] or a.get("status") != b.get("status") or flipped:
            result.changes.append(Change(key, scores[0], scores[1], a.get("status", ""), b.get("status", ""), flipped))
        else:
            result.same += 1
    return result
