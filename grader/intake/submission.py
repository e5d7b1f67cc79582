"""The intake of one submission: find, unpack and describe it, without running any of it.

`open_submission(path, workdir)` takes what the instructor points at (a `.py` file, a
folder or a `.zip`), copies the useful files into a folder of the grader's under
`workdir` (under safe names, see `grader.intake.unzip`), picks the graded module by the rules of
STUDENT_API.md using `ast` only (`rnn.py` anywhere, else the one `.py` with a top-level
`class RNN`, else a notebook converted by `grader.intake.notebook`), re-encodes sources that
are not UTF-8, and notes what a person grading should know (report PDF and its pages,
name encodings, ignored junk, notebook conversion). Anything it cannot take raises
`SubmissionError` with a status and one sentence the student can act on.
"""

from __future__ import annotations

import ast
import os
import re
import stat
import tempfile
import tokenize
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from hashlib import sha256
from io import BytesIO
from pathlib import Path

from pydantic import ConfigDict

from grader.intake import notebook as nb
from grader.intake.report_rule import is_candidate, rank
from grader.messages import Message, Says
from grader.intake.unzip import (
    MAX_DEPTH,
    MAX_MEMBER,
    MAX_MEMBERS,
    MAX_TOTAL,
    MAX_ZIP_FILE,
    Budget,
    SafeNames,
    SubmissionError,
    Written,
    copy_capped,
    decode_name,
    describe_ignored,
    ignore_reason,
    looks_like_zip,
    mib,
    remove_tree,
    sniff,
    unpack_zip,
)

__all__ = ["Submission", "SubmissionError", "count_pdf_pages", "display_name", "open_submission", "parse_name"]

MAX_SOURCE = 5 << 20  # a .py larger than this is not parsed ("could not be read")
MAX_LISTED = 15  # .py files named in an error message
SHADOWING = {"numpy.py", "sitecustomize.py", "usercustomize.py", "math.py", "random.py"}


class Submission(Says):
    """One submission, unpacked and described; the module is chosen but not imported (its
    notes keep their structure in `said`, to be read in the student's language)."""

    model_config = ConfigDict(extra="forbid")

    source: Path
    student_id: str | None
    name: str | None
    naming_ok: bool
    naming_note: str
    sha256: str
    root: Path
    module_path: Path
    module_display: str
    files: list[str]
    notes: list[str]
    report: str | None  # by report_rule.py's rule, where one was looked for (report_sought)
    report_pages: int | None
    report_others: list[str]
    report_sought: bool
    from_notebook: bool


# --------------------------------------------------------------------------- file names

CONVENTION = Message("name does not follow DLP_LAB4_<studentID>_<name>.zip")
COPY_SUFFIX = re.compile(
    r"(?:\s*\(\d{1,3}\)|\s*-\s*(?:copy|複製|副本|複本|コピー)(?:\s*\(\d{1,3}\))?|\s+copy(?:\s+\d{1,3})?|_copy)$",
    re.IGNORECASE,
)
EXTENSIONS = re.compile(r"\.(zip|py|ipynb|rar|7z|tar\.gz|tgz)$", re.IGNORECASE)
STRICT = re.compile(r"^DLP_LAB4_(\d{6,12}|[A-Za-z]{1,2}\d{6,12})_(.+)$")
LOOSE = re.compile(
    r"^DLP[\s_\-.]*LAB[\s_\-.]*0?4[\s_\-.]+([A-Za-z]{0,2}\d{6,12})(?:[\s_\-.]+(.*))?$",
    re.IGNORECASE,
)
SWAPPED = re.compile(
    r"^DLP[\s_\-.]*LAB[\s_\-.]*0?4[\s_\-.]+(.+?)[\s_\-.]+([A-Za-z]{0,2}\d{6,12})$", re.IGNORECASE
)
ID_RUN = re.compile(r"(?<!\d)(\d{6,12})(?!\d)")


def _repair_mojibake(text: str) -> str | None:
    """UTF-8 bytes shown as cp437/latin-1/cp1252 (a zip's or an old tool's doing), repaired."""
    if text.isascii() or any(unicodedata.east_asian_width(c) in "WF" for c in text):
        return None
    for codec in ("cp437", "cp1252", "latin-1"):
        try:
            fixed = text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if fixed != text and not fixed.isascii():
            return fixed
    return None


