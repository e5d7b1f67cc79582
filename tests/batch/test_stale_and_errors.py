"""Nothing stale and nothing silent: a change of settings never regrades without --force,
`--only ID --force` regrades only that student, `export` refuses a final.csv older than its
grades.csv, and a bad OUT, an empty download or a bad roster is one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_round_trip import Student_, intake_only, read, submission

from grader import __version__
from grader.batch import run as batch_run
from grader.batch.run import BatchError, BatchOptions, run_batch
from grader.cli import main
from grader.settings import Settings

SHORT = Settings().with_overrides(runs=1, iterations=300, accuracy_window=100)


def klass(root: Path) -> Path:
    for sid in ("0756001", "0756002", "0756003"):
        name, data = submission(Student_(sid, "S", "1", "good", False))
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def stored(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}


def test_changed_settings_regrade_only_with_force_and_only_force_regrades_only_that_student(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_run, "grade_all", intake_only)
    source, out = klass(tmp_path / "class"), tmp_path / "out"
    options = BatchOptions(progress=False, isolation=object())
    first = run_batch(source, out, SHORT, options)
    assert first.graded_now == 3
    before = stored(out)
    only = run_batch(source, out, SHORT, BatchOptions(progress=False, isolation=object(), force=True,
                                                      only=frozenset({"0756002"})))
    after = stored(out)
    assert only.graded_now == 1 and only.reused == 2
    assert [n for n in after if after[n] != before[n]] == [n for n in after if n in before and after[n] != before[n]]
    assert len([n for n in after if after[n] != before[n]]) == 1
    with pytest.raises(BatchError, match=r"3 stored results were made with other settings .* --force") as refused:
        run_batch(source, out, SHORT.with_overrides(runs=2), options)
    assert "runs: 1 -> 2" in str(refused.value), "what changed, in words"
    assert stored(out) == after, "refused before anything was graded"
    heard: list[str] = []
    forced = run_batch(source, out, SHORT.with_overrides(runs=2),
                       BatchOptions(progress=False, isolation=object(), force=True, announce=heard.append))
    assert forced.graded_now == 3 and any("regrading 3 results stored under settings" in h for h in heard)


def test_export_refuses_a_final_csv_older_than_grades_csv(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(batch_run, "grade_all", intake_only)
    source, out = klass(tmp_path / "class"), tmp_path / "out"
    run_batch(source, out, SHORT, BatchOptions(progress=False, isolation=object()))
    manual = tmp_path / "manual.csv"
    manual.write_text("student_id,plot\n0756001,5\n0756002,5\n0756003,5\n", encoding="utf-8")
    assert main(["merge", str(out / "grades.csv"), str(manual)]) == 0
    assert main(["export", "csv", str(out), "-o", str(tmp_path / "a.csv")]) == 0
    grades = (out / "grades.csv").read_text(encoding="utf-8-sig")
    (out / "grades.csv").write_text(grades.replace(",graded,", ",timeout,", 1), encoding="utf-8-sig")  # a regrade
    capsys.readouterr()
    assert main(["export", "csv", str(out), "-o", str(tmp_path / "b.csv")]) == 2
    err = capsys.readouterr().err
    assert "final.csv is older than grades.csv" in err and "bptt-grader merge" in err
    assert not (tmp_path / "b.csv").exists()


def test_a_late_factor_that_lowered_a_grade_is_listed_by_export(tmp_path, capsys):
    (tmp_path / "grades.csv").write_text(
        "student_id,name,file,status,score,max_score,late_factor,lms_id,lms\n"
        "0756001,A,a.zip,graded,30,30,0.8,,\n0756002,B,b.zip,graded,30,30,1.0,,\n", encoding="utf-8")
    assert main(["export", "csv", str(tmp_path), "-o", str(tmp_path / "out.csv")]) == 0
    printed = capsys.readouterr().out
    assert "a late factor lowered the grade of 1: 0756001" in printed
    assert [r["grade"] for r in read(tmp_path / "out.csv")] == ["24", "30"]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=120)


def test_version_and_one_line_errors_with_nothing_written(tmp_path):
    assert cli("--version").stdout.strip() == f"bptt-grader {__version__}"
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_bytes(b"junk")
    afile = tmp_path / "out.txt"
    afile.write_text("x")
    bad_roster = tmp_path / "roster.csv"
    bad_roster.write_text("id,name\n1,a\n")
    bad_settings = tmp_path / "s.toml"
    bad_settings.write_text("runs = 'three'\n")
    cases = [
        (("batch", str(tmp_path / "empty"), "-o", str(tmp_path / "o1")), "no submissions in it"),
        (("batch", str(tmp_path / "empty"), "-o", str(afile)), "is a file; give -o a folder"),
        (("batch", str(tmp_path / "empty"), "-o", str(tmp_path / "o2"), "--roster", str(bad_roster)), "student_id"),
        (("batch", str(tmp_path / "empty"), "-o", str(tmp_path / "o3"), "--settings", str(bad_settings)), "runs"),
    ]
    for args, said in cases:
        done = cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert said in done.stderr and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2
        assert not (tmp_path / "o1" / "grades.csv").exists()
    for name in ("o2", "o3"):
        assert not (tmp_path / name).exists(), "nothing half-written"


def test_moodle_feedback_files_zip_has_a_folder_per_participant_with_the_page(tmp_path, monkeypatch):
    """`export moodle --feedback-files`: the zip Moodle's "Upload multiple feedback files in a
    zip" takes, a folder per participant named as the download names it."""
    import zipfile

    from downloads import moodle_folders

    monkeypatch.setattr(batch_run, "grade_all", intake_only)
    out = tmp_path / "out"
    run_batch(moodle_folders(tmp_path / "class"), out, SHORT, BatchOptions(progress=False, isolation=object()))
    assert main(["export", "moodle", str(out), "-o", str(tmp_path / "lab4.csv"), "--feedback-files"]) == 0
    with zipfile.ZipFile(tmp_path / "lab4-feedback.zip") as z:
        names = sorted(z.namelist())
        page = z.read("王小明_1001_assignsubmission_file_/feedback.md").decode("utf-8")
    assert "王小明_1001_assignsubmission_file_/feedback.md" in names
    assert "Amy Lin_1002_assignsubmission_file_/feedback.md" in names
    assert page.startswith("# Lab 4 (BPTT) feedback: 0756001")
    worksheet = read(tmp_path / "lab4-worksheet.csv")
    assert sorted(r["Identifier"] for r in worksheet) == ["Participant 1001", "Participant 1002", "Participant 1003"]
    assert all(r["Feedback comments"] for r in worksheet)


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path):
    afile = tmp_path / "file"
    afile.write_text("x")
    (tmp_path / "class").mkdir()
    done = cli("batch", str(tmp_path / "class"), "-o", str(afile / "sub"))
    assert done.returncode == 2 and "cannot write there" in done.stderr and "Traceback" not in done.stderr


def test_ctrl_c_writes_the_outputs_for_what_was_graded_and_the_rerun_grades_the_rest(tmp_path, monkeypatch):
    def one_then_ctrl_c(todo, settings, jobs, isolation, logs, save, progress):  # noqa: ANN001, ANN202
        intake_only(todo[:1], settings, jobs, isolation, logs, save, progress)
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_run, "grade_all", one_then_ctrl_c)
    source, out = klass(tmp_path / "class"), tmp_path / "out"
    report = run_batch(source, out, SHORT, BatchOptions(progress=False, isolation=object()))
    assert report.interrupted and "interrupted" in report.text(out)
    rows = read(out / "grades.csv")
    assert sorted(r["status"] for r in rows) == ["graded", "interrupted", "interrupted"]
    assert all("run the same command again" in r["message"] for r in rows if r["status"] == "interrupted")
    assert len(stored(out)) == 1, "only what was graded is stored"
    monkeypatch.setattr(batch_run, "grade_all", intake_only)
    again = run_batch(source, out, SHORT, BatchOptions(progress=False, isolation=object()))
    assert (again.graded_now, again.reused, again.interrupted) == (2, 1, False)
    assert [r["status"] for r in read(out / "grades.csv")] == ["graded"] * 3
