"""The student kit: the same verdicts as the grader from shipped numbers, and no solution in it.

The kit answers the checks from numbers computed at build time at public probes
(grader/checks/oracle.py: KitOracle); the grader draws secret probes and computes. On every
corpus submission the checks the kit runs must pass or fail alike and name the same bug.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest

from corpus import CORPUS, SHORT, grade_corpus
from grader.checks.contract import probe_requests
from grader.checks.oracle import KitError, KitOracle, ProbeRequest
from grader.checks.reference_oracle import kit_probes
from grader.checks.registry import CHECKS
from grader.kit import LEFT_OUT, kit_wheel, left_out
from grader.results import GradeResult
from grader.settings import Settings

KIT_RUNS = [spec.name for spec in CHECKS if not spec.reference_only]


@pytest.fixture(scope="module")
def kit_graded() -> dict[str, GradeResult]:
    return grade_corpus(KitOracle.load(kit_probes(SHORT, probe_requests(SHORT))))


def _verdicts(result: GradeResult) -> dict[str, str]:
    return {c.name: c.status for c in result.checks if c.name in KIT_RUNS}


def test_kit_and_grader_pass_and_fail_the_same_checks_and_name_the_same_bugs(graded, kit_graded):
    assert graded.keys() == kit_graded.keys()
    differ = {}
    for name, full in graded.items():
        kit = kit_graded[name]
        mine, theirs = _verdicts(kit), _verdicts(full)
        if mine != theirs:
            differ[name] = {k: (theirs[k], mine[k]) for k in theirs if theirs[k] != mine[k]}
        bug = (full.check("gradient_reference").details.get("bug_name"),
               kit.check("gradient_reference").details.get("bug_name"))
        if bug[0] != bug[1]:
            differ.setdefault(name, {})["bug"] = bug
    assert not differ, differ  # {submission: {check: (grader's, kit's)}}
    named = {full.check("gradient_reference").details.get("bug_name") for full in graded.values()}
    assert {"no_recurrent", "w_not_transposed", "dw_from_h_t", "tanh_on_preactivation"} <= named


def test_the_kit_marks_itself_and_leaves_the_audited_checks_to_the_grader(kit_graded):
    result = kit_graded["correct_bce.py"]
    assert result.self_check and result.score > 0 and result.check("train").status == "passed"
    for name in ("integrity", "generalize"):
        check = result.check(name)
        assert check.status == "skipped" and check.details == {"self_check": True}, check
    assert result.runs[0].accuracy > 0  # trained on the grader's data, curves as the grader's
    assert result.runs[0].accuracy_curve


def test_the_kit_probes_are_public_numbers_the_grading_never_uses():
    kit = KitOracle.load(kit_probes(SHORT, probe_requests(SHORT)))
    request = probe_requests(SHORT)[0]
    shipped = kit.probe(SHORT, np.random.default_rng(0), request)
    from grader.checks.reference_oracle import ReferenceOracle

    secret = ReferenceOracle().probe(SHORT, np.random.default_rng([SHORT.seed, 7]), request)
    assert not np.allclose(shipped.params["W"], secret.params["W"])
    np.testing.assert_allclose(shipped.yhat()[0], ReferenceOracle().probe(SHORT, np.random.default_rng(
        [SHORT.seed, 22]), request).yhat()[0])  # the reference's own answer, stored


def test_a_kit_built_for_other_shapes_says_so():
    kit = KitOracle.load(kit_probes(SHORT, probe_requests(SHORT)))
    other = Settings().with_overrides(hidden_dim=8)
    with pytest.raises(KitError, match="build the kit with the assignment's settings"):
        kit.probe(other, np.random.default_rng(0), probe_requests(other)[0])
    with pytest.raises(KitError, match="no probe of 2 sequence"):
        kit.probe(SHORT, np.random.default_rng(0), ProbeRequest(8, 2, 0.5))


@pytest.fixture(scope="module")
def unpacked_kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    into = tmp_path_factory.mktemp("kit")
    wheel = kit_wheel(into, Settings().with_overrides(runs=1, iterations=300, accuracy_window=100))
    site = into / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    return site


def test_the_built_kit_holds_no_forward_and_no_bptt(unpacked_kit: Path):
    modules = sorted(unpacked_kit.rglob("*.py"))
    names = {p.relative_to(unpacked_kit).as_posix() for p in modules}
    assert "grader/checks/contract.py" in names and "reference/data.py" in names
    assert not [n for n in names if left_out(n)], LEFT_OUT
    for path in modules:  # every forward of this RNN applies tanh; nothing else in the kit does
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [node for node in ast.walk(tree) if isinstance(node, (ast.Attribute, ast.Name))
                 and "tanh" in (node.attr if isinstance(node, ast.Attribute) else node.id)]
        assert not calls, f"{path.relative_to(unpacked_kit)} line {calls[0].lineno} uses tanh"
    assert (unpacked_kit / "grader" / "checks" / "kit_probes.npz").is_file()


def _kit_cli(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The kit's command line in a Python that has its requirements but not this clone:
    `-S` keeps the editable install (and with it `reference.rnn`) out."""
    packages = sysconfig.get_paths()["purelib"]
    code = (f"import sys; sys.path[:0] = [{str(site)!r}, {packages!r}]; import importlib.util; "
            "assert importlib.util.find_spec('reference.rnn') is None, 'the solution is importable'; "
            "from grader.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-S", "-c", code, *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_the_kit_checks_a_submission_without_the_reference_and_refuses_instructor_commands(unpacked_kit: Path):
    done = _kit_cli(unpacked_kit, "check", str(CORPUS / "dw_from_h_t.py"))  # by the settings built in
    assert done.returncode == 1, done.stderr
    assert "FAIL  gradient_reference" in done.stdout and "dW is summed from da_t h_t^T" in done.stdout
    assert "PASS  forward_values" in done.stdout and "self-check (student kit)" in done.stdout
    assert "integrity, generalize: the grader's only" in done.stdout
    assert "300 iterations in" in done.stdout and "run 2" not in done.stdout
    chinese = _kit_cli(unpacked_kit, "check", str(CORPUS / "dw_from_h_t.py"), "--lang", "zh-TW")  # its catalogue
    assert chinese.returncode == 1 and "dW 是由 da_t h_t^T 加總而來" in chinese.stdout, chinese.stderr
    assert "自我檢查（學生套件）" in chinese.stdout and "FAIL" not in chinese.stdout
    refused = _kit_cli(unpacked_kit, "batch", str(CORPUS), "-o", str(unpacked_kit / "out"))
    assert refused.returncode == 2 and "this is the student kit" in refused.stderr
    assert not (unpacked_kit / "out").exists()
