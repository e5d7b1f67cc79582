"""Each buggy submission of the corpus is caught by the right check with a useful message.

Every file in tests/submissions/ starts with `EXPECT: <check>: <phrase>` (or `EXPECT: none`
for a submission that must pass every check). The corpus is graded once, two at a time,
with short training (the bugs show before training); the dishonest model, which turns
only after 15000 calls, is graded with full-length training in its own test.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from corpus import CASES, CORPUS, LONG, SHORT, also_allowed
from grader.checks.pipeline import grade
from grader.results import CHECK_NAMES
from grader.settings import Settings


@pytest.mark.parametrize("name,check,phrase", [c for c in CASES if c[0] not in LONG])
def test_corpus_submission_is_caught_by_the_right_check(graded, name, check, phrase):
    result = graded[name]
    statuses = {c.name: c.status for c in result.checks}
    assert list(statuses) == list(CHECK_NAMES), "every check is reported, in order"
    assert "error" not in statuses.values(), [c.message for c in result.checks if c.status == "error"]
    if check == "none":
        assert all(s == "passed" for s in statuses.values()), {
            c.name: c.message for c in result.checks if c.status != "passed"
        }
        return
    failed = result.check(check)
    assert failed is not None and failed.status == "failed", (check, statuses, failed, result.status, result.message)
    assert phrase.lower() in failed.message.lower(), failed.message
    unexpected = {c.name: c.message for c in result.checks
                  if c.status == "failed" and c.name != check and c.name not in also_allowed(name)}
    assert not unexpected, f"failed but not in the EXPECT or ALSO line: {unexpected}"
    for c in result.checks:  # a check is skipped only while what it waits for did not pass
        if c.status == "skipped" and result.status == "graded":
            assert c.waiting_for and all(statuses[w] != "passed" for w in c.waiting_for), (c.name, c.waiting_for)


def test_one_forged_gradient_step_earns_no_performance_points(graded):
    """The forgery ran (its marker is in the output), and its one step is caught: integrity
    names exactly that step and the accuracy earns nothing."""
    result = graded["forgery_one_fake_gradient.py"]
    assert "FORGED ONE STEP" in result.output
    integrity = result.check("integrity")
    assert integrity.status == "failed" and integrity.details["jumps"] == 1, integrity.message
    assert result.check("train").points == 0 and result.score == 0


def test_a_backward_that_is_not_bptt_earns_no_performance_points(graded):
    """The steering forgery works (its accuracy is perfect and every step is
    update(backward(y), alpha), so integrity passes) and earns nothing: gradient_reference
    gates the points. Likewise the lab's central bug, BPTT truncated to one step."""
    steering = graded["forgery_steering_backward.py"]
    assert steering.accuracy == 1.0 and steering.check("integrity").status == "passed"
    assert steering.check("train").points == 0 and "gradient_reference did not pass" in steering.check("train").message
    truncated = graded["bptt_no_recurrent.py"]
    assert truncated.check("gradient_reference").details.get("bug") and truncated.score == 0
    assert truncated.check("gradient_reference").details["closest_loss"] == "bce"  # what the class view reads


def test_points_a_gate_withheld_never_read_as_a_pass(graded):
    """A wrong BPTT trains, but gradient_reference keeps its points: every report says HELD
    (and JUnit fails the case), never PASS beside 0/30."""
    from grader.outputs.terminal import junit_xml, terminal

    truncated, correct = graded["bptt_no_recurrent.py"], graded["correct_bce.py"]
    assert truncated.check("train").withheld == ["gradient_reference"]
    assert re.search(r"HELD +train +0/30", terminal(truncated)) and "PASS  train" not in terminal(truncated)
    assert re.search(r"PASS +train +\d", terminal(correct))
    assert re.search(r'name="train"[^>]*>\s*<failure', junit_xml(truncated))


def test_correct_submission_scores_full_marks_and_recognises_its_loss(graded):
    bce, mse = graded["correct_bce.py"], graded["correct_mse.py"]
    assert bce.loss_recognised == "bce" and mse.loss_recognised == "mse"
    assert bce.accuracy is not None and bce.score == pytest.approx(30 * bce.accuracy)


def test_exact_adder_gets_no_performance_points(graded):
    result = graded["exact_adder.py"]
    train = result.check("train")
    assert result.accuracy == 1.0, "it does answer correctly"
    assert train.points == 0 and "forward_values" in train.message
    assert result.score == 0


def test_weights_trained_before_submission_are_flagged(graded):
    result = graded["pretrained.py"]
    assert "pretrained" in result.flags and "trained before submission" in result.check("train").message
    assert "pretrained" not in graded["correct_bce.py"].flags


def test_unfilled_template_reports_not_implemented_without_tracebacks():
    root = Path(__file__).resolve().parents[2]
    result = grade(root / "student_template" / "rnn.py", SHORT)
    api = result.check("api")
    assert api.status == "failed" and "not implemented" in api.message
    assert "Traceback" not in api.message
    assert all(c.status == "skipped" for c in result.checks if c.name in ("forward_values", "train"))


def test_dishonest_model_fails_integrity_and_loses_performance():
    settings = Settings().with_overrides(runs=1, audits_per_run=300)
    result = grade(CORPUS / "dishonest_mid_training.py", settings)
    assert result.check("forward_values").status == "passed"
    integrity = result.check("integrity")
    assert integrity.status == "failed", integrity.message
    assert result.check("train").points == 0 and result.score == 0


