"""A GradeResult as Gradescope's `results.json`: the score, one test per check, and an
overall output a student reads first (what to fix first). The top-level score is the
grade, so a test carries points only where its check is worth some, and a skipped check
has no pass or fail mark.

What must stay secret is not shown: which iterations were audited (an integrity message
says "an audited iteration", not its number) and the details behind a check. What the
student's code printed goes to the instructor only (`stdout_visibility: hidden`).
"""

from __future__ import annotations

import re

from grader.results import CheckResult, GradeResult

AUDITED_ITERATION = re.compile(r"\biteration \d+")


def _student_text(name: str, message: str) -> str:
    return AUDITED_ITERATION.sub("an audited iteration", message) if name == "integrity" else message


def _test(c: CheckResult) -> dict[str, object]:
    """One check as a Gradescope test: points only where the check is worth some (a check
    worth none is information, not "0.0 / 0.0"); no pass or fail mark on a skipped check."""
    test: dict[str, object] = {
        "name": c.name,
        "output": _student_text(c.name, c.message) if c.status != "error" else
        "the grader itself failed here: not your fault, tell your instructor",
        "visibility": "visible",
    }
    if c.max_points:
        test.update(score=c.points, max_score=c.max_points)
    if c.status != "skipped":
        test["status"] = "passed" if c.status == "passed" and not c.withheld else "failed"
    return test


def results_json(result: GradeResult) -> dict[str, object]:
    """Gradescope's specification: score, execution_time, output, stdout_visibility, tests."""
    first = result.fix_first()
    if result.status != "graded":
        output = f"Grading stopped ({result.status}): {result.message}"
    elif first is not None:
        output = f"What to fix first: {first.name}: {_student_text(first.name, first.message)}"
    else:
        output = f"Every check passed. Score {result.score:g} / {result.max_score:g}."
    tests = [_test(c) for c in result.checks]
    return {
        "score": result.score,
        "execution_time": int(round(result.timings.get("total", 0.0))),
        "output": output,
        "stdout_visibility": "hidden",
        "extra_data": {"sandbox": result.sandbox, "status": result.status},  # for the instructor
        "tests": tests,
    }


def refused_json(why: str) -> dict[str, object]:
    """Nothing graded: the autograder's machine cannot keep a submission from the grader's
    files and results. The student reads that their instructor must act; the reason is in
    `extra_data` and a test only the instructor sees."""
    return {
        "score": 0.0,
        "execution_time": 0,
        "output": "Not graded: this autograder cannot run submissions safely on its machine. "
                  "Your instructor has been told; nothing you change will help.",
        "stdout_visibility": "hidden",
        "extra_data": {"sandbox": why, "status": "weak_isolation"},
        "tests": [{"name": "sandbox", "score": 0.0, "max_score": 0.0, "status": "failed", "output": why,
                   "visibility": "hidden"}],
    }
