"""Files an instructor hands back: a student's feedback Markdown, learning curves, a class summary.

Student-controlled text (names from file names, exception messages, printed output) ends
up in Markdown that is rendered in a browser, so every such string goes through `md_text`
(or `md_fence` for captured output) and can neither break a table nor add a link or HTML.
matplotlib is imported inside the plotting functions only, so grading never pays for it.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from grader.outputs.terminal import LABEL
from grader.results import CHECK_NAMES, GradeResult
from grader.safe_files import write_atomic

STATUSES = ("passed", "failed", "skipped", "error")
OUTPUT_LINES = 20
OUTPUT_WIDTH = 200
FIGSIZE = (9, 6)  # inches at DPI: 900 x 600 px
DPI = 100
_MD_ESCAPES = {
    "\\": "\\\\",
    "`": "\\`",
    "|": "\\|",
    "[": "\\[",
    "]": "\\]",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]|\x1b\[[0-9;?]*[A-Za-z]")


# ---------------------------------------------------------------- Markdown helpers


def md_text(value: object) -> str:
    """Any text made inert inline Markdown: one line, no table break, no link, no HTML."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = _CONTROL.sub("", str(value).replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(_MD_ESCAPES.get(ch, ch) for ch in text)
    return "<br>".join(line.strip() for line in text.strip().split("\n"))


def md_table(headers: list[str], rows: list[list[object]]) -> str:
    """The one place a Markdown table is built; every cell goes through md_text."""
    lines = ["| " + " | ".join(md_text(h) for h in headers) + " |"]
    lines.append("| " + " | ".join("---" for _ in headers) + " |")
    for row in rows:
        cells = [md_text(cell) for cell in row] + [""] * (len(headers) - len(row))
        lines.append("| " + " | ".join(cells[: len(headers)]) + " |")
    return "\n".join(lines)


def md_fence(text: str, last: int = OUTPUT_LINES) -> str:
    """The tail of captured output in a code fence no line of it can close or escape."""
    lines = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip("\n").split("\n")
    tail = [line[:OUTPUT_WIDTH].replace("`", "\u02cb") for line in lines[-last:]]
    return "\n".join(["```text", *tail, "```"])


def _num(value: object, spec: str = ".3f") -> str:
    """A number for a report, or a dash when there is none (None, NaN, not a number)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(number) else format(number, spec)


def _image(alt: str, path: str) -> str:
    """An image link whose target cannot break out of the link syntax."""
    return f"![{md_text(alt)}]({quote(path, safe='/._-')})"


# ---------------------------------------------------------------- one student


def student_markdown(result: GradeResult, curve_png: str | None) -> str:
    """The feedback file a student gets back: the same facts as the terminal report, as Markdown."""
    parts = [
        _header(result),
        "## Checks\n\n" + _checks_table(result),
        "## What to fix first\n\n" + _fix_first(result),
    ]
    if result.runs:
        parts.append("## Training runs\n\n" + _runs_table(result))
    if curve_png:
        parts.append("## Learning curves\n\n" + _image("learning curves", curve_png))
    if result.submission.notes:
        parts.append("## Notes\n\n" + "\n".join(f"- {md_text(n)}" for n in result.submission.notes))
    if result.output.strip():
        title = f"## What your code printed (last {OUTPUT_LINES} lines)"
        parts.append(f"{title}\n\n{md_fence(result.output)}")
    return "\n\n".join(parts) + "\n"


def _window(result: GradeResult) -> str:
    """What a run's accuracy counts, in words."""
    return f"last {result.accuracy_window} iterations" if result.accuracy_window else "last iterations"


def _header(result: GradeResult) -> str:
    """Who, what was graded and the headline numbers, one bullet each."""
    sub = result.submission
    status = md_text(result.status) + (f": {md_text(result.message)}" if result.message else "")
    runs = len(result.accuracy_runs)
    accuracy = f"Accuracy, {_window(result)} (median of {runs} runs)"
    lines = [
        f"# Lab 4 (BPTT) feedback: {md_text(sub.student_id or 'unknown student')}",
        "",
        f"- **Student ID:** {md_text(sub.student_id) or '—'}",
        f"- **Name:** {md_text(sub.name) or '—'}",
        f"- **Module graded:** {md_text(sub.module or Path(sub.source).name) or '—'}",
        f"- **Status:** {status}",
        f"- **Score:** {result.score:g} / {result.max_score:g}",
        f"- **{accuracy}:** {_num(result.accuracy)}",
        f"- **Accuracy on all pairs:** {_num(result.accuracy_exhaustive, '.4f')}",
        f"- **Loss recognised:** {md_text(result.loss_recognised) or '—'}",
        f"- **Grader:** {md_text(result.grader_version)}, "
        f"settings {md_text(result.settings_hash[:12])}",
    ]
    return "\n".join(lines)


