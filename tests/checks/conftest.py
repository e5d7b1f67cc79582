"""The corpus graded once by the grader, for every test of the checks that reads it."""

from __future__ import annotations

import pytest

from corpus import grade_corpus
from grader.results import GradeResult


@pytest.fixture(scope="session")
def graded() -> dict[str, GradeResult]:
    return grade_corpus()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that read the graded corpus run in one pytest worker (--dist loadgroup), so the
    corpus is graded once, not once in each worker."""
    for item in items:
        if {"graded", "kit_graded"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("graded_corpus"))
