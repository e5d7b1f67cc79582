"""A class graded on a Dask cluster: the same CSV as local mode, and a worker killed with
SIGKILL mid-batch costs nothing (its submission is graded elsewhere, each exactly once)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("distributed", reason="Dask is an optional extra: pip install 'bptt-grader[dask]'")

from batching import batch  # noqa: E402
from grader.settings import Settings  # noqa: E402

EXAMPLE = Path(__file__).parents[2] / "examples" / "class"
SHORT = Settings().with_overrides(runs=1, iterations=1500, accuracy_window=500, audits_per_run=20)
VARYING = ["seconds"]  # timings differ from run to run; nothing else may


@pytest.fixture(scope="module")
def cluster() -> str:
    """One local cluster (two worker processes) for the tests that only grade on it."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as running:
        yield running.scheduler_address


def table(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "grades.csv", dtype=str, keep_default_na=False).drop(columns=VARYING)


@pytest.mark.slow
def test_a_local_cluster_gives_the_same_csv_as_local_mode(tmp_path):
    batch(EXAMPLE, tmp_path / "local", SHORT)
    heard: list[str] = []
    batch(EXAMPLE, tmp_path / "dask", SHORT, scheduler="local:2", announce=heard.append)
    assert any(line.startswith("dask: 2 workers, dashboard http://127.0.0.1:") for line in heard), heard
    pd.testing.assert_frame_equal(table(tmp_path / "local"), table(tmp_path / "dask"))
    assert len(list((tmp_path / "dask" / "results").glob("*.json"))) == len(table(tmp_path / "dask"))


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_nothing(tmp_path):
    from distributed import Client, LocalCluster

    settings = SHORT.with_overrides(iterations=4000)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            done: list[str] = []
            running = threading.Thread(target=lambda: done.append(batch(
                EXAMPLE, tmp_path / "out", settings, scheduler=cluster.scheduler_address)))
            running.start()
            deadline = time.monotonic() + 60
            while not any(client.processing().values()) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # mid-task
            victim = next(address for address, tasks in client.processing().items() if tasks)
            pid = client.run(os.getpid, workers=[victim])[victim]
            os.kill(pid, signal.SIGKILL)
            running.join(timeout=600)
    assert done, "the batch finished"
    grades = table(tmp_path / "out")
    assert len(grades) == len({p.name for p in EXAMPLE.iterdir()}) and set(grades["status"]) == {"graded"}
    assert len(list((tmp_path / "out" / "results").glob("*.json"))) == len(grades), "each stored exactly once"


def test_a_worker_refuses_another_grader_version_and_weak_isolation(tmp_path, monkeypatch):
    from grader.batch.on_dask import grade_on_worker
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


HOSTILE = Path(__file__).parents[1] / "hostile"
HOSTILE_CODE = ("loop_forward", "sleep_import", "memory_bomb", "fork_bomb", "forge_frames", "exits", "kill_parent",
                "setsid_grandchild", "syntax_error")  # huge_output too, were it not a minute per run
HOSTILE_ZIPS = ("ratio_bomb", "traversal_dotdot", "symlink_member", "truncated", "notebook_malformed")


def hostile_class(folder: Path) -> Path:
    """A class of attacks: code that loops, sleeps, eats memory, forks, forges frames, exits,
    kills its parent, leaves a grandchild or does not parse, zips that bomb, escape, link
    out or are cut short, and a folder too big to send; one honest student among them."""
    import shutil
    import zipfile

    import zipfactory as zf

    folder.mkdir()
    honest = (HOSTILE / "_honest.py").read_text()
    for i, name in enumerate(HOSTILE_CODE):
        top = f"DLP_LAB4_3105520{i:02d}_{name}"
        with zipfile.ZipFile(folder / f"{top}.zip", "w") as z:
            z.writestr(f"{top}/rnn.py", (HOSTILE / f"{name}.py").read_text())
            z.writestr(f"{top}/_honest.py", honest)
    for name in HOSTILE_ZIPS:
        build = folder.parent / "build" / name
        build.mkdir(parents=True)
        made = getattr(zf, name)(build)
        shutil.move(str(made), folder / f"{name}{''.join(made.suffixes)}")
    big = folder / "DLP_LAB4_310552098_big_folder"  # a folder the intake refuses: never sent
    big.mkdir()
    (big / "rnn.py").write_text(honest)
    with open(big / "video.mp4", "wb") as f:
        f.truncate(30 << 20)
    top = "DLP_LAB4_310552099_honest"
    with zipfile.ZipFile(folder / f"{top}.zip", "w") as z:
        z.writestr(f"{top}/rnn.py", (Path(__file__).parents[1] / "submissions" / "correct_bce.py").read_text())
    return folder


