"""The Classroom 50 autograder: written by `bptt-grader classroom50`, run as the runner runs
it (in the student's checkout, with the environment Classroom 50 sets), on a correct and a
buggy checkout; result.json validated against the contract's schema."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from grader.classroom50 import build, result_json, status_of, summary
from grader.results import CHECK_NAMES, CheckResult, GradeResult, SubmissionInfo
from grader.settings import Settings

CORPUS = Path(__file__).parent / "submissions"
SCHEMA = json.loads((Path(__file__).parent / "classroom50_result.schema.json").read_text(encoding="utf-8"))
QUICK = Settings().with_overrides(runs=1, iterations=600, accuracy_window=200)
QUICK = QUICK.model_copy(update={"limits": QUICK.limits.model_copy(update={"iteration_ms": 100.0})})
RUNNER = {"CLASSROOM": "dlp-2026", "ASSIGNMENT": "lab4", "ASSIGNMENT_TYPE": "individual", "USERNAME": "amy",
          "OWNER": "amy", "SUBMISSION_TAG": "submit/2026-12-01T10-00-00Z-abc1234",
          "COMMIT_URL": "https://github.com/dlp/dlp-2026-lab4-amy/commit/abc1234",
          "RELEASE_URL": "https://github.com/dlp/dlp-2026-lab4-amy/releases/tag/submit%2F2026-12-01T10-00-00Z-abc1234",
          "GITHUB_REPOSITORY": "dlp/dlp-2026-lab4-amy", "GITHUB_SHA": "abc1234"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("autograders") / "lab4"
    written = build(out, QUICK)
    assert [p.name for p in written][0] == "autograder.py" and written[1].suffix == ".whl"
    return out


def test_the_bundle_carries_the_student_kit_not_the_solution(bundle: Path) -> None:
    import zipfile

    (wheel,) = bundle.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "+kit" in wheel.name and "grader/checks/kit_probes.npz" in names
    assert "reference/rnn.py" not in names and "grader/checks/bptt_variants.py" not in names


def run(bundle: Path, checkout: Path, python: str = sys.executable) -> tuple[subprocess.CompletedProcess[str], str]:
    output = checkout.parent / f"{checkout.name}-github-output"
    output.write_text("")
    env = {**os.environ, **RUNNER, "GITHUB_OUTPUT": str(output), "BPTT_GRADER_PYTHON": python}
    done = subprocess.run([sys.executable, str(bundle / "autograder.py")], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=300)
    return done, output.read_text()


def checkout_of(tmp_path: Path, name: str, module: str) -> Path:
    repo = tmp_path / name
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(CORPUS / module, repo / "rnn.py")
    (repo / "README.md").write_text("# my lab 4\n")
    return repo


@pytest.mark.slow
def test_a_correct_and_a_buggy_checkout_graded_as_the_runner_does(bundle: Path, tmp_path: Path) -> None:
    good, outputs = run(bundle, checkout_of(tmp_path, "good", "correct_bce.py"))
    assert good.returncode == 0, good.stderr
    result = json.loads((tmp_path / "good" / "result.json").read_text())
    jsonschema.validate(result, SCHEMA)
    assert [t["test-name"] for t in result["tests"]] == list(CHECK_NAMES)
    assert all(t["passed"] for t in result["tests"]) and result["max-score"] == 30 and result["score"] > 0
    assert result["score"] == sum(t["score"] for t in result["tests"])
    assert (result["classroom"], result["submission"]) == ("dlp-2026", RUNNER["SUBMISSION_TAG"])
    assert "status=success\n" in outputs and outputs.count("\n") == 2

    bad, outputs = run(bundle, checkout_of(tmp_path, "bad", "bptt_no_recurrent.py"))
    assert bad.returncode == 0, bad.stderr  # a failing grade is not a runner failure
    result = json.loads((tmp_path / "bad" / "result.json").read_text())
    jsonschema.validate(result, SCHEMA)
    assert result["score"] == 0 and not {t["test-name"]: t["passed"] for t in result["tests"]}["gradient_reference"]
    assert "status=failure\n" in outputs and "summary=bptt-grader 0/30: fix first: gradient_reference" in outputs
    body = (tmp_path / "bad" / "release-body.md").read_text()
    assert body.startswith("### bptt-grader: 0/30") and "W^T da_{t+1} is missing" in body
    assert "HELD  train" in body
    assert not [line for line in bad.stdout.splitlines() if line.startswith("::")]  # no workflow command


@pytest.mark.slow
def test_a_checkout_cannot_redirect_what_the_autograder_writes(bundle: Path, tmp_path: Path) -> None:
    repo = checkout_of(tmp_path, "sly", "correct_bce.py")
    target = tmp_path / "elsewhere.json"
    target.write_text("untouched")
    (repo / "result.json").symlink_to(target)  # committed as a link to a file of the runner's
    done, _ = run(bundle, repo)
    assert done.returncode == 0, done.stderr
    assert target.read_text() == "untouched"
    assert not (repo / "result.json").is_symlink() and json.loads((repo / "result.json").read_text())["score"] > 0


def test_a_grader_that_cannot_run_exits_non_zero_and_writes_nothing(bundle: Path, tmp_path: Path) -> None:
    repo = checkout_of(tmp_path, "any", "correct_bce.py")
    done, outputs = run(bundle, repo, python=str(tmp_path / "no-python"))
    assert done.returncode != 0 and "could not run" in done.stderr
    assert not (repo / "result.json").exists() and outputs == ""


def test_the_summary_is_one_line_whatever_the_messages_hold() -> None:
    result = GradeResult(grader_version="t", settings_hash="t", status="graded", score=0, max_score=30,
                         checks=[CheckResult(name="api", status="failed", message="no\nclass\r\n::error::x")],
                         submission=SubmissionInfo(source="rnn.py"))
    line = summary(result)
    assert "\n" not in line and "\r" not in line and line.startswith("bptt-grader 0/30: fix first: api:")


def test_a_kit_graded_checkout_passes_without_the_checks_it_leaves_to_the_grader() -> None:
    checks = [CheckResult(name=n, status="passed") for n in CHECK_NAMES if n not in ("integrity", "generalize")]
    checks += [CheckResult(name=n, status="skipped", details={"self_check": True}) for n in ("integrity", "generalize")]
    result = GradeResult(grader_version="t+kit", settings_hash="t", status="graded", score=30, max_score=30,
                         checks=checks, submission=SubmissionInfo(source="rnn.py"), self_check=True)
    assert status_of(result) == "success"
    tests = result_json(result, RUNNER)["tests"]
    assert [t["test-name"] for t in tests] == [n for n in CHECK_NAMES if n not in ("integrity", "generalize")]
    failing = result.model_copy(update={"checks": [*checks[:-1], CheckResult(name="generalize", status="skipped")]})
    assert status_of(failing) == "failure"  # skipped for want of a check, not left to the grader
