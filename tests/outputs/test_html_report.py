"""The class in a browser: index.html and a page per student, static and escaped, tested
in a real headless Chromium where one is installed (Debian's `chromium` package)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader.outputs.html_report import write_report
from grader.outputs.plots import learning_curve_png
from batching import row_of
from grader.batch.rows import Lateness
from grader.results import CheckResult, GradeResult, RunResult, SubmissionInfo

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>\u202e\u200bgpj.exe'
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def result(sid: str, score: float, name: str = "Amy", bug: bool = False, status: str = "graded") -> GradeResult:
    checks = [CheckResult(name="api", status="passed", message="ok"),
              CheckResult(name="gradient_reference", status="failed" if bug else "passed",
                          message=f"gradients of U, W, b differ. Likely: W^T da missing {HOSTILE}" if bug else "ok",
                          details={"bug": "truncated"} if bug else {}),
              CheckResult(name="train", status="passed", points=score, max_points=30.0, message="accuracy")]
    curve = [min(1.0, i / 50) for i in range(100)]
    runs = [RunResult(seed=1, iterations_done=10000, accuracy=score / 30, seconds=2.0, curve_block=100,
                      accuracy_curve=curve, bit_error_curve=[1 - c for c in curve], loss_curve=curve)]
    return GradeResult(grader_version="t", settings_hash="t", status=status, score=score, max_score=30.0,
                       accuracy=score / 30, accuracy_window=1000, checks=checks, runs=runs,
                       output=f"printed {HOSTILE}",
                       submission=SubmissionInfo(source="x.zip", student_id=sid, name=name))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    rows = [(row_of(result("0756001", 30.0, "王小明")), "0756001"),
            (row_of(result("0810002", 4.5, HOSTILE, bug=True), flags=["similar:0756001"]), "0810002"),
            (row_of(result("0810003", 12.0, "Bob"), late=Lateness(late=True, days_late=1.5, factor=0.8,
                                                                  time_source="lms")), "0810003"),
            (row_of(result("0810004", 0.0, "Dan", status="missing")), None)]
    (tmp_path / "feedback").mkdir()
    for g, name in rows:
        if name:
            learning_curve_png(g.result, tmp_path / "feedback" / f"{name}.png")
    write_report(rows, tmp_path, None)
    return tmp_path


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(path: Path) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.tags


def test_student_text_is_escaped_and_only_the_pages_own_script_runs(out: Path) -> None:
    index, page = out / "index.html", out / "report" / "0810002.html"
    assert [t for t, _ in tags(index)].count("script") == 1 and "script" not in [t for t, _ in tags(page)]
    for path in (index, page):
        assert not any("onerror" in attrs for _, attrs in tags(path)), path
        text = path.read_text(encoding="utf-8")
        assert HOSTILE not in text and "&lt;script&gt;" in text
        assert "\u202e" not in text and "\u200b" not in text  # nothing reorders or hides what the page shows
    assert "Content-Security-Policy" in index.read_text(encoding="utf-8")
    assert not (out / "report" / "None.html").exists()  # a missing student has a row, no page


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=120)


def rows_of(dom: str) -> list[tuple[str, bool]]:
    """(student id, hidden) of each table row, in the order the browser shows them."""
    return [(sid, "hidden" in attrs) for attrs, sid in
            re.findall(r'<tr class="row[^"]*"([^>]*)><td>(?:<a [^>]*>)?([^<]+)', dom)]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: on Debian, apt-get install chromium")
def test_in_a_real_browser_the_table_sorts_filters_and_a_student_page_opens(out: Path) -> None:
    index = (out / "index.html").as_uri()
    ascending = chromium("--dump-dom", index + "#sort=score").stdout
    assert 'data-errors' not in ascending, "the page's script raised"
    assert [sid for sid, _ in rows_of(ascending)] == ["0810004", "0810002", "0810003", "0756001"]
    descending = chromium("--dump-dom", index + "#sort=score-desc").stdout
    assert [sid for sid, _ in rows_of(descending)] == ["0756001", "0810003", "0810002", "0810004"]
    by_name = chromium("--dump-dom", index + "#sort=student_id-desc").stdout
    assert [sid for sid, _ in rows_of(by_name)][0] == "0810004"
    flagged = chromium("--dump-dom", index + "#flag=similar:0756001").stdout
    assert [sid for sid, hidden in rows_of(flagged) if not hidden] == ["0810002"]
    graded = chromium("--dump-dom", index + "#status=graded").stdout
    assert sorted(sid for sid, hidden in rows_of(graded) if not hidden) == ["0756001", "0810002", "0810003"]
    page = chromium("--dump-dom", (out / "report" / "0810002.html").as_uri()).stdout
    assert '<table id="checks">' in page and "Likely: W^T da missing" in page and "gradient_reference" in page
    shots = Path(os.environ.get("BPTT_SCREENSHOTS", out / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    for name, url in (("class.png", index + "#sort=score-desc"), ("student.png", (out / "report" / "0810002.html").as_uri())):
        chromium(f"--screenshot={shots / name}", "--window-size=1200,900", url)
        assert (shots / name).read_bytes().startswith(b"\x89PNG"), name


def test_lateness_shows_in_the_class_table_and_the_students_page(out: Path) -> None:
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'data-column="late"' in index and '<td data-value="1.5">1.5 d, x0.8</td>' in index
    page = (out / "report" / "0810003.html").read_text(encoding="utf-8")
    assert "late, 1.50 days, grade x 0.8 (time: lms)" in page
