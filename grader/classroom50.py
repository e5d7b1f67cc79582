"""Classroom 50 (GitHub Classroom's successor): the autograder a classroom repository holds
at `autograders/<assignment>/`, and what it runs for each submission.

`bptt-grader classroom50 -o DIR` writes DIR/autograder.py, the student kit's wheel
(grader/kit.py: the checks without the reference solution, since the runner works in a
repository the student controls and could print anything installed there) and the
settings. The runner executes autograder.py in the student's checkout with CLASSROOM,
ASSIGNMENT, SUBMISSION_TAG, COMMIT_URL, RELEASE_URL (...) set; it installs the grader from
the wheel beside it (the file itself: no package-index name someone else could register)
and runs `classroom50-run`, which grades the checkout and writes `result.json`
(classroom50/result/v1: a test per check), `release-body.md` (the student's feedback) and
`status=`/`summary=` to $GITHUB_OUTPUT. Any grading outcome exits 0; only a grader that
could not be installed or run exits otherwise.

It runs in the student's own repository, so it is a check the student sees at once, not a
grade they cannot influence: for that, grade the submissions with `batch`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from grader.checks.pipeline import grade
from grader.checks.run_pool import run_workers
from grader.outputs.markdown import md_fence, md_text
from grader.messages import Lang
from grader.outputs.terminal import headline, terminal
from grader.results import GradeResult, ResultStatus
from grader.safe_text import one_line
from grader.safe_files import write_atomic
from grader.settings import Settings
from grader.kit import kit_wheel

SCHEMA = "classroom50/result/v1"
GRADER_FAULTS: tuple[ResultStatus, ...] = ("grader_error", "worker_lost", "version_mismatch")
PYTHON_ENV = "BPTT_GRADER_PYTHON"  # an interpreter that already has this grader (a self-hosted runner's)

AUTOGRADER = '''#!/usr/bin/env python3
"""The BPTT lab's Classroom 50 autograder, written by `bptt-grader classroom50`.

It installs bptt-grader's student kit (the checks without the reference solution) from
{wheel} beside it (set {python_env} to an
interpreter that already has this grader to skip the install), then grades the student's
checkout (the working directory): result.json, release-body.md, $GITHUB_OUTPUT. It exits 0
for any grade, non-zero only when the grader cannot be installed or run.
"""
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

BUNDLE = Path(__file__).resolve().parent


def python() -> str:
    given = os.environ.get("{python_env}")
    if given:
        if not os.access(given, os.X_OK):
            print("::error::bptt-grader could not run: {python_env} is not an interpreter", file=sys.stderr)
            sys.exit(2)
        return given
    home = Path(os.environ.get("RUNNER_TEMP") or tempfile.gettempdir()) / "bptt-grader-venv"
    if not (home / "bin" / "python").exists():
        venv.create(home, with_pip=True)
    install = [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", str(BUNDLE / "{wheel}")]
    if subprocess.run(install).returncode != 0:
        print("::error::bptt-grader could not be installed from {wheel}", file=sys.stderr)
        sys.exit(2)
    return str(home / "bin" / "python")


sys.exit(subprocess.run([python(), "-m", "grader", "classroom50-run", "--checkout", os.getcwd(),
                         "--settings", str(BUNDLE / "settings.toml")]).returncode)
'''


def build(out: Path, settings: Settings) -> list[Path]:
    """Write autograder.py, the student kit's wheel and settings.toml into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("bptt_grader-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="bptt-wheel-") as tmp:
        built = kit_wheel(Path(tmp), settings)
        wheel = out / built.name
        wheel.write_bytes(built.read_bytes())
    script = out / "autograder.py"
    write_atomic(script, AUTOGRADER.format(wheel=wheel.name, python_env=PYTHON_ENV), 0o755)
    write_atomic(out / "settings.toml", settings.to_toml(), 0o644)
    return [script, wheel, out / "settings.toml"]


def _points(value: float) -> int | float:
    value = round(value, 2)
    return int(value) if value == int(value) else value


def status_of(result: GradeResult) -> str:
    """success: every check passed (but those the student kit leaves to the grader); error: the
    grader failed; failure: anything else."""
    if result.status in GRADER_FAULTS:
        return "error"
    if result.status == "graded" and all(c.status == "passed" and not c.withheld
                                         for c in result.checks if not c.grader_only):
        return "success"
    return "failure"


def result_json(result: GradeResult, env: Mapping[str, str]) -> dict[str, object]:
    """The classroom50/result/v1 record: who and what (from the runner's environment), the
    score, and a test per check (points where the check is worth some)."""
    commit = env.get("COMMIT_URL", "")
    return {
        "schema": SCHEMA,
        "classroom": env.get("CLASSROOM", ""),
        "assignment": env.get("ASSIGNMENT", ""),
        "assignment_type": env.get("ASSIGNMENT_TYPE", "") or "individual",
        "owner": env.get("OWNER", "") or env.get("USERNAME", ""),
        "submission": env.get("SUBMISSION_TAG", ""),
        "commit": commit,
        "release": env.get("RELEASE_URL", ""),
        "review": env.get("REVIEW_URL", "") or commit,
        "datetime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "score": _points(result.score),
        "max-score": _points(result.max_score),
        "tests": [{"test-name": c.name, "passed": c.status == "passed" and not c.withheld,
                   "score": _points(c.points), "max-score": _points(c.max_points)}
                  for c in result.checks if not c.grader_only],  # the kit's: the grader runs those
    }


def release_body(result: GradeResult, lang: Lang = "en") -> str:
    """The Release's Markdown: the score and what to fix first, then the whole report as
    text (every student-controlled string inert)."""
    lines = [f"### bptt-grader: {result.score:g}/{result.max_score:g}", ""]
    lines += [md_text(line.strip()) for line in headline(result, lang=lang)[1:]]
    return "\n".join(lines) + "\n\n" + md_fence(terminal(result, width=100, lang=lang)) + "\n"


def summary(result: GradeResult, lang: Lang = "en") -> str:
    """One line for $GITHUB_OUTPUT: the score and the first thing to do."""
    rest = headline(result, width=1 << 20, lang=lang)[1:]  # one line each
    return one_line(f"bptt-grader {result.score:g}/{result.max_score:g}" + (f": {rest[-1].strip()}" if rest else ""),
                    300).replace("\n", " ").replace("\r", " ")


def run(checkout: Path, settings: Settings, env: Mapping[str, str] = os.environ) -> GradeResult:
    """Grade the checkout (its rnn.py, else the folder) and write what the runner reads."""
    module = checkout / "rnn.py"
    result = grade(module if module.is_file() and not module.is_symlink() else checkout, settings,
                   run_workers=run_workers(settings))  # the runner grades this one checkout
    write_atomic(checkout / "result.json", json.dumps(result_json(result, env), indent=2, ensure_ascii=False) + "\n",
                 0o644)
    write_atomic(checkout / "release-body.md", release_body(result, settings.lang), 0o644)
    if output := env.get("GITHUB_OUTPUT"):
        with open(output, "a", encoding="utf-8") as f:
            f.write(f"status={status_of(result)}\nsummary={summary(result, settings.lang)}\n")
    return result
