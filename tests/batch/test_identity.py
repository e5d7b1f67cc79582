"""Who a row is and when it came in: the platform's record over anything a student wrote,
lateness never charged on a time the student controls. Read without grading (fast); one
end-to-end batch of a Moodle download zip is marked slow."""

from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from downloads import gradescope_class, handout_zip, moodle_folders, put

from grader.batch.identity import identify
from grader.batch.lateness import assess
from grader.batch.roster import Roster, RosterError, Student, load_roster
from grader.intake.layouts import Entry, read_class
from grader.settings import Late

at = datetime.fromisoformat
DUE = at("2026-12-01T23:59:00+08:00")


def test_identity_comes_from_the_platform_first_and_a_file_naming_someone_else_is_flagged(tmp_path):
    by = {e.lms_id: e for e in read_class(moodle_folders(tmp_path / "class"), tmp_path / "staging").entries}
    roster = Roster([Student("0810002", "Amy Lin", "amy@example.edu", "1002"), Student("0756001", "王小明", None, "1001")])
    wang, flags = identify(by["1001"], roster, "moodle")
    assert (wang.student_id, wang.source, flags) == ("0756001", "roster", [])
    amy, _ = identify(by["1002"], roster, "moodle")  # a loose rnn.py: the roster names her
    assert (amy.student_id, amy.name, amy.source) == ("0810002", "Amy Lin", "roster")
    unknown, _ = identify(by["1002"], None, "moodle")
    assert (unknown.student_id, unknown.name, unknown.source) == (None, "Amy Lin", "lms_wrapper")
    handout, _ = identify(by["1001"], None, "moodle")  # no roster: the handout name is all there is
    assert (handout.student_id, handout.source) == ("0756001", "handout")
    wrong = Roster([Student("0810002", "Amy Lin", None, "1001")])  # the platform's 1001 is Amy
    impostor, flags = identify(by["1001"], wrong, "moodle")
    assert impostor.student_id == "0810002" and flags == ["id_mismatch"]
    assert any("the file names student 0756001, the platform's record is 0810002" in n for n in impostor.notes)


def test_gradescope_sid_wins_over_a_classmates_name_inside_the_submission(tmp_path):
    """Mallory's submission holds a file named for Aaron: the row stays Mallory's, flagged."""
    root = gradescope_class(tmp_path / "class")
    put(root / "submission_112" / "DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明"))
    (root / "submission_112" / "rnn.py").unlink()
    by = {e.lms_id: e for e in read_class(root, tmp_path / "staging").entries}
    mallory, flags = identify(by["112"], None, "gradescope")
    assert (mallory.student_id, mallory.source, flags) == ("0810002", "lms_metadata", ["id_mismatch"])


def test_fullwidth_digits_are_the_same_id_and_a_file_name_writing_them_is_flagged():
    entry = Entry(Path("DLP_LAB4_０７５６００１_王.zip"), "DLP_LAB4_０７５６００１_王.zip", student_id="0756001",
                  lms_id="9")
    who, flags = identify(entry, None, "gradescope")
    assert who.student_id == "0756001" and flags == []
    alone = Entry(Path("DLP_LAB4_０７５６００１_王.zip"), "DLP_LAB4_０７５６００１_王.zip")
    who, flags = identify(alone, None, "files")
    assert who.student_id == "0756001" and flags == ["odd_id"] and "read as 0756001" in who.notes[0]


def test_roster_keeps_leading_zeros_and_names_its_columns(tmp_path):
    path = put(tmp_path / "roster.csv", "\ufeffstudent_id,name,email,lms_user_id\n0756001,王小明,w@x.edu,1001\n")
    roster = load_roster(path)
    assert roster.find(lms_id="1001").student_id == "0756001"
    assert roster.find(email="W@X.EDU").name == "王小明"
    with pytest.raises(RosterError, match="needs a student_id column"):
        load_roster(put(tmp_path / "bad.csv", "id,name\n1,a\n"))


def lms(when: datetime | None = None, late: bool = False) -> Entry:
    return Entry(None, "x", submitted_at=when, late=late)


