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

from grader.classroom.identity import identify
from grader.classroom.roster import Roster, Student, load_roster
from grader.intake.layouts import read_class
from grader.results import GradeResult, SubmissionInfo

CORRECT = (Path(__file__).parents[1] / "submissions" / "correct_bce.py").read_text(encoding="utf-8")


def handout_zip(sid: str, name: str, source: str = CORRECT) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(f"DLP_LAB4_{sid}_{name}/rnn.py", source)
        z.writestr(f"DLP_LAB4_{sid}_{name}/report.pdf", b"%PDF-1.4\n")
    return buffer.getvalue()


def put(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def moodle_folders(root: Path, trailing: str = "_") -> Path:
    """Moodle 3.x (`..._file_/`) or 4.1+ (`..._file/`): a folder per participant and plugin."""
    put(root / f"王小明_1001_assignsubmission_file{trailing}" / "DLP_LAB4_0756001_王小明.zip",
        handout_zip("0756001", "王小明"))
    put(root / f"王小明_1001_assignsubmission_onlinetext{trailing}" / "onlinetext.html", "<p>see my zip</p>")
    put(root / f"Amy Lin_1002_assignsubmission_file{trailing}" / "rnn.py", CORRECT)  # a loose rnn.py
    put(root / f"Bob Chen_1003_assignsubmission_onlinetext{trailing}" / "onlinetext.html", "<p>no code</p>")
    return root


def moodle_flat_class(root: Path) -> Path:
    put(root / "王小明_1001_assignsubmission_file_DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明"))
    put(root / "Amy Lin_1002_assignsubmission_file_rnn.py", CORRECT)
    put(root / "Amy Lin_1002_assignsubmission_file_utils.py", "X = 1\n")
    put(root / "Amy Lin_1002_assignsubmission_onlinetext_onlinetext.html", "<p>hi</p>")
    return root


def canvas_class(root: Path) -> Path:
    put(root / "wangxiaoming_LATE_501_9001_DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明"))
    put(root / "linamy_502_9002_rnn.py", "# first upload\n" + CORRECT)
    put(root / "linamy_502_9010_rnn-1.py", CORRECT)  # uploaded again: the newer one
    return root


def gradescope_class(root: Path) -> Path:
    put(root / "submission_111" / "DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明"))
    put(root / "submission_112" / "rnn.py", CORRECT)
    put(root / "submission_metadata.yml", """submission_111:
  :submitters:
  - :name: 王小明
    :sid: '0756001'
    :email: wang@example.edu
  :created_at: 2026-11-30 23:10:00.000000000 +08:00
submission_112:
  :submitters:
  - :name: Amy Lin
    :sid: 0810002
    :email: amy@example.edu
  :created_at: 2026-12-01 09:00:00.000000000 +08:00
  :tags: !ruby/object:Unknown
    a: 1
""")
    return root


def blackboard_class(root: Path) -> Path:
    put(root / "Lab4_s0756001_attempt_2026-11-29-10-00-00_DLP_LAB4_0756001_王小明.zip",
        handout_zip("0756001", "王小明", "# old\n" + CORRECT))
    put(root / "Lab4_s0756001_attempt_2026-11-29-10-00-00.txt", "Name: 王小明\n")
    put(root / "Lab4_s0756001_attempt_2026-11-30-22-00-00_DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明"))
    put(root / "Lab4_s0756001_attempt_2026-11-30-22-00-00.txt", "Name: 王小明\n")
    return root


def classroom_class(root: Path) -> Path:
    put(root / "DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明", "# old\n" + CORRECT))
    put(root / "DLP_LAB4_0756001_王小明 (1).zip", handout_zip("0756001", "王小明"))
    put(root / "rnn.py", CORRECT)  # two students who both uploaded rnn.py: two submissions
    put(root / "rnn (1).py", CORRECT)
    return root


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
    assert any("receipt" in n for n in entry.notes)
    (dropped, kept), = download.superseded
    assert dropped.submitted_at == datetime(2026, 11, 29, 10, 0) and kept is entry


def test_classroom_copies_of_the_handout_name_are_attempts_other_copies_are_not(tmp_path):
    root = classroom_class(tmp_path / "class")
    download = read_class(root, None)
    assert download.layout == "files"
    assert sorted(e.file for e in download.entries) == ["DLP_LAB4_0756001_王小明 (1).zip", "rnn (1).py", "rnn.py"]
    assert [d.file for d, _ in download.superseded] == ["DLP_LAB4_0756001_王小明.zip"]


def result_named(source: str, student_id: str | None = None, naming_ok: bool = False) -> GradeResult:
    return GradeResult(grader_version="t", settings_hash="t", status="graded",
                       submission=SubmissionInfo(source=source, student_id=student_id, naming_ok=naming_ok))


def test_identity_comes_from_the_best_source(tmp_path):
    download = read_class(moodle_folders(tmp_path / "class"), tmp_path / "staging")
    by = entries_by(download, "lms_id")
    roster = Roster([Student("0810002", "Amy Lin", "amy@example.edu", "1002"), Student("0756001", "王小明")])
    handout, flags = identify(result_named("x.zip", "0756001", True), by["1001"], roster)
    assert (handout.submission.student_id, handout.submission.identity_source, flags) == ("0756001", "handout", [])
    loose, _ = identify(result_named("rnn.py"), by["1002"], roster)
    assert (loose.submission.student_id, loose.submission.name, loose.submission.identity_source) == \
        ("0810002", "Amy Lin", "roster")
    unknown, _ = identify(result_named("rnn.py"), by["1002"], None)
    assert (unknown.submission.student_id, unknown.submission.name, unknown.submission.identity_source) == \
        (None, "Amy Lin", "lms_wrapper")
    impostor, flags = identify(result_named("x.zip", "0756001", True), by["1002"], roster)
    assert flags == ["id_mismatch"] and any("platform's record is 0810002" in n for n in impostor.submission.notes)


