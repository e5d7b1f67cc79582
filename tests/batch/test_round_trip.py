"""The class round trip as an invariant: for every generated class download (any layout,
nestings, broken files, resubmissions, CJK and leading-zero ids), every student is in
grades.csv, final.csv and every export exactly once, under the right id, whatever happened
to their submission; and no file name makes one student another.

Grading is replaced by the intake alone (each upload is opened as grading would open it,
and a readable one scores by its content): the property is about identity through the
batch's stages, and the suite grades real classes elsewhere.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from batching import intake_only
from downloads import CORRECT, put
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from zipfactory import zip_bytes

from grader.batch import run as batch_run
from grader.batch.roster import Roster, Student
from grader.batch.run import BatchOptions, run_batch
from grader.outputs.gradebook import export
from grader.outputs.merge import merge, write
from grader.settings import Settings

LAYOUTS = ("files", "moodle", "moodle_flat", "canvas", "gradescope", "blackboard")
KINDS = ("good", "bad_zip", "no_py", "two_rnn", "nested", "empty_zip")
NAMES = ("王小明", "Amy Lin", "陳 美玲", "Bob", "李四", "Zoë")


@dataclass(frozen=True)
class Student_:
    sid: str
    name: str
    lms_id: str
    kind: str
    resubmitted: bool


def submission(s: Student_, marker: str = "") -> tuple[str, bytes]:
    """(file name, bytes) of one student's upload of this kind."""
    top = f"DLP_LAB4_{s.sid}_{s.name}"
    source = CORRECT + f"\n# {s.sid}{marker}\n"
    if s.kind == "bad_zip":
        return f"{top}.zip", b"PK\x03\x04 truncated"
    if s.kind == "no_py":
        return f"{top}.zip", zip_bytes({f"{top}/report.pdf": b"%PDF-1.4\n"}.items())
    if s.kind == "two_rnn":
        return f"{top}.zip", zip_bytes({f"{top}/a/rnn.py": source, f"{top}/b/rnn.py": source}.items())
    if s.kind == "nested":
        return f"{top}.zip", zip_bytes([(f"{top}/src/deep/rnn.py", source), (f"{top}/report.pdf", b"%PDF")])
    if s.kind == "empty_zip":
        return f"{top}.zip", zip_bytes({}.items())
    return f"{top}.zip", zip_bytes({f"{top}/rnn.py": source}.items())


def write_class(root: Path, layout: str, students: list[Student_]) -> None:
    """The download as the platform writes it."""
    metadata = []
    for n, s in enumerate(students):
        name, data = submission(s)
        old_name, old = submission(s, " old")
        if layout == "files":
            put(root / name, data)
        elif layout == "moodle":
            box = root / f"{s.name}_{s.lms_id}_assignsubmission_file_"
            put(box / name, data)
            if s.resubmitted:  # the old file kept beside the new, older by the download's time
                put(box / ("old-" + old_name), old)
                os.utime(box / ("old-" + old_name), (1_600_000_000, 1_600_000_000))
        elif layout == "moodle_flat":
            put(root / f"{s.name}_{s.lms_id}_assignsubmission_file_{name}", data)
        elif layout == "canvas":
            user = s.name.replace(" ", "").lower() or "x"
            put(root / f"{user}_{s.lms_id}_{9000 + 2 * n}_{name}", old if s.resubmitted else data)
            if s.resubmitted:
                put(root / f"{user}_{s.lms_id}_{9001 + 2 * n}_{name.replace('.zip', '-1.zip')}", data)
        elif layout == "gradescope":
            put(root / f"submission_{s.lms_id}" / name, data)
            metadata.append(f"submission_{s.lms_id}:\n  :submitters:\n  - :name: {s.name}\n    :sid: '{s.sid}'\n")
        elif layout == "blackboard":
            stamp = "2026-11-30-10-00-00"
            if s.resubmitted:
                put(root / f"Lab4_u{s.lms_id}_attempt_2026-11-29-10-00-00_{old_name}", old)
                put(root / f"Lab4_u{s.lms_id}_attempt_2026-11-29-10-00-00.txt", f"Name: {s.name} (u{s.lms_id})\n")
            put(root / f"Lab4_u{s.lms_id}_attempt_{stamp}_{name}", data)
            put(root / f"Lab4_u{s.lms_id}_attempt_{stamp}.txt", f"Name: {s.name} (u{s.lms_id})\n")
    if metadata:
        put(root / "submission_metadata.yml", "".join(metadata))