def parse_name(filename: str) -> tuple[str | None, str | None, bool, str]:
    """(student id, name, follows the convention, note) from a submission's file or folder name.

    The convention is DLP_LAB4_<studentID>_<name>[.zip]. Download artefacts (" (1)",
    " - Copy", ".ZIP") are removed without counting against the student; other departures
    (separators, order, a missing part) are parsed as far as possible and flagged.
    """
    notes: list[str] = []
    base = re.split(r"[\\/]", filename.rstrip("/\\"))[-1]
    base = unicodedata.normalize("NFC", base).strip()
    fixed = _repair_mojibake(base)
    if fixed is not None:
        base = unicodedata.normalize("NFC", fixed)
        notes.append(Message("file name repaired from mojibake"))
    ext = EXTENSIONS.search(base)
    if ext:
        base = base[: ext.start()]
    wrong_type = bool(ext) and ext.group(1).lower() not in ("zip", "py", "ipynb")
    copied = False
    while True:
        m = COPY_SUFFIX.search(base)
        if not m or m.start() == 0:
            break
        base, copied = base[: m.start()].rstrip(), True
    if copied:
        notes.append(Message("copy suffix removed"))
    if wrong_type:
        notes.append(Message("submitted as .{ext}, not .zip", ext=ext.group(1).lower()))
    base = base.strip()

    def clean(name: str | None) -> str | None:
        name = (name or "").strip(" _-.")
        return name or None

    m = STRICT.match(base)
    if m:
        ok = not wrong_type
        return m.group(1), clean(m.group(2)), ok, Message.join("; ", notes) if notes else ""
    m = LOOSE.match(base)
    if m:
        sid, name = m.group(1), clean(m.group(2))
        detail = Message("missing <name>") if name is None else Message("separators or letter case differ")
        return sid, name, False, Message.join("; ", [Message("{convention} ({detail})", convention=CONVENTION,
                                                             detail=detail), *notes])
    m = SWAPPED.match(base)
    if m:
        swapped = Message("{convention} ({detail})", convention=CONVENTION, detail=Message("id and name swapped"))
        return m.group(2), clean(m.group(1)), False, Message.join("; ", [swapped, *notes])
    run = ID_RUN.search(base)
    return (run.group(1) if run else None), None, False, Message.join("; ", [CONVENTION, *notes])


# --------------------------------------------------------------------------- sources


def decode_source(data: bytes) -> tuple[str | None, str | None]:
    """(text, codec if it had to be re-encoded) for a .py file; (None, None) if undecodable.

    What Python itself reads (UTF-8, a BOM, a PEP 263 coding line) is left alone;
    UTF-16 (with a BOM), cp950 and GBK are decoded so that a UTF-8 copy can be written.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            return None, None
    try:
        encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
        return data.decode(encoding), None
    except (SyntaxError, LookupError, UnicodeDecodeError):
        pass
    for codec, label in (("cp950", "cp950"), ("gbk", "GBK")):
        try:
            return data.decode(codec), label
        except UnicodeDecodeError:
            continue
    return None, None


CODING_LINE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def _drop_coding_line(text: str) -> str:
    """A re-encoded file must not keep a coding line naming its old encoding."""
    lines = text.split("\n")
    for k in range(min(2, len(lines))):
        if CODING_LINE.match(lines[k]):
            lines[k] = "# -*- coding: utf-8 -*-"
    return "\n".join(lines)


class _Source:
    """What the AST says about one .py file."""

    def __init__(self, written: Written) -> None:
        self.display = written.display
        self.path = written.path
        self.reencoded: str | None = None
        self.problem: str | None = None
        self.defines_rnn = False
        if written.size > MAX_SOURCE:
            self.problem = Message("larger than {size}", size=mib(MAX_SOURCE))
            return
        data = written.path.read_bytes()
        text, codec = decode_source(data)
        if text is None:
            self.problem = Message("not UTF-8 and not a known encoding; save it as UTF-8")
            return
        if codec:
            text = _drop_coding_line(text.lstrip("\ufeff"))
            written.path.write_bytes(text.encode("utf-8"))
            self.reencoded = codec
        try:
            tree = ast.parse(text, filename=self.display)
        except SyntaxError as e:
            self.problem = f"{type(e).__name__} at line {e.lineno}: {e.msg}"
            return
        except (ValueError, RecursionError, MemoryError) as e:
            self.problem = str(e)[:80] or type(e).__name__
            return
        self.defines_rnn = any(
            isinstance(node, ast.ClassDef) and node.name == "RNN" for node in tree.body
        )

    def listing(self) -> str:
        return (Message("{file} (could not be read: {problem})", file=self.display, problem=self.problem)
                if self.problem else self.display)


def _listing(items: list[str]) -> str:
    """Up to MAX_LISTED names (each may be a Message), and how many more."""
    shown = Message.join(", ", items[:MAX_LISTED])
    return Message("{shown} and {n} more", shown=shown, n=len(items) - MAX_LISTED) if len(items) > MAX_LISTED else shown


# --------------------------------------------------------------------------- reports

PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def count_pdf_pages(path: Path) -> int | None:
    """Pages of a PDF, counted as `/Type /Page` objects (rough; None when none are visible)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_MEMBER + 1)
    except OSError:
        return None
    n = len(PAGE.findall(data))
    return n or None


