"""Runs the escape probes (tests/hostile/escape/) in sandboxes and prints what happened.

Started by tests/sandbox/test_isolation.py as a separate process, so that it can run under
another user and in a chosen isolation mode (BPTT_GRADER_ISOLATION):

    python tests/sandbox/isolation_runner.py < job.json > outcome.json

job: {"probes": [paths], "targets": {...}, "mark": str, "token": str, "limits": {...}}.
outcome: {"isolation": describe(), "guarantees": [...], "probes": [{"probe", "stage",
"error", "output"}]}; stage is where the probe stopped ("done" when the model worked).
"""

import json
import sys
from pathlib import Path

import numpy as np

from grader.sandbox import Sandbox, isolation
from grader.settings import Limits

DIMS = {"input_dim": 2, "hidden_dim": 16, "output_dim": 1}


def run_probe(path: Path, job: dict) -> dict:
    env = {"HOSTILE_TARGETS": json.dumps(job["targets"]), "HOSTILE_MARK": job["mark"],
           "HOSTILE_TOKEN": job["token"]}
    box = Sandbox(path, Limits(**job["limits"]), extra_env=env)
    stage, error = "import", ""
    try:
        box.start()
        stage = "construct"
        box.call("construct", seed=0, **DIMS)
        stage = "forward"
        yhat = box.call("forward", arrays={"x": np.zeros((8, 2))}).arrays["yhat"]
        stage = "done" if yhat.shape == (8, 1) else "forward"
    except Exception as exc:  # noqa: BLE001 - every way it ends is data for the test
        error = f"{type(exc).__name__}: {exc}"
    finally:
        box.close()
    return {"probe": path.stem, "stage": stage, "error": error, "output": box.output()[-3000:]}


def main() -> None:
    job = json.load(sys.stdin)
    found = isolation()
    outcome = {"isolation": found.describe(), "guarantees": list(found.guarantees), "note": found.note,
               "probes": [run_probe(Path(p), job) for p in job["probes"]]}
    json.dump(outcome, sys.stdout)


if __name__ == "__main__":
    main()
