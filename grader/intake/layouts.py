"""Which learning platform's "download all submissions" a class folder is, and each
student's submission in it.

Instructors rarely get a tidy folder of `DLP_LAB4_<id>_<name>.zip` files; they press the
platform's bulk-download button. Each layout below is recognised by the names the
platform gives (its top-level entries), and read into one `Entry` per student: what to
grade (the student's single zip, .py or notebook, else a folder of the student's files),
what the platform says about the student (its own id, a name, a student id where it
has one) and when it was submitted. What is not code (Moodle's online text, Blackboard's
receipts, Gradescope's metadata) is never graded: it is noted on the student's row.
Several attempts of one student give one entry, the latest; the others are kept for
`attempts.csv`.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from grader.intake.lms_metadata import gradescope_submitters
from grader.intake.submission import COPY_SUFFIX, EXTENSIONS, parse_name
from grader.intake.unzip import ignore_reason

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

MOODLE_DIR = re.compile(r"^(?P<name>.+)_(?P<lms>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")
MOODLE_FILE = re.compile(r"^(?P<name>.+)_(?P<lms>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<orig>.+)$")
CANVAS = re.compile(r"^(?P<name>[^_]+)(?P<late>_LATE)?_(?P<lms>\d+)_(?P<attachment>\d+)_(?P<orig>.+)$")
CANVAS_COPY = re.compile(r"^(?P<stem>.+)-(?P<n>\d{1,3})(?P<ext>\.[^.]+)?$")
BLACKBOARD = re.compile(
    r"^(?P<assignment>.+)_(?P<lms>[^_]+)_attempt_(?P<ts>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)(?:_(?P<orig>.+)|\.txt)$")
GRADESCOPE_DIR = re.compile(r"^submission_(?P<lms>\d+)$")
GRADESCOPE_METADATA = "submission_metadata.yml"


@dataclass(frozen=True)
class Entry:
    """One student's submission as the platform's download holds it."""

    path: Path | None  # what is graded: a file or a folder (None: nothing but online text)
    file: str  # its name in the download, unique in the class
    lms_name: str | None = None  # the name the platform shows
    lms_id: str | None = None  # the platform's own id (Moodle participant, Canvas user, ...)
    student_id: str | None = None  # a student id the platform states (Gradescope's sid, Blackboard's user)
    email: str | None = None
    submitted_at: datetime | None = None
    late: bool = False  # the platform says so (Canvas _LATE)
    order: tuple = ()  # attempts of one student sort by this; the last is graded
    key: str = ""  # attempts with one key are one student's (default: the platform's id)
    notes: tuple[str, ...] = ()


@dataclass
class ClassDownload:
    layout: Layout
    entries: list[Entry]
    superseded: list[tuple[Entry, Entry]] = field(default_factory=list)  # (earlier attempt, graded one)
    not_code: list[str] = field(default_factory=list)  # top-level files that are the platform's, not a student's

    @property
    def description(self) -> str:
        return DESCRIBED[self.layout]


def _visible(folder: Path) -> list[Path]:
    """The folder's entries but junk (the intake's rule), hidden files and links."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and not p.is_symlink()
                  and ignore_reason((p.name, "x") if p.is_dir() else (p.name,)) is None)


def detect(folder: Path) -> Layout:
    """The layout most of the folder's top-level entries follow ("files" if none)."""
    entries = _visible(folder)
    names = [unicodedata.normalize("NFC", p.name) for p in entries]
    if (folder / GRADESCOPE_METADATA).is_file() or (names and all(
            GRADESCOPE_DIR.match(n) for n in names if n != GRADESCOPE_METADATA)):
        return "gradescope"
    votes = {
        "moodle": sum(bool(MOODLE_DIR.match(p.name)) and p.is_dir() for p in entries),
        "moodle_flat": sum(bool(MOODLE_FILE.match(p.name)) and p.is_file() for p in entries),
        "blackboard": sum(bool(BLACKBOARD.match(p.name)) and p.is_file() for p in entries),
        "canvas": sum(bool(CANVAS.match(p.name)) and p.is_file() and not MOODLE_FILE.match(p.name)
                      and not BLACKBOARD.match(p.name) for p in entries),
    }
    best = max(votes, key=lambda k: votes[k])
    return best if votes[best] * 2 >= len(entries) and votes[best] else "files"  # type: ignore[return-value]


