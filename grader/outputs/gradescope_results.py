"""A GradeResult as Gradescope's `results.json`: the score, one test per check, and an
overall output a student reads first (what to fix first). The top-level score is the
grade, so a test carries points only where its check is worth some, and a skipped check
has no pass or fail mark.

What must stay secret is not shown before the due date: which iterations were audited (an
integrity message says "an audited iteration", not its number; the numbers are a test of
their own at `after_due_date`). What the student's code printed goes to the instructor only
(`stdout_visibility: hidden`).
"""

from __future__ import annotations

import re

from grader.checks.outcome import ITERATION
from grader.messages import Lang, Message, say
from grader.outputs.markdown import md_text
from grader.outputs.terminal import headline
from grader.results import CheckResult, GradeResult

AUDITED_ITERATION = re.compile(r"\biteration \d+")  # in a result stored before messages had structure


def _before_due(result: GradeResult) -> GradeResult:
    """The result as the student sees it before the due date: integrity's message without the
    numbers of the audited iterations, in any language (each is a Message of its own:
    outcome.iteration), so neither the headline nor the test shows them."""
    checks = []
    for c in result.checks:
        ref = c.said.get(c.message) if c.name == "integrity" else None
        if c.name == "integrity" and ref is None:  # stored before messages had structure
            c = c.model_copy(update={"message": AUDITED_ITERATION.sub("an audited iteration", c.message)})
        elif ref is not None:
            hidden = Message.of(ref.replaced(ITERATION, Message("an audited iteration").ref))
            c = c.model_copy(update={"message": str(hidden), "said": {str(hidden): hidden.ref}})
        checks.append(c)
    return result.model_copy(update={"checks": checks})


def _leaderboard(result: GradeResult) -> list[dict[str, object]]:
    """Audited figures only (a passed integrity check vouches for the accuracy; the grader
    timed the iterations itself): the median accuracy, and the median ms per iteration."""
    integrity = result.check("integrity")
    if result.accuracy is None or integrity is None or integrity.status != "passed":
        return []
    board: list[dict[str, object]] = [{"name": "accuracy", "value": round(result.accuracy, 4)}]
    times = sorted(r.ms_per_iteration for r in result.runs if r.ms_per_iteration)
    if times:
        board.append({"name": "ms per iteration", "value": round(times[len(times) // 2], 3), "order": "asc"})
    return board


def _test(c: CheckResult, lang: Lang) -> dict[str, object]:
    """One check as a Gradescope test: points only where the check is worth some (a check
    worth none is information, not "0.0 / 0.0"); no pass or fail mark on a skipped check."""
    test: dict[str, object] = {
        "name": c.name,
        "output": c.in_lang(c.message, lang) if c.status != "error" else
        say(lang, "the grader itself failed here: not your fault, tell your instructor"),
        "visibility": "visible",
    }
    if c.max_points:
        test.update(score=c.points, max_score=c.max_points)
    if c.details.get("bug_name"):
        test["tags"] = [str(c.details["bug_name"])]
    if c.status != "skipped":
        test["status"] = "passed" if c.status == "passed" and not c.withheld else "failed"
    return test


def results_json(result: GradeResult, leaderboard: bool = False, lang: Lang = "en") -> dict[str, object]:
    """Gradescope's specification: the score, the student's headline as Markdown (the score,
    where the performance points went, what to fix first), a test per check (tagged with the
    bug it names), the audit's details once the due date has passed, what the instructor
    needs to reproduce the grade in `extra_data`, and (opt-in) a leaderboard."""
    shown = _before_due(result)
    lines = headline(shown, width=1 << 20, lang=lang)
    output = "\n\n".join([f"**{md_text(lines[0])}**", *(md_text(line.strip()) for line in lines[1:])])
    tests = [_test(c, lang) for c in shown.checks]
    integrity = result.check("integrity")
    if integrity is not None and shown.check("integrity") != integrity:
        tests.append({"name": say(lang, "integrity: the audited iterations"),
                      "output": integrity.in_lang(integrity.message, lang), "visibility": "after_due_date"})
    results: dict[str, object] = {
        "score": result.score,
        "execution_time": int(round(result.timings.get("total", 0.0))),
        "output": output,
        "output_format": "md",
        "stdout_visibility": "hidden",
        "extra_data": {"status": result.status, "sandbox": result.sandbox, "grader_version": result.grader_version,
                       "settings_hash": result.settings_hash, "seeds": [r.seed for r in result.runs]},
        "tests": tests,
    }
    if leaderboard and (board := _leaderboard(result)):
        results["leaderboard"] = board
    return results


def refused_json(why: str, lang: Lang = "en") -> dict[str, object]:
    """Nothing graded: the autograder's machine cannot keep a submission from the grader's
    files and results. The student reads that their instructor must act; the reason is in
    `extra_data` and a test only the instructor sees."""
    return {
        "score": 0.0,
        "execution_time": 0,
        "output": say(lang, "Not graded: this autograder cannot run submissions safely on its machine. Your "
                            "instructor has been told; nothing you change will help."),
        "stdout_visibility": "hidden",
        "extra_data": {"sandbox": why, "status": "weak_isolation"},
        "tests": [{"name": "sandbox", "score": 0.0, "max_score": 0.0, "status": "failed", "output": why,
                   "visibility": "hidden"}],
    }