def lms_key(layout: str, s: Student_) -> str:
    return f"u{s.lms_id}" if layout == "blackboard" else s.lms_id


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


students_strategy = st.lists(
    st.builds(Student_, sid=st.from_regex(r"0[0-9]{6}", fullmatch=True), name=st.sampled_from(NAMES),
              lms_id=st.integers(100, 999).map(str), kind=st.sampled_from(KINDS), resubmitted=st.booleans()),
    min_size=1, max_size=6, unique_by=(lambda s: s.sid, lambda s: s.lms_id, lambda s: s.name))


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=st.sampled_from(LAYOUTS), students=students_strategy, with_roster=st.booleans(), absent=st.booleans())
def test_every_student_is_in_every_output_once_under_the_right_id(tmp_path_factory, monkeypatch, layout, students,
                                                                   with_roster, absent):
    monkeypatch.setattr(batch_run, "grade_all", intake_only)
    base = tmp_path_factory.mktemp("round")
    write_class(base / "class", layout, students)
    enrolled = [Student(s.sid, s.name, lms_user_id=lms_key(layout, s)) for s in students]
    if absent:
        enrolled.append(Student("0999999", "Nobody Here", lms_user_id="1"))
    roster = Roster(enrolled) if with_roster else None
    out = base / "out"
    run_batch(base / "class", out, Settings(), BatchOptions(progress=False, roster=roster, isolation=object()))

    rows = read(out / "grades.csv")
    expected_ids = {s.sid for s in students} | ({"0999999"} if with_roster and absent else set())
    platform = layout != "files"
    if platform:  # one row per platform user (and the roster's absent student)
        keys = [r["lms_id"] for r in rows if r["status"] != "missing"]
        assert sorted(keys) == sorted(lms_key(layout, s) for s in students)
    for r in rows:  # never another student's id
        owner = next((s for s in students if platform and r["lms_id"] == lms_key(layout, s)), None)
        if owner is not None and r["student_id"]:
            assert r["student_id"] == owner.sid, (r["file"], r["student_id"], owner)
    known = [r["student_id"] for r in rows if r["student_id"]]
    if with_roster or layout in ("files", "gradescope"):
        assert sorted(known) == sorted(expected_ids), "each student once, under the right id"
    assert len(known) == len(set(known)), "no id twice"

    manual = base / "manual.csv"
    manual.write_text("student_id,plot\n" + "".join(f"{sid},5\n" for sid in known), encoding="utf-8")
    write(merge(out / "grades.csv", manual, Settings()).table, out / "final.csv")
    assert sorted(read(out / "final.csv"), key=lambda r: r["student_id"]) and \
        sorted(r["student_id"] for r in read(out / "final.csv")) == sorted(r["student_id"] for r in rows)
    for target, column, assignment in (("csv", "student_id", None), ("moodle", "ID number", None),
                                       ("canvas", "SIS User ID", "Lab 4 (1)"), ("blackboard", "Student ID", "Lab 4 |1")):
        export(out / "final.csv", target, base / f"{target}.csv", assignment)  # type: ignore[arg-type]
        ids = [r[column] for r in read(base / f"{target}.csv") if r[column]]
        assert sorted(ids) == sorted(known), target


