"""Feedback files: Markdown that never breaks or links out, PNGs that are real, stats that match pandas."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from grader.outputs.feedback import student_markdown
from grader.outputs.markdown import md_table, md_text
from grader.outputs.plots import learning_curve_png, score_histogram_png
from batching import row_of
from grader.outputs.summary import summary_markdown
from grader.results import CHECK_NAMES, CheckResult, GradeResult, RunResult, SubmissionInfo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HOSTILE = "bad | [x](http://evil) <script>alert(1)</script>\nsecond line ```js\n![img](http://evil/i.png)"


def _run(seed: int, iterations: int = 20000, block: int = 100, error: str = "") -> RunResult:
    n = iterations // block
    t = np.linspace(-6, 6, n)
    acc = 1 / (1 + np.exp(-t)) + np.random.default_rng(seed).normal(0, 0.02, n)
    acc = np.clip(acc, 0, 1)
    return RunResult(
        seed=seed,
        iterations_done=iterations,
        accuracy=float(acc[-10:].mean()),
        seconds=4.2,
        curve_block=block,
        accuracy_curve=acc.tolist(),
        bit_error_curve=(3 * (1 - acc)).tolist(),
        loss_curve=(5 * (1 - acc)).tolist(),
        error=error,
    )


def _result(**kw) -> GradeResult:
    base = dict(
        grader_version="0.1.0",
        settings_hash="abc123def4567890",
        submission=SubmissionInfo(source="subs/DLP_LAB4_A123_Ann.zip", module="rnn.py", student_id="A123", name="Ann"),
        status="graded",
    )
    base.update(kw)
    return GradeResult(**base)


@pytest.fixture
def graded() -> GradeResult:
    checks = [CheckResult(name=n, status="passed", message=f"{n} ok") for n in CHECK_NAMES]
    checks[CHECK_NAMES.index("train")] = CheckResult(
        name="train", status="passed", points=29.1, max_points=30.0, message="median accuracy 0.970"
    )
    runs = [_run(1), _run(2), _run(3)]
    return _result(
        checks=checks,
        runs=runs,
        accuracy_runs=[r.accuracy for r in runs],
        accuracy=float(np.median([r.accuracy for r in runs])),
        accuracy_exhaustive=0.99871,
        loss_recognised="bce",
        score=29.1,
        max_score=30.0,
        output="iter 100 loss 5.1\niter 200 loss 4.0\n",
    )


@pytest.fixture
def import_failed() -> GradeResult:
    checks = [
        CheckResult(name="discover", status="passed", message="graded module: rnn.py"),
        CheckResult(name="policy", status="passed", message="only allowed imports"),
        CheckResult(name="import", status="failed", message="ModuleNotFoundError: No module named 'foo'"),
    ] + [
        CheckResult(name=n, status="skipped", message="skipped: the module could not be imported")
        for n in CHECK_NAMES[3:]
    ]
    return _result(checks=checks, status="import_failed", message="the module could not be imported", max_score=30.0)


@pytest.fixture
def hostile() -> GradeResult:
    checks = [
        CheckResult(name="discover", status="passed", message="graded module: rnn.py"),
        CheckResult(name="api", status="failed", message=HOSTILE),
        CheckResult(name="forward_shape", status="skipped", message="skipped: needs api to pass first",
                    waiting_for=["api"]),
        CheckResult(name="forward_values", status="skipped", message="skipped: needs api, forward_shape to pass first",
                    waiting_for=["api", "forward_shape"]),
        CheckResult(name="update", status="error", message="grader error in update: KeyError: 'x|y'"),
    ]
    sub = SubmissionInfo(
        source="x.zip", module="evil|[a](b).py", student_id="<b>id|1</b>", name="[N](http://evil)",
        notes=[HOSTILE, "normal note"],
    )
    output = "\n".join(f"line {i} ```" for i in range(40)) + "\n```\n</pre><script>x</script>\n~~~"
    return _result(submission=sub, checks=checks, runs=[_run(7, error=HOSTILE)], output=output, max_score=30.0)


# ---------------------------------------------------------------- Markdown safety helpers


def _cells(line: str) -> int:
    """Table separators GFM sees on a line: `|` not escaped by a backslash."""
    count, i = 0, 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        count += line[i] == "|"
        i += 1
    return count


def _tables(markdown: str) -> list[list[str]]:
    """Every Markdown table in the text (consecutive lines starting with `|`), outside code fences."""
    tables, current, fenced = [], [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def _assert_tables_intact(markdown: str) -> None:
    tables = _tables(markdown)
    assert tables
    for table in tables:
        width = _cells(table[0])
        assert all(_cells(line) == width for line in table), table
        assert set(table[1].replace("|", "").split()) == {"---"}


def _outside_fences(markdown: str) -> str:
    return re.sub(r"^```text\n.*?^```$", "", markdown, flags=re.S | re.M)


def test_md_text_escapes_everything_that_could_break_out() -> None:
    text = md_text(HOSTILE)
    assert "\n" not in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "](" not in text.replace("\\](", "")
    assert _cells(text) == 0
    assert md_text(None) == "" and md_text(float("nan")) == ""


def test_a_bare_address_in_student_text_never_becomes_a_link() -> None:
    """GFM links `http://...`, `www....` and `a@b.c` with no brackets: written as character
    references, they show the same and link nowhere."""
    text = md_text("login at https://evil.example/x or www.evil.example, mail me@evil.example")
    assert not re.search(r"://|www\.|@", text, re.I)
    shown = text.replace("&#47;", "/").replace("&#46;", ".").replace("&#64;", "@")
    assert shown == "login at https://evil.example/x or www.evil.example, mail me@evil.example"


def test_md_table_pads_and_cuts_rows_to_the_header() -> None:
    table = md_table(["a", "b"], [["1"], ["1", "2", "3"]])
    assert [_cells(line) for line in table.splitlines()] == [3, 3, 3, 3]


# ---------------------------------------------------------------- student feedback


def test_graded_feedback_has_the_facts(graded: GradeResult) -> None:
    md = student_markdown(row_of(graded), "A123_curves.png")
    for fact in ("A123", "Ann", "rnn.py", "graded", "29.1 / 30", "0.9987", "bce", "Nothing: every check"):
        assert fact in md, fact
    assert f"{graded.accuracy:.3f}" in md
    assert "![learning curves](A123_curves.png)" in md
    assert "## Training runs" in md and md.count("| 20000 |") == 3
    assert "iter 200 loss 4.0" in md
    _assert_tables_intact(md)
    check_rows = [line for line in md.splitlines() if line.startswith("| ") and "ok |" in line]
    assert len(check_rows) == len(CHECK_NAMES) - 1


def test_import_failed_feedback_without_runs(import_failed: GradeResult) -> None:
    md = student_markdown(row_of(import_failed), None)
    assert "**import**: ModuleNotFoundError" in md
    assert "**Status:** import_failed: the module could not be imported" in md
    assert "## Training runs" not in md and "![" not in md and "```" not in md
    assert "- api: waits for the module could not be imported" in md
    assert "Accuracy on all pairs:** —" in md
    _assert_tables_intact(md)


def test_hostile_text_cannot_break_tables_or_inject(hostile: GradeResult) -> None:
    md = student_markdown(row_of(hostile), "../x y.png")
    _assert_tables_intact(md)
    prose = _outside_fences(md)
    assert "<script>" not in prose and "<b>" not in prose
    assert "](http" not in prose.replace("\\](http", "")  # every link target follows an escaped bracket
    assert re.search(r"(?<!\\)\[x\]", prose) is None
    assert "![learning curves](../x%20y.png)" in md
    # skipped checks say what they wait for; the grader error is owned by the grader
    assert "- forward_shape: waits for api\n" in md
    assert "waits for api, forward" in md
    assert "not your fault" in md
    assert md.index("**api**") < md.index("Skipped checks")


def test_captured_output_is_a_fence_nothing_closes(hostile: GradeResult) -> None:
    md = student_markdown(row_of(hostile), None)
    block = md[md.index("```text") :]
    lines = block.splitlines()
    closing = lines.index("```", 1)
    inside = lines[1:closing]
    assert len(inside) == 20  # only the tail
    assert all("`" not in line for line in inside)
    assert inside[-1] == "~~~" and "</pre><script>x</script>" in inside
    assert md.count("```") == 2


# ---------------------------------------------------------------- PNGs


def _assert_png(path, min_bytes: int = 5_000) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert min_bytes < len(data) < 1_000_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return width, height


def test_learning_curve_png(graded: GradeResult, tmp_path) -> None:
    path = tmp_path / "out" / "A123.png"
    assert learning_curve_png(graded, path) is True
    width, height = _assert_png(path)
    assert 800 <= width <= 1000 and 500 <= height <= 700
    assert not list(path.parent.glob("*.tmp"))


def test_the_accuracy_window_is_the_results_one(graded: GradeResult, tmp_path) -> None:
    graded = graded.model_copy(update={"accuracy_window": 200})
    assert "Accuracy, last 200 iterations (median of 3 runs)" in student_markdown(row_of(graded), None)


def test_learning_curve_png_without_runs(import_failed: GradeResult, tmp_path) -> None:
    path = tmp_path / "none.png"
    assert learning_curve_png(import_failed, path) is False
    assert not path.exists()


def test_learning_curve_png_with_hostile_id_and_an_empty_run(hostile: GradeResult, tmp_path) -> None:
    hostile.submission.student_id = "$\\frac{1$ <x>"
    empty = RunResult(
        seed=9, iterations_done=0, accuracy=0.0, seconds=0.0, curve_block=100,
        accuracy_curve=[], bit_error_curve=[], loss_curve=[], error="crashed",
    )
    hostile.runs.append(empty)
    assert learning_curve_png(hostile, tmp_path / "h.png") is True
    _assert_png(tmp_path / "h.png")


# ---------------------------------------------------------------- the class summary


SCORES = [30.0, 27.5, 12.0, 0.0, float("nan")]
ACCURACY = [1.0, 0.92, 0.4, None, 0.7]


@pytest.fixture
def klass() -> list:
    statuses = ["graded", "graded", "graded", "import_failed", "graded"]
    graded = []
    for i, (status, score, a) in enumerate(zip(statuses, SCORES, ACCURACY)):
        checks = {n: "passed" if status == "graded" else ("failed" if n == "import" else "skipped") for n in CHECK_NAMES}
        if i == 2:
            checks["train"] = "failed"
        if i == 4:
            checks["update"] = "error"
        result = GradeResult(
            grader_version="t", settings_hash="t", status=status, score=score, max_score=30.0,
            submission=SubmissionInfo(source=f"s{i}.zip", student_id=["S0", "<S1|x>", "S2", "S3", "S4"][i],
                                      name="[evil](http://x) | <i>" if i == 0 else f"name{i}"),
            checks=[CheckResult(name=n, status=st) for n, st in checks.items()],
            accuracy=a, accuracy_window=1000, accuracy_exhaustive=None if a is None else a - 0.01,
            loss_recognised=["bce", "mse", "bce", None, None][i],
        )
        graded.append(row_of(result, flags=[[], ["policy", "naming"], [], ["sandbox"], []][i]))
    return graded


def _row(md: str, first_cell: str) -> list[str]:
    line = next(line for line in md.splitlines() if line.startswith(f"| {first_cell} |"))
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_summary_stats_match_pandas(klass: list) -> None:
    md = summary_markdown(klass, "histogram.png")
    _assert_tables_intact(md)
    assert "**Submissions:** 5" in md
    assert _row(md, "graded") == ["graded", "4"]
    assert _row(md, "import_failed") == ["import_failed", "1"]
    s = pd.Series(SCORES)
    for stat, value in (("mean", s.mean()), ("median", s.median()), ("min", s.min()), ("max", s.max()), ("std", s.std())):
        assert _row(md, stat)[1] == f"{value:.2f}", stat
    q = pd.Series(ACCURACY, dtype=float).dropna().quantile([0, 0.25, 0.5, 0.75, 1])
    assert _row(md, "last 1000 iterations, median of runs")[1:] == ["4", *(f"{v:.3f}" for v in q)]
    assert _row(md, "train") == ["train", "3", "1", "1", "75%", "S2"]  # passed, failed, skipped, rate, who
    assert _row(md, "import") == ["import", "4", "1", "0", "80%", "S3"]
    assert _row(md, "update") == ["update", "3", "1", "1", "75%", "S4"]  # an error is the check's failure too
    assert _row(md, "bce")[1] == "2" and _row(md, "none")[1] == "2" and _row(md, "mse")[1] == "1"
    assert "naming, policy" in md and "sandbox" in md
    assert "<S1" not in md and "](http" not in md.replace("\\](http", "")
    assert "![score histogram](histogram.png)" in md


def test_summary_of_an_empty_or_bare_class() -> None:
    assert "**Submissions:** 0" in summary_markdown([], None)
    bare = row_of(GradeResult(grader_version="t", settings_hash="t", status="graded", score=1.0,
                              submission=SubmissionInfo(source="a.py", student_id="a")))
    md = summary_markdown([bare], None)
    assert "No check ran" in md and "None." in md
    assert _row(md, "std")[1] == "—"  # one score has no spread


def test_score_histogram_png(tmp_path) -> None:
    path = tmp_path / "hist.png"
    assert score_histogram_png(SCORES, 30.0, path) is True
    width, height = _assert_png(path)
    assert (width, height) == (1000, 600)
    assert score_histogram_png([], None, tmp_path / "empty.png") is False
    assert score_histogram_png([math.nan] * 3, 30.0, tmp_path / "nan.png") is False
    assert not (tmp_path / "empty.png").exists()


def test_a_chinese_name_in_a_title_is_drawn_not_boxes(graded: GradeResult, tmp_path) -> None:
    """matplotlib warns "Glyph ... missing from font(s)" for each character it draws as a box."""
    import warnings

    from grader.outputs.plots import CJK_FAMILIES, cjk_font

    if cjk_font() is None:
        pytest.skip(f"no font with CJK glyphs here ({', '.join(CJK_FAMILIES[:2])}, ...): on Debian, "
                    "apt-get install fonts-noto-cjk or fonts-wqy-microhei")
    named = graded.model_copy(update={"submission": graded.submission.model_copy(update={"student_id": "王小明"})})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert learning_curve_png(named, tmp_path / "cjk.png") is True
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert not missing, missing


def test_the_learning_curves_name_the_runs_show_the_reference_the_score_and_the_gate(graded: GradeResult) -> None:
    from grader.outputs.plots import ReferenceCurve, learning_curve_figure

    held = graded.model_copy(deep=True)
    train = held.check("train")
    train.points, train.details = 0.0, {"withheld_by": ["gradient_reference"]}
    held.score = 0.0
    fig = learning_curve_figure(held, ReferenceCurve(100, [min(1.0, i / 20) for i in range(200)]))
    (legend,) = fig.legends  # beside the data, not on it
    assert all(ax.get_legend() is None for ax in fig.axes)
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[0] == "the reference" and labels[1].startswith("run 1: accuracy") and "run 3" in labels[3]
    title = fig.axes[0].get_title()
    assert title.startswith("score 0/30") and "wait for gradient_reference to pass" in " ".join(title.split())
    assert fig.axes[0].title.get_color() == "tab:red"
