"""Which learning platform's "download all submissions" a class folder is, and each
student's submission in it.

Instructors rarely get a tidy folder of `DLP_LAB4_<id>_<name>.zip` files; they press the
platform's bulk-download button. Each layout below is recognised by the names the
platform gives (its top-level entries), and read into one `Entry` per student: what to
grade, what the platform says about the student (its own id, a name, a student id where it
has one) and when it was submitted.

The rules, because a student can name an upload anything:
- a platform's name is parsed from the left: the platform writes its prefix first, so the
  student's own file name (the rest) can never make a user or an attempt;
- a name the student chose never merges two submissions: in a plain folder every file is a
  submission of its own (two claiming one id are both graded, and flagged by the batch);
- of several code files in one student's submission: loose code files are graded together
  as the folder; else the zip that holds a module (`.py` or notebook), the newest by the time
  the platform's download records for it, then by name; the others are listed (`left_out`);
- what is not code (online text, receipts, metadata) is noted, never graded;
- several attempts of one student give one entry, the latest (kept in `superseded`).
A folder that only wraps the download (the folder above it) is looked through; one that
holds a whole class beside other things is refused with a `LayoutError` naming it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from grader.intake.lms_metadata import gradescope_submitters
from grader.intake.submission import display_name, parse_name
from grader.intake.unzip import MAX_DEPTH, STATUSES, IntakeStatus, holds_module, ignore_reason
from grader.messages import Message

NO_FILE = Message("no file submitted")


def not_graded(plugin: str) -> Message:
    """A platform's other kind of submission (online text, a comment), named in the row's notes."""
    return Message("{plugin} submission noted, not graded", plugin=plugin)

Layout = Literal["moodle", "moodle_flat", "canvas", "gradescope", "blackboard", "files"]
DESCRIBED: dict[str, str] = {
    "moodle": "Moodle, a folder per participant",
    "moodle_flat": "Moodle, one file per upload (download as folders off)",
    "canvas": "Canvas",
    "gradescope": "Gradescope export",
    "blackboard": "Blackboard",
    "files": "one file or folder per student",
}
CODE_SUFFIXES = (".zip", ".py", ".ipynb")
# What a class's archive could not take of one student's files is written as `<name>` +
# LEFT_OUT, holding "<status>: <why>"; it becomes a note on that student's row, never a file.
LEFT_OUT = ".left-out.txt"
MAX_WRAPPERS = 4  # folders above a download that are looked through
RECEIPT_BYTES = 1 << 16

TIME = r"\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d"
# Every platform pattern is anchored at the left and lazy there: the platform's prefix is
# what comes first, and whatever the student named the upload is the rest.
MOODLE_DIR = re.compile(r"^(?P<name>.+?)_(?P<lms>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")
MOODLE_FILE = re.compile(r"^(?P<name>.+?)_(?P<lms>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<orig>.+)$")
CANVAS = re.compile(r"^(?P<name>[^_]+)(?P<late>_LATE)?_(?P<lms>\d+)_(?P<attachment>\d+)_(?P<orig>.+)$")
CANVAS_COPY = re.compile(r"^(?P<stem>.+)-(?P<n>\d{1,3})(?P<ext>\.[^.]+)?$")
BLACKBOARD = re.compile(rf"^(?P<assignment>.+?)_(?P<lms>[^_]+)_attempt_(?P<ts>{TIME})(?:_(?P<orig>.+)|\.txt)$")
GRADESCOPE_DIR = re.compile(r"^submission_(?P<lms>\d+)$")
GRADESCOPE_METADATA = "submission_metadata.yml"


class LayoutError(ValueError):
    """The folder is not a class the grader can read as it stands; one line saying what to do."""


@dataclass(frozen=True)
class Entry:
    """One student's submission as the platform's download holds it."""

    path: Path | None  # what is graded: a file or a folder (None: nothing but online text)
    file: str  # its name in the download
    lms_name: str | None = None  # the name the platform shows
    lms_id: str | None = None  # the platform's own id (Moodle participant, Canvas user, ...)
    student_id: str | None = None  # a student id the platform states (Gradescope's sid)
    email: str | None = None
    submitted_at: datetime | None = None  # the platform's time, never a file's
    late: bool = False  # the platform says so (Canvas _LATE)
    order: tuple = ()  # attempts of one student sort by this; the last is graded
    key: str = ""  # attempts with one key are one student's (default: the platform's id)
    notes: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()  # other code files of this submission, not graded
    folder: Path | None = None  # all of the student's files (their report is looked for here); None: `path`
    refused: tuple[IntakeStatus, str] | None = None  # what the class's archive refused (the status
    # of the row where it left nothing to grade)

    @property
    def student(self) -> str:
        """Who this entry is, as the download tells them apart."""
        return self.key or self.lms_id or self.student_id or self.file


@dataclass
class ClassDownload:
    layout: Layout
    entries: list[Entry]
    superseded: list[tuple[Entry, Entry]] = field(default_factory=list)  # (earlier attempt, graded one)
    not_code: list[str] = field(default_factory=list)  # top-level files that are the platform's, not a student's
    looked_through: tuple[str, ...] = ()  # folders above the download

    @property
    def description(self) -> str:
        through = f" (in {'/'.join(self.looked_through)}/)" if self.looked_through else ""
        return DESCRIBED[self.layout] + through


def _visible(folder: Path) -> list[Path]:
    """The folder's entries but junk (the intake's rule), hidden files and links."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and not p.is_symlink()
                  and ignore_reason((p.name, "x") if p.is_dir() else (p.name,)) is None)