def test_training_at_import_hits_the_import_limit():
    result = grade(CORPUS / "trains_at_import.py", SHORT)
    assert result.check("import").status == "failed"
    assert result.status == "timeout" and "if __name__" in result.check("import").message


def test_each_run_has_its_own_time_limit(tmp_path):
    """A run that is slow (here: only the first run's model) stops at its own limit with the
    figures; the next run still gets its full limit and finishes."""
    source = (CORPUS / "slow_update.py").read_text(encoding="utf-8")
    source = source.replace("        time.sleep(0.02)\n",
                            "        if self.slow:\n            time.sleep(0.02)\n")
    source = source.replace("class RNN(_Correct):\n",
                            "class RNN(_Correct):\n    def __init__(self, *args, seed=None, **kw):\n"
                            "        super().__init__(*args, seed=seed, **kw)\n        self.slow = seed == 2026\n\n")
    path = tmp_path / "rnn.py"
    path.write_text(source, encoding="utf-8")
    result = grade(path, SHORT.with_overrides(runs=2, seeds=(2026, 2027)))
    slow, fast = result.runs
    assert slow.iterations_done < SHORT.iterations and "ms per iteration" in slow.error
    assert fast.iterations_done == SHORT.iterations and fast.error == ""
    train = result.check("train")
    assert train.status == "failed" and "1 of 2 runs did not finish: run 1" in train.message


def _wrong(message: str) -> set[str]:
    """The parameters a gradient check's message marks as wrong."""
    return set(re.findall(r"\b([UWVbc]) [0-9.e+-]+ \(wrong\)", message))


def test_both_gradient_checks_name_the_same_closest_loss_and_the_same_right_parameters(graded):
    """Truncated BPTT: V and c are exactly right under bce, so both checks say bce, and
    gradient_numeric no longer calls all five wrong under mse."""
    result = graded["bptt_no_recurrent.py"]
    numeric, reference = result.check("gradient_numeric"), result.check("gradient_reference")
    assert "(closest: bce)" in numeric.message and "closest loss: bce" in reference.message
    assert _wrong(numeric.message) == _wrong(reference.message) == {"U", "W", "b"}


def test_loss_is_recognised_from_finite_differences_when_forward_is_not_the_contracts(tmp_path):
    """forward is sigmoid(2 o), not the contract's, and backward its exact mse gradient:
    gradient_reference fails, yet the loss is known (mse) from gradient_numeric."""
    source = (CORPUS / "correct_mse.py").read_text(encoding="utf-8")
    source = source.replace("self.yhat[t] = sigmoid(o)", "self.yhat[t] = sigmoid(2.0 * o)")
    source = source.replace("return (self.yhat - y) * self.yhat * (1.0 - self.yhat)",
                            "return 2.0 * (self.yhat - y) * self.yhat * (1.0 - self.yhat)")
    path = tmp_path / "rnn.py"
    path.write_text(source, encoding="utf-8")
    result = grade(path, SHORT)
    assert result.check("forward_values").status == "failed"
    assert result.check("gradient_numeric").status == "passed", result.check("gradient_numeric").message
    assert result.check("gradient_reference").status == "failed"
    assert result.loss_recognised == "mse"


def test_what_to_fix_first_is_the_named_bug_in_feedback_csv_and_terminal(graded):
    """gradient_numeric fails first but vaguely; gradient_reference names the bug, so the
    feedback's "What to fix first", the CSV's message and the terminal point at it."""
    from batching import record, row_of
    from grader.outputs.feedback import student_markdown
    from grader.outputs.terminal import terminal

    result = graded["bptt_no_recurrent.py"]
    first = result.fix_first()
    assert first.name == "gradient_reference" and "Likely:" in first.message
    fix = student_markdown(row_of(result), None).split("## What to fix first")[1]
    assert fix.lstrip().startswith("**gradient_reference**")
    assert record(result, "x.py", "", SHORT, [])["message"].startswith("gradient_reference: gradients of U, W, b")
    assert "fix first: gradient_reference" in terminal(result)
    for name in ("nan_gradients.py", "forward_shape_flat.py"):  # no named bug: the earliest failure
        failed = [c for c in graded[name].checks if c.status == "failed"]
        assert graded[name].explanation == f"{failed[0].name}: {failed[0].message}"


def test_shape_problems_of_every_parameter_come_in_one_message(graded):
    backward = graded["backward_shapes_three.py"].check("backward_shape").message
    for part in ("U has shape (2, 16)", "V has shape (16,)", "b has shape (16, 1)"):
        assert part in backward, backward
    api = graded["row_vector_layout.py"].check("api").message
    for name in "UVbc":
        assert f"{name} has shape" in api, api


def test_a_slow_import_passes_and_names_the_line_to_move(graded):
    source = (CORPUS / "slow_import.py").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(source, 1) if text.startswith("while "))
    message = graded["slow_import.py"].check("import").message
    assert "slowly" in message and f"line {line} (`while time.perf_counter()" in message, message
    assert 'if __name__ == "__main__"' in message
    assert "slowly" not in graded["correct_bce.py"].check("import").message
