"""A class as each platform's "download all submissions" gives it: one entry per student,
the right identity, the latest attempt, nothing graded that is not code. Read without
grading (fast); one end-to-end batch of a Moodle download zip is marked slow."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from grader.intake.layouts import read_class

from downloads import (
    CORRECT, blackboard_class, canvas_class, classroom_class, gradescope_class, handout_zip, moodle_flat_class,
    moodle_folders, put,
)


def entries_by(download, key):  # noqa: ANN001
    return {getattr(e, key): e for e in download.entries}


@pytest.mark.parametrize("trailing", ["_", ""], ids=["moodle3", "moodle4.1"])
def test_moodle_folders_one_entry_per_participant_online_text_noted(tmp_path, trailing):
    download = read_class(moodle_folders(tmp_path / "class", trailing), tmp_path / "staging")
    assert download.layout == "moodle"
    students = entries_by(download, "lms_id")
    assert set(students) == {"1001", "1002", "1003"}
    assert students["1001"].path.name == "DLP_LAB4_0756001_王小明.zip" and students["1001"].lms_name == "王小明"
    assert any("onlinetext" in n for n in students["1001"].notes)
    assert students["1002"].path.name == "rnn.py"
    assert students["1003"].path is None  # online text only: nothing is graded
    assert all(e.student_id is None for e in download.entries), "a participant id is not a student id"


def test_moodle_flat_files(tmp_path):
    root = moodle_flat_class(tmp_path / "class")
    download = read_class(root, tmp_path / "staging")
    assert download.layout == "moodle_flat"
    students = entries_by(download, "lms_id")
    assert students["1001"].path.suffix == ".zip"
    amy = students["1002"]  # two loose files gathered under their own names
    assert amy.path.is_dir() and sorted(p.name for p in amy.path.iterdir()) == ["rnn.py", "utils.py"]
    assert any("onlinetext" in n for n in amy.notes)


def test_canvas_late_flag_and_reuploads(tmp_path):
    root = canvas_class(tmp_path / "class")
    download = read_class(root, tmp_path / "staging")
    assert download.layout == "canvas"
    students = entries_by(download, "lms_id")
    assert students["501"].late and not students["502"].late
    amy = students["502"]
    assert amy.path.name == "rnn.py" and amy.path.read_text(encoding="utf-8") == CORRECT
    assert any("earlier upload" in n for n in amy.notes)
    assert all(e.student_id is None for e in download.entries), "a Canvas user id is not a student id"


def test_gradescope_export_reads_sid_and_time_and_never_grades_the_metadata(tmp_path):
    root = gradescope_class(tmp_path / "class")
    download = read_class(root, tmp_path / "staging")
    assert download.layout == "gradescope"
    assert "submission_metadata.yml" in download.not_code
    amy = entries_by(download, "lms_id")["112"]
    assert amy.student_id == "0810002" and amy.email == "amy@example.edu"  # unquoted: still its zeros
    assert amy.submitted_at == datetime.fromisoformat("2026-12-01T09:00:00+08:00")


def test_blackboard_attempts_latest_graded_receipts_noted(tmp_path):
    root = blackboard_class(tmp_path / "class")
    download = read_class(root, tmp_path / "staging")
    assert download.layout == "blackboard"
    (entry,) = download.entries
    assert entry.submitted_at == datetime(2026, 11, 30, 22, 0) and entry.lms_id == "s0756001"
    assert entry.student_id is None, "a Blackboard user name is the platform's id, not a student id"
    assert any("receipt" in n for n in entry.notes)
    (dropped, kept), = download.superseded
    assert dropped.submitted_at == datetime(2026, 11, 29, 10, 0) and kept is entry


def test_a_plain_folder_never_merges_two_files_by_their_names(tmp_path):
    """A ` (1)` copy of a handout name may be a classmate's upload under someone else's
    name: every file is a submission of its own (the batch flags the shared id)."""
    root = classroom_class(tmp_path / "class")
    download = read_class(root, None)
    assert download.layout == "files"
    assert sorted(e.file for e in download.entries) == [
        "DLP_LAB4_0756001_王小明 (1).zip", "DLP_LAB4_0756001_王小明.zip", "rnn (1).py", "rnn.py"]
    assert download.superseded == []


def test_latest_on_time_attempt_is_chosen_when_the_settings_say_so(tmp_path):
    root = tmp_path / "class"
    for stamp in ("2026-11-29-10-00-00", "2026-12-03-10-00-00"):
        put(root / f"Lab4_s0756001_attempt_{stamp}_DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明"))
    due = datetime.fromisoformat("2026-12-01T23:59:00+08:00")
    download = read_class(root, tmp_path / "staging",
                          on_time=lambda e: e.submitted_at.replace(tzinfo=due.tzinfo) <= due)
    (entry,) = download.entries
    assert entry.submitted_at == datetime(2026, 11, 29, 10, 0)
    assert read_class(root, tmp_path / "staging2").entries[0].submitted_at == datetime(2026, 12, 3, 10, 0)


BUILDERS = {"moodle3": moodle_folders, "moodle4.1": lambda root: moodle_folders(root, ""),
            "moodle_flat": moodle_flat_class, "canvas": canvas_class, "gradescope": gradescope_class,
            "blackboard": blackboard_class, "classroom": classroom_class}


def _summary(download):  # noqa: ANN001
    return download.layout, sorted(
        (e.lms_id or "", e.student_id or "", e.lms_name or "", e.late, str(e.submitted_at),
         e.path.name if e.path else "", e.notes) for e in download.entries)


@pytest.mark.parametrize("layout", sorted(BUILDERS))
def test_the_downloaded_zip_reads_as_its_folder(tmp_path, layout):
    """Each platform's button gives a zip of the layout: unpacked, it reads the same."""
    from grader.batch.run import unpack_class_archive

    folder = BUILDERS[layout](tmp_path / "class")
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(folder).as_posix())
    unpacked = unpack_class_archive(archive, tmp_path / "intake")
    assert _summary(read_class(unpacked, tmp_path / "staging-zip")) == _summary(read_class(folder, tmp_path / "staging"))


