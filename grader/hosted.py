"""Grading inside a platform's container (Gradescope, PrairieLearn): the submitted folder
graded, unless the container cannot isolate a submission (no namespaces, no bubblewrap):
then nothing runs unless allowed, since a process the submission left behind could rewrite
the results file; and the results written where the platform reads them."""

from __future__ import annotations

import json
from pathlib import Path

from grader.checks.pipeline import grade
from grader.checks.run_pool import run_workers
from grader.intake.layouts import pick_code, submission_files
from grader.results import GradeResult
from grader.safe_files import write_atomic
from grader.settings import Settings


def grade_submitted(submitted: Path, settings: Settings, allow_weak: bool, to_allow: str) -> GradeResult | str:
    """The submission's result, or why the container refuses to grade it (`to_allow`: how
    the instructor allows weak isolation on this platform)."""
    from grader.sandbox import isolation
    from grader.sandbox.probe import FIX

    found = isolation()
    if not found.strong and not allow_weak:
        return (f"refused: the container cannot isolate submissions ({found.describe()}: {found.note}). "
                f"Fix: {FIX}; or {to_allow}")
    target = pick_code(*submission_files(submitted))[0] if submitted.is_dir() else None
    return grade(target or submitted, settings, run_workers=run_workers(settings))  # one submission a container


def write_results(root: Path, results: dict[str, object]) -> None:
    """ROOT/results/results.json, written whole (never half a file for the platform to read)."""
    (root / "results").mkdir(parents=True, exist_ok=True)
    write_atomic(root / "results" / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n", 0o644)
