"""One student's files are that student's problem: what a class's archive cannot take of
one student (a file over the per-file limit, two names that differ only in case) is left
out and said on that student's row; the rest of the class is graded as usual."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from downloads import CORRECT, handout_zip
from test_round_trip import intake_only, read

from grader.batch import run as batch_run
from grader.batch.run import BatchOptions, run_batch
from grader.intake.unzip import MAX_MEMBER
from grader.settings import Settings


def test_a_big_pdf_or_a_case_clash_in_one_students_part_does_not_stop_the_class(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_run, "grade_all", intake_only)
    archive = tmp_path / "moodle-download.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        z.writestr("Amy Lin_1002_assignsubmission_file_/rnn.py", CORRECT)
        z.writestr("Amy Lin_1002_assignsubmission_file_/report.pdf", os.urandom(MAX_MEMBER + 1024))
        z.writestr("Bob Chen_1003_assignsubmission_file_/rnn.py", CORRECT + "\n# bob\n")
        z.writestr("Bob Chen_1003_assignsubmission_file_/RNN.py", "# the old one\n")
        z.writestr("Dan Wu_1004_assignsubmission_file_/DLP_LAB4_0756004_Dan.zip", os.urandom(MAX_MEMBER + 1024))
        z.writestr("王小明_1001_assignsubmission_file_/DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明"))
    out = tmp_path / "out"
    run_batch(archive, out, Settings(), BatchOptions(progress=False, isolation=object()))
    rows = {r["lms_id"]: r for r in read(out / "grades.csv")}
    assert sorted(rows) == ["1001", "1002", "1003", "1004"]
    assert rows["1001"]["status"] == "graded" and rows["1001"]["student_id"] == "0756001"
    amy = rows["1002"]  # her code is graded; the report that was too big is named on her row
    assert amy["status"] == "graded" and "report.pdf was left out of the download" in amy["notes"]
    assert "per file" in amy["notes"]
    bob = rows["1003"]
    assert bob["status"] == "graded" and "differ only in case" in bob["notes"]
    dan = rows["1004"]  # nothing else to grade: the row says why, under its status
    assert dan["status"] == "unsafe_zip" and "per file" in dan["message"]


def test_a_drive_folder_with_one_oversized_zip_keeps_that_students_id(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_run, "grade_all", intake_only)
    archive = tmp_path / "drive.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        z.writestr("Lab 4/DLP_LAB4_0756001_Wang.zip", handout_zip("0756001", "Wang"))
        z.writestr("Lab 4/DLP_LAB4_0756002_Lin.zip", os.urandom(MAX_MEMBER + 1024))
    run_batch(archive, tmp_path / "out", Settings(), BatchOptions(progress=False, isolation=object()))
    rows = {r["student_id"]: r for r in read(tmp_path / "out" / "grades.csv")}
    assert sorted(rows) == ["0756001", "0756002"]
    assert rows["0756002"]["status"] == "unsafe_zip" and rows["0756002"]["file"] == "DLP_LAB4_0756002_Lin.zip"
    assert not any(Path(tmp_path / "out" / "intake").rglob("DLP_LAB4_0756002_Lin.zip")), "never written"


def test_a_gbk_named_zip_and_a_folder_1100_deep_each_get_their_row(tmp_path, monkeypatch):
    """A file name that is not UTF-8 (a Windows machine in China wrote it) is read as GBK and
    graded under that name; a folder nested 1100 deep is that student's `unsafe_zip`, and
    grades.csv is written for the class."""
    monkeypatch.setattr(batch_run, "grade_all", intake_only)
    klass = tmp_path / "class"
    klass.mkdir()
    name = "DLP_LAB4_0756001_王小明.zip".encode("gbk")
    with open(os.path.join(os.fsencode(klass), name), "wb") as f:
        f.write(handout_zip("0756001", "王小明"))
    deep = klass / "DLP_LAB4_0756002_Deep"
    levels = [deep, *(deep / Path(*["d"] * n) for n in range(1, 1101))]  # deeper than a recursive walk goes
    for level in levels:
        level.mkdir()
    (levels[-1] / "rnn.py").write_text(CORRECT)
    (klass / "DLP_LAB4_0756003_Ok.zip").write_bytes(handout_zip("0756003", "Ok"))
    try:
        run_batch(klass, tmp_path / "out", Settings(), BatchOptions(progress=False, isolation=object()))
    finally:  # removed bottom up: pytest's own cleanup walks folders recursively
        (levels[-1] / "rnn.py").unlink()
        for level in reversed(levels):
            os.rmdir(level)
    rows = {r["student_id"]: r for r in read(tmp_path / "out" / "grades.csv")}
    assert sorted(rows) == ["0756001", "0756002", "0756003"]
    assert rows["0756001"]["status"] == "graded" and rows["0756001"]["file"] == "DLP_LAB4_0756001_王小明.zip"
    assert rows["0756002"]["status"] == "unsafe_zip" and "deeper than" in rows["0756002"]["message"]
    assert rows["0756003"]["status"] == "graded"
    assert (tmp_path / "out" / "index.html").is_file()


def test_a_path_that_is_not_utf8_travels_to_the_grader_process(tmp_path):
    from grader.batch.one_process import GradeRequest

    path = Path(os.fsdecode(b"/tmp/\xb4\xfa\xb8\xd5.zip"))
    request = GradeRequest(path_bytes=os.fsencode(path).hex(), result="r", settings=Settings(), isolation={})
    again = GradeRequest.model_validate_json(request.model_dump_json())
    assert Path(os.fsdecode(bytes.fromhex(again.path_bytes))) == path
