"""The corpus of submissions (tests/submissions/) and how the checks' tests grade it.

Every file starts with `EXPECT: <check>: <phrase>` (or `EXPECT: none` for a submission that
must pass every check), optionally `ALSO: <checks>` that may fail besides. The corpus is
graded with short training (the bugs show before training); LONG entries need full-length
training and have tests of their own.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grader.checks.oracle import Oracle
from grader.checks.pipeline import grade
from grader.results import GradeResult
from grader.settings import Settings

CORPUS = Path(__file__).parent / "submissions"
EXPECT = re.compile(r'^"""EXPECT: (?P<check>\w+)(?:: (?P<phrase>.+))?$', re.M)
ALSO = re.compile(r"^ALSO: (?P<checks>.+)$", re.M)
LONG = {"dishonest_mid_training.py", "trains_at_import.py"}
# 1500 iterations: a run's time limit grows with them, and the one-step forgeries train 12000
# iterations of their own inside one backward call, which must fit it on a busy machine too.
SHORT = Settings().with_overrides(runs=1, iterations=1500, accuracy_window=500).model_copy(
    update={"limits": Settings().limits.model_copy(update={"import_seconds": 5.0, "total_seconds": 120.0})}
)


def expectations() -> list[tuple[str, str, str]]:
    cases = []
    for path in sorted(CORPUS.glob("*.py")):
        match = EXPECT.search(path.read_text(encoding="utf-8", errors="replace"))
        assert match, f"{path.name} has no EXPECT line"
        cases.append((path.name, match["check"], (match["phrase"] or "").strip()))
    return cases


def also_allowed(name: str) -> set[str]:
    """The checks an entry's ALSO line lets fail besides its EXPECT check (README.md)."""
    head = (CORPUS / name).read_text(encoding="utf-8", errors="replace").split('"""')[1]
    match = ALSO.search(head)
    return {c.strip() for c in match["checks"].split(",")} if match else set()


CASES = expectations()


def grade_corpus(oracle: Oracle | None = None) -> dict[str, GradeResult]:
    """Every entry but the LONG ones under SHORT, two at a time, by this oracle (default: the grader's)."""
    names = [name for name, _, _ in CASES if name not in LONG]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(names, pool.map(lambda n: grade(CORPUS / n, SHORT, oracle=oracle), names)))