def test_roster_keeps_leading_zeros_and_names_its_columns(tmp_path):
    path = put(tmp_path / "roster.csv", "\ufeffstudent_id,name,email,lms_user_id\n0756001,王小明,w@x.edu,1001\n")
    roster = load_roster(path)
    assert roster.find(lms_id="1001").student_id == "0756001"
    assert roster.find(email="W@X.EDU").name == "王小明"
    from grader.classroom.roster import RosterError
    with pytest.raises(RosterError, match="needs a student_id column"):
        load_roster(put(tmp_path / "bad.csv", "id,name\n1,a\n"))


@pytest.mark.slow
def test_a_moodle_download_zip_grades_one_row_per_student_with_roster(tmp_path):
    """End to end: the zip Moodle's button gives, a roster, one row per enrolled student."""
    from grader.classroom.grade_class import grade_class
    from reference.spec import Settings

    moodle = moodle_folders(tmp_path / "moodle")
    archive = tmp_path / "Lab4-download.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(moodle.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(moodle).as_posix())
    roster = Roster([Student("0756001", "王小明", lms_user_id="1001"), Student("0810002", "Amy Lin", lms_user_id="1002"),
                     Student("0810003", "Bob Chen", lms_user_id="1003"), Student("0810004", "Dan Wu")])
    from reference.spec import Late

    settings = Settings().with_overrides(runs=1, iterations=300, accuracy_window=100, audits_per_run=20)
    settings = settings.model_copy(update={"late": Late(due=datetime.fromisoformat("2026-01-01T00:00:00+08:00"),
                                                        policy="zero_after")})
    heard = []
    summary = grade_class(archive, tmp_path / "out", settings, jobs=2, progress=False, roster=roster,
                          announce=heard.append, only={"0999999"})
    assert heard and heard[0].startswith("layout: Moodle, a folder per participant, 3 students")
    assert "--only 0999999: matched no submission" in summary
    table = pd.read_csv(tmp_path / "out" / "grades.csv", dtype=str, keep_default_na=False).set_index("student_id")
    assert sorted(table.index) == ["0756001", "0810002", "0810003", "0810004"]
    assert table.loc["0756001", "identity_source"] == "handout" and table.loc["0756001", "status"] == "graded"
    assert table.loc["0756001", "name"] == "王小明", "the nested file keeps its name when the download zip is unpacked"
    assert table.loc["0810002", "identity_source"] == "roster" and table.loc["0810002", "status"] == "graded"
    assert table.loc["0810003", "status"] == "no_code" and table.loc["0810004", "status"] == "missing"
    assert "onlinetext" in table.loc["0756001", "notes"]
    wang = table.loc["0756001"]  # its zip's members were written today, long after the due date
    assert (wang["time_source"], wang["late"], float(wang["late_factor"])) == ("zip_members", "late", 0.0)
    amy = table.loc["0810002"]  # a loose rnn.py says nothing about when it came in
    assert (amy["time_source"], amy["late_days"], float(amy["late_factor"])) == ("", "", 1.0)


def test_lateness_by_due_date_extension_and_policy():
    from grader.classroom.lateness import assess
    from reference.spec import Late

    late = Late(due=datetime.fromisoformat("2026-12-01T23:59:00+08:00"), policy="percent_per_day",
                percent_per_day=10, grace_minutes=5)
    at = datetime.fromisoformat
    assert assess(late, None, at("2026-12-02T00:03:00+08:00"), "lms", False).factor == 1.0  # within grace
    two_days = assess(late, None, at("2026-12-03T10:00:00+08:00"), "lms", False)
    assert two_days.days_late == pytest.approx(1 + (10 * 60 + 1) / 1440) and two_days.factor == pytest.approx(0.8)
    extended = Student("0756001", extension="2")
    assert assess(late, extended, at("2026-12-03T10:00:00+08:00"), "lms", False).factor == 1.0
    naive = assess(late, None, datetime(2026, 12, 2, 1, 0), "zip_members", False)  # read in the due date's zone
    assert naive.days_late == pytest.approx(61 / 1440)
    zero = Late(due=late.due, policy="zero_after")
    assert assess(zero, None, at("2026-12-02T08:00:00+08:00"), "lms", False).factor == 0.0
    marked = assess(Late(), None, None, "", True)  # Canvas says late; no due date to say by how much
    assert marked.factor == 1.0 and marked.days_late != marked.days_late  # NaN: late, by an unknown amount


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
    from grader.classroom.grade_class import unpack_class_archive

    folder = BUILDERS[layout](tmp_path / "class")
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(folder).as_posix())
    unpacked = unpack_class_archive(archive, tmp_path / "intake")
    assert _summary(read_class(unpacked, tmp_path / "staging-zip")) == _summary(read_class(folder, tmp_path / "staging"))