MISNAMED = re.compile(r"^rnn(\.py)?\.(txt|rtf|docx?|pages|html?)$|^rnn\.py\.\w+$", re.IGNORECASE)
RENAME = Message("looks like your code under another ending: rename it to rnn.py (on Windows, turn on File name "
                 "extensions in Explorer's View menu to see it)")
def _report(written: list[Written]) -> tuple[str | None, int | None, list[str]]:
    """(the report by report_rule's rule, its pages if a PDF, the other candidates)."""
    found = sorted((w for w in written if is_candidate(w.display)), key=lambda w: rank(w.display))
    if not found:
        return None, None, []
    chosen = found[0]
    pages = count_pdf_pages(chosen.path) if chosen.display.casefold().endswith(".pdf") else None
    return chosen.display, pages, [w.display for w in found[1:]]


# --------------------------------------------------------------------------- intake


def _copy_file(path: Path, dest: Path, budget: Budget, display: str) -> tuple[int, str]:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
            raise OSError(f"{display} is not a regular file")
        return copy_capped(
            src, dest, MAX_MEMBER, budget, f"{display} is larger than {mib(MAX_MEMBER)}"
        )


def display_name(part: str) -> str:
    """A folder entry's name as text: bytes that are not UTF-8 read as the legacy code page
    that fits best (a name a Windows machine in Taiwan, China or Japan wrote), NFC."""
    return unicodedata.normalize("NFC", decode_name(os.fsencode(part)))


_Hash = type(sha256())  # hashlib's hash object


@dataclass
class _Listing:
    """A folder's regular files (parts, path, size) sorted by path, what was ignored as junk
    and what was skipped (links and special files, never followed)."""

    files: list[tuple[tuple[str, ...], Path, int]] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    junk: list[tuple[str, ...]] = field(default_factory=list)  # each ignored file, and a file in each ignored folder
    skipped: list[str] = field(default_factory=list)


def _list_folder(folder: Path, exclude: Path | None = None, max_files: int | None = None) -> _Listing:
    """Walk a folder as the intake reads it: no links followed, junk ignored, `exclude` (the
    grader's own work folder) left out; more than `max_files` files is refused early."""
    listing = _Listing()
    skip = os.path.realpath(exclude) if exclude is not None else None
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        if os.path.realpath(dirpath) == skip:
            dirnames[:] = []
            continue
        rel = Path(dirpath).relative_to(folder).parts
        if len(rel) >= MAX_DEPTH and dirnames:  # pruned here, so the walk never recurses deeper
            raise SubmissionError("unsafe_zip", Message("the folder nests deeper than {n} folders; keep only your "
                                                        "code and report", n=MAX_DEPTH))
        keep_dirs = []
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            parts = rel + (d,)
            if os.path.islink(full):
                listing.skipped.append("/".join(display_name(p) for p in parts) + "/")
            elif (reason := ignore_reason(parts + ("x",))) is not None:
                listing.ignored[reason] += 1
                listing.junk.append(parts + ("x",))
            elif os.path.realpath(full) != skip:
                keep_dirs.append(d)
        dirnames[:] = keep_dirs
        for f in sorted(filenames):
            full = os.path.join(dirpath, f)
            parts = rel + (f,)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
                shown = "/".join(display_name(p) for p in parts)
                listing.skipped.append(shown if stat.S_ISLNK(st.st_mode) else shown + " (special file)")
            elif (reason := ignore_reason(parts)) is not None:
                listing.ignored[reason] += 1
                listing.junk.append(parts)
            else:
                listing.files.append((parts, Path(full), st.st_size))
                if max_files is not None and len(listing.files) > max_files:
                    raise SubmissionError(
                        "unsafe_zip", Message("the folder has more than {n} files; keep only your code and report",
                                              n=max_files))
    listing.files.sort(key=lambda e: "/".join(e[0]))
    return listing