def _regular_files(folder: Path) -> list[Path]:
    """Every regular file under `folder` but hidden files and links, at most MAX_DEPTH folders
    down (deeper is the intake's to refuse, with its reason), in path order."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        depth = len(Path(dirpath).relative_to(folder).parts)
        dirnames[:] = [] if depth >= MAX_DEPTH else sorted(d for d in dirnames if not d.startswith("."))
        found += [p for name in filenames if not name.startswith(".")
                  and (p := Path(dirpath) / name).is_file() and not p.is_symlink()]
    return sorted(found)


def _placeholders(folder: Path) -> list[Path]:
    return [p for p in _regular_files(folder) if p.name.endswith(LEFT_OUT)]


def _files_under(folder: Path) -> list[Path]:
    """Every regular file under `folder` but junk, hidden files, links and left-out notes."""
    return [p for p in _regular_files(folder)
            if not p.name.endswith(LEFT_OUT) and ignore_reason(p.relative_to(folder).parts) is None]


def left_out(placeholders: list[Path]) -> tuple[tuple[str, ...], tuple[IntakeStatus, str] | None]:
    """Notes for the placeholders (what the class's archive could not take of a student's
    files), and the first refusal: the row's status where nothing else is left to grade."""
    notes, refused = [], None
    for p in placeholders:
        text = p.read_text(encoding="utf-8", errors="replace")[:500]
        status, _, why = text.partition(": ")
        status = status if status in STATUSES else "unsafe_zip"
        refused = refused or (status, why)  # type: ignore[assignment]
        notes.append(Message("{file} was left out of the download: {why}", file=display_name(p.name).removesuffix(LEFT_OUT),
                             why=why))
    return tuple(notes), refused


def detect(folder: Path) -> Layout:
    """The layout most of the folder's top-level entries follow ("files" if none)."""
    entries = _visible(folder)
    names = [display_name(p.name) for p in entries]
    if (folder / GRADESCOPE_METADATA).is_file() or (names and all(
            GRADESCOPE_DIR.match(n) for n in names if n != GRADESCOPE_METADATA)):
        return "gradescope"
    votes = {
        "moodle": sum(bool(MOODLE_DIR.match(n)) and p.is_dir() for p, n in zip(entries, names)),
        "moodle_flat": sum(bool(MOODLE_FILE.match(n)) and p.is_file() for p, n in zip(entries, names)),
        "blackboard": sum(bool(BLACKBOARD.match(n)) and p.is_file() for p, n in zip(entries, names)),
        "canvas": sum(bool(CANVAS.match(n)) and p.is_file() and not MOODLE_FILE.match(n)
                      and not BLACKBOARD.match(n) for p, n in zip(entries, names)),
    }
    best = max(votes, key=lambda k: votes[k])
    return best if votes[best] * 2 >= len(entries) and votes[best] else "files"  # type: ignore[return-value]


def _holds_a_class(folder: Path) -> bool:
    """A platform's download, or submissions of at least two students by their names."""
    if detect(folder) != "files":
        return True
    return len({parse_name(display_name(p.name))[0] for p in _visible(folder)} - {None}) >= 2


