"""Points and gates, without a sandbox: the rubric on hand-made check results."""

from __future__ import annotations

import pytest

from grader.checks.rubric import award, total
from grader.results import CHECK_NAMES, CheckResult
from grader.settings import Settings


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


def test_gates_are_settings_and_a_wrong_bptt_earns_nothing_by_default():
    results = checks({"gradient_reference"})
    award(results, Settings(), 1.0)  # a gate by default: no partial credit for a wrong BPTT
    assert results["train"].points == 0 and "gradient_reference" in results["train"].message
    relaxed = Settings().model_copy(update={"gates": ("forward_values", "integrity")})
    results = checks({"gradient_reference"})
    award(results, relaxed, 1.0)  # an instructor who relaxes it gives accuracy its points
    assert results["train"].points == 30


def test_every_check_can_carry_points():
    points = Settings().points.model_copy(update={"integrity": 2.0, "generalize": 1.0, "policy": 1.0})
    results = checks({"generalize"})
    award(results, Settings().model_copy(update={"points": points}), 1.0)
    assert (results["integrity"].points, results["policy"].points, results["generalize"].points) == (2.0, 1.0, 0.0)
    assert total(results) == (33.0, 34.0)


def test_the_registry_refuses_a_misspelt_or_later_prerequisite():
    from grader.checks.registry import CheckSpec, _validated

    with pytest.raises(ValueError, match="gradient_referense"):
        _validated((CheckSpec("train"), CheckSpec("generalize", ("gradient_referense",))))
    with pytest.raises(ValueError, match="needs generalize, which is not an earlier check"):
        _validated((CheckSpec("train", ("generalize",)), CheckSpec("generalize")))


def test_every_contract_check_of_the_registry_has_one_function():
    from grader.checks.contract import check, contract_checks
    from grader.checks.registry import CHECKS

    assert [spec.name for spec, _ in contract_checks()] == [s.name for s in CHECKS if not s.pipeline]
    with pytest.raises(ValueError, match="not in the registry"):
        check("generalise")(lambda s: "never")
    with pytest.raises(ValueError, match="registered twice"):
        check("generalize")(lambda s: "never")
    with pytest.raises(ValueError, match="run by the pipeline"):
        check("import")(lambda s: "never")


def test_points_gates_and_flags_derive_from_the_registry():
    import typing

    from grader.checks.registry import CHECKS
    from grader.settings import Gate, Points

    assert list(Points.model_fields) == [s.points for s in CHECKS if s.points]
    assert Points().performance == 30 and not any(v for k, v in Points().model_dump().items() if k != "performance")
    assert set(typing.get_args(Gate)) == {s.name for s in CHECKS} - {"discover", "import", "train"}
    results = checks({"integrity", "policy", "generalize"})
    from grader.results import GradeResult, SubmissionInfo
    flagged = GradeResult(grader_version="t", settings_hash="t", submission=SubmissionInfo(source="x"),
                          status="graded", checks=list(results.values())).flags
    assert {"integrity", "policy"} <= set(flagged) and "generalize" not in flagged
