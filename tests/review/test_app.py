"""The review app's routes through Starlette's test client: pages, saves, conflicts between
two TAs, the journal, manual.csv, hostile names and files, the token and the Host check."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from grader.outputs.merge import merge
from grader.review.app import create_app
from grader.review.db import ReviewDB
from grader.review.klass import load_class
from grader.settings import Settings

HOSTILE = "<script>alert(1)</script>\u202e"


def report_pdf() -> bytes:
    """A real two-page report: text on the forward pass and BPTT, and a learning curve."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    buffer = io.BytesIO()
    with PdfPages(buffer) as pdf:
        fig = plt.figure(figsize=(8.27, 11.69))
        fig.text(0.1, 0.9, "Lab 4 report: forward propagation with tanh and sigmoid", fontsize=12)
        fig.text(0.1, 0.85, "BPTT: the gradient flows back through time", fontsize=12)
        pdf.savefig(fig)
        plt.close(fig)
        fig, ax = plt.subplots()
        ax.plot(range(100), [min(1, i / 50) for i in range(100)])
        ax.imshow([[0, 1], [1, 0]], extent=(80, 100, 0, 0.2))  # a raster image, as a pasted screenshot is
        ax.set_title("accuracy curve over 20000 iterations")
        pdf.savefig(fig)
        plt.close(fig)
    return buffer.getvalue()


PDF = report_pdf()
HEADER = ("student_id,name,section,file,status,score,max_score,message,feedback,flags,late,late_factor,"
          "report,feedback_page,forward_values_status")
SAVE = {"Content-Type": "application/json", "X-Review": "1"}


def write_out(out: Path) -> Path:
    """A batch's output folder, as far as review reads it: grades.csv, reports, feedback."""
    (out / "reports").mkdir(parents=True)
    (out / "feedback").mkdir()
    lines = [HEADER,
             '0756001,王小明,A,a.zip,graded,30,30,ok,"fix first: nothing",,,1,reports/0756001.pdf,'
             'feedback/0756001.md,passed',
             f'0756002,"{HOSTILE}",B,b.zip,graded,12,30,ok,,similar:0756001,late,0.8,reports/0756002.html,'
             'feedback/0756002.md,failed',
             "0756003,Bob,A,c.zip,bad_zip,0,30,damaged,,,,1,,feedback/0756003.md,",
             ",nobody,A,d.zip,graded,3,30,ok,,,,1,,feedback/d.md,passed"]
    (out / "grades.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "reports" / "0756001.pdf").write_bytes(PDF)
    (out / "reports" / "0756002.html").write_text(f"<html><script>alert(1)</script>{HOSTILE}</html>")
    for name in ("0756001", "0756002", "0756003"):
        (out / "feedback" / f"{name}.md").write_text(f"# feedback of {name}\n", encoding="utf-8")
    return out


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return write_out(tmp_path / "out")


def client(out: Path, token: str | None = None, hosts: tuple[str, ...] = ("testserver",)) -> TestClient:
    return TestClient(create_app(load_class(out, Settings()), token, hosts))


def manual(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "manual.csv", encoding="utf-8-sig", newline="") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}


def test_the_class_page_lists_every_gradable_student_and_says_who_cannot_be(out: Path) -> None:
    page = client(out).get("/")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert "0 of 3 reports graded" in page.text and "1 row cannot be graded here" in page.text
    assert "d.zip: no student id" in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "\u202e" not in page.text


def test_a_student_page_shows_the_report_result_and_rubric_escaped(out: Path) -> None:
    app = client(out)
    page = app.get("/student/0756002")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "\u202e" not in page.text
    assert "download it" in page.text and "iframe" not in page.text  # an HTML "report" is never shown
    for c in Settings().report.criteria:
        assert f'data-criterion="{c.name}"' in page.text
    first = app.get("/student/0756001")
    assert '<iframe id=report src="/report/0756001"' in first.text and "fix first: nothing" in first.text
    assert app.get("/student/nobody").status_code == 404
    assert app.get("/student/..%2F..%2Fgrades.csv").status_code == 404


