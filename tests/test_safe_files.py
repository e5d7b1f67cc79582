"""The grader's own files cannot be redirected or blocked by what is planted in their place."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from grader.safe_files import UnsafePath, open_fresh, private_dir, read_regular, write_atomic


def _finishes(action, seconds: float = 5.0):  # noqa: ANN001
    """Run `action` in a thread; a hang (a FIFO opened for reading) fails the test, not the suite."""
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(value=action()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked"
    return box.get("value")


def test_write_atomic_replaces_a_planted_symlink_without_following_it(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "grades.csv"
    link.symlink_to(victim)
    write_atomic(link, "student_id,score\n")
    assert victim.read_text() == "precious"
    assert not link.is_symlink() and link.read_text() == "student_id,score\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_write_atomic_replaces_a_planted_fifo_and_refuses_a_folder(tmp_path):
    fifo = tmp_path / "summary.md"
    os.mkfifo(fifo)
    _finishes(lambda: write_atomic(fifo, "# summary"))
    assert fifo.read_text() == "# summary"
    (tmp_path / "feedback.md").mkdir()
    with pytest.raises(UnsafePath):
        write_atomic(tmp_path / "feedback.md", "x")


def test_open_fresh_never_writes_through_a_link_or_into_a_fifo(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    for planted in ("link.log", "fifo.log"):
        path = tmp_path / planted
        if planted.startswith("link"):
            path.symlink_to(victim)
        else:
            os.mkfifo(path)
        fd = _finishes(lambda path=path: open_fresh(path))
        os.write(fd, b"log line")
        os.close(fd)
        assert path.read_bytes() == b"log line" and not path.is_symlink()
    assert victim.read_text() == "precious"


def test_read_regular_refuses_fifos_links_and_oversized_files(tmp_path):
    os.mkfifo(tmp_path / "result.json")
    assert _finishes(lambda: read_regular(tmp_path / "result.json")) is None
    (tmp_path / "real.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    assert read_regular(tmp_path / "link.json") is None
    assert read_regular(tmp_path / "real.json") == b"{}"
    assert read_regular(tmp_path / "real.json", limit=1) is None
    assert read_regular(tmp_path / "missing.json") is None


def test_private_dir_is_0700_and_refuses_a_link(tmp_path):
    out = private_dir(tmp_path / "out")
    assert out.stat().st_mode & 0o777 == 0o700
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "logs").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafePath):
        private_dir(tmp_path / "logs")
    Path(tmp_path / "open").mkdir(mode=0o755)
    assert private_dir(tmp_path / "open").stat().st_mode & 0o777 == 0o700
