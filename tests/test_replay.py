"""`bptt-grader replay`: a result regraded as it says it was graded, and what differs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "submissions"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_a_result_replays_to_the_same_grade_and_a_changed_one_says_what_differs(tmp_path: Path) -> None:
    settings = tmp_path / "quick.toml"
    settings.write_text(Settings().with_overrides(runs=3, iterations=800, accuracy_window=200).to_toml())
    result = tmp_path / "result.json"
    graded = cli("check", str(CORPUS / "bptt_no_recurrent.py"), "--settings", str(settings), "--json", str(result))
    recorded = json.loads(result.read_text())
    assert graded.returncode == 1 and set(recorded["environment"]) == {"python", "numpy", "blas", "cpu", "platform"}

    same = cli("replay", str(result), str(CORPUS / "bptt_no_recurrent.py"), "--settings", str(settings))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "nothing differs" in same.stdout and "machine:" not in same.stdout

    recorded["score"], recorded["environment"]["numpy"] = 12.5, "1.0.0"
    for c in recorded["checks"]:
        if c["name"] == "gradient_reference":
            c["status"] = "passed"
    result.write_text(json.dumps(recorded))
    changed = cli("replay", str(result), str(CORPUS / "bptt_no_recurrent.py"), "--settings", str(settings))
    assert changed.returncode == 1
    assert "differs: score: 12.5 -> 0.0" in changed.stdout
    assert "differs: gradient_reference: passed 0 -> failed 0" in changed.stdout
    assert "machine: numpy: 1.0.0 (the result's) vs" in changed.stdout


def test_a_replay_needs_the_same_settings_and_the_same_submission(tmp_path: Path) -> None:
    result = tmp_path / "result.json"
    settings = Settings().with_overrides(runs=1, iterations=300, accuracy_window=100)
    from grader.results import GradeResult, SubmissionInfo

    result.write_text(GradeResult(grader_version="t", settings_hash=settings.digest(), status="graded",
                                  submission=SubmissionInfo(source="rnn.py", sha256="0" * 64)).model_dump_json())
    other = cli("replay", str(result), str(CORPUS / "correct_bce.py"))  # default settings
    assert other.returncode == 2 and "give the settings it was graded with" in other.stderr
    toml = tmp_path / "s.toml"
    toml.write_text(settings.to_toml())
    wrong = cli("replay", str(result), str(CORPUS / "correct_bce.py"), "--settings", str(toml))
    assert wrong.returncode == 2 and "is not the submission of this result" in wrong.stderr
    junk = tmp_path / "junk.json"
    junk.write_text("{}")
    assert "not a result the grader wrote" in cli("replay", str(junk), str(CORPUS / "correct_bce.py")).stderr


@pytest.mark.slow
def test_every_result_of_the_example_class_replays_to_the_same_grade(tmp_path: Path) -> None:
    """A batch's stored results, each regraded from its own zip as it says: nothing differs."""
    from batching import batch
    from grader.replay import replay
    from grader.results import GradeResult

    settings = Settings().with_overrides(runs=3, iterations=400, accuracy_window=100)
    batch(ROOT / "examples" / "class", tmp_path / "out", settings)
    stored = [GradeResult.model_validate_json(p.read_text(encoding="utf-8"))
              for p in sorted((tmp_path / "out" / "results").glob("*.json"))]
    assert len(stored) == 5 and {r.status for r in stored} == {"graded"}
    for recorded in stored:
        found = replay(recorded, Path(recorded.submission.source), settings)
        assert found.differences == [] and found.machine == [], (recorded.submission.source, found.differences)


def test_a_result_stored_before_messages_had_structure_still_reads() -> None:
    """Schema 9 had no `said` and named the report `report_pdf`: such a result still validates
    (replay and diff read it), and renders in any language as the English it stored."""
    from grader.outputs.terminal import terminal
    from grader.results import GradeResult

    old = {"schema_version": 9, "grader_version": "0.1.0", "settings_hash": "x", "status": "graded",
           "submission": {"source": "s.zip", "report_pdf": "s/report.pdf", "report_pages": 2, "notes": ["a note"]},
           "checks": [{"name": "api", "status": "failed", "message": "RNN has no method update()"}]}
    result = GradeResult.model_validate(old)
    assert result.submission.report == "s/report.pdf" and result.checks[0].said == {}
    assert "RNN has no method update()" in terminal(result, width=100, lang="zh-TW")