def find_download(folder: Path) -> tuple[Path, tuple[str, ...]]:
    """Where the download starts: `folder`, or the folder it only wraps (looked through);
    LayoutError where a whole class sits beside other entries (which one was meant?)."""
    path, through = folder, []
    for _ in range(MAX_WRAPPERS):
        if detect(path) != "files":
            break
        entries = _visible(path)
        classes = [p for p in entries if p.is_dir() and _holds_a_class(p)]
        if not classes:
            break
        if len(entries) > 1:
            inner = classes[0]
            raise LayoutError(
                f"{path}: {inner.name}/ holds a whole class ({DESCRIBED[detect(inner)]}) beside "
                f"{len(entries) - 1} other entries, so it is not one student's submission; "
                f"run batch on {inner} itself")
        path = classes[0]
        through.append(display_name(path.name))
    return path, tuple(through)


def read_class(folder: Path, staging: Path | None, on_time: Callable[[Entry], bool] | None = None) -> ClassDownload:
    """Every student's entry of the download in `folder`; a student's several loose files
    are gathered into a folder under `staging` so they are graded together. Of several
    attempts the latest is graded, or (`on_time` given) the latest that was on time."""
    start, through = find_download(folder)
    layout = detect(start)
    reader = {"moodle": _moodle, "moodle_flat": _moodle_flat, "canvas": _canvas,
              "gradescope": _gradescope, "blackboard": _blackboard, "files": _files}[layout]
    download = ClassDownload(layout, [], looked_through=through)
    reader(start, staging, download)
    return _latest_attempts(download, on_time)


def _latest_attempts(download: ClassDownload, on_time: Callable[[Entry], bool] | None) -> ClassDownload:
    """One entry per student (by the platform's id, else by the entry): the latest attempt."""
    groups: dict[str, list[Entry]] = defaultdict(list)
    for entry in download.entries:
        groups[entry.student].append(entry)
    kept = []
    for group in groups.values():
        group.sort(key=lambda e: e.order)
        timely = [e for e in group if on_time(e)] if on_time is not None else []
        chosen = (timely or group)[-1]
        kept.append(chosen)
        download.superseded += [(e, chosen) for e in group if e is not chosen]
    download.entries = sorted(kept, key=lambda e: (e.file, e.student))
    return download


def _unwrap(folder: Path) -> Path:
    """Through folders that hold nothing but one folder (a zip the platform unpacked)."""
    for _ in range(MAX_WRAPPERS):
        inside = _visible(folder)
        if len(inside) != 1 or not inside[0].is_dir():
            break
        folder = inside[0]
    return folder


def submission_files(folder: Path) -> tuple[list[Path], Path]:
    """One student's files and the folder they are graded in: looked through the folders
    that only wrap the next (a zip the platform unpacked), at any depth below."""
    own = _unwrap(folder)
    return _files_under(own), own


def pick_code(files: list[Path], folder: Path) -> tuple[Path | None, list[Path]]:
    """What to grade of one student's files (at any depth under `folder`), and the code
    files left out. A lone file is graded as it is; loose code files together, as the
    folder; else the zip that holds a module, the newest by the download's file time, then
    by name; a folder with no code is graded as the folder (its intake says what is missing)."""
    if not files:
        return None, []
    if len(files) == 1:
        return files[0], []
    code = [f for f in files if f.suffix.lower() in CODE_SUFFIXES]
    zips = [f for f in code if f.suffix.lower() == ".zip"]
    if len(code) > len(zips) or not zips:
        return folder, zips
    holding = [z for z in zips if holds_module(z)] or zips
    chosen = max(holding, key=lambda z: (z.stat().st_mtime, z.name))
    return chosen, [z for z in zips if z != chosen]


def _relative(paths: list[Path], root: Path) -> tuple[str, ...]:
    out = []
    for p in paths:
        try:
            out.append("/".join(display_name(part) for part in p.relative_to(root).parts))
        except ValueError:
            out.append(display_name(p.name))
    return tuple(out)


def _safe(name: str) -> str:
    name = re.sub(r"[/\\:\0]", "_", display_name(name)).lstrip(".").strip()
    return name[:150] or "_"


def _display(path: Path | None, root: Path, fallback: str) -> str:
    if path is None:
        return fallback
    try:
        return "/".join(display_name(part) for part in path.relative_to(root).parts)
    except ValueError:  # staged
        return fallback + ("/" if path.is_dir() else "/" + display_name(path.name))


