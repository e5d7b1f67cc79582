"""What the batch itself tells a student (the platform's notes, who they are, when it came in,
why nothing was graded) reads in Traditional Chinese too, like the checks' messages."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

import downloads
from grader.batch.run import identified
from grader.intake.layouts import read_class
from grader.messages import Message, catalogue
from grader.outputs.feedback import student_markdown
from grader.settings import Late, Settings

CLASSES = [downloads.moodle_folders, downloads.moodle_flat_class, downloads.canvas_class, downloads.gradescope_class,
           downloads.blackboard_class, downloads.classroom_class]


@pytest.mark.parametrize("make", CLASSES, ids=lambda make: make.__name__)
def test_every_note_and_status_of_a_download_reads_in_chinese(tmp_path: Path, make) -> None:
    source = make(tmp_path / "download")
    (tmp_path / "staging").mkdir()
    late = Late(due=datetime(2025, 1, 1, tzinfo=timezone.utc), policy="percent_per_day")  # file times say late
    settings = Settings().model_copy(update={"late": late})
    rows = identified(read_class(source, tmp_path / "staging"), settings, None)
    said = [(row, text) for row in rows for text in [*row.notes, row.result.message] if text]
    assert said, "the download gives its rows notes or statuses to read"
    known = catalogue("zh-TW")
    for row, text in said:
        ref = text.ref if isinstance(text, Message) else row.result.said.get(text)
        assert ref is not None, f"{text!r} was built outside grader/messages.py"
        assert set(ref.templates()) <= set(known), f"{text!r}: {set(ref.templates()) - set(known)}"
    for row in rows:
        feedback = student_markdown(row, None, "zh-TW")
        assert not [n for n in row.notes if len(n) > 20 and n in feedback], feedback


@pytest.mark.slow
def test_a_rerun_in_another_language_regrades_nothing(tmp_path: Path) -> None:
    """The language is not part of a result's settings hash, and a stored result keeps its
    messages' structure: the same class batched again in English reuses every result."""
    from batching import batch

    put = downloads.put
    put(tmp_path / "class" / "DLP_LAB4_0756001_王小明.zip", downloads.handout_zip("0756001", "王小明"))
    short = Settings().with_overrides(runs=1, iterations=300, accuracy_window=100)
    said = batch(tmp_path / "class", tmp_path / "out", short.with_overrides(lang="zh-TW"))
    assert "1 graded now" in said
    chinese = (tmp_path / "out" / "feedback" / "0756001.md").read_text(encoding="utf-8")
    assert "# Lab 4（BPTT）回饋：0756001" in chinese and "評分的模組" in chinese
    again = batch(tmp_path / "class", tmp_path / "out", short)
    assert "0 graded now, 1 from earlier runs" in again
    english = (tmp_path / "out" / "feedback" / "0756001.md").read_text(encoding="utf-8")
    assert "# Lab 4 (BPTT) feedback: 0756001" in english and "graded module" in english and "評分" not in english
