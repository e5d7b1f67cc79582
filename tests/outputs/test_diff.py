"""`bptt-grader diff`: what a regrade changed, student by student, before it is exported."""

from __future__ import annotations

from pathlib import Path

from batching import record

from grader.cli import EXIT_FAIL, EXIT_OK, main
from grader.outputs.table import write_csv
from grader.results import CheckResult, GradeResult, SubmissionInfo
from grader.settings import Settings


def result(sid: str, score: float, train: str = "passed", status: str = "graded") -> GradeResult:
    return GradeResult(grader_version="t", settings_hash="h", status=status, score=score, max_score=30,
                       checks=[CheckResult(name="api", status="passed"),
                               CheckResult(name="train", status=train, points=score, max_points=30)],
                       submission=SubmissionInfo(source=f"{sid}.zip", student_id=sid))


def batch_out(folder: Path, results: list[GradeResult]) -> Path:
    folder.mkdir()
    write_csv([record(r, r.submission.source, r.submission.source, Settings()) for r in results],
              folder / "grades.csv")
    return folder


def test_diff_lists_each_changed_student_with_the_checks_that_flipped(tmp_path: Path, capsys) -> None:
    old = batch_out(tmp_path / "old", [result("0756001", 30), result("0756002", 12), result("0756003", 20),
                                       result("0756004", 5)])
    new = batch_out(tmp_path / "new", [result("0756001", 30), result("0756002", 0, train="failed"),
                                       result("0756003", 21.5), result("0756005", 9)])
    (old / "settings.toml").write_text(Settings().to_toml(), encoding="utf-8")
    (new / "settings.toml").write_text(Settings(runs=5).to_toml(), encoding="utf-8")
    assert main(["diff", str(old), str(new)]) == EXIT_OK
    said = capsys.readouterr().out.splitlines()
    assert said[0] == "settings: runs: 3 -> 5"
    assert "0756002: 12 -> 0; train passed -> failed" in said and "0756003: 20 -> 21.5" in said
    assert "only in the old batch: 1: 0756004" in said and "only in the new batch: 1: 0756005" in said
    assert said[-1] == "2 changed, 1 the same"
    assert main(["diff", str(old), str(new), "--exit-code"]) == EXIT_FAIL
    assert main(["diff", str(old), str(old), "--exit-code"]) == EXIT_OK
