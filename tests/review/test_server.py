"""The review app as TAs run it: a real server (uvicorn) in a real headless Chromium, graded
by keyboard; and a server killed mid-save that loses nothing it answered."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from test_app import SAVE, manual, write_out

from grader.outputs.merge import merge
from grader.settings import Settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(out: Path) -> tuple[subprocess.Popen, str]:
    """`bptt-grader review OUT` on a free port, once it answers."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "grader", "review", str(out), "--port", str(port)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError(f"the review server did not start: {server.communicate()[0]}")


@pytest.mark.slow
def test_a_server_killed_mid_save_keeps_every_save_it_answered(tmp_path: Path) -> None:
    out = write_out(tmp_path / "out")
    server, base = serve(out)
    answered: list[dict] = []
    stop = threading.Event()

    def grade(student: str) -> None:
        with httpx.Client(base_url=base, timeout=5) as client:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    version = client.get(f"/api/grades/{student}").json()["version"]
                    answer = client.put(f"/api/grades/{student}", headers=SAVE,
                                        json={"version": version, "ta": "Ann", "points": {"plot": n % 11}})
                except (httpx.TransportError, ValueError):
                    return  # the server is gone
                if answer.status_code == 200:
                    answered.append(answer.json())

    threads = [threading.Thread(target=grade, args=(s,)) for s in ("0756001", "0756002", "0756003")]
    for t in threads:
        t.start()
    while len(answered) < 30:
        time.sleep(0.02)
    os.kill(server.pid, signal.SIGKILL)  # mid-save: the threads are still sending
    stop.set()
    for t in threads:
        t.join()
    server.wait()
    db = sqlite3.connect(out / "review.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = {s: v for s, v in db.execute("SELECT student, version FROM grades")}
    journal = db.execute("SELECT student, COUNT(*) FROM journal GROUP BY student").fetchall()
    for save in answered:  # every answered save is on disk
        assert stored[save["student"]] >= save["version"]
    for student, changes in journal:  # and no half of one: a version per journaled change at most
        assert changes <= stored[student]
    # the server starts again on the same database
    server, base = serve(out)
    try:
        assert httpx.get(base + "/api/grades/0756001").json()["version"] == stored["0756001"]
    finally:
        server.kill()


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: on Debian, apt-get install chromium")
def test_two_students_graded_by_keyboard_in_a_real_browser_reach_final_csv(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    out = write_out(tmp_path / "out")
    server, base = serve(out)
    criteria = Settings().report.criteria
    given = {"0756001": [8, 9, 18, 15, 7], "0756002": [10, 10, 20, 20, 10]}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(base + "/")
            page.fill("#ta", "Ann")
            page.keyboard.press("Escape")  # out of the field
            page.keyboard.press("u")  # the first student to grade
            page.wait_for_url("**/student/0756001")
            for student in ("0756001", "0756002"):
                page.click("input.points >> nth=0")
                for value in given[student]:
                    page.keyboard.type(str(value))
                    page.keyboard.press("Tab")  # to the comment
                    page.keyboard.press("Tab")  # to the next criterion
                page.locator("#state.saved").wait_for()
                if student == "0756001":
                    page.screenshot(path=str(tmp_path / "student.png"))
                    page.keyboard.press("Alt+KeyJ")  # from inside a field: to the next student
                    page.wait_for_url("**/student/0756002")
            page.fill("textarea.comment >> nth=3", "W^T term missing")
            page.locator("#state.saved").wait_for()
            page.reload()
            assert [page.input_value(f"input.points >> nth={i}") for i in range(len(criteria))] == \
                [str(v) for v in given["0756002"]]
            assert page.input_value("textarea.comment >> nth=3") == "W^T term missing"
            assert page.evaluate("document.body.dataset.errors") is None
            page.goto(base + "/")
            assert "2 of 3 reports graded" in page.inner_text("#progress")
            page.screenshot(path=str(tmp_path / "class.png"), full_page=True)
            browser.close()
    finally:
        server.kill()
    print(f"screenshots: {tmp_path / 'class.png'}, {tmp_path / 'student.png'}")
    sheet = manual(out)
    for student, values in given.items():
        assert [sheet[student][c.name] for c in criteria] == [str(v) for v in values]
        assert sheet[student]["graded_by"] == "Ann"
    assert sheet["0756002"]["comments"] == "bptt: W^T term missing"
    merged = merge(out / "grades.csv", out / "manual.csv", Settings())
    totals = dict(zip(merged.table["student_id"], merged.table["total"]))
    assert totals == {"0756001": "87", "0756002": "65.6", "0756003": "", "": ""}  # (12 + 70) x 0.8