def _add_file(digest: _Hash, parts: tuple[str, ...], file_hash: str) -> None:
    """One file of a folder into the folder's hash: its path and its content's hash."""
    digest.update("/".join(parts).encode("utf-8", "surrogateescape") + b"\0")
    digest.update(bytes.fromhex(file_hash))


def content_hash(path: Path) -> str:
    """The submission's one content hash, as the intake reads it: a file's bytes, or a
    folder's kept files (junk and links left out) with their paths. The batch keys its
    store with it before grading, and the result carries the same value."""
    if not path.is_dir():
        return _file_hash(path)
    digest = sha256()
    for parts, full, _ in _list_folder(path).files:
        _add_file(digest, parts, _file_hash(full))
    return digest.hexdigest()


def kept_files(folder: Path, exclude: Path | None = None) -> _Listing:
    """The files of a folder the intake keeps (no links followed, junk ignored), within the
    caps of a zip: SubmissionError before anything is read if they are too many or too big."""
    listing = _list_folder(folder, exclude=exclude, max_files=MAX_MEMBERS)
    for parts, _, size in listing.files:
        if size > MAX_MEMBER:
            shown = "/".join(display_name(p) for p in parts)
            raise SubmissionError("unsafe_zip", Message("{file} is {size} (limit {limit} per file)", file=shown,
                                                        size=mib(size), limit=mib(MAX_MEMBER)))
    total = sum(size for _, _, size in listing.files)
    if total > MAX_TOTAL:
        raise SubmissionError("unsafe_zip", Message("the folder holds {size} (limit {limit}); keep only your code and "
                                                    "report", size=mib(total), limit=mib(MAX_TOTAL)))
    return listing


def _intake_folder(
    folder: Path, root: Path, workdir: Path, notes: list[str]
) -> tuple[list[Written], Counter[str], str]:
    """Copy a folder's files (no links followed, junk ignored, same caps as a zip)."""
    listing = kept_files(folder, exclude=workdir)
    if listing.skipped:
        notes.append(Message("skipped links and special files (not followed): {files}",
                             files=_listing(listing.skipped)))
    shown_parts = [tuple(display_name(p) for p in parts) for parts, _, _ in listing.files]
    strip = 1 if len({p[0] for p in shown_parts}) == 1 and all(len(p) > 1 for p in shown_parts) else 0
    names = SafeNames()
    budget = Budget()
    digest = sha256()
    written: list[Written] = []
    for (parts, full, _), shown in zip(listing.files, shown_parts):
        display = "/".join(shown)
        dest = root.joinpath(*names.file(shown[strip:]))
        try:
            size, file_hash = _copy_file(full, dest, budget, display)
        except OSError as e:
            notes.append(Message("could not read {file} ({error})", file=display, error=str(e.strerror or e)))
            continue
        _add_file(digest, parts, file_hash)
        written.append(Written(display, dest, size))
    return written, listing.ignored, digest.hexdigest()


def _file_hash(path: Path) -> str:
    h = sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _kind(path: Path) -> str:
    """'zip', 'py', 'ipynb', or raises for things that are none of these."""
    suffix = path.suffix.lower()
    with open(path, "rb") as f:
        head = f.read(512)
    if suffix == ".py":
        return "py"
    if suffix == ".ipynb":
        return "ipynb"
    if looks_like_zip(head) or suffix == ".zip":
        return "zip"
    what = sniff(head)
    if what:
        raise SubmissionError("bad_zip", Message("{file} is {what}; submit a .zip, a folder or rnn.py", file=path.name,
                                                 what=what))
    if MISNAMED.match(path.name):
        raise SubmissionError("no_module", Message("{file} {rename}", file=path.name, rename=RENAME))
    raise SubmissionError("no_module", Message("{file} is not a .py file, a notebook, a folder or a .zip; submit "
                                               "rnn.py in a .zip", file=path.name))


