"""Exact gradients without BPTT pass the gradient checks (an honest limit) but are flagged;
BPTT is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks.pipeline import grade
from grader.checks.suspicions import complex_arithmetic, slow_backward
from grader.settings import Settings

HERE = Path(__file__).parents[1]  # tests/, with the corpora
TINY = Settings().with_overrides(runs=1, iterations=40, accuracy_window=20, audits_per_run=20)


@pytest.mark.slow
@pytest.mark.parametrize("name, sign", [("finite_differences.py", "finite differences"),
                                        ("complex_step.py", "complex arithmetic")])
def test_gradients_by_differences_pass_the_checks_and_are_flagged(name, sign):
    result = grade(HERE / "suspicious" / name, TINY)
    assert result.check("gradient_numeric").status == "passed"
    assert result.check("gradient_reference").status == "passed"  # exact: the limit
    assert "numeric_gradients" in result.flags
    assert any(sign in s for s in result.suspicions), result.suspicions


def test_bptt_is_not_suspected():
    result = grade(HERE / "submissions" / "correct_bce.py", TINY)
    assert result.check("gradient_reference").status == "passed"
    assert result.suspicions == [] and "numeric_gradients" not in result.flags


def test_the_signs_themselves():
    assert complex_arithmetic({"a.py": "x = 1j\ny = z.imag\nw = np.complex128(3)\n"}) == ["a.py:1", "a.py:2", "a.py:3"]
    assert complex_arithmetic({"a.py": "import numpy as np\nx = np.tanh(2.0)\n"}) == []
    assert slow_backward([0.001, 0.0005], [0.002]) is None  # a few forwards: BPTT
    assert "finite differences" in slow_backward([0.0002], [0.04])
    assert slow_backward([0.00001], [0.001]) is None  # too fast to tell
