"""The feedback file a student gets back: the same facts as the terminal report, as Markdown
(every student-controlled string made inert by outputs/markdown.py)."""

from __future__ import annotations

from pathlib import Path

from grader.outputs.markdown import OUTPUT_LINES, image, md_fence, md_table, md_text, number
from grader.batch.rows import Lateness, Row
from grader.outputs.terminal import label, nothing_ran
from grader.results import GradeResult


def student_markdown(row: Row, curve_png: str | None) -> str:
    """The feedback file a student gets back: the same facts as the terminal report, as Markdown."""
    result = row.result
    if nothing_ran(result):
        return _not_graded(row)
    parts = [
        _header(row),
        "## Checks\n\n" + _checks_table(result),
        "## What to fix first\n\n" + _fix_first(result),
    ]
    if result.runs:
        parts.append("## Training runs\n\n" + _runs_table(result))
    if curve_png:
        parts.append("## Learning curves\n\n" + image("learning curves", curve_png))
    if row.notes:
        parts.append("## Notes\n\n" + "\n".join(f"- {md_text(n)}" for n in row.notes))
    if result.output.strip():
        title = f"## What your code printed (last {OUTPUT_LINES} lines)"
        parts.append(f"{title}\n\n{md_fence(result.output)}")
    return "\n\n".join(parts) + "\n"


def _not_graded(row: Row) -> str:
    """A few lines where nothing was graded: what happened and what to do (the message
    says it), what was found, when it came in."""
    result, who = row.result, row.who
    lines = [f"# Lab 4 (BPTT) feedback: {md_text(who.student_id or 'unknown student')}", "",
             f"**Not graded ({md_text(result.status)}):** {md_text(result.message) or 'no file was graded'}", "",
             f"- **Student ID:** {md_text(who.student_id) or '—'}",
             f"- **Name:** {md_text(who.name) or '—'}",
             f"- **Score:** {result.score:g} / {result.max_score:g}",
             f"- **Submitted:** {md_text(late_text(row.late))}"]
    lines += [f"- {md_text(n)}" for n in row.notes]
    return "\n".join(lines) + "\n"


def late_text(late: Lateness) -> str:
    """Lateness in words: days, what the policy kept, where the time came from."""
    if late.late is None:
        return "—" if late.submitted_at is None else f"{late.submitted_at:%Y-%m-%d %H:%M} (no due date set)"
    if not late.late:
        return "on time"
    days = f"{late.days_late:.2f} days" if late.days_late is not None else "by an unknown amount"
    kept = f", grade x {late.factor:g}" if late.lowered else ", no deduction"
    return f"late, {days}{kept} (time: {late.time_source or 'unknown'})"


def _header(row: Row) -> str:
    """Who, what was graded and the headline numbers, one bullet each."""
    result, sub, who = row.result, row.result.submission, row.who
    status = md_text(result.status) + (f": {md_text(result.message)}" if result.message else "")
    accuracy = f"Accuracy, {result.accuracy_window_text} ({result.runs_text})"
    lines = [
        f"# Lab 4 (BPTT) feedback: {md_text(who.student_id or 'unknown student')}",
        "",
        f"- **Student ID:** {md_text(who.student_id) or '—'}",
        f"- **Name:** {md_text(who.name) or '—'}",
        f"- **Module graded:** {md_text(sub.module or Path(sub.source).name) or '—'}",
        f"- **Status:** {status}",
        f"- **Score:** {result.score:g} / {result.max_score:g}",
        f"- **{accuracy}:** {number(result.accuracy)}",
        f"- **Accuracy on all pairs:** {number(result.accuracy_exhaustive, '.4f')}",
        f"- **Loss recognised:** {md_text(result.loss_recognised) or '—'}",
        f"- **Submitted:** {md_text(late_text(row.late))}",
        f"- **Grader:** {md_text(result.grader_version)}, "
        f"settings {md_text(result.settings_hash[:12])}",
    ]
    return "\n".join(lines)


def _checks_table(result: GradeResult) -> str:
    """One row per check, labelled like the terminal report."""
    if not result.checks:
        return "No check ran."
    rows = [
        [c.name, label(c), _points(c.points, c.max_points), c.message]
        for c in result.checks
    ]
    return md_table(["Check", "Status", "Points", "Message"], rows)


def _points(points: float, max_points: float) -> str:
    """Points as the terminal report shows them; blank for checks worth nothing."""
    return f"{points:g} / {max_points:g}" if max_points else ""


def _fix_first(result: GradeResult) -> str:
    """The one thing to work on next, then what the skipped checks are waiting for."""
    failed = result.fix_first()
    errors = [c.name for c in result.checks if c.status == "error"]
    lines = []
    if failed is not None:
        lines.append(f"**{md_text(failed.name)}**: {md_text(failed.message)}")
    elif result.status != "graded":
        lines.append(f"Grading stopped ({md_text(result.status)}): {md_text(result.message)}")
    elif not errors:
        lines.append("Nothing: every check that ran passed.")
    if errors:
        lines.append(
            f"The grader itself failed in {md_text(', '.join(errors))}: not your fault, "
            "tell your instructor."
        )
    waiting = [(c.name, ", ".join(c.waiting_for) or c.message.removeprefix("skipped:").strip() or "an earlier check")
               for c in result.checks if c.status == "skipped"]
    if waiting:
        lines.append("\nSkipped checks (they run once what they wait for passes):\n")
        lines.extend(f"- {md_text(name)}: waits for {md_text(why)}" for name, why in waiting)
    return "\n".join(lines)


def _runs_table(result: GradeResult) -> str:
    """One row per training run the grader drove."""
    rows = [
        [i, r.seed, f"{r.accuracy:.3f}", r.iterations_done, f"{r.seconds:.1f}", r.error]
        for i, r in enumerate(result.runs, 1)
    ]
    return md_table(["Run", "Seed", "Accuracy", "Iterations", "Time (s)", "Error"], rows)
