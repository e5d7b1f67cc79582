"""Who a row is, decided once per row from every source the class has.

The platform's record wins over anything a student wrote: first the roster, matched by the
platform's own id or email (a platform's internal id is never a student id by itself);
then a student id the platform states (Gradescope's sid). Only where the platform says
nothing of the student does the student's own file name count: the handout's
`DLP_LAB4_<id>_<name>` (`handout`), else an id read loosely from it (`file_name`); else only
the name the platform shows (`lms_wrapper`). A file naming another student than the
platform's record is flagged `id_mismatch` and changes nothing. Ids are compared as text in
NFKC form, so fullwidth digits match the ASCII ones they look like; an id a file name writes
in such digits is read in ASCII and flagged `odd_id`.
"""

from __future__ import annotations

import unicodedata

from grader.batch.rows import Identity, IdentitySource, named_in
from grader.batch.roster import Roster, Student, comparable
from grader.intake.layouts import Entry, Layout
from grader.messages import Message
from grader.results import Flag


def same_id(a: str | None, b: str | None) -> bool:
    return bool(a and b) and comparable(a) == comparable(b)


def identify(entry: Entry, roster: Roster | None, layout: Layout) -> tuple[Identity, list[Flag]]:
    """The row's identity from the platform, the roster and the file name, and the flags
    that decision raised."""
    file_id, file_name, naming_ok = named_in(entry)
    platform = layout != "files"
    enrolled: Student | None = None
    if roster is not None:
        enrolled = (roster.find(lms_id=entry.lms_id, email=entry.email, name=entry.lms_name) if platform
                    else roster.find(student_id=file_id))
    source: IdentitySource
    if platform and enrolled is not None:
        sid, name, source = enrolled.student_id, enrolled.name or entry.lms_name, "roster"
    elif entry.student_id:
        sid, name, source = entry.student_id, entry.lms_name or file_name, "lms_metadata"
    elif file_id:
        sid, name = file_id, (enrolled.name if enrolled and enrolled.name else file_name)
        source = "handout" if naming_ok else "file_name"
    else:
        sid, name, source = None, entry.lms_name or file_name, "lms_wrapper" if entry.lms_name else "none"
    notes, flags = [], []
    if sid and source in ("handout", "file_name") and not sid.isascii():  # fullwidth or mathematical digits
        shown = unicodedata.normalize("NFKC", sid).strip()
        notes.append(Message("the file name writes the student id as {written}: read as {shown}", written=repr(sid),
                             shown=shown))
        flags.append("odd_id")
        sid = shown
    if source in ("roster", "lms_metadata") and file_id and not same_id(file_id, sid):
        flags.append("id_mismatch")
        notes.append(Message("the file names student {file_id}, the platform's record is {sid} ({name}); graded as the "
                             "platform's", file_id=file_id, sid=sid, name=name or Message("no name")))
    return Identity(student_id=sid, name=name, source=source, lms=layout if platform else "",
                    lms_id=entry.lms_id, email=entry.email or (enrolled.email if enrolled else None),
                    section=enrolled.section if enrolled else None, notes=tuple(notes)), flags


def enrolled_without_row(roster: Roster, identities: list[Identity]) -> list[Student]:
    """The roster's students no row names (by student id or the platform's id)."""
    ids = {comparable(i.student_id) for i in identities if i.student_id}
    lms = {i.lms_id for i in identities if i.lms_id}
    return [s for s in roster.students
            if comparable(s.student_id) not in ids and not (s.lms_user_id and s.lms_user_id in lms)]
