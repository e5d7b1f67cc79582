"""`bptt-grader push`: grades and comments sent to a Canvas and a Moodle served on 127.0.0.1
(tests/push/fake_lms.py), through rate limits, a failure half-way and a student the LMS does
not know; a rerun changes nothing; the token is never written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batching import record
from fake_lms import TOKEN, Faults, Student, canvas, moodle, serve

from grader.cli import EXIT_FAIL, EXIT_OK, EXIT_USAGE, main
from grader.outputs.table import read_text_csv, write_csv, write_safe_csv
from grader.results import CheckResult, GradeResult, SubmissionInfo
from grader.settings import Settings

ARGS = {"canvas": ["--course", "42", "--assignment", "7", "--pause", "0"],
        "moodle": ["--course", "5", "--assignment", "12", "--pause", "0"]}


def result(sid: str, score: float) -> GradeResult:
    return GradeResult(grader_version="t", settings_hash="h", status="graded", score=score, max_score=30,
                       checks=[CheckResult(name="train", status="passed", points=score, max_points=30)],
                       submission=SubmissionInfo(source=f"{sid}.zip", student_id=sid, name="S"))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    rows = [record(result(sid, score), f"{sid}.zip", sid, Settings()) for sid, score in
            (("0756001", 30.0), ("0756002", 15.0), ("0756003", 20.0), ("0756009", 12.0))]
    write_csv(rows, out / "grades.csv")
    return out


def class_on_lms() -> list[Student]:
    # 0756009 took the lab but is not in the LMS's course
    return [Student(101, "0756001", "a@x.edu"), Student(102, "0756002", "b@x.edu", grade=10.0),
            Student(103, "0756003", "c@x.edu")]


def push(lms: str, url: str, out: Path, *extra: str) -> int:
    return main(["push", lms, str(out), "--url", url, *ARGS[lms], *extra])


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANVAS_TOKEN", TOKEN)
    monkeypatch.setenv("MOODLE_TOKEN", TOKEN)


def test_a_dry_run_shows_old_and_new_and_sends_nothing(out: Path, capsys) -> None:
    students, faults = class_on_lms(), Faults()
    with serve(canvas(students, faults)) as url:
        assert push("canvas", url, out, "--dry-run") == EXIT_OK
    said = capsys.readouterr().out
    assert "0756002: 10 -> 15 (and the comment)" in said and "0756001: - -> 30" in said
    assert "not in the course on the LMS: 1: 0756009" in said and "nothing was sent" in said
    assert not [c for c in faults.calls if c.startswith("PUT")] and all(s.comments == [] for s in students)
    assert faults.calls == ["GET submissions"] * 2  # one paged read (two pages) gives the people and the grades


def test_canvas_through_rate_limits_and_a_failure_half_way_then_a_rerun_that_changes_nothing(out: Path,
                                                                                           capsys) -> None:
    students, faults = class_on_lms(), Faults(rate_limited=2, fail_once={102})
    with serve(canvas(students, faults)) as url:
        assert push("canvas", url, out) == EXIT_FAIL  # 0756002 failed once
        said = capsys.readouterr()
        assert "failed: 0756002: PUT" in said.err and "sent 2, unchanged 0, failed 1" in said.out
        assert [s.grade for s in students] == [30.0, 10.0, 20.0]
        assert push("canvas", url, out) == EXIT_OK  # resumes: only what the LMS does not hold
        assert "sent 1, unchanged 2, failed 0; read back: 1 of 1 match" in capsys.readouterr().out
        puts = len([c for c in faults.calls if c.startswith("PUT")])
        assert push("canvas", url, out) == EXIT_OK  # nothing changed: nothing sent
        assert "sent 0, unchanged 3" in capsys.readouterr().out
    assert len([c for c in faults.calls if c.startswith("PUT")]) == puts
    assert [s.grade for s in students] == [30.0, 15.0, 20.0]
    assert all(len(s.comments) == 1 and s.comments[0].startswith("Automatic score") for s in students)
    assert faults.calls.count("PUT 102") == 2  # the failure, then the resumed send
    log = (out / "push-canvas-42-7.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["student"] for line in log) == ["0756001", "0756002", "0756003"]


def test_moodle_matches_by_id_number_and_sends_plain_text_feedback(out: Path, capsys) -> None:
    students, faults = class_on_lms(), Faults(fail_once={103})
    with serve(moodle(students, faults)) as url:
        assert push("moodle", url, out) == EXIT_FAIL
        assert "dmlwriteexception: Error writing to database" in capsys.readouterr().err
        assert push("moodle", url, out) == EXIT_OK
        assert push("moodle", url, out) == EXIT_OK
        assert "sent 0, unchanged 3" in capsys.readouterr().out
    assert [s.grade for s in students] == [30.0, 15.0, 20.0]
    assert faults.calls.count("mod_assign_save_grade") == 4  # 3, then the one that failed
    assert all(s.comments and "Automatic score" in s.comments[0] for s in students)


def test_the_token_is_read_from_the_environment_and_never_written(out: Path, monkeypatch, capsys) -> None:
    students, faults = class_on_lms(), Faults()
    with serve(canvas(students, faults)) as url:
        assert push("canvas", url, out) == EXIT_OK
        monkeypatch.delenv("CANVAS_TOKEN")
        assert push("canvas", url, out) == EXIT_USAGE
    assert "set CANVAS_TOKEN" in capsys.readouterr().err
    for path in out.rglob("*"):
        assert TOKEN not in path.read_text(encoding="utf-8", errors="replace"), path


def test_a_wrong_token_is_one_clear_line(out: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MOODLE_TOKEN", "wrong")
    with serve(moodle(class_on_lms(), Faults())) as url:
        assert push("moodle", url, out) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "invalidtoken" in err and "wrong" not in err and "Traceback" not in err


def test_a_final_csv_a_regrade_made_stale_is_never_pushed(out: Path, capsys) -> None:
    final = read_text_csv(out / "grades.csv")
    final.loc[final["student_id"] == "0756001", "score"] = "29.0"  # merged before a regrade gave 30
    write_safe_csv(final, out / "final.csv")
    students, faults = class_on_lms(), Faults()
    with serve(canvas(students, faults)) as url:
        assert push("canvas", url, out) == EXIT_USAGE
    assert "is older than grades.csv" in capsys.readouterr().err and faults.calls == []


def test_a_row_is_matched_by_platform_id_then_student_id_then_email_and_only_to_one_user() -> None:
    from grader.push.lms import Person
    from grader.push.run import _index, _match

    people = [Person("101", "0756001", "a@x.edu"), Person("102", "", "B@X.edu"), Person("103", "", "dup@x.edu"),
              Person("104", "", "dup@x.edu")]
    users, index = {p.user for p in people}, _index(people)
    assert _match({"lms": "canvas", "lms_id": "102"}, "canvas", users, index) == "102"
    assert _match({"lms": "canvas", "lms_id": "999", "student_id": "0756001"}, "canvas", users, index) is None
    assert _match({"lms": "moodle", "lms_id": "102", "student_id": "０７５６００１"}, "canvas", users, index) == "101"
    assert _match({"student_id": "0756009", "email": " b@x.EDU"}, "canvas", users, index) == "102"
    assert _match({"email": "dup@x.edu"}, "canvas", users, index) is None  # two users: a person decides
