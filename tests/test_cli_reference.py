"""`bptt-grader reference` and `bptt-grader template`, and the template itself."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "student_template"

# What the template may import: NumPy and the standard library.
ALLOWED_IMPORTS = {"numpy", "__future__", "math", "random", "typing", "dataclasses"}


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


def test_reference_prints_an_accuracy() -> None:
    done = run_cli("reference", "--iterations", "2000")
    assert done.returncode == 0, done.stderr
    match = re.search(r"accuracy[^:]*:\s*([0-9.]+)", done.stdout)
    assert match, done.stdout
    assert 0.0 <= float(match.group(1)) <= 1.0
    assert "iterations=2000" in done.stdout


def test_reference_takes_seed_and_loss() -> None:
    done = run_cli("reference", "--iterations", "1000", "--seed", "3", "--loss", "mse")
    assert done.returncode == 0, done.stderr
    assert "loss=mse" in done.stdout and "seed=3" in done.stdout


def test_template_copies_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "lab4"
    done = run_cli("template", str(target))
    assert done.returncode == 0, done.stderr
    for name in ("rnn.py", "README.md"):
        assert (target / name).read_bytes() == (TEMPLATE / name).read_bytes()
    assert (target / "STUDENT_API.md").read_bytes() == (ROOT / "docs" / "STUDENT_API.md").read_bytes()
    assert (target / ".github" / "workflows" / "check.yml").is_file()

    (target / "rnn.py").write_text("# my work\n", encoding="utf-8")
    done = run_cli("template", str(target))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "--force" in done.stderr
    assert (target / "rnn.py").read_text(encoding="utf-8") == "# my work\n"

    done = run_cli("template", str(target), "--force")
    assert done.returncode == 0, done.stderr
    assert (target / "rnn.py").read_bytes() == (TEMPLATE / "rnn.py").read_bytes()


# ----------------------------------------------------------------------------- the template


def test_template_imports_only_numpy_and_the_standard_library() -> None:
    tree = ast.parse((TEMPLATE / "rnn.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= ALLOWED_IMPORTS, imported


def test_template_is_the_contract_and_solves_nothing(tmp_path: Path) -> None:
    """Importing trains nothing; every function raises NotImplementedError with a hint."""
    code = """
import inspect, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import rnn
sig = inspect.signature(rnn.RNN.__init__)
print("init", list(sig.parameters), [p.default for p in sig.parameters.values()][1:])
for name in ("forward", "backward", "update"):
    print(name, list(inspect.signature(getattr(rnn.RNN, name)).parameters))
calls = {
    "__init__": lambda: rnn.RNN(seed=0),
    "forward": lambda: rnn.RNN.forward(object.__new__(rnn.RNN), np.zeros((8, 2))),
    "backward": lambda: rnn.RNN.backward(object.__new__(rnn.RNN), np.zeros((8, 1))),
    "update": lambda: rnn.RNN.update(object.__new__(rnn.RNN), {}, 0.1),
    "int_to_bits": lambda: rnn.int_to_bits(5),
    "bits_to_int": lambda: rnn.bits_to_int(np.zeros(8)),
    "make_sample": lambda: rnn.make_sample(np.random.default_rng(0)),
}
for name, call in calls.items():
    try:
        call()
        print(name, "RETURNED")
    except NotImplementedError as exc:
        print(name, "todo", len(str(exc)) > 20)
"""
    done = subprocess.run(
        [sys.executable, "-c", code, str(TEMPLATE)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "init ['self', 'input_dim', 'hidden_dim', 'output_dim', 'seed'] [2, 16, 1, None]"
    assert lines[1:4] == ["forward ['self', 'x']", "backward ['self', 'y']", "update ['self', 'grads', 'alpha']"]
    assert lines[4:] == [f"{name} todo True" for name in (
        "__init__", "forward", "backward", "update", "int_to_bits", "bits_to_int", "make_sample"
    )]


def test_template_main_block_uses_only_the_stubs() -> None:
    """`python rnn.py` stops at the first unimplemented stub, not at a NameError."""
    done = subprocess.run(
        [sys.executable, str(TEMPLATE / "rnn.py")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "NotImplementedError" in done.stderr and "NameError" not in done.stderr


@pytest.mark.parametrize("name", ["rnn.py", "README.md"])
def test_template_has_no_machine_paths(name: str) -> None:
    text = (TEMPLATE / name).read_text(encoding="utf-8")
    assert "/work/" not in text and "/home/" not in text and "/tmp/" not in text


def test_the_github_workflow_is_valid_and_its_check_fails_the_unfilled_template(tmp_path: Path) -> None:
    """The workflow has what GitHub Actions requires; its check step, run as the workflow
    runs it, fails the unfilled template with the not-implemented message."""
    import yaml

    target = tmp_path / "repo"
    assert run_cli("template", str(target)).returncode == 0
    workflow = yaml.safe_load((target / ".github" / "workflows" / "check.yml").read_text(encoding="utf-8"))
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert on and workflow["jobs"]
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] and all("uses" in step or "run" in step for step in job["steps"])
    (command,) = [s["run"] for s in job["steps"] if "bptt-grader check" in s.get("run", "")]
    venv_bin = str(Path(sys.executable).parent)
    done = subprocess.run(command, shell=True, cwd=target, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATH": venv_bin + os.pathsep + os.environ.get("PATH", "")})
    assert done.returncode == 1, done.stderr
    assert "not implemented" in (target / "report.txt").read_text(encoding="utf-8")
    assert (target / "check.xml").read_text(encoding="utf-8").startswith("<?xml")
    assert not (target / ".github" / "classroom").exists()  # GitHub Classroom is gone: see `bptt-grader classroom50`
    (install,) = [s for s in job["steps"] if "pip install" in s.get("run", "")]
    assert install["env"] == {"SPEC": "${{ vars.BPTT_GRADER_SPEC }}"}  # the instructor's exact spec, no fallback
    assert "|| 'bptt-grader'" not in install["run"] and 'pip install "$SPEC"' in install["run"]
    unset = subprocess.run(["bash", "-c", install["run"]], env={**os.environ, "SPEC": ""}, capture_output=True,
                           text=True, timeout=30)
    assert unset.returncode == 1 and "BPTT_GRADER_SPEC is not set" in unset.stdout