def read_class(folder: Path, staging: Path | None, on_time: Callable[[Entry], bool] | None = None) -> ClassDownload:
    """Every student's entry of the download in `folder`; a student's several loose files
    are gathered into a folder under `staging` so they are graded together. Of several
    attempts the latest is graded, or (`on_time` given) the latest that was on time."""
    layout = detect(folder)
    reader = {"moodle": _moodle, "moodle_flat": _moodle_flat, "canvas": _canvas,
              "gradescope": _gradescope, "blackboard": _blackboard, "files": _files}[layout]
    download = ClassDownload(layout, [])
    reader(folder, staging, download)
    return _latest_attempts(download, on_time)


def _latest_attempts(download: ClassDownload, on_time: Callable[[Entry], bool] | None) -> ClassDownload:
    """One entry per student (by the platform's id, else by the entry): the latest attempt."""
    groups: dict[str, list[Entry]] = defaultdict(list)
    for entry in download.entries:
        groups[entry.key or entry.lms_id or entry.student_id or entry.file].append(entry)
    kept = []
    for group in groups.values():
        group.sort(key=lambda e: e.order)
        timely = [e for e in group if on_time(e)] if on_time is not None else []
        chosen = (timely or group)[-1]
        kept.append(chosen)
        download.superseded += [(e, chosen) for e in group if e is not chosen]
    download.entries = sorted(kept, key=lambda e: e.file)
    return download


def pick_code(files: list[Path], folder: Path) -> Path | None:
    """What to grade of the files in one student's folder: a single code file (a zip, a
    .py, a notebook) as it is, else the folder."""
    code = [f for f in files if f.suffix.lower() in CODE_SUFFIXES]
    zips = [f for f in code if f.suffix.lower() == ".zip"]
    if len(code) == 1 or (len(zips) == 1 and not [f for f in code if f.suffix.lower() == ".py"]):
        return zips[0] if zips else code[0]
    return folder if files else None


def _safe(name: str) -> str:
    name = re.sub(r"[/\\:\0]", "_", unicodedata.normalize("NFC", name)).lstrip(".").strip()
    return name[:150] or "_"


def _display(path: Path | None, root: Path, fallback: str) -> str:
    if path is None:
        return fallback
    try:
        return str(path.relative_to(root))
    except ValueError:  # staged
        return fallback + "/"


def _moodle(folder: Path, staging: Path | None, download: ClassDownload) -> None:
    students: dict[tuple[str, str], dict[str, Path]] = defaultdict(dict)
    for p in _visible(folder):
        m = MOODLE_DIR.match(unicodedata.normalize("NFC", p.name))
        if m and p.is_dir():
            students[(m["name"], m["lms"])][m["plugin"]] = p
        else:
            download.not_code.append(p.name)
    for (name, lms), plugins in students.items():
        notes = tuple(f"{plugin} submission noted, not graded" for plugin in plugins if plugin != "file")
        box = plugins.get("file")
        files = sorted(f for f in box.rglob("*") if f.is_file()) if box else []
        top = [f for f in files if f.parent == box]
        path = pick_code(top, box) if box else None
        download.entries.append(Entry(path, _display(path, folder, f"{name}_{lms}"), lms_name=name, lms_id=lms,
                                      notes=notes + (() if box else ("no file submitted",))))


def _moodle_flat(folder: Path, staging: Path | None, download: ClassDownload) -> None:
    students: dict[tuple[str, str], list[tuple[str, str, Path]]] = defaultdict(list)
    for p in _visible(folder):
        m = MOODLE_FILE.match(unicodedata.normalize("NFC", p.name))
        if m and p.is_file():
            students[(m["name"], m["lms"])].append((m["plugin"], m["orig"], p))
        else:
            download.not_code.append(p.name)
    for (name, lms), uploads in students.items():
        files = [(orig, p) for plugin, orig, p in uploads if plugin == "file"]
        notes = tuple(f"{plugin} submission noted, not graded" for plugin in sorted({u[0] for u in uploads} - {"file"}))
        path = _gather(files, staging, f"{name}_{lms}")
        download.entries.append(Entry(path, _display(path, folder, f"{name}_{lms}"), lms_name=name, lms_id=lms,
                                      notes=notes + (() if files else ("no file submitted",))))


