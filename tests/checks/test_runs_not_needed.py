"""The run that cannot change the grade is not trained: once a majority of the runs agree,
the median is theirs. Grades are the same as with every run trained."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from grader.checks.contract import decided
from grader.checks.pipeline import grade
from grader.settings import Settings

CORPUS = Path(__file__).parents[1] / "submissions"


@given(st.integers(1, 7).flatmap(lambda runs: st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0]),
                                                       min_size=runs, max_size=runs)))
def test_once_decided_the_median_of_every_run_is_the_median_so_far(accuracies: list[float]) -> None:
    runs = len(accuracies)
    for made in range(1, runs + 1):
        if decided(accuracies[:made], runs):
            assert statistics.median(accuracies[:made]) == statistics.median(accuracies)
            break


@pytest.mark.slow
@pytest.mark.parametrize("module", ["correct_bce.py", "bptt_no_recurrent.py", "dishonest_mid_training.py",
                                    "state_carried.py", "forgery_zero_grads_jump.py"])
def test_the_grade_is_the_same_with_every_run_trained(module: str) -> None:
    quick = Settings().with_overrides(runs=3, iterations=1500, accuracy_window=500)
    every = grade(CORPUS / module, quick.with_overrides(stop_when_decided=False))
    needed = grade(CORPUS / module, quick)
    assert (needed.score, needed.status, needed.accuracy) == (every.score, every.status, every.accuracy)
    assert [(c.name, c.status, c.points) for c in needed.checks] == [(c.name, c.status, c.points) for c in every.checks]
    assert len(needed.runs) <= len(every.runs) == 3
    if len(needed.runs) < 3:
        assert "not needed" in needed.check("train").message
