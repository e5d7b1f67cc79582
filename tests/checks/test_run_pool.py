"""`check` trains its runs at once in sandboxes of their own, and grades as one at a time does."""

from __future__ import annotations

import threading

import pytest

from corpus import CORPUS
from grader.checks import contract
from grader.checks.pipeline import grade
from grader.checks.run_pool import run_workers
from grader.checks.training import Trainer
from grader.settings import Settings

QUICK = Settings().with_overrides(runs=3, iterations=800, accuracy_window=200)


def _graded(name: str, workers: int, settings: Settings = QUICK):
    return grade(CORPUS / name, settings, run_workers=workers)


@pytest.mark.parametrize("name", ["correct_bce.py", "update_no_clip_bce.py"])
def test_runs_at_once_grade_exactly_as_one_at_a_time(name):
    one, two, three = (_graded(name, workers) for workers in (1, 2, 3))
    for other in (two, three):  # the same runs: none starts while those running may decide the grade
        assert [(r.seed, r.accuracy) for r in other.runs] == [(r.seed, r.accuracy) for r in one.runs]
        assert other.score == one.score and other.accuracy == one.accuracy
        assert [(c.name, c.status, c.points) for c in other.checks] == [(c.name, c.status, c.points)
                                                                        for c in one.checks]
        assert other.check("integrity").message == one.check("integrity").message  # every run's audit, merged


def test_two_runs_are_trained_at_the_same_time(monkeypatch):
    both = threading.Barrier(2, timeout=120)  # broken unless two runs are in progress at once
    original = Trainer.run

    def run(self, seed, number=None):
        if number in (1, 2):
            both.wait()
        return original(self, seed, number)

    monkeypatch.setattr(Trainer, "run", run)
    result = _graded("correct_bce.py", 2, QUICK.with_overrides(stop_when_decided=False))
    assert result.check("train").status == "passed", result.check("train").message
    assert len(result.runs) == 3 and not both.broken


def test_a_grader_fault_in_another_sandbox_is_an_error_not_a_lost_run(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no second sandbox")

    monkeypatch.setattr(contract, "Session", broken)
    train = _graded("correct_bce.py", 2).check("train")
    assert train.status == "error" and "no second sandbox" in train.message


def test_workers_never_exceed_the_runs_the_cores_or_the_memory(monkeypatch):
    from grader.checks import run_pool

    monkeypatch.setattr(run_pool, "free_cores", lambda: 8)
    monkeypatch.setattr(run_pool, "free_memory_mb", lambda: 5000)
    assert run_workers(Settings()) == 2  # 5000 MiB holds two sandboxes of 2048
    monkeypatch.setattr(run_pool, "free_memory_mb", lambda: None)
    assert run_workers(Settings()) == 3  # the runs
    monkeypatch.setattr(run_pool, "free_cores", lambda: 1)
    assert run_workers(Settings()) == 1
