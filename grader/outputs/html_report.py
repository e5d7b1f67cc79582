"""The class in a browser: `OUT/index.html` (the class table, sortable by any column and
filterable by status and flag, with the score histogram) and a page per student
(`OUT/report/<name>.html`: the checks, what to fix first, the runs, the learning curves).

Static files that open from disk, no server and nothing fetched. Every student-controlled
string is escaped where it is written (html.escape), the table is rendered here and the
page's script only reorders and hides rows; a Content-Security-Policy allows nothing but
the page's own script, style and the local images. `#sort=<column>[-desc]&status=..&flag=..`
in the address sets the table's order and filters on load (a link can be shared).
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote

from grader.batch.rows import Row
from grader.messages import Lang, say
from grader.outputs.feedback import late_text
from grader.outputs.misconceptions import class_view, who
from grader.outputs.terminal import label
from grader.safe_text import neutralise
from grader.safe_files import private_dir, write_atomic

CSP = ("default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline'")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
tr.failed td.status, .FAIL, .HELD { color: #b00; } .PASS { color: #070; } .SKIP { color: #777; }
#checks td:nth-child(-n+3), #checks th { white-space: nowrap; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; }
img { max-width: 100%; }
"""
# Sorts by a column (numbers as numbers), filters by status and flag, reads and writes the
# address's fragment; errors are recorded on <body> so a test can see there were none.
SCRIPT = """
(function () {
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message)); document.body.dataset.errors = errors.join(' | '); });
  var table = document.getElementById('class'), body = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var status = document.getElementById('status'), flag = document.getElementById('flag');
  function key(row, i) {  // numbers carry data-value (empty: missing, sorted last), text sorts as text
    var cell = row.cells[i], v = cell.getAttribute('data-value');
    if (v !== null) { return v === '' ? Infinity : parseFloat(v); }
    return cell.textContent.trim().toLowerCase();
  }
  function sort(column, descending) {
    var i = heads.findIndex(function (h) { return h.dataset.column === column; });
    if (i < 0) { return; }
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, i), y = key(b, i);
      var order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
    heads[i].setAttribute('aria-sort', descending ? 'descending' : 'ascending');
    state.sort = column + (descending ? '-desc' : '');
  }
  function filter() {
    Array.prototype.forEach.call(body.rows, function (r) {
      var okStatus = !status.value || r.dataset.status === status.value;
      var okFlag = !flag.value || (' ' + r.dataset.flags + ' ').indexOf(' ' + flag.value + ' ') >= 0;
      r.hidden = !(okStatus && okFlag);
    });
    state.status = status.value; state.flag = flag.value;
    document.getElementById('shown').textContent = body.querySelectorAll('tr:not([hidden])').length;
  }
  var state = {};
  function save() {
    var parts = [];
    Object.keys(state).forEach(function (k) { if (state[k]) { parts.push(k + '=' + encodeURIComponent(state[k])); } });
    history.replaceState(null, '', '#' + parts.join('&'));
  }
  heads.forEach(function (h) {
    h.addEventListener('click', function () {
      sort(h.dataset.column, h.getAttribute('aria-sort') === 'ascending'); save();
    });
  });
  status.addEventListener('change', function () { filter(); save(); });
  flag.addEventListener('change', function () { filter(); save(); });
  location.hash.replace(/^#/, '').split('&').forEach(function (part) {
    var kv = part.split('='), value = decodeURIComponent(kv[1] || '');
    if (kv[0] === 'sort') { sort(value.replace(/-desc$/, ''), /-desc$/.test(value)); }
    if (kv[0] === 'status') { status.value = value; }
    if (kv[0] === 'flag') { flag.value = value; }
  });
  filter();
}());
"""
COLUMNS = (("student_id", "student id"), ("name", "name"), ("status", "status"), ("score", "score"),
           ("accuracy", "accuracy"), ("late", "late"), ("fix_first", "fix first"), ("flags", "flags"))


def html_text(value: object) -> str:
    """Text for HTML: escaped, and without the characters that reorder or hide what is shown
    (a student's name or message with a bidi override must not rewrite its neighbours)."""
    return html.escape(neutralise("" if value is None else str(value)), quote=True)


_e = html_text


