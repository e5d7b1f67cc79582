"""What a student reads first: the score and the one thing to fix lead every report; a
submission that never reached the code gets a few lines saying what to do; a file saved
with an extra ending is named, with the rename to make."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from batching import row_of

from grader.outputs.feedback import student_markdown
from grader.outputs.terminal import terminal
from grader.results import CHECK_NAMES, CheckResult, GradeResult, SubmissionInfo

ROOT = Path(__file__).resolve().parents[2]
CORRECT = (ROOT / "tests" / "submissions" / "correct_bce.py").read_text(encoding="utf-8")
BUG = "gradients of U, W, b differ from the reference. Likely: the recurrent term W^T da_{t+1} is missing"


def held() -> GradeResult:
    """Trained to 0.397, BPTT wrong: the gate keeps the 30 points."""
    checks = [CheckResult(name="api", status="passed", message="ok"),
              CheckResult(name="gradient_reference", status="failed", message=BUG, details={"bug": "truncated"}),
              CheckResult(name="train", status="passed", points=0.0, max_points=30.0, message="median accuracy 0.397",
                          details={"withheld_by": ["gradient_reference"]}),
              CheckResult(name="integrity", status="skipped", message="skipped: needs train"),
              CheckResult(name="generalize", status="skipped", message="skipped: needs train"),
              CheckResult(name="update", status="skipped", message="skipped: needs api")]
    return GradeResult(grader_version="t", settings_hash="t", status="graded", score=0.0, max_score=30.0,
                       accuracy=0.397, accuracy_runs=[0.397, 0.382, 0.829], checks=checks,
                       submission=SubmissionInfo(source="rnn.py", module="rnn.py"))


def not_reached() -> GradeResult:
    checks = [CheckResult(name="discover", status="failed", message="no rnn.py in the zip; include rnn.py")]
    checks += [CheckResult(name=n, status="skipped", message="skipped: no module to grade") for n in CHECK_NAMES[1:]]
    return GradeResult(grader_version="t", settings_hash="t", status="no_module", score=0.0, max_score=30.0,
                       message="no rnn.py in the zip; include rnn.py", checks=checks,
                       submission=SubmissionInfo(source="a.zip", student_id="0756001", name="Amy"))


def test_the_terminal_report_leads_with_the_score_and_the_fix() -> None:
    lines = terminal(held(), width=100).splitlines()
    assert lines[1] == "score: 0 / 30"
    assert lines[2] == ("  performance 0/30: accuracy 0.397 (median of 3 runs); the points wait for "
                        "gradient_reference to pass")
    assert lines[3].startswith("fix first: gradient_reference: gradients of U, W, b differ")
    text = "\n".join(lines)
    assert "W^T da_{t+1} is missing" in text[: text.index("checks:")]  # the whole diagnosis, before the checks
    assert "HELD  train" in text and "PASS  train" not in text
    assert "SKIP  3 checks run once what they need passes: integrity, generalize, update" in text


def test_a_submission_that_never_reached_the_code_gets_a_few_lines() -> None:
    text = terminal(not_reached(), width=100)
    assert text.splitlines()[1:3] == ["score: 0 / 30", "not graded (no_module): no rnn.py in the zip; include rnn.py"]
    assert "SKIP" not in text and "checks:" not in text
    md = student_markdown(row_of(not_reached()), None)
    assert len(md.splitlines()) <= 10 and "median of 0 runs" not in md and "SKIP" not in md
    assert "**Not graded (no_module):** no rnn.py in the zip; include rnn.py" in md


def test_a_module_saved_with_an_extra_ending_is_named_with_the_rename(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "rnn.py.txt").write_text(CORRECT, encoding="utf-8")
    for target in (tmp_path / "sub", tmp_path / "sub" / "rnn.py.txt"):
        done = subprocess.run([sys.executable, "-m", "grader", "check", str(target)], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert "not graded (no_module): rnn.py.txt looks like your code under another ending: rename it to rnn.py" \
            in " ".join(done.stdout.split())