def test_a_broken_or_empty_submission_keeps_the_id_its_name_gives(tmp_path, monkeypatch):
    """A bad zip, a zip without code, two rnn.py, an empty folder: each row keeps its id and
    says why it was not graded; with a roster nobody is also listed as missing."""
    monkeypatch.setattr(batch_run, "grade_all", intake_only)
    klass = tmp_path / "class"
    for sid, kind in (("0756001", "bad_zip"), ("0756002", "no_py"), ("0756003", "two_rnn")):
        name, data = submission(Student_(sid, "S", "1", kind, False))
        put(klass / name, data)
    (klass / "DLP_LAB4_0756004_Empty").mkdir(parents=True)
    roster = Roster([Student(f"075600{i}", "S") for i in range(1, 5)])
    run_batch(klass, tmp_path / "out", Settings(), BatchOptions(progress=False, roster=roster, isolation=object()))
    rows = {r["student_id"]: r for r in read(tmp_path / "out" / "grades.csv")}
    assert sorted(rows) == ["0756001", "0756002", "0756003", "0756004"]
    assert [rows[f"075600{i}"]["status"] for i in range(1, 5)] == ["bad_zip", "no_module", "several_modules", "no_module"]
    assert all(r["message"] for r in rows.values())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_ids_keep_their_text_through_merge_and_every_export(tmp_path, monkeypatch, layout):
    monkeypatch.setattr(batch_run, "grade_all", intake_only)
    students = [Student_("0751234", "王小明", "0123", "good", False), Student_("0012345", "Zoë", "0456", "good", False)]
    write_class(tmp_path / "class", layout, students)
    roster = Roster([Student(s.sid, s.name, lms_user_id=lms_key(layout, s)) for s in students])
    out = tmp_path / "out"
    run_batch(tmp_path / "class", out, Settings(), BatchOptions(progress=False, roster=roster, isolation=object()))
    (tmp_path / "manual.csv").write_text("student_id,plot\n0751234,5\n12345,5\n", encoding="utf-8")
    write(merge(out / "grades.csv", tmp_path / "manual.csv", Settings()).table, out / "final.csv")
    final = read(out / "final.csv")
    assert sorted(r["student_id"] for r in final) == ["0012345", "0751234"]
    if layout != "files":
        assert sorted(r["lms_id"] for r in final) == sorted(lms_key(layout, s) for s in students)
    export(out / "final.csv", "csv", tmp_path / "plain.csv")
    assert sorted(r["student_id"] for r in read(tmp_path / "plain.csv")) == ["0012345", "0751234"]
    export(out / "final.csv", "blackboard", tmp_path / "bb.csv", "Lab 4 |1")
    assert sorted(r["Student ID"] for r in read(tmp_path / "bb.csv")) == ["0012345", "0751234"]


def test_a_class_where_most_rows_found_nothing_is_reported_as_a_layout_problem(tmp_path, monkeypatch):
    """Four of five folders hold no code where the grader looks: a warning and `layout?` on
    those rows, not five quiet zeros; two of four broken is a class, not a layout."""
    monkeypatch.setattr(batch_run, "grade_all", intake_only)
    klass = tmp_path / "class"
    for i in range(4):
        put(klass / f"DLP_LAB4_075600{i}_S" / "notes.txt", "see attachment")
    name, data = submission(Student_("0756009", "S", "1", "good", False))
    put(klass / name, data)
    report = run_batch(klass, tmp_path / "out", Settings(), BatchOptions(progress=False, isolation=object()))
    assert report.warnings and "4 of 5 rows are no_module" in report.warnings[0]
    assert "Warning" in (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    flagged = [r["student_id"] for r in read(tmp_path / "out" / "grades.csv") if "layout?" in r["flags"]]
    assert sorted(flagged) == [f"075600{i}" for i in range(4)]
    (klass / "DLP_LAB4_0756003_S").rename(tmp_path / "gone")
    (klass / "DLP_LAB4_0756002_S").rename(tmp_path / "gone2")
    quiet = run_batch(klass, tmp_path / "out2", Settings(), BatchOptions(progress=False, isolation=object()))
    assert quiet.warnings == []
