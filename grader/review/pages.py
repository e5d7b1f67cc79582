"""The review app's two pages, rendered on the server: the class (progress, filters, the
automatic and report scores side by side) and one student (their report beside the
automatic result and the rubric).

Everything a student wrote (names, file names, messages) is escaped here, where it is
written; the data the page's script needs travels as JSON in a non-executed script element
with `<` escaped; the script itself is a file of the app's (no inline script, and the
Content-Security-Policy allows no other).
"""

from __future__ import annotations

import json
from collections import Counter
from urllib.parse import quote

from grader.outputs.html_report import html_text
from grader.outputs.merge import total_of
from grader.review.db import Grade
from grader.review.klass import Klass, Student


_e = html_text


def _url(key: str) -> str:
    return "/student/" + quote(key, safe="")


def _data(payload: dict[str, object]) -> str:
    text = json.dumps(payload, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return f'<script type="application/json" id="data">{text}</script>'


def _page(title: str, body: str, payload: dict[str, object]) -> str:
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>{_e(title)}</title><link rel=stylesheet href=/static/review.css>"
            f"</head><body>{body}{_data(payload)}<script src=/static/review.js></script></body></html>")


def _header(where: str) -> str:
    return ("<header><a href=/>class</a> <span class=where>" + where + "</span>"
            "<label>TA <input id=ta size=12 autocomplete=off placeholder='your name'></label>"
            "<span id=state role=status></span></header>")


def complete(grade: Grade, klass: Klass) -> bool:
    return all(c.name in grade.points for c in klass.settings.report.criteria)


def report_points(grade: Grade) -> float:
    return round(sum(grade.points.values()), 4)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def total(student: Student, grade: Grade, klass: Klass) -> float | None:
    """(automatic + report) x the late factor, as merge will compute it; None until graded."""
    score, factor = _number(student.score), _number(student.late_factor)
    if not complete(grade, klass) or score is None:
        return None
    return total_of(score, report_points(grade), factor if factor is not None else 1.0)


def state(grade: Grade, klass: Klass) -> str:
    if complete(grade, klass):
        return "graded"
    return "partial" if grade.points else "to grade"


def class_page(klass: Klass, grades: dict[str, Grade]) -> str:
    rubric_max = klass.settings.report.max_points
    rows, by_ta, by_section = [], Counter(), Counter()
    for s in klass.students:
        grade = grades.get(s.key, Grade(s.key))
        st = state(grade, klass)
        if st == "graded":
            by_ta[grade.ta or "(no name)"] += 1
        by_section[(s.section or "(none)", st == "graded")] += 1
        t = total(s, grade, klass)
        rows.append(
            f'<tr data-state="{_e(st)}" data-section="{_e(s.section)}">'
            f'<td><a href="{_e(_url(s.key))}">{_e(s.key)}</a></td><td>{_e(s.name)}</td><td>{_e(s.section)}</td>'
            f'<td>{_e(s.status)}</td><td class=num>{_e(_short(s.score))}/{_e(_short(s.max_score))}</td>'
            f'<td class=num>{_e(f"{report_points(grade):g}") if grade.points else ""}</td>'
            f'<td class=num>{"" if t is None else _e(f"{t:g}")}</td><td class=state>{_e(st)}</td>'
            f'<td>{_e(grade.ta)}</td><td>{_e(s.flags)}</td></tr>')
    graded = sum(1 for s in klass.students if state(grades.get(s.key, Grade(s.key)), klass) == "graded")
    sections = sorted({s for s, _ in by_section})
    progress = (f"<p id=progress>{graded} of {len(klass.students)} reports graded, "
                f"{len(klass.students) - graded} to grade (out of {rubric_max:g} points)</p>"
                + "<table class=small><tr><th>TA</th><th>graded</th></tr>"
                + "".join(f"<tr><td>{_e(ta)}</td><td class=num>{n}</td></tr>" for ta, n in sorted(by_ta.items()))
                + "</table><table class=small><tr><th>section</th><th>graded</th><th>to grade</th></tr>"
                + "".join(f"<tr><td>{_e(sec)}</td><td class=num>{by_section[(sec, True)]}</td>"
                          f"<td class=num>{by_section[(sec, False)]}</td></tr>" for sec in sections) + "</table>")
    left_out = ("<details><summary>" + f"{len(klass.left_out)} row{'s' if len(klass.left_out) != 1 else ''} cannot be graded here</summary><ul>"
                + "".join(f"<li>{_e(x)}</li>" for x in klass.left_out) + "</ul></details>") if klass.left_out else ""
    filters = ("<p class=filters><input id=search placeholder='search id or name' autocomplete=off> "
               "<select id=show><option value=''>all</option><option>to grade</option><option>partial</option>"
               "<option>graded</option></select> <select id=section><option value=''>every section</option>"
               + "".join(f"<option>{_e(s)}</option>" for s in sections if s != "(none)")
               + "</select> <a href=/next>next to grade (u)</a> · <a href=/manual.csv>manual.csv</a></p>")
    table = ("<table id=class><thead><tr><th>id</th><th>name</th><th>section</th><th>status</th><th>automatic</th>"
             f"<th>report /{rubric_max:g}</th><th>total</th><th>state</th><th>graded by</th><th>flags</th></tr>"
             "</thead><tbody>" + "".join(rows) + "</tbody></table>")
    body = _header("the class") + "<main>" + progress + left_out + filters + table + "</main>"
    return _page("Review: the class", body, {"page": "class"})


