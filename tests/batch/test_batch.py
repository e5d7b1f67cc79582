"""Batch grading: every hostile zip gets its own row while the rest is graded; a killed
batch resumes without grading anything twice; the same class gives the same CSV."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import zipfactory as zf

from batching import batch
from grader.settings import Settings

CORPUS = Path(__file__).parents[1] / "submissions"
SHORT = Settings().with_overrides(runs=1, iterations=600, accuracy_window=200, audits_per_run=20)
TIMING_COLUMNS = ["seconds"]


def student_zip(folder: Path, sid: str, source: str, name: str = "Test") -> Path:
    path = folder / f"DLP_LAB4_{sid}_{name}.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"DLP_LAB4_{sid}_{name}/rnn.py", source)
    return path


def test_every_hostile_zip_gets_its_row_while_the_class_is_graded(tmp_path):
    klass = tmp_path / "class"
    klass.mkdir()
    expected = {}
    for i, (case, (build, status)) in enumerate(sorted(zf.CASES.items())):
        where = tmp_path / "build" / case
        where.mkdir(parents=True)
        made = build(where)
        target = klass / f"{i:02d}-{case}{''.join(made.suffixes) if made.is_file() else ''}"
        shutil.move(str(made), target)
        expected[target.name] = status or "graded"
    good = student_zip(klass, "310550999", (CORPUS / "correct_bce.py").read_text())
    expected[good.name] = "graded"
    out = tmp_path / "out"
    batch(klass, out, SHORT, jobs=2)
    table = pd.read_csv(out / "grades.csv", dtype={"student_id": str})
    assert len(table) == len(expected)
    got = dict(zip(table["file"], table["status"]))
    assert got == expected
    for _, row in table.iterrows():
        assert isinstance(row["message"], str) or row["status"] == "graded"
    best = table[table["file"] == good.name].iloc[0]
    assert best["api_status"] == "passed" and best["score"] > 0
    assert (out / "summary.md").exists() and (out / "feedback").is_dir()


def _class(folder: Path, n: int) -> Path:
    folder.mkdir()
    for i in range(n):  # the last one has a bug: its messages carry figures, which must repeat too
        source = (CORPUS / ("bptt_no_recurrent.py" if i == n - 1 else "correct_bce.py")).read_text()
        student_zip(folder, f"3105510{i:02d}", source + f"\n# student {i}\n", name=f"S{i}")
    return folder


def _batch(klass: Path, out: Path, settings: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "grader", "batch", str(klass), "-o", str(out), "-j", "1",
           "--settings", str(settings), "--quiet", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def test_killed_batch_resumes_and_grades_each_submission_exactly_once(tmp_path):
    klass = _class(tmp_path / "class", 5)
    settings = tmp_path / "lab.toml"
    settings.write_text(SHORT.to_toml())
    out = tmp_path / "out"
    first = _batch(klass, out, settings)
    results = out / "results"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(results.glob("*.json"))) < 2:
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    stored = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert 2 <= len(stored) < 5, "killed mid-way"
    second = _batch(klass, out, settings)
    text, _ = second.communicate(timeout=300)
    assert second.returncode == 0, text
    assert f"{5 - len(stored)} graded now, {len(stored)} from earlier runs" in text
    after = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert len(after) == 5
    assert all(after[name] == mtime for name, mtime in stored.items()), "nothing graded twice"
    table = pd.read_csv(out / "grades.csv", dtype={"student_id": str})
    assert sorted(table["student_id"]) == [f"3105510{i:02d}" for i in range(5)]
    assert set(table["status"]) == {"graded"}

    # The same class and settings give the same CSV, byte for byte apart from timings.
    before = table.drop(columns=TIMING_COLUMNS)
    third = _batch(klass, out, settings, "--force")
    text, _ = third.communicate(timeout=300)
    assert third.returncode == 0 and "5 graded now" in text, text
    again = pd.read_csv(out / "grades.csv", dtype={"student_id": str}).drop(columns=TIMING_COLUMNS)
    pd.testing.assert_frame_equal(before, again)


@pytest.mark.slow
def test_ctrl_c_leaves_grades_csv_for_what_was_graded_and_exits_130(tmp_path):
    """Ctrl-C (SIGINT to the terminal's process group, grader processes included): the
    finished rows are in grades.csv, the others say they were interrupted, nothing half-done
    is stored, and the same command grades the rest."""
    klass = _class(tmp_path / "class", 4)
    settings = tmp_path / "lab.toml"
    settings.write_text(SHORT.to_toml())
    out = tmp_path / "out"
    first = _batch(klass, out, settings)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((out / "results").glob("*.json")):
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGINT)
    text, _ = first.communicate(timeout=120)
    assert first.returncode == 130, text
    table = pd.read_csv(out / "grades.csv", dtype=str, keep_default_na=False)
    done = int((table["status"] == "graded").sum())
    assert done == len(list((out / "results").glob("*.json"))) >= 1, text
    assert set(table["status"]) <= {"graded", "interrupted"} and len(table) == 4
    second = _batch(klass, out, settings)
    text, _ = second.communicate(timeout=300)
    assert second.returncode == 0 and f"{4 - done} graded now, {done} from earlier runs" in text, text


def test_class_archive_keeps_student_names_and_bad_archive_is_a_usage_error(tmp_path):
    klass = _class(tmp_path / "class", 2)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(klass.iterdir()):
            z.write(p, f"Lab4 submissions/{p.name}")
    out = tmp_path / "out"
    batch(archive, out, SHORT, jobs=2)
    table = pd.read_csv(out / "grades.csv", dtype={"student_id": str})
    assert list(table["name"]) == ["S0", "S1"] and set(table["status"]) == {"graded"}
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"Rar!\x1a\x07\x00not a zip")
    proc = subprocess.run([sys.executable, "-m", "grader", "batch", str(bad), "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "RAR" in proc.stderr and "Traceback" not in proc.stderr


def test_identical_files_or_modules_are_flagged_as_duplicates(tmp_path):
    from batching import row_of

    from grader.batch.class_flags import flag_duplicates
    from grader.batch.rows import Row
    from grader.results import GradeResult, SubmissionInfo

    def row(name: str, sha: str, module_sha: str) -> Row:
        result = GradeResult(grader_version="t", settings_hash="h", status="graded",
                             submission=SubmissionInfo(source="x", module_sha256=module_sha))
        return row_of(result, name, sha)

    a, b, c, d = row("a.zip", "1", "m1"), row("b.zip", "1", "m2"), row("c.zip", "2", "m9"), row("d.zip", "3", "m9")
    flag_duplicates([a, b, c, d])
    assert a.flag_labels == b.flag_labels == ["duplicate"]  # same zip bytes
    assert c.flag_labels == d.flag_labels == ["duplicate"]  # different zips, same graded module
    e, f = row("e.zip", "4", "m1"), row("f.zip", "5", "m2")
    flag_duplicates([e, f])
    assert e.flags == f.flags == {}


def test_files_planted_in_out_neither_hang_nor_redirect_the_batch(tmp_path):
    """A FIFO under the next log's name and a symlink under a stored result's name (what a
    submission could leave where it can write): the batch finishes, the link's target is
    untouched, the outputs are regular files in private folders."""
    from grader.batch.rows import Upload
    from grader.batch.store import identity, key
    from grader.intake.submission import content_hash

    klass = tmp_path / "class"
    klass.mkdir()
    path = student_zip(klass, "310550001", (CORPUS / "correct_bce.py").read_text())
    upload = Upload(path, path.name, content_hash(path))
    out = tmp_path / "out"
    (out / "logs").mkdir(parents=True)
    (out / "results").mkdir()
    log = out / "logs" / f"{identity(upload)}.log"
    os.mkfifo(log)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / "results" / f"{key(upload, SHORT)}.json").symlink_to(victim)
    (out / "grades.csv").symlink_to(victim)
    started = time.monotonic()
    batch(klass, out, SHORT, jobs=1)
    assert time.monotonic() - started < 120
    assert victim.read_text() == "precious"
    for path in (out / "grades.csv", log,
                 out / "results" / f"{key(upload, SHORT)}.json"):
        assert path.is_file() and not path.is_symlink(), path
    for folder in (out, out / "logs", out / "results", out / "feedback"):
        assert folder.stat().st_mode & 0o777 == 0o700
    table = pd.read_csv(out / "grades.csv", dtype={"student_id": str})
    assert table["status"].tolist() == ["graded"] and "sandbox" not in str(table["flags"].iloc[0])


@pytest.mark.parametrize("mode, fix, described", [
    ("none", "apt install bubblewrap", "none: process limits only"),
    ("portable", "grade on Linux", "portable: a plain child process on Linux, weaker isolation"),
])
def test_batch_refuses_a_weak_sandbox_unless_allowed_and_then_flags_every_row(tmp_path, mode, fix, described):
    """"none" (a Linux machine that cannot isolate) and "portable" (what macOS and Windows
    offer) are both refused, with the fix that fits, until the instructor allows them."""
    klass = tmp_path / "class"
    klass.mkdir()
    student_zip(klass, "310550002", (CORPUS / "correct_bce.py").read_text())
    settings = tmp_path / "short.toml"
    settings.write_text(SHORT.to_toml())
    env = {**os.environ, "BPTT_GRADER_ISOLATION": mode}
    cmd = [sys.executable, "-m", "grader", "batch", str(klass), "-o", str(tmp_path / "out"),
           "--settings", str(settings), "--quiet"]
    refused = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2
    assert "refusing to grade" in refused.stderr and "--allow-weak-sandbox" in refused.stderr
    assert fix in refused.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()
    allowed = subprocess.run(cmd + ["--allow-weak-sandbox"], capture_output=True, text=True, env=env,
                             timeout=300)
    assert allowed.returncode == 0, allowed.stderr
    table = pd.read_csv(tmp_path / "out" / "grades.csv", dtype={"student_id": str})
    assert table["sandbox"].tolist() == [described]
    assert "sandbox" in table["flags"].iloc[0]


def test_one_student_id_on_two_rows_is_flagged_and_never_totalled(tmp_path):
    """A zip named with a classmate's id: both rows are flagged and merge refuses to guess
    whose report scores they are."""
    from grader.outputs.merge import merge

    klass = tmp_path / "class"
    klass.mkdir()
    source = (CORPUS / "correct_bce.py").read_text()
    student_zip(klass, "310551001", source, "Chen")
    student_zip(klass, "310551001", source + "\n# mine\n", "Impostor")
    student_zip(klass, "310551002", source + "\n# other\n", "Lin")
    out = tmp_path / "out"
    batch(klass, out, SHORT, jobs=2)
    table = pd.read_csv(out / "grades.csv", dtype={"student_id": str})
    shared = table[table["student_id"] == "310551001"]
    assert len(shared) == 2 and all("shared_id" in f for f in shared["flags"])
    assert "shared_id" not in str(table[table["student_id"] == "310551002"]["flags"].iloc[0])
    manual = tmp_path / "manual.csv"
    manual.write_text("student_id,plot,data_generation,forward,bptt,code\n310551001,10,10,20,20,10\n"
                      "310551002,5,5,5,5,5\n")
    merged = merge(out / "grades.csv", manual, SHORT).table
    assert any("310551001 is on 2 rows" in p for p in merge(out / "grades.csv", manual, SHORT).problems)
    assert (merged.loc[merged["student_id"] == "310551001", "total"] == "").all()  # no total: whose is it?
    assert (merged.loc[merged["student_id"] == "310551002", "total"] != "").all()


def test_identical_zips_keep_their_own_names_and_ids_when_reused(tmp_path):
    klass = tmp_path / "class"
    klass.mkdir()
    first = student_zip(klass, "310551011", (CORPUS / "correct_bce.py").read_text(), "Wu")
    shutil.copyfile(first, klass / "DLP_LAB4_310551012_Hsu.zip")  # byte for byte
    out = tmp_path / "out"
    for _ in range(2):  # graded, then reused from the store
        batch(klass, out, SHORT, jobs=2)
        table = pd.read_csv(out / "grades.csv", dtype={"student_id": str})
        assert sorted(table["student_id"]) == ["310551011", "310551012"]
        assert sorted(table["name"]) == ["Hsu", "Wu"]
        assert all("duplicate" in f for f in table["flags"])


def test_a_grader_process_does_not_inherit_the_malloc_trimming_a_dask_nanny_sets():
    """Under a Dask worker (MALLOC_TRIM_THRESHOLD_=65536) each grader process would give back
    and fault in again the megabytes every training chunk frees."""
    code = ("import os; from grader.batch.one_process import ENV; "
            "print('MALLOC_TRIM_THRESHOLD_' in ENV, ENV['OPENBLAS_NUM_THREADS'])")
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "1"]