def _moodle(folder: Path, staging: Path | None, download: ClassDownload) -> None:
    students: dict[tuple[str, str], dict[str, Path]] = defaultdict(dict)
    for p in _visible(folder):
        m = MOODLE_DIR.match(display_name(p.name))
        if m and p.is_dir():
            students[(m["name"], m["lms"])][m["plugin"]] = p
        else:
            download.not_code.append(display_name(p.name))
    for (name, lms), plugins in students.items():
        notes = tuple(not_graded(plugin) for plugin in plugins if plugin != "file")
        box = plugins.get("file")
        path, left = pick_code(*submission_files(box)) if box else (None, [])
        dropped, refused = left_out(_placeholders(box)) if box else ((), None)
        download.entries.append(Entry(path, _display(path, folder, f"{name}_{lms}"), lms_name=name, lms_id=lms,
                                      notes=notes + dropped + (() if box else (NO_FILE,)),
                                      left_out=_relative(left, folder), refused=refused, folder=box))


def _moodle_flat(folder: Path, staging: Path | None, download: ClassDownload) -> None:
    students: dict[tuple[str, str], list[tuple[str, str, Path]]] = defaultdict(list)
    for p in _visible(folder):
        m = MOODLE_FILE.match(display_name(p.name))
        if m and p.is_file():
            students[(m["name"], m["lms"])].append((m["plugin"], m["orig"], p))
        else:
            download.not_code.append(display_name(p.name))
    for (name, lms), uploads in students.items():
        files = [(orig, p) for plugin, orig, p in uploads if plugin == "file" and not orig.endswith(LEFT_OUT)]
        dropped, refused = left_out([p for _, orig, p in uploads if orig.endswith(LEFT_OUT)])
        notes = tuple(not_graded(plugin) for plugin in sorted({u[0] for u in uploads} - {"file"}))
        path, left, own = _gather(files, staging, f"{name}_{lms}")
        download.entries.append(Entry(path, _display(path, folder, f"{name}_{lms}"), lms_name=name, lms_id=lms,
                                      notes=notes + dropped + (() if files or dropped else (NO_FILE,)),
                                      left_out=_relative(left, folder), refused=refused, folder=own))


def _canvas(folder: Path, staging: Path | None, download: ClassDownload) -> None:
    """Canvas names `lastfirst[_LATE]_<user>_<attachment>_<original>`; an original name
    uploaded again gets `-1`, `-2`: the highest attachment id of a name is the newest."""
    students: dict[str, list[tuple[re.Match, Path]]] = defaultdict(list)
    for p in _visible(folder):
        m = CANVAS.match(display_name(p.name))
        if m and p.is_file():
            students[m["lms"]].append((m, p))
        else:
            download.not_code.append(display_name(p.name))
    for lms, all_uploads in students.items():
        uploads = [(m, p) for m, p in all_uploads if not m["orig"].endswith(LEFT_OUT)]
        dropped, refused = left_out([p for m, p in all_uploads if m["orig"].endswith(LEFT_OUT)])
        newest: dict[str, tuple[int, re.Match, Path]] = {}
        for m, p in uploads:
            copy = CANVAS_COPY.match(m["orig"])
            original = copy["stem"] + (copy["ext"] or "") if copy else m["orig"]
            if original not in newest or int(m["attachment"]) > newest[original][0]:
                newest[original] = (int(m["attachment"]), m, p)
        chosen = sorted(newest.values(), key=lambda t: t[0])
        first = (chosen[-1][1] if chosen else all_uploads[0][0])
        path, left, own = _gather([(name, p) for name, (_, _, p) in sorted(newest.items())], staging,
                                  f"{first['name']}_{lms}")
        notes = ((Message("{n} earlier upload(s) of the same file left out", n=len(uploads) - len(chosen)),)
                 if len(uploads) > len(chosen) else ())
        download.entries.append(Entry(path, _display(path, folder, f"{first['name']}_{lms}"), lms_name=first["name"],
                                      lms_id=lms, late=any(m["late"] for m, _ in all_uploads), notes=notes + dropped,
                                      left_out=_relative(left, folder), refused=refused, folder=own))


def _gather(uploads: list[tuple[str, Path]], staging: Path | None,
            key: str) -> tuple[Path | None, list[Path], Path | None]:
    """A student's uploads of a flat download under their original names, in a staged
    folder of the student's own (the platform's prefix would hide the handout's name):
    what to grade, the code left out, and that folder."""
    if not uploads:
        return None, [], None
    if staging is None:
        raise ValueError("a flat download's files need a staging folder to be gathered in")
    target = staging / _safe(key)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    staged = []
    for original, path in uploads:
        dest = target / _safe(original)
        shutil.copy2(path, dest)  # with its time: the download's, which picks among zips
        staged.append(dest)
    return *pick_code(sorted(staged), target), target


