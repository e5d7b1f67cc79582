"""`bptt-grader replay RESULT.json SUBMISSION`: grade the submission again as the result says
it was graded (the same settings, checked by their hash; the same submission, checked by its
hash) and say what differs: the score, the status, the accuracy, each check's status and
points, and where the machine differs (Python, NumPy, BLAS, CPU) that may explain it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.checks.pipeline import grade
from grader.environment import environment
from grader.intake.submission import content_hash
from grader.results import GradeResult
from grader.settings import Settings


class ReplayError(ValueError):
    """The replay cannot be made as asked; one line saying what to give."""


@dataclass
class Replay:
    again: GradeResult
    differences: list[str] = field(default_factory=list)
    machine: list[str] = field(default_factory=list)  # where this machine differs from the result's


def replay(recorded: GradeResult, submission: Path, settings: Settings) -> Replay:
    if settings.digest() != recorded.settings_hash:
        raise ReplayError(f"these settings hash {settings.digest()}, the result was made with "
                          f"{recorded.settings_hash}: give the settings it was graded with (--settings; a batch "
                          "keeps them in OUT/settings.toml)")
    try:
        digest = content_hash(submission)
    except OSError as exc:
        raise ReplayError(f"{submission}: cannot be read: {exc.strerror or exc}") from None
    if recorded.submission.sha256 and digest != recorded.submission.sha256:
        raise ReplayError(f"{submission} is not the submission of this result (its sha256 differs)")
    again = grade(submission, settings)
    found = Replay(again)
    for what, old, new in (("score", recorded.score, again.score), ("status", recorded.status, again.status),
                           ("accuracy", recorded.accuracy, again.accuracy)):
        if old != new:
            found.differences.append(f"{what}: {old} -> {new}")
    before = {c.name: c for c in recorded.checks}
    for c in again.checks:
        old = before.get(c.name)
        if old is None or (old.status, old.points) != (c.status, c.points):
            shown = "absent" if old is None else f"{old.status} {old.points:g}"
            found.differences.append(f"{c.name}: {shown} -> {c.status} {c.points:g}")
    here = environment()
    found.machine = [f"{k}: {recorded.environment[k]} (the result's) vs {here.get(k)} (here)"
                     for k in sorted(recorded.environment) if recorded.environment[k] != here.get(k)]
    return found
