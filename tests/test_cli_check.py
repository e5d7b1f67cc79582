"""`bptt-grader check` as CI and students use it: JSON, JUnit XML and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from grader.results import CHECK_NAMES, GradeResult

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["--runs", "1", "--iterations", "3000"]  # enough for the reference to learn


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", "check", *args], capture_output=True,
                          text=True, timeout=300)


def test_the_reference_passes_every_check_and_writes_json_and_junit(tmp_path):
    junit = tmp_path / "junit.xml"
    proc = check(str(ROOT / "reference" / "rnn.py"), *QUICK, "--json", "-", "--junit-xml", str(junit))
    assert proc.returncode == 0, proc.stderr
    result = GradeResult.model_validate_json(proc.stdout)
    assert [c.name for c in result.checks] == list(CHECK_NAMES)
    assert all(c.status == "passed" for c in result.checks), [c.message for c in result.checks]
    assert result.score == result.max_score == 30 and result.loss_recognised == "bce"
    assert result.settings_hash and result.grader_version and "total" in result.timings
    assert "PASS  gradient_reference" in proc.stderr  # the report goes to stderr with --json -
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == str(len(CHECK_NAMES)) and suite.get("failures") == "0"


def test_a_buggy_submission_exits_1_and_min_score_is_respected(tmp_path):
    out = tmp_path / "r.json"
    proc = check(str(ROOT / "tests" / "submissions" / "bptt_no_recurrent.py"), *QUICK, "--json", str(out))
    assert proc.returncode == 1
    data = json.loads(out.read_text())
    assert {c["name"]: c["status"] for c in data["checks"]}["gradient_reference"] == "failed"
    assert "fingerprint" not in data["submission"]  # the class's similarity numbers mean nothing here
    assert "missing from dh_t" in proc.stdout
    proc = check(str(ROOT / "reference" / "rnn.py"), *QUICK, "--min-score", "31")
    assert proc.returncode == 1


def test_unreadable_submissions_exit_2_with_one_clear_line(tmp_path):
    proc = check(str(tmp_path / "missing.py"))
    assert proc.returncode == 2 and "no such file" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "DLP_LAB4_1_x.zip"
    bad.write_bytes(b"PK\x03\x04 truncated")
    proc = check(str(bad))
    assert proc.returncode == 2 and "not graded (bad_zip)" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


def test_quick_self_check_runs_every_check_and_estimates_full_grading(tmp_path):
    out = tmp_path / "r.json"
    proc = check(str(ROOT / "tests" / "submissions" / "correct_bce.py"), "--quick", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = GradeResult.model_validate_json(out.read_text())
    assert [c.name for c in result.checks] == list(CHECK_NAMES) and len(result.runs) == 1
    assert result.runs[0].iterations_done == 2000 and all(c.status == "passed" for c in result.checks)
    assert "quick check: not the grade. Full grading trains 3 runs of 20000 iterations" in proc.stdout
    assert "ms per iteration measured here" in proc.stdout and "within the limit of 160 s per run" in proc.stdout
