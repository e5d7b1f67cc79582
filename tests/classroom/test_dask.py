"""A class graded on a Dask cluster: the same CSV as local mode, and a worker killed with
SIGKILL mid-batch costs nothing (its submission is graded elsewhere, each exactly once)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("distributed", reason="Dask is an optional extra: pip install 'bptt-grader[dask]'")

from grader.classroom.grade_class import grade_class  # noqa: E402
from reference.spec import Settings  # noqa: E402

EXAMPLE = Path(__file__).parents[2] / "examples" / "class"
SHORT = Settings().with_overrides(runs=1, iterations=1500, accuracy_window=500, audits_per_run=20)
VARYING = ["seconds"]  # timings differ from run to run; nothing else may


def table(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "grades.csv", dtype=str, keep_default_na=False).drop(columns=VARYING)


@pytest.mark.slow
def test_a_local_cluster_gives_the_same_csv_as_local_mode(tmp_path):
    grade_class(EXAMPLE, tmp_path / "local", SHORT, jobs=2, progress=False)
    heard: list[str] = []
    grade_class(EXAMPLE, tmp_path / "dask", SHORT, jobs=2, progress=False, scheduler="local:2", announce=heard.append)
    assert any(line.startswith("dask: 2 workers, dashboard http") for line in heard)
    pd.testing.assert_frame_equal(table(tmp_path / "local"), table(tmp_path / "dask"))
    assert len(list((tmp_path / "dask" / "results").glob("*.json"))) == len(table(tmp_path / "dask"))


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_nothing(tmp_path):
    from distributed import Client, LocalCluster

    settings = SHORT.with_overrides(iterations=4000)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            done: list[str] = []
            batch = threading.Thread(target=lambda: done.append(grade_class(
                EXAMPLE, tmp_path / "out", settings, jobs=2, progress=False, scheduler=cluster.scheduler_address)))
            batch.start()
            deadline = time.monotonic() + 60
            while not any(client.processing().values()) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # mid-task
            victim = next(address for address, tasks in client.processing().items() if tasks)
            pid = client.run(os.getpid, workers=[victim])[victim]
            os.kill(pid, signal.SIGKILL)
            batch.join(timeout=600)
    assert done, "the batch finished"
    grades = table(tmp_path / "out")
    assert len(grades) == len({p.name for p in EXAMPLE.iterdir()}) and set(grades["status"]) == {"graded"}
    assert len(list((tmp_path / "out" / "results").glob("*.json"))) == len(grades), "each stored exactly once"


def test_a_worker_refuses_another_grader_version_and_weak_isolation(tmp_path, monkeypatch):
    from grader.classroom.on_dask import grade_on_worker
    from grader.results import GradeResult
    from grader.sandbox import probe

    source = (Path(__file__).parents[1] / "submissions" / "correct_bce.py").read_bytes()
    other = GradeResult.model_validate_json(grade_on_worker("rnn.py", source, SHORT.model_dump_json(), "0.0.0", False))
    assert other.status == "version_mismatch" and "the client 0.0.0" in other.message
    monkeypatch.setenv(probe.CHOOSE_VAR, "none")
    probe._probe.cache_clear()
    try:
        from grader import __version__
        weak = GradeResult.model_validate_json(grade_on_worker("rnn.py", source, SHORT.model_dump_json(),
                                                               __version__, False))
    finally:
        monkeypatch.delenv(probe.CHOOSE_VAR)
        probe._probe.cache_clear()
    assert weak.status == "weak_isolation" and "--allow-weak-sandbox" in weak.message


def _kills_its_worker(*args: object) -> str:
    os._exit(1)


@pytest.mark.slow
def test_a_submission_that_kills_every_worker_is_stopped_as_worker_lost(tmp_path):
    from grader.classroom.on_dask import grade_all
    from grader.classroom.runner import Item

    target = tmp_path / "poison.py"
    target.write_text("x = 1\n", encoding="utf-8")
    saved = []
    grade_all([Item(target, "poison.py", "")], SHORT, "local:2", False, lambda item, r: saved.append(r),
              task=_kills_its_worker)
    (result,) = saved
    assert result.status == "worker_lost" and "died" in result.message