def open_submission(path: Path, workdir: Path) -> Submission:
    """Unpack and describe one submission; writes only under `workdir`. Raises SubmissionError."""
    path = Path(path)
    workdir = Path(workdir)
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            os.listdir(path)
        elif not stat.S_ISREG(st.st_mode):  # a FIFO would block the open below
            raise SubmissionError("not_found", Message("{file} is not a regular file or folder", file=path.name))
        else:
            with open(path, "rb"):
                pass
    except FileNotFoundError:
        raise SubmissionError("not_found", Message("{file} does not exist", file=path.name or str(path))) from None
    except OSError as e:
        raise SubmissionError("not_found", Message("{file} cannot be read ({error})", file=path.name or str(path),
                                                   error=str(e.strerror or e))) from None
    workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="submission-", dir=workdir))  # 0700: no other account reads it
    try:
        return _open(path, root, workdir)
    except SubmissionError:
        remove_tree(root)
        raise
    except Exception as e:  # anything unforeseen still gets a status, never a traceback
        remove_tree(root)
        error = f"{type(e).__name__}: {str(e)[:100]}"
        raise SubmissionError("bad_zip", Message("{file} could not be unpacked ({error})", file=path.name,
                                                 error=error)) from e


def _open(path: Path, root: Path, workdir: Path) -> Submission:
    student_id, name, naming_ok, naming_note = parse_name(path.name)
    notes: list[str] = []
    ignored: Counter[str] = Counter()
    if path.is_dir():
        written, ignored, digest = _intake_folder(path, root, workdir, notes)
    else:
        kind = _kind(path)
        if kind == "zip" and path.stat().st_size > MAX_ZIP_FILE:
            raise SubmissionError("unsafe_zip", Message("{file} is {size} (limit {limit}); submit only your code and "
                                                        "report", file=path.name, size=mib(path.stat().st_size),
                                                        limit=mib(MAX_ZIP_FILE)))
        digest = _file_hash(path)
        if kind == "zip":
            scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=workdir))
            try:
                unpacked = unpack_zip(path, root, scratch, name)
            finally:
                remove_tree(scratch)
            written, ignored = unpacked.written, unpacked.ignored
            notes += unpacked.notes
        else:
            size = path.stat().st_size
            if size > MAX_MEMBER:
                raise SubmissionError("unsafe_zip", Message("{file} is {size} (limit {limit})", file=path.name,
                                                            size=mib(size), limit=mib(MAX_MEMBER)))
            display = unicodedata.normalize("NFC", path.name)
            dest = root / SafeNames().file((display,))[0]
            size, digest = _copy_file(path, dest, Budget(), display)
            written = [Written(display, dest, size)]
    ignored_note = describe_ignored(ignored)
    if ignored_note:
        notes.append(ignored_note)

    sources = [_Source(w) for w in written if w.display.lower().endswith(".py")]
    files = [s.display for s in sources]
    reencoded: dict[str, list[str]] = {}
    for s in sources:
        if s.reencoded:
            reencoded.setdefault(s.reencoded, []).append(s.display)
    for codec, shown in reencoded.items():
        notes.append(Message("source re-encoded from {codec} to UTF-8: {files}", codec=codec, files=_listing(shown)))

    shadows = [f for f in files if f.rsplit("/", 1)[-1].lower() in SHADOWING]
    if shadows:
        notes.append(Message("ships files named like libraries Python would load: {files}", files=_listing(shadows)))
    chosen, from_notebook = _choose(sources, written, notes)
    if chosen.display.rsplit("/", 1)[-1] != "rnn.py" and not from_notebook:
        if chosen.display.rsplit("/", 1)[-1].lower() == "rnn.py":
            notes.append(Message("module named {file}, expected rnn.py (lower case)", file=chosen.display))
        else:
            notes.append(Message("no rnn.py; using {file}, the only file with class RNN", file=chosen.display))
    report_sought = path.is_dir() or _kind(path) == "zip"
    report, report_pages, report_others = _report(written) if report_sought else (None, None, [])
    if not report_sought:  # a lone module (a student's self-check): no report and no file naming to judge
        naming_ok, naming_note = True, ""
    return Submission(
        source=path,
        student_id=student_id,
        name=name,
        naming_ok=naming_ok,
        naming_note=naming_note,
        sha256=digest,
        root=root,
        module_path=chosen.path,
        module_display=chosen.display,
        files=files,
        notes=notes,
        report=report,
        report_pages=report_pages,
        report_others=report_others,
        report_sought=report_sought,
        from_notebook=from_notebook,
    )


