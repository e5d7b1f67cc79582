"""The feedback file a student gets back: the same facts as the terminal report, as Markdown
(every student-controlled string made inert by outputs/markdown.py)."""

from __future__ import annotations

from pathlib import Path

from grader.batch.rows import Lateness, Row
from grader.messages import Lang, Message, say, shown
from grader.outputs.markdown import OUTPUT_LINES, image, md_fence, md_table, md_text, number
from grader.outputs.terminal import label, nothing_ran
from grader.results import GradeResult, skip_reason


def student_markdown(row: Row, curve_png: str | None, lang: Lang = "en") -> str:
    """The feedback file a student gets back: the same facts as the terminal report, as Markdown."""
    result = row.result
    if nothing_ran(result):
        return _not_graded(row, lang)
    parts = [
        _header(row, lang),
        say(lang, "## Checks") + "\n\n" + _checks_table(result, lang),
        say(lang, "## What to fix first") + "\n\n" + _fix_first(result, lang),
    ]
    if result.runs:
        parts.append(say(lang, "## Training runs") + "\n\n" + _runs_table(result, lang))
    if curve_png:
        parts.append(say(lang, "## Learning curves") + "\n\n" + image(say(lang, "learning curves"), curve_png))
    if row.notes:
        parts.append(say(lang, "## Notes") + "\n\n" + "\n".join(f"- {md_text(_note(row, n, lang))}" for n in row.notes))
    if result.output.strip():
        title = say(lang, "## What your code printed (last {n} lines)", n=OUTPUT_LINES)
        parts.append(f"{title}\n\n{md_fence(result.output)}")
    return "\n\n".join(parts) + "\n"


def _note(row: Row, note: str, lang: Lang) -> str:
    """A note in `lang`: the result's keep their structure in `said`, the batch's are Messages."""
    return shown(row.result.submission.message_of(note), lang)


def _title(row: Row, lang: Lang) -> str:
    return say(lang, "# Lab 4 (BPTT) feedback: {student}",
               student=md_text(row.who.student_id) or say(lang, "unknown student"))


def _not_graded(row: Row, lang: Lang) -> str:
    """A few lines where nothing was graded: what happened and what to do (the message
    says it), what was found, when it came in."""
    result, who = row.result, row.who
    message = md_text(result.in_lang(result.message, lang)) or say(lang, "no file was graded")
    lines = [_title(row, lang), "",
             say(lang, "**Not graded ({status}):** {message}", status=md_text(result.status), message=message), "",
             say(lang, "- **Student ID:** {value}", value=md_text(who.student_id) or "—"),
             say(lang, "- **Name:** {value}", value=md_text(who.name) or "—"),
             say(lang, "- **Score:** {score:g} / {max:g}", score=result.score, max=result.max_score),
             say(lang, "- **Submitted:** {value}", value=md_text(late_text(row.late, lang)))]
    lines += [f"- {md_text(_note(row, n, lang))}" for n in row.notes]
    return "\n".join(lines) + "\n"


def late_text(late: Lateness, lang: Lang = "en") -> str:
    """Lateness in words: days, what the policy kept, where the time came from."""
    if late.late is None:
        if late.submitted_at is None:
            return "—"
        time = late.submitted_at.strftime("%Y-%m-%d %H:%M")
        return say(lang, "{time} (no due date set)", time=time)
    if not late.late:
        return say(lang, "on time")
    days = (Message("{days:.2f} days", days=late.days_late) if late.days_late is not None
            else Message("by an unknown amount"))
    kept = Message(", grade x {factor:g}", factor=late.factor) if late.lowered else Message(", no deduction")
    return say(lang, "late, {days}{kept} (time: {source})", days=days, kept=kept,
               source=late.time_source or Message("unknown"))


