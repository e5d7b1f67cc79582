"""What the class gets wrong: the diagnosed bugs counted with their students, each check's
pass rate, each parameter's gradient error; in summary.md and on the class page."""

from __future__ import annotations

from batching import row_of

from grader.outputs.html_report import index_html
from grader.outputs.misconceptions import class_view
from grader.outputs.summary import summary_markdown
from grader.results import CheckResult, GradeResult, SubmissionInfo

NO_RECURRENT = "the recurrent term W^T da_{t+1} is missing from dh_t (BPTT truncated to one step)"


def student(sid: str, bug: str | None, errors: dict[str, float] | None = None) -> GradeResult:
    reference = (CheckResult(name="gradient_reference", status="failed", message="differ",
                             details={"bug_name": bug, "bug": NO_RECURRENT if bug == "no_recurrent" else "dW from h_t",
                                      "relative_errors": {"bce": errors or {}, "mse": {k: 1.0 for k in errors or {}}},
                                      "closest_loss": "bce"})
                 if errors is not None else CheckResult(name="gradient_reference", status="passed", message="ok"))
    return GradeResult(grader_version="t", settings_hash="t", status="graded", score=0, max_score=30,
                       checks=[CheckResult(name="api", status="passed"), reference],
                       submission=SubmissionInfo(source=f"{sid}.zip", student_id=sid))


def klass() -> list:
    wrong = {"U": 0.98, "W": 0.47, "V": 1e-16, "b": 0.24, "c": 1e-16}
    return [row_of(student("S1", "no_recurrent", wrong)), row_of(student("S2", "no_recurrent", {**wrong, "W": 0.5})),
            row_of(student("S3", "dw_from_h_t", {"U": 1e-16, "W": 0.3, "V": 1e-16, "b": 1e-16, "c": 1e-16})),
            row_of(student("S4", None)), row_of(student("<S5>", None, {"U": 0.1, "W": 0.1, "V": 0.1, "b": 0.1, "c": 0.1}))]


def test_the_class_view_counts_each_bug_with_its_students() -> None:
    view = class_view(klass())
    assert [(b.name, b.students) for b in view.bugs] == [("no_recurrent", ("S1", "S2")), ("dw_from_h_t", ("S3",))]
    (api, reference) = view.rates
    assert (api.rate, reference.rate, reference.failed) == (1.0, 0.2, ("S1", "S2", "S3", "<S5>"))
    assert view.gradient_errors["W"][0] == ("S2", 0.5)  # the closest loss's errors, largest first
    assert len(view.gradient_errors["W"]) == 4


def test_summary_and_class_page_show_the_misconceptions_with_whom() -> None:
    md = summary_markdown(klass(), None)
    assert "| no_recurrent | the recurrent term W^T da_{t+1} is missing" in md and "| 2 | S1, S2 |" in md
    assert "| gradient_reference | 1 | 4 | 0 | 20% |" in md
    assert "| W | 4 | 3.9e-01 |" in md  # median of 0.5, 0.47, 0.3, 0.1
    page = index_html([(r, f"{r.who.student_id}.html") for r in klass()], None)
    assert '<a href="report/S1.html">S1</a>, <a href="report/S2.html">S2</a>' in page
    assert "&lt;S5&gt;" in page and "<S5>" not in page
