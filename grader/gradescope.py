"""The Gradescope autograder: the zip an instructor uploads to a programming assignment,
and what it runs for each submission.

`setup.sh` installs the grader from the wheel inside the zip (its dependencies from the
package index); `run_autograder` grades `/autograder/submission/` with the settings in
the zip and writes `/autograder/results/results.json` (outputs/gradescope_results.py).
The root is settable (`--root`, or BPTT_GRADESCOPE_ROOT) so it runs anywhere for tests.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from grader.hosted import grade_submitted, write_results
from grader.outputs.gradescope_results import refused_json, results_json
from grader.settings import Settings
from grader.wheel import WheelError, grader_wheel

ROOT_ENV = "BPTT_GRADESCOPE_ROOT"
SETUP = """#!/usr/bin/env bash
# Run once by Gradescope when it builds the autograder's image (the root: /autograder).
set -euo pipefail
root="${{BPTT_GRADESCOPE_ROOT:-/autograder}}"
missing=()
for package in python3 python3-venv python3-pip bubblewrap fonts-wqy-microhei; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${{#missing[@]}}" -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${{missing[@]}}"
fi
python3 -m venv "$root/venv"
"$root/venv/bin/pip" install --quiet "$root/source/{wheel}"
"""
RUN = """#!/usr/bin/env bash
# Run by Gradescope for every submission: grade $root/submission, write $root/results/results.json.
set -euo pipefail
root="${BPTT_GRADESCOPE_ROOT:-/autograder}"
exec "$root/venv/bin/bptt-grader" gradescope-run --root "$root" --settings "$root/source/settings.toml" "$@"
"""


class AutograderError(RuntimeError):
    """The autograder zip cannot be built here; one line saying why."""


def _add(z: zipfile.ZipFile, name: str, data: bytes | str, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data)


def build(output: Path, settings: Settings, allow_weak: bool = False, leaderboard: bool = False) -> Path:
    """Write the autograder zip: setup.sh, run_autograder, settings.toml and the grader's wheel
    (`allow_weak`: run_autograder grades where the container cannot isolate submissions;
    `leaderboard`: results.json carries the audited accuracy and speed for Gradescope's)."""
    with tempfile.TemporaryDirectory(prefix="bptt-wheel-") as tmp:
        try:
            wheel = grader_wheel(Path(tmp))
        except WheelError as exc:
            raise AutograderError(str(exc)) from None
        with zipfile.ZipFile(output, "w") as z:
            _add(z, "setup.sh", SETUP.format(wheel=wheel.name), 0o755)
            chosen = (("--allow-weak-sandbox", allow_weak), ("--leaderboard", leaderboard))
            flags = " ".join(flag for flag, on in chosen if on)
            _add(z, "run_autograder", RUN.replace('"$@"', f'{flags} "$@"') if flags else RUN, 0o755)
            _add(z, "settings.toml", settings.to_toml())
            _add(z, wheel.name, wheel.read_bytes())
    return output


def run(root: Path, settings: Settings, allow_weak: bool = False, leaderboard: bool = False) -> dict[str, object]:
    """Grade `root/submission` and write `root/results/results.json`; returns what it wrote.
    Where the container cannot isolate a submission (no namespaces, no bubblewrap), nothing
    is graded unless `allow_weak`: a process the submission left could rewrite results.json."""
    graded = grade_submitted(root / "submission", settings, allow_weak, "build the autograder with "
                             "--allow-weak-sandbox, which lets a submission reach results.json")
    results = (refused_json(graded, settings.lang) if isinstance(graded, str)
               else results_json(graded, leaderboard, settings.lang))
    write_results(root, results)
    return results