class _Chosen:
    def __init__(self, display: str, path: Path) -> None:
        self.display, self.path = display, path


def _choose(
    sources: list[_Source], written: list[Written], notes: list[str]
) -> tuple[_Chosen, bool]:
    """The graded module, by the rules of STUDENT_API.md, or a SubmissionError."""
    named = [s for s in sources if s.display.rsplit("/", 1)[-1].lower() == "rnn.py"]
    if len(named) > 1:
        raise SubmissionError("several_modules", Message(
            "found {n} files named rnn.py ({files}); keep exactly one rnn.py in the submission", n=len(named),
            files=_listing([s.display for s in named])))
    if named:
        return _Chosen(named[0].display, named[0].path), False
    with_class = [s for s in sources if s.defines_rnn]
    if len(with_class) > 1:
        raise SubmissionError("several_modules", Message(
            "no rnn.py and several files define class RNN ({files}); name the one to grade rnn.py",
            files=_listing([s.display for s in with_class])))
    if with_class:
        return _Chosen(with_class[0].display, with_class[0].path), False
    notebooks = [w for w in written if w.display.lower().endswith(".ipynb")]
    if notebooks:
        return _from_notebook(notebooks, sources, notes), True
    if sources:
        found = _listing([s.listing() for s in sources])
        raise SubmissionError("no_module", Message(
            "no rnn.py and no .py file with a top-level class RNN; .py files found: {files}", files=found))
    others = [w.display for w in written]
    misnamed = [d for d in others if MISNAMED.match(d.rsplit("/", 1)[-1])]
    if misnamed:  # an editor or a download added an ending
        raise SubmissionError("no_module", Message("{file} {rename}", file=misnamed[0], rename=RENAME))
    raise SubmissionError("no_module", Message(
        "no rnn.py and no .py files in the submission (files found: {files}); include rnn.py", files=_listing(others))
        if others else Message("no rnn.py and no .py files in the submission (it holds no files); include rnn.py"))


def _from_notebook(notebooks: list[Written], sources: list[_Source], notes: list[str]) -> _Chosen:
    converted: list[tuple[Written, nb.Conversion]] = []
    broken: list[str] = []
    for w in notebooks:
        try:
            data = w.path.read_bytes()
            text = data.decode("utf-8-sig")
            converted.append((w, nb.convert(text, w.display)))
        except (nb.NotebookError, UnicodeDecodeError) as e:
            reason = e.args[0] if isinstance(e, nb.NotebookError) and e.args else Message("it is not UTF-8 text")
            broken.append(Message("{file} ({why})", file=w.display, why=reason))
    good = [(w, c) for w, c in converted if c.defines_rnn]
    py = Message("; .py files found: {files}", files=_listing([s.listing() for s in sources])) if sources else ""
    if len(good) > 1:
        raise SubmissionError("several_modules", Message(
            "no rnn.py and several notebooks define class RNN ({files}); submit rnn.py",
            files=_listing([w.display for w, _ in good])))
    if not good:
        if broken:
            raise SubmissionError("no_module", Message(
                "no rnn.py, and the notebook cannot be read: {files}; open it in Jupyter, save it again, or submit "
                "rnn.py{py}", files=_listing(broken), py=py))
        raise SubmissionError("no_module", Message(
            "no rnn.py, and no notebook defines a top-level class RNN (notebooks: {files}){py}",
            files=_listing([w.display for w in notebooks]), py=py))
    w, conversion = good[0]
    if broken:
        notes.append(Message("notebooks that could not be read: {files}", files=_listing(broken)))
    dest = w.path.with_name("rnn.py")
    n = 1
    while dest.exists():
        n += 1
        dest = w.path.with_name(f"rnn_{n}.py")
    dest.write_text(conversion.source, encoding="utf-8")
    notes.append(conversion.summary(w.display))
    return _Chosen(w.display, dest)
