"""PrairieLearn's external grader: /grade/student in, /grade/results/results.json out, in a
temporary root."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from grader.results import CHECK_NAMES

CORPUS = Path(__file__).parent / "submissions"
QUICK = ["--runs", "1", "--iterations", "600"]
SCHEMA = {  # the fields of PrairieLearn's "Grading results" this grader writes
    "type": "object",
    "required": ["gradable"],
    "properties": {
        "gradable": {"type": "boolean"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "format_errors": {"type": "array", "items": {"type": "string"}},
        "message": {"type": "string"}, "output": {"type": "string"},
        "images": {"type": "array", "items": {"type": "object", "required": ["url"],
                                               "properties": {"label": {"type": "string"}, "url": {"type": "string"}}}},
        "tests": {"type": "array", "items": {"type": "object", "required": ["name", "points", "max_points"],
                                              "properties": {"name": {"type": "string"}, "points": {"type": "number"},
                                                             "max_points": {"type": "number"},
                                                             "message": {"type": "string"},
                                                             "output": {"type": "string"}}}},
    },
    "if": {"properties": {"gradable": {"const": True}}}, "then": {"required": ["score"]},
    "else": {"required": ["format_errors"]},
}


def grade(root: Path, files: dict[str, Path | str]) -> dict:
    (root / "student").mkdir(parents=True)
    for name, content in files.items():
        if isinstance(content, Path):
            shutil.copy(content, root / "student" / name)
        else:
            (root / "student" / name).write_text(content)
    done = subprocess.run([sys.executable, "-m", "grader", "prairielearn-run", "--root", str(root), *QUICK],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    jsonschema.validate(results, SCHEMA)
    assert len(json.dumps(results)) < 1 << 20
    return results


@pytest.mark.slow
def test_a_graded_submission_has_a_score_tests_and_its_learning_curves(tmp_path: Path) -> None:
    good = grade(tmp_path / "good", {"rnn.py": CORPUS / "correct_bce.py"})
    assert good["gradable"] and 0 < good["score"] <= 1 and [t["name"] for t in good["tests"]] == list(CHECK_NAMES)
    (image,) = good["images"]
    assert base64.b64decode(image["url"].removeprefix("data:image/png;base64,"))[:8] == b"\x89PNG\r\n\x1a\n"
    bad = grade(tmp_path / "bad", {"rnn.py": CORPUS / "bptt_no_recurrent.py"})
    assert bad["gradable"] and bad["score"] == 0 and "fix first: gradient_reference" in bad["message"]
    assert {t["name"]: t["output"] for t in bad["tests"]}["train"] == "HELD"


def test_a_submission_the_grader_cannot_reach_costs_no_attempt(tmp_path: Path) -> None:
    for name, files in (("none", {"notes.txt": "my code is in my head"}),
                        ("broken", {"rnn.py": "def forward(:\n"})):
        results = grade(tmp_path / name, files)
        assert results["gradable"] is False and results["format_errors"] and "score" not in results