def _page(title: str, body: str, script: str = "", lang: Lang = "en") -> str:
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>{_e(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n"
            + (f"<script>{script}</script>\n" if script else "") + "</body></html>\n")


def _number(value: float | None, spec: str = ".3f") -> tuple[str, str]:
    """(shown, sort key) of a number that may be missing."""
    return ("—", "") if value is None else (format(value, spec), repr(float(value)))


def _late_cell(row: Row) -> tuple[str, str]:
    """(shown, sort key) of a row's lateness: days late (or the platform's bare mark), the
    factor where it lowered the grade, and where only file times say so."""
    late = row.late
    if not (late.late or late.unsure):
        return "", ""
    shown = "marked late" if late.days_late is None else f"{late.days_late:.1f} d"
    shown += f", x{late.factor:g}" if late.lowered else ""
    if late.time_source == "file_times":
        shown += " (file times)" if late.lowered else " (file times, not charged)"
    return shown, repr(float(late.days_late)) if late.days_late is not None else ""


def _row(row: Row, page: str | None) -> str:
    r, who = row.result, row.who
    first = r.fix_first()
    score, score_key = _number(r.score, "g")
    accuracy, accuracy_key = _number(r.accuracy)
    late, late_key = _late_cell(row)
    shown = _e(who.student_id or row.file or "—")
    link = f'<a href="report/{quote(page)}">{shown}</a>' if page else shown
    flags = row.flag_labels
    cells = [
        f"<td>{link}</td>", f"<td>{_e(who.name)}</td>", f'<td class="status">{_e(r.status)}</td>',
        f'<td data-value="{score_key}">{score}</td>', f'<td data-value="{accuracy_key}">{accuracy}</td>',
        f'<td data-value="{late_key}">{_e(late)}</td>',
        f"<td>{_e(first.name if first else '')}</td>", f"<td>{_e(', '.join(flags))}</td>",
    ]
    failed = " failed" if first is not None or r.status != "graded" else ""
    return (f'<tr class="row{failed}" data-status="{_e(r.status)}" data-flags="{_e(" ".join(flags))}">'
            + "".join(cells) + "</tr>")


def _options(values: list[str], what: str) -> str:
    return f'<option value="">every {what}</option>' + "".join(
        f'<option value="{_e(v)}">{_e(v)}</option>' for v in sorted(set(values)))


def _students(names: tuple[str, ...], pages: dict[str, str]) -> str:
    return ", ".join(f'<a href="report/{quote(pages[n])}">{_e(n)}</a>' if n in pages else _e(n) for n in names)


def _class_view(graded: list[tuple[Row, str | None]]) -> str:
    """What the class gets wrong: each diagnosed bug and each check's pass rate, with links
    to the students they count."""
    view = class_view([g for g, _ in graded])
    pages = {who(g): page for g, page in graded if page}
    bugs = "".join(f"<tr><td>{_e(b.name)}</td><td>{_e(b.sentence)}</td><td>{len(b.students)}</td>"
                   f"<td>{_students(b.students, pages)}</td></tr>" for b in view.bugs)
    rates = "".join(f"<tr><td>{_e(r.check)}</td><td>{len(r.passed)}</td><td>{len(r.failed)}</td><td>{r.skipped}</td>"
                    f"<td>{'—' if r.rate is None else f'{r.rate:.0%}'}</td><td>{_students(r.failed, pages)}</td></tr>"
                    for r in view.rates)
    return ('<h2>What the class gets wrong</h2>'
            + ('<table id="bugs"><thead><tr><th>bug</th><th>what it is</th><th>students</th><th>who</th></tr></thead>'
               f"<tbody>{bugs}</tbody></table>" if bugs else "<p>No diagnosed bug.</p>")
            + '<h2>Checks</h2><table id="rates"><thead><tr><th>check</th><th>passed</th><th>failed</th>'
            f"<th>skipped</th><th>pass rate</th><th>failed by</th></tr></thead><tbody>{rates}</tbody></table>\n")


def index_html(graded: list[tuple[Row, str | None]], histogram: str | None) -> str:
    heads = "".join(f'<th data-column="{c}" scope="col">{_e(label)}</th>' for c, label in COLUMNS)
    rows = "\n".join(_row(g, page) for g, page in graded)
    statuses = [g.result.status for g, _ in graded]
    flags = [f for g, _ in graded for f in g.flag_labels]
    body = (f"<h1>Lab 4 (BPTT): the class</h1>\n<p><span id=\"shown\">{len(graded)}</span> of {len(graded)} "
            "submissions shown. Click a column to sort it.</p>\n"
            f'<p><label>status <select id="status">{_options(statuses, "status")}</select></label> '
            f'<label>flag <select id="flag">{_options(flags, "flag")}</select></label></p>\n'
            f'<table id="class"><thead><tr>{heads}</tr></thead><tbody>\n{rows}\n</tbody></table>\n'
            + _class_view(graded)
            + (f'<h2>Scores</h2><img alt="score histogram" src="{quote(histogram)}">' if histogram else ""))
    return _page("Lab 4: the class", body, SCRIPT)


def student_html(row: Row, curves: str | None, lang: Lang = "en") -> str:
    """A student's page: the facts, what to fix first, the checks, the runs and the curves, in `lang`."""
    result, who = row.result, row.who
    first = result.fix_first()
    unknown = say(lang, "unknown student")
    facts = [(say(lang, "student id"), who.student_id), (say(lang, "name"), who.name),
             (say(lang, "status"), result.status), (say(lang, "score"), f"{result.score:g} / {result.max_score:g}"),
             (say(lang, "accuracy"), _number(result.accuracy)[0]), (say(lang, "loss"), result.loss_recognised or "—"),
             (say(lang, "submitted"), late_text(row.late, lang)), (say(lang, "flags"), ", ".join(row.flag_labels) or "—")]
    checks = "".join(
        f'<tr><td>{_e(c.name)}</td><td class="{label(c)}">{_e(label(c, lang))}</td>'
        f"<td>{_e(f'{c.points:g} / {c.max_points:g}' if c.max_points else '')}</td>"
        f"<td>{_e(c.in_lang(c.message, lang))}</td></tr>" for c in result.checks)
    runs = "".join(f"<tr><td>{i}</td><td>{r.seed}</td><td>{r.accuracy:.3f}</td><td>{r.iterations_done}</td>"
                   f"<td>{r.seconds:.1f}</td><td>{_e(r.in_lang(r.error, lang))}</td></tr>"
                   for i, r in enumerate(result.runs, 1))
    fix = (f"<b>{_e(first.name)}</b>: {_e(first.in_lang(first.message, lang))}" if first
           else _e(result.in_lang(result.message, lang) or say(lang, "Nothing.")))
    heads = (say(lang, "check"), say(lang, "status"), say(lang, "points"), say(lang, "message"))
    run_heads = (say(lang, "run"), say(lang, "seed"), say(lang, "accuracy"), say(lang, "iterations"),
                 say(lang, "seconds"), say(lang, "error"))
    # the page's own words (outside the f-strings below, where Babel's extractor finds them)
    the_class, fix_title, checks_title = say(lang, "the class"), say(lang, "What to fix first"), say(lang, "Checks")
    runs_title, curves_title = say(lang, "Training runs"), say(lang, "Learning curves")
    curves_alt, printed_title = say(lang, "learning curves"), say(lang, "What the code printed")
    colon = say(lang, ":")  # after a fact's name
    body = (f"<p><a href=\"../index.html\">{_e(the_class)}</a></p><h1>{_e(who.student_id or unknown)}</h1>\n"
            "<ul>" + "".join(f"<li><b>{_e(k)}{_e(colon)}</b> {_e(v)}</li>" for k, v in facts) + "</ul>\n"
            f'<h2>{_e(fix_title)}</h2><p id="fix-first">{fix}</p>\n'
            f'<h2>{_e(checks_title)}</h2><table id="checks"><thead><tr>{_heads(heads)}</tr></thead>'
            f"<tbody>{checks}</tbody></table>\n"
            + (f"<h2>{_e(runs_title)}</h2><table><thead><tr>{_heads(run_heads)}</tr></thead>"
               f"<tbody>{runs}</tbody></table>\n" if runs else "")
            + (f'<h2>{_e(curves_title)}</h2><img alt="{_e(curves_alt)}" src="../feedback/{quote(curves)}">\n'
               if curves else "")
            + (f"<h2>{_e(printed_title)}</h2><pre>{_e(result.output[-4000:])}</pre>\n" if result.output.strip() else ""))
    return _page(say(lang, "Lab 4: {student}", student=who.student_id or unknown), body, lang=lang)


def _heads(names: tuple[str, ...]) -> str:
    return "".join(f"<th>{_e(n)}</th>" for n in names)


def write_report(graded: list[tuple[Row, str | None]], out: Path, histogram: str | None, lang: Lang = "en") -> Path:
    """OUT/index.html (the instructor's, in English) and OUT/report/<name>.html (in `lang`);
    `graded` pairs each row with its feedback name (None for a row without a page)."""
    pages = private_dir(out / "report")
    for g, name in graded:
        if name is not None:
            curves = f"{name}.png" if (out / "feedback" / f"{name}.png").is_file() else None
            write_atomic(pages / f"{name}.html", student_html(g, curves, lang), 0o644)
    rows = [(g, f"{name}.html" if name is not None else None) for g, name in graded]
    index = out / "index.html"
    write_atomic(index, index_html(rows, histogram), 0o644)
    return index
