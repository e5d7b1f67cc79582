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


@pytest.mark.slow
def test_a_straddling_submission_gets_more_runs_where_its_points_count() -> None:
    """Runs that disagree by more than `straddle` (an unclipped bce diverges in some) mean a
    rerun could grade otherwise: more seeds are trained, up to max_runs, and the result says
    so; where a gate holds the points anyway (a wrong BPTT), nothing is added."""
    quick = Settings().with_overrides(runs=3, iterations=3000, accuracy_window=500)
    unstable = grade(CORPUS / "update_no_clip_bce.py", quick)
    train = unstable.check("train")
    assert len(unstable.runs) == quick.max_runs == 7 and train.details["runs_added"] == 4
    assert [r.seed for r in unstable.runs] == [2026, 2027, 2028, 2029, 2030, 2031, 2032]
    assert "straddled" in train.message and "4 more were trained" in unstable.runs_text
    assert unstable.score == round(30 * statistics.median(unstable.accuracy_runs), 4)
    held = grade(CORPUS / "bptt_no_recurrent.py", quick)
    assert len(held.runs) == 3 and held.check("train").details["spread"] > quick.straddle
    capped = grade(CORPUS / "update_no_clip_bce.py", quick.with_overrides(max_runs=3))
    assert len(capped.runs) == 3