def _header(row: Row, lang: Lang) -> str:
    """Who, what was graded and the headline numbers, one bullet each."""
    result, sub, who = row.result, row.result.submission, row.who
    status = md_text(result.status) + (f": {md_text(result.in_lang(result.message, lang))}" if result.message else "")
    lines = [
        _title(row, lang),
        "",
        say(lang, "- **Student ID:** {value}", value=md_text(who.student_id) or "—"),
        say(lang, "- **Name:** {value}", value=md_text(who.name) or "—"),
        say(lang, "- **Module graded:** {value}", value=md_text(sub.module or Path(sub.source).name) or "—"),
        say(lang, "- **Status:** {value}", value=status),
        say(lang, "- **Score:** {score:g} / {max:g}", score=result.score, max=result.max_score),
        say(lang, "- **Accuracy, {window} ({runs}):** {value}", window=md_text(shown(result.accuracy_window_text, lang)),
            runs=md_text(shown(result.runs_text, lang)), value=number(result.accuracy)),
        say(lang, "- **Accuracy on all pairs:** {value}", value=number(result.accuracy_exhaustive, ".4f")),
        say(lang, "- **Loss recognised:** {value}", value=md_text(result.loss_recognised) or "—"),
        say(lang, "- **Submitted:** {value}", value=md_text(late_text(row.late, lang))),
        say(lang, "- **Grader:** {version}, settings {hash}", version=md_text(result.grader_version),
            hash=md_text(result.settings_hash[:12])),
    ]
    return "\n".join(lines)


def _checks_table(result: GradeResult, lang: Lang) -> str:
    """One row per check, labelled like the terminal report."""
    if not result.checks:
        return say(lang, "No check ran.")
    rows = [
        [c.name, label(c, lang), _points(c.points, c.max_points), c.in_lang(c.message, lang)]
        for c in result.checks
    ]
    return md_table([say(lang, "Check"), say(lang, "Status"), say(lang, "Points"), say(lang, "Message")], rows)


def _points(points: float, max_points: float) -> str:
    """Points as the terminal report shows them; blank for checks worth nothing."""
    return f"{points:g} / {max_points:g}" if max_points else ""


def _fix_first(result: GradeResult, lang: Lang) -> str:
    """The one thing to work on next, then what the skipped checks are waiting for."""
    failed = result.fix_first()
    errors = [c.name for c in result.checks if c.status == "error"]
    lines = []
    if failed is not None:
        lines.append(f"**{md_text(failed.name)}**: {md_text(failed.in_lang(failed.message, lang))}")
    elif result.status != "graded":
        lines.append(say(lang, "Grading stopped ({status}): {message}", status=md_text(result.status),
                         message=md_text(result.in_lang(result.message, lang))))
    elif not errors:
        lines.append(say(lang, "Nothing: every check that ran passed."))
    if errors:
        lines.append(say(lang, "The grader itself failed in {checks}: not your fault, tell your instructor.",
                         checks=md_text(", ".join(errors))))
    waiting = [(c.name, ", ".join(c.waiting_for) or skip_reason(c, lang) or say(lang, "an earlier check"))
               for c in result.checks if c.status == "skipped"]
    if waiting:
        lines.append("\n" + say(lang, "Skipped checks (they run once what they wait for passes):") + "\n")
        lines.extend(say(lang, "- {check}: waits for {what}", check=md_text(name), what=md_text(why))
                     for name, why in waiting)
    return "\n".join(lines)


def _runs_table(result: GradeResult, lang: Lang) -> str:
    """One row per training run the grader drove."""
    rows = [
        [i, r.seed, f"{r.accuracy:.3f}", r.iterations_done, f"{r.seconds:.1f}", r.in_lang(r.error, lang)]
        for i, r in enumerate(result.runs, 1)
    ]
    headers = [say(lang, "Run"), say(lang, "Seed"), say(lang, "Accuracy"), say(lang, "Iterations"),
               say(lang, "Time (s)"), say(lang, "Error")]
    return md_table(headers, rows)
