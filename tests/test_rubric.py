"""Points and gates, without a sandbox: the rubric on hand-made check results."""

from __future__ import annotations

import pytest

from grader.checks.rubric import award, total
from grader.results import CHECK_NAMES, CheckResult
from reference.spec import Settings


def checks(failed: set[str] = frozenset()) -> dict[str, CheckResult]:
    return {n: CheckResult(name=n, status="failed" if n in failed else "passed", message=n) for n in CHECK_NAMES}


def test_accuracy_earns_the_performance_points_when_the_gates_pass():
    results = checks()
    award(results, Settings(), 0.9)
    assert results["train"].points == pytest.approx(27.0)
    assert total(results) == (pytest.approx(27.0), 30.0)


@pytest.mark.parametrize("gate", ["forward_values", "integrity"])
def test_a_failed_default_gate_blocks_the_performance_points(gate):
    results = checks({gate})
    award(results, Settings(), 1.0)
    assert results["train"].points == 0 and gate in results["train"].message


def test_gates_are_settings():
    strict = Settings().model_copy(update={"gates": ("forward_values", "integrity", "gradient_reference")})
    results = checks({"gradient_reference"})
    award(results, strict, 1.0)
    assert results["train"].points == 0 and "gradient_reference" in results["train"].message
    results = checks({"gradient_reference"})
    award(results, Settings(), 1.0)  # not a gate by default
    assert results["train"].points == 30


def test_every_check_can_carry_points():
    points = Settings().points.model_copy(update={"integrity": 2.0, "generalize": 1.0, "policy": 1.0})
    results = checks({"generalize"})
    award(results, Settings().model_copy(update={"points": points}), 1.0)
    assert (results["integrity"].points, results["policy"].points, results["generalize"].points) == (2.0, 1.0, 0.0)
    assert total(results) == (33.0, 34.0)


def test_a_misspelt_prerequisite_is_refused_when_the_check_is_registered():
    from grader.checks.contract import check

    with pytest.raises(ValueError, match="gradient_referense"):
        check("generalize", "gradient_referense")(lambda s: "never")
    with pytest.raises(ValueError, match="unknown name"):
        check("generalise", "train")(lambda s: "never")