def _canvas(folder: Path, staging: Path | None, download: ClassDownload) -> None:
    """Canvas names `lastfirst[_LATE]_<user>_<attachment>_<original>`; an original name
    uploaded again gets `-1`, `-2`: the highest attachment id of a name is the newest."""
    students: dict[str, list[tuple[re.Match, Path]]] = defaultdict(list)
    for p in _visible(folder):
        m = CANVAS.match(unicodedata.normalize("NFC", p.name))
        if m and p.is_file():
            students[m["lms"]].append((m, p))
        else:
            download.not_code.append(p.name)
    for lms, uploads in students.items():
        newest: dict[str, tuple[int, re.Match, Path]] = {}
        for m, p in uploads:
            copy = CANVAS_COPY.match(m["orig"])
            original = copy["stem"] + (copy["ext"] or "") if copy else m["orig"]
            if original not in newest or int(m["attachment"]) > newest[original][0]:
                newest[original] = (int(m["attachment"]), m, p)
        chosen = sorted(newest.values(), key=lambda t: t[0])
        first = chosen[-1][1]
        path = _gather([(name, p) for name, (_, _, p) in sorted(newest.items())], staging, f"{first['name']}_{lms}")
        notes = ((f"{len(uploads) - len(chosen)} earlier upload(s) of the same file left out",)
                 if len(uploads) > len(chosen) else ())
        download.entries.append(Entry(path, _display(path, folder, f"{first['name']}_{lms}"), lms_name=first["name"],
                                      lms_id=lms, late=any(m["late"] for m, _ in uploads), notes=notes))


def _gather(uploads: list[tuple[str, Path]], staging: Path | None, key: str) -> Path | None:
    """A student's uploads of a flat download under their original names, in a staged
    folder of the student's own (the platform's prefix would hide the handout's name)."""
    if not uploads:
        return None
    if staging is None:
        raise ValueError("a flat download's files need a staging folder to be gathered in")
    target = staging / _safe(key)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    staged = []
    for original, path in uploads:
        dest = target / _safe(original)
        shutil.copyfile(path, dest)
        staged.append(dest)
    return pick_code(staged, target)


def _gradescope(folder: Path, staging: Path | None, download: ClassDownload) -> None:
    metadata = gradescope_submitters(folder / GRADESCOPE_METADATA)
    for p in _visible(folder):
        m = GRADESCOPE_DIR.match(p.name)
        if not (m and p.is_dir()):
            download.not_code.append(p.name)
            continue
        info = metadata.get(p.name)
        files = sorted(f for f in p.iterdir() if f.is_file() and not f.is_symlink())
        path = pick_code(files, p)
        notes = ("a group submission: " + ", ".join(s.name or s.sid or "?" for s in info.submitters),) \
            if info and len(info.submitters) > 1 else ()
        first = info.submitters[0] if info and info.submitters else None
        download.entries.append(Entry(
            path, _display(path, folder, p.name), lms_name=first.name if first else None, lms_id=m["lms"],
            student_id=first.sid if first else None, email=first.email if first else None,
            submitted_at=info.created_at if info else None, notes=notes))


def _blackboard(folder: Path, staging: Path | None, download: ClassDownload) -> None:
    attempts: dict[tuple[str, str], list[tuple[str | None, Path]]] = defaultdict(list)
    for p in _visible(folder):
        m = BLACKBOARD.match(unicodedata.normalize("NFC", p.name))
        if m and p.is_file():
            attempts[(m["lms"], m["ts"])].append((m["orig"], p))
        else:
            download.not_code.append(p.name)
    for (lms, ts), uploads in attempts.items():
        files = [(orig, p) for orig, p in uploads if orig is not None]
        when = datetime.strptime(ts, "%Y-%m-%d-%H-%M-%S")
        path = _gather(files, staging, f"{lms}_{ts}")
        receipt = ("the attempt's receipt noted, not graded",) if len(files) < len(uploads) else ()
        download.entries.append(Entry(path, _display(path, folder, f"{lms}_attempt_{ts}"), lms_id=lms, student_id=lms,
                                      submitted_at=when, order=(when,), notes=receipt))


def _files(folder: Path, staging: Path | None, download: ClassDownload) -> None:
    """One file or folder per student. A download adds ` (1)` to a name it already holds:
    under the handout's name (which carries the student id) that is the same student's
    later upload, the highest copy the newest; any other name (`rnn (1).py`) may be
    another student's, so it stays a submission of its own."""
    for p in _visible(folder):
        stem = EXTENSIONS.sub("", unicodedata.normalize("NFC", p.name))
        copy = COPY_SUFFIX.search(stem)
        number = int(re.sub(r"\D", "", copy.group(0)) or 1) if copy else 0
        base = stem[: copy.start()] if copy else stem
        student, _, naming_ok, _ = parse_name(p.name)
        key = f"handout:{base.casefold()}" if student and naming_ok else f"file:{p.name}"
        download.entries.append(Entry(p, p.name, key=key, order=(number,)))