def _checks_table(result: GradeResult) -> str:
    """One row per check, labelled like the terminal report."""
    if not result.checks:
        return "No check ran."
    rows = [
        [c.name, LABEL.get(c.status, c.status), _points(c.points, c.max_points), c.message]
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


# ---------------------------------------------------------------- plots


def _figure(rows: int = 1):  # noqa: ANN202 - matplotlib types stay lazy
    """A pyplot-free Agg figure: no global state, nothing left open, safe in batch runs."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    return fig, fig.subplots(rows, 1, sharex=rows > 1, squeeze=False)[:, 0]


def _plain(text: str) -> str:
    """Text matplotlib draws as is (a `$` would start mathtext, which can fail to parse)."""
    return text.replace("$", r"\$")[:80]


def learning_curve_png(result: GradeResult, path: Path) -> bool:
    """Accuracy and bit errors per block for each run, so a student sees how training went;
    the accuracy window is shaded: the iterations the score comes from."""
    runs = [r for r in result.runs if r.accuracy_curve or r.bit_error_curve]
    if not runs:
        return False
    fig, (acc_ax, bit_ax) = _figure(2)
    last = max(max(r.iterations_done, r.curve_block * len(r.accuracy_curve)) for r in runs)
    for ax in (acc_ax, bit_ax):
        ax.axvspan(max(last - (result.accuracy_window or 0), 0), last, color="0.88", zorder=0)
        ax.grid(alpha=0.3)
    for k, r in enumerate(runs):
        color = f"C{k % 10}"
        label = f"seed {r.seed} (accuracy {r.accuracy:.3f})"
        _curve(acc_ax, r.accuracy_curve, r.curve_block, color, label)
        _curve(bit_ax, r.bit_error_curve, r.curve_block, color)
    acc_ax.set(ylabel=f"fraction correct\n(per {runs[0].curve_block} iterations)")
    acc_ax.set_ylim(-0.02, 1.02)
    acc_ax.plot([], [], color="0.88", linewidth=8, label=f"{_window(result)} (scored)")
    acc_ax.legend(loc="lower right", fontsize="small")
    bit_ax.set(ylabel="wrong bits per answer", xlabel="iteration")
    bit_ax.set_ylim(bottom=0)
    who = result.submission.student_id or result.submission.module or "submission"
    fig.suptitle(_plain(f"Learning curves: {who}"))
    return _save(fig, path)


def _curve(ax, values: list[float], block: int, color: str, label: str | None = None) -> None:  # noqa: ANN001
    """One run's curve, a point at the last iteration of each block (one color in both panels)."""
    xs = [(i + 1) * block for i in range(len(values))]
    ax.plot(xs, values, linewidth=1.2, color=color, label=label)


def _save(fig, path: Path) -> bool:  # noqa: ANN001
    """Write the PNG atomically (safe_files), so a crash never leaves half an image."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=DPI)
    write_atomic(path, image.getvalue(), 0o644)
    return True


def score_histogram_png(table: pd.DataFrame, path: Path) -> bool:
    """The class's score distribution, to see at a glance where the grades fall."""
    scores = _numbers(table, "score").dropna()
    if scores.empty:
        return False
    top = _numbers(table, "max_score").max()
    top = float(top) if pd.notna(top) and top > 0 else max(float(scores.max()), 1.0)
    fig, (ax,) = _figure(1)
    ax.hist(scores, bins=20, range=(0, top), color="tab:blue", edgecolor="white")
    median = scores.median()
    ax.axvline(median, color="tab:red", linestyle="--", label=f"median {median:.3g}")
    ax.set(xlabel=f"score (of {top:g})", ylabel="submissions")
    ax.set_title(f"Scores of {len(scores)} submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    return _save(fig, path)


# ---------------------------------------------------------------- the class


def _column(table: pd.DataFrame, name: str) -> pd.Series:
    """A column as text ("" for missing), or an empty column when the table has none."""
    if name not in table.columns:
        return pd.Series([""] * len(table), index=table.index, dtype=object)
    return table[name].fillna("").astype(str).str.strip()


def _numbers(table: pd.DataFrame, name: str) -> pd.Series:
    """A column as floats (NaN where missing or not a number)."""
    if name not in table.columns:
        return pd.Series([math.nan] * len(table), index=table.index, dtype=float)
    return pd.to_numeric(table[name], errors="coerce").astype(float)


def _check_columns(table: pd.DataFrame) -> list[str]:
    """The checks in the table: known ones in grading order, then any others."""
    present = [c.removesuffix("_status") for c in table.columns if str(c).endswith("_status")]
    return [n for n in CHECK_NAMES if n in present] + [n for n in present if n not in CHECK_NAMES]


def summary_markdown(table: pd.DataFrame, histogram_png: str | None) -> str:
    """The instructor's overview of a batch, computed from the grades table."""
    parts = [f"# Lab 4 (BPTT) grading summary\n\n**Submissions:** {len(table)}"]
    if not table.empty:
        parts += [
            "## Status\n\n" + _counts_table(_column(table, "status"), "status"),
            "## Score\n\n" + _score_table(table),
            "## Accuracy\n\n" + _accuracy_table(table),
            "## Checks\n\n" + _checks_summary(table),
            "## Loss recognised\n\n" + _counts_table(_column(table, "loss_recognised"), "loss"),
            "## Flagged submissions\n\n" + _flagged(table),
        ]
    if histogram_png:
        parts.append("## Score histogram\n\n" + _image("score histogram", histogram_png))
    return "\n\n".join(parts) + "\n"


def _counts_table(values: pd.Series, what: str) -> str:
    """How many rows have each value, most common first; empty values count as "none"."""
    counts = values.replace("", "none").value_counts(sort=True)
    return md_table([what, "submissions"], [[k, int(v)] for k, v in counts.items()])


def _score_table(table: pd.DataFrame) -> str:
    """Mean, median, spread of the scores (NaN scores left out)."""
    s = _numbers(table, "score").dropna()
    top = _numbers(table, "max_score").max()
    stats = [
        ("max possible", top), ("mean", s.mean()), ("median", s.median()),
        ("min", s.min()), ("max", s.max()), ("std", s.std()),
    ]
    return md_table(["statistic", "score"], [[k, _num(v, ".2f")] for k, v in stats])


def _accuracy_table(table: pd.DataFrame) -> str:
    """Quantiles of the scored and the all-pairs accuracy, over submissions that have one."""
    quantiles = (0.0, 0.25, 0.5, 0.75, 1.0)
    rows = []
    windows = _numbers(table, "accuracy_window").dropna()
    window = f"last {int(windows.iloc[0])}" if len(windows) else "last iterations"
    columns = ((f"{window}, median of runs", "accuracy"), ("all pairs", "accuracy_exhaustive"))
    for label, name in columns:
        values = _numbers(table, name).dropna()
        cells = [_num(values.quantile(q)) if not values.empty else "—" for q in quantiles]
        rows.append([label, len(values), *cells])
    return md_table(["accuracy", "n", "min", "25%", "median", "75%", "max"], rows)


def _checks_summary(table: pd.DataFrame) -> str:
    """How many submissions passed, failed, skipped or errored each check."""
    names = _check_columns(table)
    if not names:
        return "No check columns in the table."
    rows = []
    for name in names:
        counts = _column(table, f"{name}_status").value_counts()
        rows.append([name, *(int(counts.get(s, 0)) for s in STATUSES)])
    return md_table(["check", *STATUSES], rows)


def _flagged(table: pd.DataFrame) -> str:
    """Submissions an instructor should look at, with why."""
    flags = _column(table, "flags")
    picked = flags != ""
    if not picked.any():
        return "None."
    ids, names = _column(table, "student_id")[picked], _column(table, "name")[picked]
    rows = [[i, n, f.replace(";", ", ")] for i, n, f in zip(ids, names, flags[picked])]
    return md_table(["student id", "name", "flags"], rows)