@pytest.mark.slow
def test_a_hostile_class_gives_the_same_csv_through_dask_as_locally(tmp_path, cluster):
    """Every attack gets the same row on a Dask worker as in local mode (status, checks,
    score, message), the honest student is graded, and nothing is left running."""
    klass = hostile_class(tmp_path / "class")
    settings = SHORT.with_overrides(limits={**SHORT.limits.model_dump(), "call_seconds": 1.0, "import_seconds": 2.0})
    batch(klass, tmp_path / "local", settings)
    batch(klass, tmp_path / "dask", settings, scheduler=cluster)
    local, dask = table(tmp_path / "local"), table(tmp_path / "dask")
    pd.testing.assert_frame_equal(local, dask)
    assert len(local) == len(HOSTILE_CODE) + len(HOSTILE_ZIPS) + 2
    rows = dict(zip(local["file"], local["status"]))
    assert rows["DLP_LAB4_310552098_big_folder"] == "unsafe_zip"
    assert rows["DLP_LAB4_310552099_honest.zip"] == "graded"
    assert rows["DLP_LAB4_310552000_loop_forward.zip"] == "graded"  # its forward check failed, on time
    assert rows["DLP_LAB4_310552001_sleep_import.zip"] == "timeout"
    assert rows["ratio_bomb.zip"] != "graded" and rows["traversal_dotdot.zip"] != "graded"


@pytest.mark.slow
def test_only_chooses_what_dask_grades_as_in_local_mode(tmp_path, cluster):
    """A second batch grades only what --only names (here a student id), its result stored
    once more; one with nothing to do starts no cluster. (--force takes the same road as
    --only: runner.run picks what to grade before it chooses where; test_batch forces.)"""
    out = tmp_path / "out"

    def stored() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}

    first = batch(EXAMPLE, out, SHORT, scheduler=cluster)
    before = stored()
    assert "5 graded now, 0 from earlier runs" in first and len(before) == 5
    only = batch(EXAMPLE, out, SHORT, scheduler=cluster, only={"310551003"})
    after = stored()
    assert "1 graded now, 4 from earlier runs" in only
    assert [name for name in after if after[name] != before[name]] == [
        name for name in after if "310551003" in json.loads((out / "results" / name).read_text())["submission"]["source"]]
    heard: list[str] = []
    resumed = batch(EXAMPLE, out, SHORT, scheduler="no-such-host:1", announce=heard.append)
    assert "0 graded now, 5 from earlier runs" in resumed and not any(line.startswith("dask:") for line in heard)


def test_a_folder_travels_as_the_intake_keeps_it_and_a_too_big_one_not_at_all(tmp_path):
    """A folder's payload is what the intake keeps, its junk as empty files, so the worker's
    result has local mode's notes; a folder the intake refuses is refused before a byte of
    it is read (a sparse 30 MiB file here), so the client never loads it to send it."""
    from grader.checks.pipeline import grade
    from grader.batch.on_dask import grade_on_worker, payload_of
    from grader.intake.submission import SubmissionError
    from grader.results import GradeResult
    from grader import __version__

    folder = tmp_path / "DLP_LAB4_310551001_Chen"
    (folder / "__MACOSX").mkdir(parents=True)
    (folder / "__MACOSX" / "._rnn.py").write_bytes(b"\x00\x05\x16\x07" * 1000)
    (folder / ".DS_Store").write_bytes(b"Bud1" * 1000)
    (folder / "rnn.py").write_text((Path(__file__).parents[1] / "submissions" / "correct_bce.py").read_text())
    payload = payload_of(folder)
    assert sorted(name for name, data in payload if data) == ["rnn.py"]
    assert sorted(name for name, data in payload if not data) == [".DS_Store", "__MACOSX/x"]
    there = GradeResult.model_validate_json(grade_on_worker(folder.name, payload, SHORT.model_dump_json(), __version__, False))
    here = grade(folder, SHORT)
    assert there.submission.notes == here.submission.notes and any("ignored" in n for n in here.submission.notes)
    assert there.submission.sha256 == here.submission.sha256 and there.score == here.score
    with open(folder / "video.mp4", "wb") as f:
        f.truncate(30 << 20)
    with pytest.raises(SubmissionError) as refused:
        payload_of(folder)
    assert refused.value.status == "unsafe_zip" and "video.mp4" in refused.value.message


def _kills_its_worker(*args: object) -> str:
    os._exit(1)


@pytest.mark.slow
def test_a_submission_that_kills_every_worker_is_stopped_as_worker_lost(tmp_path):
    from grader.batch.on_dask import grade_all
    from grader.batch.rows import Upload

    target = tmp_path / "poison.py"
    target.write_text("x = 1\n", encoding="utf-8")
    saved = []
    grade_all([Upload(target, "poison.py", "")], SHORT, "local:2", False, lambda item, r: saved.append(r),
              task=_kills_its_worker)
    (result,) = saved
    assert result.status == "worker_lost" and "died" in result.message


def test_a_file_over_the_intakes_limit_is_refused_before_it_is_read(tmp_path):
    """The client never loads an upload the intake would refuse (a sparse 300 MiB file here)."""
    from grader.batch.on_dask import payload_of
    from grader.intake.submission import SubmissionError

    big = tmp_path / "DLP_LAB4_310551001_Chen.zip"
    with open(big, "wb") as f:
        f.truncate(300 << 20)
    with pytest.raises(SubmissionError) as refused:
        payload_of(big)
    assert refused.value.status == "unsafe_zip" and "300 MiB (limit 100 MiB)" in refused.value.message
