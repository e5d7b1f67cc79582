"""Student text reaches every output as plain text: no terminal control sequence, nothing
an XML parser refuses, no spreadsheet formula, no bidi reordering.

A result is built with hostile text in every field a student can fill (an exception
message, printed output, a file and folder name, a name in a zip); each view is rendered
and searched for what must not be there.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from batching import record, row_of
from grader.outputs import feedback
from grader.outputs.table import safe_cell
from grader.outputs.terminal import junit_xml, terminal
from grader.results import CHECK_NAMES, CheckResult, GradeResult, RunResult, SubmissionInfo
from grader.settings import Settings

FAKE = "\x1b[2J\x1b[H  PASS  train  30/30\r\nscore: 30 / 30\x1b]0;owned\x07"
HOSTILE = FAKE + "\x00\x08\x0b\x0c\x7f\x85\x9b\u202e\ud800\ufffe end"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")


def hostile_result() -> GradeResult:
    checks = [CheckResult(name=n, status="failed", message=f"{n} raised ValueError: {HOSTILE}",
                          details={"trace": HOSTILE, HOSTILE: [HOSTILE]}) for n in CHECK_NAMES]
    result = GradeResult(
        grader_version="test", settings_hash="0", status="graded", message=HOSTILE,
        submission=SubmissionInfo(source=HOSTILE, module=HOSTILE + ".py", student_id="310551001",
                                  name=HOSTILE, notes=[HOSTILE]),
        checks=checks, output=HOSTILE, sandbox_note=HOSTILE,
        runs=[RunResult(seed=1, iterations_done=3, accuracy=0.0, seconds=0.1, curve_block=100,
                        accuracy_curve=[0.0], bit_error_curve=[1.0], loss_curve=[5.0], error=HOSTILE)],
    )
    result.message += "\x1b[31m appended later"  # assignments are checked too
    return result


def assert_plain(text: str) -> None:
    assert not UNSAFE.search(text), repr(UNSAFE.findall(text)[:5])
    assert "\x1b" not in text and "\r" not in text


def test_the_result_itself_holds_no_control_characters():
    assert_plain(hostile_result().model_dump_json())
    assert_plain(json.dumps(hostile_result().model_dump(), ensure_ascii=False))


def test_terminal_report_cannot_be_faked():
    text = terminal(hostile_result(), width=100)
    assert_plain(text)
    report_lines = [line for line in text.splitlines() if not line.startswith("  | ")]  # quoted output
    assert [line for line in report_lines if line.startswith("score:")] == ["score: 0 / 0"]
    assert not [line for line in report_lines if line.lstrip().startswith("PASS")]


def test_junit_xml_parses_and_is_plain():
    text = junit_xml(hostile_result())
    assert_plain(text.replace("\n", ""))
    suite = ET.fromstring(text)
    assert suite.get("failures") == str(len(CHECK_NAMES))


def test_csv_cells_are_plain_one_line_and_never_formulas():
    cells = record(hostile_result(), HOSTILE + ".zip", "0" * 64, Settings(), [])
    for value in cells.values():
        cell = safe_cell(value)
        if isinstance(cell, str):
            assert_plain(cell)
            assert "\n" not in cell
    assert safe_cell("=HYPERLINK(\"x\")").startswith("'")
    assert safe_cell("\x1b=cmd") == "'=cmd"  # a control character does not hide a formula


def test_feedback_markdown_is_plain():
    assert_plain(feedback.student_markdown(row_of(hostile_result()), None))


def test_a_submission_that_draws_a_fake_report_shows_as_plain_text(tmp_path):
    """The real thing: the CLI's terminal report and JUnit XML for a graded forgery."""
    import subprocess
    import sys
    from pathlib import Path

    forgery = Path(__file__).parents[1] / "submissions" / "forgery_ansi_report.py"
    junit = tmp_path / "report.xml"
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(forgery), "--runs", "1",
                           "--iterations", "500", "--junit-xml", str(junit), "--json", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert_plain(done.stdout.replace("\n", " "))
    assert [line for line in done.stdout.splitlines() if line.startswith("score:")] == ["score: 0 / 30"]
    ET.fromstring(junit.read_text(encoding="utf-8"))  # parses
    assert_plain(junit.read_text(encoding="utf-8").replace("\n", " "))
    assert_plain((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert "score: 30 / 30" in json.loads((tmp_path / "r.json").read_text())["output"]  # kept, as text