def test_reports_are_served_by_key_inline_only_when_they_are_pdfs(out: Path) -> None:
    app = client(out)
    pdf = app.get("/report/0756001")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content == PDF
    assert pdf.headers["content-disposition"].startswith("inline") and pdf.headers["x-content-type-options"] == "nosniff"
    html = app.get("/report/0756002")
    assert html.headers["content-type"] == "application/octet-stream"
    assert html.headers["content-disposition"].startswith("attachment")
    assert app.get("/report/0756003").status_code == 404
    (out / "reports" / "0756001.pdf").unlink()
    (out / "reports" / "0756001.pdf").symlink_to(out / "grades.csv")  # never followed
    assert app.get("/report/0756001").status_code == 404
    assert app.get("/feedback/0756001").text.startswith("# feedback of 0756001")


def test_saves_are_versioned_journaled_and_written_to_manual_csv(out: Path) -> None:
    app = client(out)
    saved = app.put("/api/grades/0756001", headers=SAVE, json={"version": 0, "ta": "Ann", "points": {"plot": 8},
                                                               "comments": {"plot": "axes not labelled"}})
    assert saved.status_code == 200 and saved.json()["version"] == 1
    again = app.put("/api/grades/0756001", headers=SAVE, json={"version": 1, "ta": "Ann", "points": {"plot": 9}})
    assert again.json()["version"] == 2 and again.json()["points"] == {"plot": 9}
    journal = ReviewDB(out / "review.sqlite").journal("0756001")
    assert [(j["field"], j["old"], j["new"], j["ta"]) for j in journal] == [
        ("points.plot", None, "8", "Ann"), ("comment.plot", "", "axes not labelled", "Ann"), ("points.plot", "8", "9", "Ann")]
    row = manual(out)["0756001"]
    assert (row["plot"], row["bptt"], row["graded_by"], row["comments"]) == ("9", "", "Ann", "plot: axes not labelled")
    assert sorted(manual(out)) == ["0756001", "0756002", "0756003"]


def test_two_tas_never_overwrite_each_other_silently(out: Path) -> None:
    app = client(out)
    assert app.put("/api/grades/0756001", headers=SAVE, json={"version": 0, "ta": "Ann", "points": {"bptt": 15}}).status_code == 200
    late = app.put("/api/grades/0756001", headers=SAVE, json={"version": 0, "ta": "Ben", "points": {"bptt": 5}})
    assert late.status_code == 409 and "Ann saved this student" in late.json()["error"]
    assert late.json()["current"]["points"] == {"bptt": 15}
    assert ReviewDB(out / "review.sqlite").get("0756001").points == {"bptt": 15}
    # Ben chooses to save his over Ann's: on the version he was shown
    assert app.put("/api/grades/0756001", headers=SAVE,
                   json={"version": 1, "ta": "Ben", "points": {"bptt": 5}}).json()["points"] == {"bptt": 5}


def test_concurrent_saves_from_threads_each_land_once(out: Path) -> None:
    """Twenty TAs' saves at once on one version: exactly one wins, the others get a conflict."""
    app = client(out)
    answers: list[int] = []

    def save(n: int) -> None:
        answers.append(app.put("/api/grades/0756003", headers=SAVE,
                               json={"version": 0, "ta": f"TA{n}", "points": {"code": n % 10}}).status_code)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200] + [409] * 19
    assert ReviewDB(out / "review.sqlite").get("0756003").version == 1


@pytest.mark.parametrize("body,says", [
    ({"version": 0, "points": {"plot": 11}}, "outside 0..10"),
    ({"version": 0, "points": {"plot": -1}}, "outside 0..10"),
    ({"version": 0, "points": {"essay": 1}}, "not a criterion"),
    ({"version": 0, "comments": {"plot": "x" * 2001}}, "longer than 2000"),
    ({"version": 0, "points": {"plot": "ten"}}, "valid number"),
    ({"version": 0, "points": {}, "admin": True}, "Extra inputs"),
])
def test_a_save_outside_the_rubric_is_refused_and_changes_nothing(out: Path, body: dict, says: str) -> None:
    answer = client(out).put("/api/grades/0756001", headers=SAVE, json=body)
    assert answer.status_code == 422 and says in answer.json()["error"]
    assert ReviewDB(out / "review.sqlite").get("0756001").version == 0