def test_lateness_by_the_platforms_time_due_date_extension_and_policy():
    late = Late(due=DUE, policy="percent_per_day", percent_per_day=10, grace_minutes=5)
    assert assess(late, None, lms(at("2026-12-02T00:03:00+08:00")), None).factor == 1.0  # within grace
    two_days = assess(late, None, lms(at("2026-12-03T10:00:00+08:00")), None)
    assert two_days.days_late == pytest.approx(1 + (10 * 60 + 1) / 1440) and two_days.factor == pytest.approx(0.8)
    assert two_days.time_source == "lms" and not two_days.unsure
    extended = Student("0756001", extension="2")
    assert assess(late, extended, lms(at("2026-12-03T10:00:00+08:00")), None).factor == 1.0
    naive = assess(late, None, lms(datetime(2026, 12, 2, 1, 0)), None)  # read in the due date's zone
    assert naive.days_late == pytest.approx(61 / 1440)
    zero = Late(due=DUE, policy="zero_after")
    assert assess(zero, None, lms(at("2026-12-02T08:00:00+08:00")), None).factor == 0.0


def test_a_late_mark_without_a_time_counts_as_late_and_asks_a_person():
    """Canvas's `_LATE`: never on time, charged as one day under percent_per_day, flagged."""
    marked = assess(Late(due=DUE, policy="percent_per_day", percent_per_day=10), None, lms(late=True), None)
    assert (marked.late, marked.time_source, marked.unsure) == (True, "lms_mark", True)
    assert marked.factor == pytest.approx(0.9) and marked.days_late is None
    assert assess(Late(due=DUE, policy="zero_after"), None, lms(late=True), None).factor == 0.0
    assert assess(Late(), None, lms(late=True), None).late is True  # no due date: still late, no deduction


def test_file_times_never_lower_a_grade_unless_the_settings_trust_them(tmp_path):
    """A zip's member times are the student's to set: past due, the row is flagged late?,
    and keeps its grade unless late.trust_file_times is on."""
    path = put(tmp_path / "DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明"))  # members dated now
    policy = Late(due=at("2026-01-01T00:00:00+08:00"), policy="zero_after")
    found = assess(policy, None, Entry(path, path.name), path)
    assert (found.time_source, found.late, found.unsure, found.factor) == ("file_times", True, True, 1.0)
    assert "not charged" in found.note
    trusted = assess(policy.model_copy(update={"trust_file_times": True}), None, Entry(path, path.name), path)
    assert trusted.factor == 0.0
    canvas = assess(policy, None, Entry(path, path.name, late=False, submitted_at=at("2025-12-01T00:00:00+08:00")),
                    path)
    assert (canvas.time_source, canvas.late) == ("lms", False), "the platform's time beats the members'"


@pytest.mark.slow
def test_a_moodle_download_zip_grades_one_row_per_student_with_roster(tmp_path):
    """End to end: the zip Moodle's button gives, a roster, one row per enrolled student."""
    from batching import batch
    from grader.settings import Settings

    moodle = moodle_folders(tmp_path / "moodle")
    archive = tmp_path / "Lab4-download.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(moodle.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(moodle).as_posix())
    roster = Roster([Student("0756001", "王小明", lms_user_id="1001"), Student("0810002", "Amy Lin", lms_user_id="1002"),
                     Student("0810003", "Bob Chen", lms_user_id="1003"), Student("0810004", "Dan Wu")])
    settings = Settings().with_overrides(runs=1, iterations=300, accuracy_window=100, audits_per_run=20)
    settings = settings.model_copy(update={"late": Late(due=at("2026-01-01T00:00:00+08:00"), policy="zero_after")})
    heard: list[str] = []
    summary = batch(archive, tmp_path / "out", settings, roster=roster, announce=heard.append, only={"0999999"})
    assert heard and heard[0].startswith("layout: Moodle, a folder per participant, 3 students")
    assert "--only 0999999: matched no submission" in summary
    table = pd.read_csv(tmp_path / "out" / "grades.csv", dtype=str, keep_default_na=False).set_index("student_id")
    assert sorted(table.index) == ["0756001", "0810002", "0810003", "0810004"]
    assert table.loc["0756001", "identity_source"] == "roster" and table.loc["0756001", "status"] == "graded"
    assert table.loc["0756001", "name"] == "王小明"
    assert table.loc["0810002", "identity_source"] == "roster" and table.loc["0810002", "status"] == "graded"
    assert table.loc["0810003", "status"] == "no_code" and table.loc["0810004", "status"] == "missing"
    assert "onlinetext" in table.loc["0756001", "notes"]
    wang = table.loc["0756001"]  # its zip's members were written today, long after the due date: not charged
    assert (wang["time_source"], wang["late"], float(wang["late_factor"])) == ("file_times", "late", 1.0)
    assert "late?" in wang["flags"]
    amy = table.loc["0810002"]  # a loose rnn.py says nothing about when it came in
    assert (amy["time_source"], amy["late_days"], float(amy["late_factor"])) == ("", "", 1.0)
    summary_md = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "## Late submissions" in summary_md and "0756001" in summary_md.split("## Late submissions")[1]