def _gradescope(folder: Path, staging: Path | None, download: ClassDownload) -> None:
    """A folder per submission, the student's files at any depth in it (Gradescope unpacks
    an uploaded zip); each submitter of a group submission gets an entry of their own."""
    metadata = gradescope_submitters(folder / GRADESCOPE_METADATA)
    for p in _visible(folder):
        m = GRADESCOPE_DIR.match(p.name)
        if not (m and p.is_dir()):
            download.not_code.append(display_name(p.name))
            continue
        info = metadata.get(p.name)
        path, left = pick_code(*submission_files(p))
        dropped, refused = left_out(_placeholders(p))
        people = info.submitters if info and info.submitters else [None]
        group = ", ".join(s.name or s.sid or "?" for s in info.submitters) if info else ""
        notes = dropped + ((Message("a group submission: {members}", members=group),)
                           if info and len(info.submitters) > 1 else ())
        for n, person in enumerate(people):
            download.entries.append(Entry(
                path, _display(path, folder, p.name), lms_name=person.name if person else None, lms_id=m["lms"],
                student_id=person.sid if person else None, email=person.email if person else None,
                submitted_at=info.created_at if info else None, notes=notes, key=f"gradescope:{m['lms']}:{n}",
                left_out=_relative(left, folder), refused=refused, folder=p))


def _receipt_name(path: Path) -> str | None:
    """The name on a Blackboard receipt (its first `Name:` line, which Blackboard writes
    before anything the student typed), without the `(user)` it ends with."""
    try:
        with open(path, "rb") as f:
            text = f.read(RECEIPT_BYTES).decode("utf-8", "replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Name:"):
            return re.sub(r"\s*\([^()]*\)\s*$", "", line.removeprefix("Name:")).strip() or None
    return None


def _blackboard(folder: Path, staging: Path | None, download: ClassDownload) -> None:
    """`<assignment>_<user>_attempt_<time>_<original>` files and a `.txt` receipt per attempt.
    The user and time are read from the left, so an upload's own name (even one shaped like
    `<user>_attempt_<time>_x.py`) is only ever the original name of its uploader's file."""
    attempts: dict[tuple[str, str], list[tuple[str | None, Path]]] = defaultdict(list)
    for p in _visible(folder):
        m = BLACKBOARD.match(display_name(p.name))
        if m and p.is_file():
            attempts[(m["lms"], m["ts"])].append((m["orig"], p))
        else:
            download.not_code.append(display_name(p.name))
    receipted = any(orig is None for uploads in attempts.values() for orig, _ in uploads)
    for (lms, ts), uploads in attempts.items():
        files = [(orig, p) for orig, p in uploads if orig is not None and not orig.endswith(LEFT_OUT)]
        dropped, refused = left_out([p for orig, p in uploads if orig is not None and orig.endswith(LEFT_OUT)])
        receipts = [p for orig, p in uploads if orig is None]
        when = datetime.strptime(ts, "%Y-%m-%d-%H-%M-%S")
        path, left, own = _gather(files, staging, f"{lms}_{ts}")
        notes = (Message("the attempt's receipt noted, not graded"),) if receipts else \
            ((Message("no receipt for this attempt in the download"),) if receipted else ())
        download.entries.append(Entry(path, _display(path, folder, f"{lms}_attempt_{ts}"), lms_id=lms,
                                      lms_name=_receipt_name(receipts[0]) if receipts else None,
                                      submitted_at=when, order=(when,), notes=notes + dropped,
                                      left_out=_relative(left, folder), refused=refused, folder=own))


def _files(folder: Path, staging: Path | None, download: ClassDownload) -> None:
    """One file or folder per student, each a submission of its own: a name never merges
    two (` (1)` may be a classmate's upload under someone else's handout name)."""
    for p in _visible(folder):
        name = display_name(p.name)
        if name.endswith(LEFT_OUT):  # the archive could not take it: a row that says why
            dropped, refused = left_out([p])
            name = name.removesuffix(LEFT_OUT)
            download.entries.append(Entry(None, name, key=f"file:{name}", notes=dropped, refused=refused))
        else:
            download.entries.append(Entry(p, name, key=f"file:{name}"))