def test_gradescope_finds_the_students_files_at_any_depth(tmp_path):
    """Gradescope unpacks an uploaded zip: the handout's own folder sits one level down, and
    is graded as that folder (its name still says whose it is)."""
    root = tmp_path / "class"
    put(root / "submission_111" / "DLP_LAB4_0756001_王小明" / "rnn.py", CORRECT)
    put(root / "submission_111" / "DLP_LAB4_0756001_王小明" / "report.pdf", b"%PDF-1.4\n")
    put(root / "submission_112" / "DLP_LAB4_0810002_Amy" / "src" / "rnn.py", CORRECT)
    put(root / "submission_112" / "DLP_LAB4_0810002_Amy" / "README.md", "hi")
    download = read_class(root, tmp_path / "staging")
    assert download.layout == "gradescope"
    paths = {e.lms_id: e.path for e in download.entries}
    assert paths["111"].name == "DLP_LAB4_0756001_王小明" and paths["111"].is_dir()
    assert paths["112"].name == "DLP_LAB4_0810002_Amy"


def test_moodle_submission_with_two_zips_grades_the_one_holding_code_and_lists_the_other(tmp_path):
    """A resubmission that kept the old file: the zip that holds a module, the newest by the
    download's own file time, is graded; the other is listed, never "include rnn.py"."""
    import os

    box = tmp_path / "class" / "Amy Lin_1002_assignsubmission_file_"
    old = put(box / "DLP_LAB4_0810002_Amy.zip", handout_zip("0810002", "Amy", "# old\n" + CORRECT))
    new = put(box / "DLP_LAB4_0810002_Amy (1).zip", handout_zip("0810002", "Amy"))
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("report.pdf", b"%PDF-1.4\n")
    report = put(box / "report-only.zip", empty.getvalue())
    for path, stamp in ((old, 1_700_000_000), (new, 1_700_100_000), (report, 1_700_200_000)):
        os.utime(path, (stamp, stamp))
    (entry,) = read_class(tmp_path / "class", tmp_path / "staging").entries
    assert entry.path == new
    assert sorted(entry.left_out) == sorted(str(p.relative_to(tmp_path / "class")) for p in (old, report))


def test_the_folder_above_a_download_is_looked_through_or_refused_with_what_to_do(tmp_path):
    from grader.intake.layouts import LayoutError

    above = tmp_path / "downloads"
    moodle_folders(above / "Lab4-download")
    download = read_class(above, tmp_path / "staging")
    assert download.layout == "moodle" and download.looked_through == ("Lab4-download",)
    assert "in Lab4-download/" in download.description and len(download.entries) == 3
    put(above / "Lab4-download.zip", b"PK\x05\x06" + bytes(18))  # the zip beside its unpacked folder
    with pytest.raises(LayoutError, match="Lab4-download/ holds a whole class .* run batch on"):
        read_class(above, tmp_path / "staging2")
    one = tmp_path / "one"
    put(one / "DLP_LAB4_0756001_王小明" / "rnn.py", CORRECT)  # one student's folder is a class of one
    (entry,) = read_class(one, None).entries
    assert entry.file == "DLP_LAB4_0756001_王小明"


def test_an_upload_named_like_a_platform_prefix_never_becomes_another_user(tmp_path):
    """Blackboard and Moodle (flat) names are read from the left: the uploader's own file,
    named `<user>_attempt_<time>_...` or `<id>_assignsubmission_file_...`, stays theirs."""
    bb = tmp_path / "bb"
    put(bb / "Lab4_aaron_attempt_2026-11-30-10-00-00_rnn.py", CORRECT)
    put(bb / "Lab4_aaron_attempt_2026-11-30-10-00-00.txt", "Name: Aaron Wu (aaron)\nComments: Name: fake\n")
    put(bb / "Lab4_mallory_attempt_2026-12-03-10-00-00_aaron_attempt_2026-12-01-00-00-00_rnn.py", "# mine\n")
    put(bb / "Lab4_mallory_attempt_2026-12-03-10-00-00.txt", "Name: Mallory Li (mallory)\n")
    download = read_class(bb, tmp_path / "staging")
    by = {e.lms_id: e for e in download.entries}
    assert set(by) == {"aaron", "mallory"} and download.superseded == []
    assert by["aaron"].path.read_text(encoding="utf-8") == CORRECT and by["aaron"].lms_name == "Aaron Wu"
    assert by["mallory"].submitted_at == datetime(2026, 12, 3, 10, 0)
    flat = tmp_path / "flat"
    put(flat / "Aaron Wu_999_assignsubmission_file_rnn.py", CORRECT)
    put(flat / "Mallory Li_1003_assignsubmission_file_Aaron Wu_999_assignsubmission_file_rnn.py", "# mine\n")
    by = {e.lms_id: e for e in read_class(flat, tmp_path / "staging2").entries}
    assert set(by) == {"999", "1003"} and by["999"].path.read_text(encoding="utf-8") == CORRECT
    assert by["1003"].lms_name == "Mallory Li"