def test_infinite_or_undefined_points_are_refused(out: Path) -> None:
    app = client(out)
    for raw in (b'{"version": 0, "points": {"plot": Infinity}}', b'{"version": 0, "points": {"plot": NaN}}'):
        answer = app.put("/api/grades/0756001", headers=SAVE, content=raw)
        assert answer.status_code == 422 and "outside 0..10" in answer.json()["error"], answer.text
    assert ReviewDB(out / "review.sqlite").get("0756001").version == 0


def test_a_save_another_site_could_send_is_refused(out: Path) -> None:
    """A form or a simple request from another page has no X-Review header (adding one needs
    a CORS preflight the app never grants)."""
    app = client(out)
    form = app.put("/api/grades/0756001", data={"version": "0"}, headers={"X-Review": "1"})
    plain = app.put("/api/grades/0756001", content=b'{"version": 0, "points": {"plot": 1}}',
                    headers={"Content-Type": "text/plain"})
    assert form.status_code == plain.status_code == 400
    assert ReviewDB(out / "review.sqlite").get("0756001").version == 0


def test_a_request_for_another_host_is_refused_on_this_machine(out: Path) -> None:
    """DNS rebinding: evil.example resolving to 127.0.0.1 reaches the port, not the app."""
    app = TestClient(create_app(load_class(out, Settings())), base_url="http://evil.example")
    assert app.get("/").status_code == 400
    local = TestClient(create_app(load_class(out, Settings())), base_url="http://127.0.0.1:8765")
    assert local.get("/").status_code == 200


def test_with_a_token_nothing_answers_without_it(out: Path) -> None:
    app = client(out, token="s3cret", hosts=("*",))
    assert app.get("/").status_code == 401 and app.get("/report/0756001").status_code == 401
    assert app.put("/api/grades/0756001", headers=SAVE, json={"version": 0, "points": {"plot": 1}}).status_code == 401
    assert app.get("/?token=wrong").status_code == 401
    assert app.get("/?token=s3cret").status_code == 200  # followed the redirect with the cookie set
    assert app.get("/student/0756001").status_code == 200


def test_manual_csv_merges_into_final_csv(out: Path) -> None:
    app = client(out)
    points = {c.name: c.points for c in Settings().report.criteria}
    app.put("/api/grades/0756001", headers=SAVE, json={"version": 0, "ta": "Ann", "points": points})
    app.put("/api/grades/0756002", headers=SAVE, json={"version": 0, "ta": "Ann", "points": {"plot": 1}})
    merged = merge(out / "grades.csv", out / "manual.csv", Settings())
    totals = dict(zip(merged.table["student_id"], merged.table["total"]))
    assert totals["0756001"] == "100" and totals["0756002"] == ""
    assert merged.not_graded == ["0756002", "0756003", "d.zip"] and merged.problems == []


def test_next_to_grade_skips_the_graded(out: Path) -> None:
    app = client(out)
    points = {c.name: 1 for c in Settings().report.criteria}
    app.put("/api/grades/0756002", headers=SAVE, json={"version": 0, "points": points})
    answer = app.get("/next?after=0756001", follow_redirects=False)
    assert answer.headers["location"] == "/student/0756003"


def test_hints_read_the_pdf_in_a_child_and_decide_nothing(out: Path) -> None:
    page = client(out).get("/student/0756001").text
    assert "2 pages, holds a figure" in page
    assert "mentions: curve, iteration, accuracy" in page and "mentions: forward, tanh, sigmoid" in page
    assert "none of: code, function, class" in page
    assert 'value=""' in page  # no points were filled in from the hints
    (out / "reports" / "0756001.pdf").write_bytes(b"%PDF-1.4\n" + b"\x00" * 100)  # a new file: hints again
    assert "could not be read for hints" in client(out).get("/student/0756001").text
