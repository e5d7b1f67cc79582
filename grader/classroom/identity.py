"""Who a submission is from, decided once per row from every source the class has.

The handout's `DLP_LAB4_<id>_<name>` on the student's own file comes first; then the
roster, matched by the platform's id or email (a platform's internal id is never a
student id by itself); then a student id the platform states (Gradescope's sid,
Blackboard's user name); then an id read loosely from the file name; else only the name
the platform shows. The source is recorded (`identity_source`), and a file that names
another student than the platform's record is flagged `id_mismatch`.
"""

from __future__ import annotations

from grader.classroom.roster import Roster
from grader.intake.layouts import Entry
from grader.results import GradeResult, SubmissionInfo


def identify(result: GradeResult, entry: Entry | None, roster: Roster | None,
             layout: str = "") -> tuple[GradeResult, list[str]]:
    """The result under its best identity (a copy), and the flags that decision raised."""
    sub = result.submission
    enrolled = None
    if roster is not None and entry is not None:
        enrolled = roster.find(lms_id=entry.lms_id, email=entry.email, name=entry.lms_name)
    lms_name = entry.lms_name if entry else None
    if sub.student_id and sub.naming_ok:
        sid, name, source = sub.student_id, sub.name, "handout"
    elif enrolled is not None:
        sid, name, source = enrolled.student_id, enrolled.name or lms_name, "roster"
    elif entry is not None and entry.student_id:
        sid, name, source = entry.student_id, lms_name or sub.name, "lms_metadata"
    elif sub.student_id:
        sid, name, source = sub.student_id, sub.name, "file_name"
    else:
        sid, name, source = None, lms_name or sub.name, "lms_wrapper" if lms_name else "none"
    notes, flags = list(sub.notes), []
    if enrolled is not None and sid != enrolled.student_id:
        flags.append("id_mismatch")
        notes.append(f"the file names student {sid}, the platform's record is {enrolled.student_id} "
                     f"({enrolled.name or 'no name'})")
    if entry is not None:
        notes += [n for n in entry.notes if n not in notes]
    update = {"student_id": sid, "name": name, "identity_source": source, "notes": notes}
    if entry is not None:
        update |= {"lms_id": entry.lms_id, "email": entry.email or (enrolled.email if enrolled else None),
                   "lms": layout if layout != "files" else ""}
    checked = SubmissionInfo.model_validate({**sub.model_dump(), **update})  # platform names are the students' text
    return result.model_copy(update={"submission": checked}), flags
