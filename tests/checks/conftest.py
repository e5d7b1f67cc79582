"""The corpus graded once by the grader, for every test of the checks that reads it."""

from __future__ import annotations

import pytest

from corpus import grade_corpus
from grader.results import GradeResult


@pytest.fixture(scope="session")
def graded() -> dict[str, GradeResult]:
    return grade_corpus()
