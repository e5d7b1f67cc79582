"""Grades exported for each platform read back by that platform's column rules: the
identifier it matches students by, the grade, the feedback, ids kept with their zeros."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from grader.cli import main
from grader.messages import Message
from grader.outputs.gradebook import ExportError, export
from grader.outputs.merge import merge, write
from batching import row_of
from grader.batch.rows import Identity, Lateness
from grader.outputs.table import row_record, write_csv
from grader.results import CheckResult, GradeResult, SubmissionInfo
from grader.settings import Settings


def graded(sid: str, score: float, lms: str, lms_id: str, email: str, status: str = "graded",
           late_factor: float = 1.0, file: str = "x.zip", settings: Settings = Settings()) -> dict:
    checks = [CheckResult(name="train", status="passed", points=score, max_points=30.0)]
    if score < 30:
        checks.append(CheckResult(name="gradient_reference", status="failed", details={"bug": "no_recurrent"},
                                  message=Message("gradients of {wrong} differ from the reference (closest loss: "
                                                  "{loss}; relative errors {errors}){likely}", wrong="U, W, b",
                                                  loss="bce", errors="U 1.0e+00", likely="")))
    result = GradeResult(grader_version="t", settings_hash="t", status=status, score=score, max_score=30.0,
                         submission=SubmissionInfo(source=file), checks=checks)
    who = Identity(sid, "王小明" if sid == "0756001" else "Amy Lin", "handout", lms=lms, lms_id=lms_id, email=email)
    late = Lateness(late=late_factor < 1, days_late=1.5 if late_factor < 1 else None, factor=late_factor)
    return row_record(row_of(result, file if status != "missing" else "", "", who=who, late=late), settings)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    rows = [graded("0756001", 30.0, "moodle", "1001", "wang@example.edu"),
            graded("0810002", 15.0, "moodle", "1002", "amy@example.edu", late_factor=0.8),
            graded("0810003", 0.0, "", "", "", status="missing")]
    write_csv(rows, tmp_path / "grades.csv")
    return tmp_path


def read_back(path: Path) -> list[dict[str, str]]:
    """As a platform reads an upload: UTF-8 (a BOM allowed), every cell text."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_moodle_grade_import_and_offline_worksheet(out: Path) -> None:
    done = export(out / "grades.csv", "moodle", out / "moodle.csv")
    rows = {r["ID number"]: r for r in read_back(out / "moodle.csv")}
    assert rows["0756001"]["Grade"] == "30" and rows["0756001"]["Email address"] == "wang@example.edu"
    assert rows["0810002"]["Grade"] == "12"
    assert rows["0810002"]["Feedback"].startswith("Automatic score 15/30. fix first: gradient_reference: gradients")
    assert "late 1.50 days (grade x 0.8)" in rows["0810002"]["Feedback"]
    assert rows["0810003"]["Grade"] == ""  # missing: no grade, not a zero
    worksheet = {r["Identifier"]: r for r in read_back(out / "moodle-worksheet.csv")}
    assert set(worksheet) == {"Participant 1001", "Participant 1002"} and worksheet["Participant 1001"]["Grade"] == "30"
    assert (done.graded, done.blank) == (2, 1) and "automatic score" in done.scale


def test_canvas_gradebook_columns_and_assignment_header(out: Path) -> None:
    export(out / "grades.csv", "canvas", out / "canvas.csv", assignment="Lab 4 (12345)")
    rows = read_back(out / "canvas.csv")
    assert list(rows[0])[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    by_sis = {r["SIS User ID"]: r for r in rows}
    assert by_sis["0756001"]["Lab 4 (12345)"] == "30" and by_sis["0756001"]["Student"] == "王小明"
    with pytest.raises(ExportError, match="needs --assignment"):
        export(out / "grades.csv", "canvas", out / "c2.csv")


def test_blackboard_upload_has_username_and_column_id(out: Path) -> None:
    export(out / "grades.csv", "blackboard", out / "bb.csv", assignment="Lab 4 |1234567")
    rows = {r["Username"]: r for r in read_back(out / "bb.csv")}
    assert rows["1001"]["Lab 4 |1234567"] == "30" and rows["1001"]["Student ID"] == "0756001"


def test_plain_csv_is_the_handout_total_after_merge(out: Path) -> None:
    (out / "manual.csv").write_text("student_id,plot,data_generation,forward,bptt,code\n"
                                    "0756001,10,10,20,20,10\n810002,5,5,10,10,5\n", encoding="utf-8")
    write(merge(out / "grades.csv", out / "manual.csv", Settings()).table, out / "final.csv")
    done = export(out / "final.csv", "csv", out / "plain.csv")
    rows = {r["student_id"]: r for r in read_back(out / "plain.csv")}
    assert rows["0756001"]["grade"] == "100" and rows["0810002"]["grade"] == "40"  # (15 + 35) x 0.8
    assert "0-100" in done.scale


def test_the_comments_are_in_the_batchs_language(tmp_path: Path) -> None:
    """A class graded with lang = "zh-TW" gets its gradebook comments in Traditional Chinese, the
    export's own words (the merged total, a shared id) too; the columns stay the platform's."""
    zh = Settings(lang="zh-TW")
    rows = [graded("0756001", 30.0, "moodle", "1001", "wang@example.edu", settings=zh),
            graded("0810002", 15.0, "moodle", "1002", "amy@example.edu", late_factor=0.8, settings=zh)]
    write_csv(rows, tmp_path / "grades.csv")
    (tmp_path / "settings.toml").write_text(zh.to_toml(), encoding="utf-8")
    export(tmp_path / "grades.csv", "moodle", tmp_path / "moodle.csv", lang="zh-TW")
    said = {r["ID number"]: r["Feedback"] for r in read_back(tmp_path / "moodle.csv")}
    assert said["0756001"] == "自動評分 30/30"
    assert said["0810002"] == ("自動評分 15/30。最先修正：gradient_reference：U, W, b 的梯度與參考實作不同（最接近的損失："
                               "bce；相對誤差 U 1.0e+00）。遲交 1.50 天（成績 x 0.8）")
    manual = tmp_path / "manual.csv"
    manual.write_text("student_id,plot,data_generation,forward,bptt,code\n0756001,10,10,20,20,10\n", encoding="utf-8")
    write(merge(tmp_path / "grades.csv", manual, zh).table, tmp_path / "final.csv")
    assert main(["export", "csv", str(tmp_path), "-o", str(tmp_path / "plain.csv")]) == 0  # the batch's settings.toml
    assert {r["student_id"]: r["feedback"] for r in read_back(tmp_path / "plain.csv")}["0756001"].startswith(
        "總分 100/100。自動評分 30/30")
