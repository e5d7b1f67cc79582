"""The bundled example class (examples/class/, what the Quickstart grades) shows what its
README promises: the outcome of each zip, and one copied pair flagged among independent work."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from batching import batch
from grader.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_example_class_grades_as_its_readme_says(tmp_path: Path) -> None:
    batch(ROOT / "examples" / "class", tmp_path / "out", Settings().with_overrides(runs=1, iterations=600,
                                                                                  accuracy_window=100))
    with (tmp_path / "out" / "grades.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert sorted(rows) == [f"31055100{i}" for i in range(1, 6)] and {r["status"] for r in rows.values()} == {"graded"}
    before_training = ("forward_values", "forward_stateless", "gradient_numeric", "gradient_reference", "update")
    for sid in ("310551001", "310551002", "310551004"):  # correct: bce, bce, mse
        assert all(rows[sid][f"{check}_status"] == "passed" for check in before_training), sid
    assert rows["310551004"]["loss_recognised"] == "mse"
    assert rows["310551003"]["gradient_reference_status"] == "failed" and "W^T da_{t+1} is missing" in \
        rows["310551003"]["message"]
    assert rows["310551005"]["forward_stateless_status"] == "failed" and "naming" in rows["310551005"]["flags"]
    similar = {sid: [f for f in r["flags"].split(";") if f.startswith("similar")] for sid, r in rows.items()}
    assert similar == {"310551001": ["similar:310551005"], "310551002": [], "310551003": [], "310551004": [],
                       "310551005": ["similar:310551001"]}, "independent solutions are not flagged; the copy is"