def _report_pane(s: Student) -> str:
    if not s.report:
        return "<p class=none>No report was found in this submission (flag no_report).</p>"
    link = "/report/" + quote(s.key, safe="")
    if s.report.lower().endswith(".pdf"):
        return (f'<iframe id=report src="{_e(link)}" title="the report"></iframe>'
                f'<p><a href="{_e(link)}" target=_blank rel=noopener>open the PDF on its own</a></p>')
    return (f'<p class=none>The report is a {_e(s.report.rsplit(".", 1)[-1])} file, not shown here: '
            f'<a href="{_e(link)}" download>download it</a>.</p>')


def _automatic(s: Student) -> str:
    """The automatic result in three lines: score, what to fix first, lateness and flags."""
    late = f"<p>late: {_e(s.late)} (grade x {_e(s.late_factor)})</p>" if s.late else ""
    flags = f"<p>flags: {_e(s.flags)}</p>" if s.flags else ""
    return (f"<section class=auto><h2>Automatic: {_e(_short(s.score))} / {_e(_short(s.max_score))} "
            f"({_e(s.status)})</h2><p>{_e(s.feedback or s.message)}</p>{late}{flags}</section>")


def _checks(s: Student, has_curve: bool) -> str:
    """Each check's status, the learning curves the grader drew, the full feedback page."""
    checks = "".join(f"<li class={_e(st)}>{_e(name)}: {_e(st)}</li>" for name, st in s.checks)
    curve = f'<img src="/curve/{_e(quote(s.key, safe=""))}" alt="the learning curves of the grader\'s runs">' \
        if has_curve else ""
    return (f"<section class=details><h2>Checks</h2><ul class=checks>{checks}</ul>{curve}"
            f'<p><a href="/feedback/{_e(quote(s.key, safe=""))}" target=_blank rel=noopener>the feedback page</a></p>'
            "</section>")


def _short(number: str) -> str:
    """30.0 as 30, as a sheet shows it."""
    value = _number(number)
    return number if value is None else f"{value:g}"


def _rubric(klass: Klass, grade: Grade, hints: dict | None) -> str:
    words = (hints or {}).get("words", {})
    fields = []
    for c in klass.settings.report.criteria:
        value = grade.points.get(c.name)
        hint = ""
        if c.name in words and c.words:
            found = words[c.name]
            hint = (f"<small class=hint>mentions: {_e(', '.join(found))}</small>" if found
                    else f"<small class=hint>none of: {_e(', '.join(c.words))}</small>")
        fields.append(
            f'<fieldset><legend>{_e(c.name)} <span class=max>0–{c.points:g}</span></legend>'
            f'<p class=describes>{_e(c.describes)}</p>'
            f'<input type=number class=points data-criterion="{_e(c.name)}" min=0 max="{c.points:g}" step=any '
            f'value="{"" if value is None else _e(f"{value:g}")}" aria-label="{_e(c.name)} points">'
            f'<textarea class=comment data-criterion="{_e(c.name)}" rows=1 placeholder=comment '
            f'aria-label="{_e(c.name)} comment">{_e(grade.comments.get(c.name, ""))}</textarea>{hint}</fieldset>')
    return ("<section class=rubric><h2>Report: <span id=report-total></span> / "
            f"{klass.settings.report.max_points:g}</h2>" + "".join(fields) + "</section>")


def _hint_line(hints: dict | None) -> str:
    if not hints:
        return ""
    if "error" in hints:
        return f"<p class=hints>{_e(hints['error'])}</p>"
    figure = "holds a figure" if hints.get("images") else "no figure found"
    return (f"<p class=hints>{_e(hints.get('pages'))} pages, {figure}, "
            f"{_e(hints.get('characters'))} characters of text (hints only; they decide nothing)</p>")


def student_page(klass: Klass, s: Student, grade: Grade, hints: dict | None, has_curve: bool) -> str:
    before, after = klass.neighbours(s.key)
    nav = ("<nav>" + (f'<a id=prev href="{_e(_url(before))}">← previous (k)</a> ' if before else "")
           + (f'<a id=next href="{_e(_url(after))}">next (j) →</a> ' if after else "")
           + f'<a id=next-ungraded href="/next?after={_e(quote(s.key, safe=""))}">next to grade (u)</a>'
           + "<small>Tab: next field · in a field, Alt+J / Alt+K / Alt+U · Esc: leave the field</small></nav>")
    side = (f"<h1>{_e(s.key)} {_e(s.name)}</h1>{nav}{_automatic(s)}{_hint_line(hints)}"
            f"<div id=conflict hidden></div>{_rubric(klass, grade, hints)}{_checks(s, has_curve)}")
    body = (_header(f"{_e(s.key)} {_e(s.name)}") + "<main class=student><section class=pane>" + _report_pane(s)
            + "</section><section class=side>" + side + "</section></main>")
    payload = {"page": "student", "student": s.key, "version": grade.version,
               "max": {c.name: c.points for c in klass.settings.report.criteria}}
    return _page(f"Review: {s.key}", body, payload)
