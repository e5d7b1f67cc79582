"""Unpacking a student's zip without trusting it.

The zip is read with our own loop over `ZipFile.infolist()` (never `extractall`,
`shutil.unpack_archive` or the `unzip` command). Every check runs on the central
directory before a byte is written: member count, declared sizes (per member, in total
and as a compression ratio), symlink and device modes, absolute, drive and `..` paths
(`\\` counts as a separator), duplicates (also after NFC and case folding), encryption and
compression methods. Members are then copied in chunks, counting the bytes, to names the
grader chooses, so nothing the zip says can place a file outside the target folder.

Names stored without the UTF-8 flag are decoded explicitly: the raw bytes (which
`zipfile` shows as cp437) are tried as UTF-8, then as cp950, GBK and Shift-JIS, and the
choice is recorded in the notes.

The folder and single-file intake in `grader.intake.submission` share the ignore rules, the
size limits and the safe names defined here.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import BinaryIO, Literal, get_args

from grader.messages import Message

MAX_MEMBERS = 1000
MAX_TOTAL = 50 << 20
MAX_ZIP_FILE = 2 * MAX_TOTAL  # the zip itself; its content is capped at MAX_TOTAL
MAX_MEMBER = 20 << 20
MAX_RATIO = 200
RATIO_MIN_SIZE = 1 << 20  # the ratio is only judged for members declaring at least this much
MAX_DEPTH = 32
MAX_COMPONENT_BYTES = 100
CHUNK = 1 << 16

ALLOWED_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
METHOD_NAMES = {
    1: "Shrink",
    2: "Reduce",
    3: "Reduce",
    4: "Reduce",
    5: "Reduce",
    6: "Implode",
    9: "Deflate64",
    10: "PKWARE Implode",
    18: "IBM TERSE",
    19: "IBM LZ77",
    93: "Zstandard",
    94: "MP3",
    95: "XZ",
    96: "JPEG",
    97: "WavPack",
    98: "PPMd",
    99: "AES encryption",
}
SEPARATORS = re.compile(r"[\\/]")
DRIVE = re.compile(r"^[A-Za-z]:")
NAME_CODECS = ("cp950", "gbk", "shift_jis")
CODEC_LABELS = {"utf-8": "UTF-8", "cp950": "cp950 (Big5)", "gbk": "GBK", "shift_jis": "Shift-JIS"}

IntakeStatus = Literal["bad_zip", "unsafe_zip", "no_module", "several_modules", "not_found"]
STATUSES: tuple[IntakeStatus, ...] = get_args(IntakeStatus)


class SubmissionError(Exception):
    """A submission the grader cannot take, with a status and one sentence for the student."""

    def __init__(self, status: IntakeStatus, message: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown submission status {status!r}")
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


# --------------------------------------------------------------------------- ignore rules

IGNORED_FOLDERS = {
    "__macosx": "__MACOSX/",
    "__pycache__": "__pycache__/",
    ".git": ".git/",
    ".ipynb_checkpoints": ".ipynb_checkpoints/",
}
IGNORED_FILES = {".ds_store": ".DS_Store", "thumbs.db": "Thumbs.db", "desktop.ini": "desktop.ini"}
IGNORED_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd")


def ignore_reason(parts: Iterable[str]) -> str | None:
    """The label under which a member is ignored (e.g. "__MACOSX/", ".pyc"), or None."""
    parts = list(parts)
    for part in parts[:-1]:
        label = IGNORED_FOLDERS.get(part.casefold())
        if label:
            return label
    if not parts:
        return None
    base = parts[-1]
    folded = base.casefold()
    if folded in IGNORED_FOLDERS:
        return IGNORED_FOLDERS[folded]
    if base.startswith("._"):
        return "._*"
    if folded in IGNORED_FILES:
        return IGNORED_FILES[folded]
    for suffix in IGNORED_SUFFIXES:
        if folded.endswith(suffix):
            return suffix
    return None


def describe_ignored(counts: Counter[str]) -> str | None:
    """'ignored __MACOSX/ and 3 .pyc files' from the counts per label."""
    if not counts:
        return None
    items = []
    for label, n in sorted(counts.items(), key=lambda kv: (not kv[0].endswith("/"), kv[0])):
        if label.endswith("/"):
            items.append(label)
        elif label.startswith("."):
            if label in (".DS_Store",):
                items.append(label if n == 1 else Message("{n} {label} files", n=n, label=label))
            else:
                items.append(Message("{n} {label} file", n=n, label=label) if n == 1 else
                             Message("{n} {label} files", n=n, label=label))
        elif label == "._*":
            items.append(Message("{n} ._* file (macOS metadata)", n=n) if n == 1 else
                         Message("{n} ._* files (macOS metadata)", n=n))
        else:
            items.append(label if n == 1 else Message("{n} {label} files", n=n, label=label))
    if len(items) == 1:
        return Message("ignored {items}", items=Message.join("", items))
    return Message("ignored {items} and {last}", items=Message.join(", ", items[:-1]), last=Message.join("", items[-1:]))


# --------------------------------------------------------------------------- safe names

WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{p}{i}" for p in ("com", "lpt") for i in range(10)
}
ASCII_SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def _short_hash(text: str) -> str:
    return sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def safe_component(name: str, is_file: bool) -> str:
    """A file or folder name the grader can write anywhere: ASCII-safe, short, not reserved.

    A name that is already plain ASCII is kept. A non-ASCII name that is a Python
    identifier (a folder) or `<identifier>.py` (a module) is kept in NFKC form, the form
    Python looks up for `import 名字`, so student imports keep working. Anything else is
    transliterated to ASCII with a hash of the original appended.
    """
    stem, ext = name, ""
    if is_file and "." in name.lstrip("."):
        stem, _, ext = name.rpartition(".")
        ext = "." + ext
    reserved = stem.split(".")[0].casefold() in WINDOWS_RESERVED
    if (
        ASCII_SAFE.match(name)
        and len(name) <= MAX_COMPONENT_BYTES
        and not reserved
        and not name.endswith(".")
    ):
        return name
    nfkc = unicodedata.normalize("NFKC", name)
    importable = nfkc[:-3] if is_file and nfkc.endswith(".py") else (nfkc if not is_file else "")
    if (
        importable.isidentifier()
        and not reserved
        and len(nfkc.encode("utf-8")) <= MAX_COMPONENT_BYTES
    ):
        return nfkc
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    ascii_stem = re.sub(r"[^A-Za-z0-9_\-]+", "_", ascii_stem).strip("_-")[:60] or "f"
    ascii_ext = ext if re.fullmatch(r"\.[A-Za-z0-9_]{1,12}", ext) else ""
    return f"{ascii_stem}_{_short_hash(name)}{ascii_ext}"


class SafeNames:
    """Maps display paths to unique relative paths made of safe components."""

    def __init__(self) -> None:
        self._dirs: dict[tuple[str, ...], tuple[str, ...]] = {(): ()}
        self._taken: set[str] = set()

    def _unique(self, parent: tuple[str, ...], name: str) -> tuple[str, ...]:
        candidate, n = name, 1
        while "/".join(parent + (candidate,)).casefold() in self._taken:
            n += 1
            stem, dot, ext = name.rpartition(".")
            candidate = f"{stem}_{n}.{ext}" if dot and stem else f"{name}_{n}"
        path = parent + (candidate,)
        self._taken.add("/".join(path).casefold())
        return path

    def _dir(self, parts: tuple[str, ...]) -> tuple[str, ...]:
        if parts not in self._dirs:
            parent = self._dir(parts[:-1])
            self._dirs[parts] = self._unique(parent, safe_component(parts[-1], is_file=False))
        return self._dirs[parts]

    def file(self, parts: tuple[str, ...]) -> tuple[str, ...]:
        parent = self._dir(tuple(parts[:-1]))
        return self._unique(parent, safe_component(parts[-1], is_file=True))


# --------------------------------------------------------------------------- writing


@dataclass
class Written:
    """One file the grader wrote: its display path (as the student named it) and where it is."""

    display: str
    path: Path
    size: int
    modified: datetime | None = None  # the time the zip records for the member


@dataclass
class Budget:
    """Bytes and files still allowed for one submission."""

    files: int = MAX_MEMBERS
    total: int = MAX_TOTAL


def copy_capped(
    src: BinaryIO, dest: Path, limit: int, budget: Budget, too_big: str
) -> tuple[int, str]:
    """Stream `src` into a new file `dest`, counting bytes; stop past `limit` or the budget.

    `too_big` is the message when more than `limit` bytes arrive. Returns (bytes written,
    sha256 hex). Never follows or replaces anything already at `dest`.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_BINARY", 0)
    fd = os.open(dest, flags, 0o600)
    digest = sha256()
    written = 0
    with os.fdopen(fd, "wb") as out:
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                break
            written += len(chunk)
            if written > limit:
                raise SubmissionError("unsafe_zip", too_big)
            if written > budget.total:
                raise SubmissionError("unsafe_zip", Message(
                    "the submission unpacks to more than {limit}; submit only your code and report",
                    limit=mib(MAX_TOTAL)))
            digest.update(chunk)
            out.write(chunk)
    budget.total -= written
    return written, digest.hexdigest()


def mib(n: int) -> str:
    if n < (1 << 20):
        return f"{n} bytes" if n < 1024 else f"{n / 1024:.0f} KiB"
    return f"{n / (1 << 20):.1f} MiB" if n < (10 << 20) else f"{n / (1 << 20):.0f} MiB"


# --------------------------------------------------------------------------- sniffing

MAGIC = (
    (b"Rar!\x1a\x07", Message("a RAR archive")),
    (b"7z\xbc\xaf\x27\x1c", Message("a 7-Zip archive")),
    (b"\x1f\x8b", Message("a gzip file (.tar.gz?)")),
    (b"BZh", Message("a bzip2 file")),
    (b"\xfd7zXZ\x00", Message("an xz file")),
    (b"%PDF", Message("a PDF document")),
    (b"\xd0\xcf\x11\xe0", Message("an old Office document")),
)
EMPTY_FILE = Message("an empty file (0 bytes)")
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


def sniff(head: bytes) -> str | None:
    """What a file that is not a zip looks like, from its first bytes."""
    if not head:
        return EMPTY_FILE
    for magic, what in MAGIC:
        if head.startswith(magic):
            return what
    if len(head) >= 262 and head[257:262] == b"ustar":
        return Message("a tar archive")
    return None


def looks_like_zip(head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC)


# --------------------------------------------------------------------------- names


def _raw_name(info: zipfile.ZipInfo) -> bytes | None:
    """The bytes of a name stored without the UTF-8 flag (zipfile decoded them as cp437)."""
    if info.flag_bits & 0x800:
        return None
    try:
        return info.orig_filename.encode("cp437")
    except UnicodeEncodeError:  # pragma: no cover - zipfile decoded with another codec
        return None


def _unicode_path_extra(info: zipfile.ZipInfo, raw: bytes) -> str | None:
    """The Info-ZIP Unicode Path extra field (0x7075), when present and matching the name."""
    extra, i = info.extra, 0
    while i + 4 <= len(extra):
        hid, size = struct.unpack("<HH", extra[i : i + 4])
        data = extra[i + 4 : i + 4 + size]
        if hid == 0x7075 and len(data) >= 5 and data[0] == 1:
            (crc,) = struct.unpack("<I", data[1:5])
            if crc == zlib.crc32(raw):
                try:
                    return data[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
        i += 4 + size
    return None


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def _plausibility(text: str, codec: str) -> float:
    """How much `text` looks like real names when its bytes are read as `codec` (mean score).

    GBK bytes usually also decode as (wrong) cp950 characters and the other way round.
    Real names use Han characters from the frequent blocks: Big5 A440-C67E, GB2312
    level 1 (B0-D7 / A1-FE); a wrong reading lands in rare blocks or on symbols
    (Cyrillic, box drawing, kana) that no file name uses. Per character: frequent Han 1,
    less frequent Han 0.6, rare Han 0.2, anything else -1.
    """
    scores = []
    for ch in text:
        if ord(ch) < 128:
            continue
        try:
            b = ch.encode(codec)
        except UnicodeEncodeError:
            continue
        if len(b) != 2 or not _is_han(ch):
            scores.append(-1.0)
            continue
        code = (b[0] << 8) | b[1]
        if codec == "cp950":
            tier = 1.0 if 0xA440 <= code <= 0xC67E else 0.6 if 0xC940 <= code <= 0xF9D5 else 0.2
        elif codec == "gbk":
            if 0xA1 <= b[1] <= 0xFE and 0xB0 <= b[0] <= 0xD7:
                tier = 1.0
            elif 0xA1 <= b[1] <= 0xFE and 0xD8 <= b[0] <= 0xF7:
                tier = 0.6
            else:
                tier = 0.2
        else:
            tier = 1.0 if 0x889F <= code <= 0x9872 else 0.6
        scores.append(tier)
    return sum(scores) / len(scores) if scores else 0.0


def decode_name(raw: bytes) -> str:
    """One file name's bytes as text, by the rule a zip's names follow (UTF-8, else the
    legacy code page whose reading looks most like real names), else with replacement
    characters."""
    codec = _choose_codec([raw], None)
    return raw.decode(codec) if codec is not None else raw.decode("utf-8", "replace")


def decode_names(
    infos: list[zipfile.ZipInfo], name_hint: str | None
) -> tuple[list[str], str | None]:
    """Display names (NFC) for every member, and a note on the codec chosen, if one was."""
    raws: dict[int, bytes] = {}
    names: list[str | None] = []
    unicode_extra = 0
    for k, info in enumerate(infos):
        raw = _raw_name(info)
        if raw is None or raw.isascii():
            names.append(info.orig_filename)
            continue
        via_extra = _unicode_path_extra(info, raw)
        if via_extra is not None:
            names.append(via_extra)
            unicode_extra += 1
            continue
        names.append(None)
        raws[k] = raw
    note = None
    if raws:
        codec = _choose_codec(list(raws.values()), name_hint)
        for k, raw in raws.items():
            names[k] = raw.decode(codec or "cp437")
        if codec is None:
            note = Message("file names in the zip are in an unknown encoding; shown as cp437")
        else:
            note = Message("file names in the zip decoded as {codec} (no UTF-8 flag)", codec=CODEC_LABELS[codec])
    elif unicode_extra:
        note = Message("file names in the zip taken from their Unicode path fields")
    return [unicodedata.normalize("NFC", n or "") for n in names], note


def _choose_codec(raws: list[bytes], name_hint: str | None) -> str | None:
    def decodes(codec: str) -> list[str] | None:
        try:
            return [r.decode(codec) for r in raws]
        except UnicodeDecodeError:
            return None

    if decodes("utf-8") is not None:
        return "utf-8"
    fits = {c: d for c in NAME_CODECS if (d := decodes(c)) is not None}
    if not fits:
        return None
    order = list(fits)
    hint = unicodedata.normalize("NFC", name_hint or "").strip()
    if hint and not hint.isascii():
        with_hint = [
            c for c in order if any(hint in unicodedata.normalize("NFC", n) for n in fits[c])
        ]
        if with_hint:
            order = with_hint + [c for c in order if c not in with_hint]
            return order[0]
    score = {c: _plausibility("".join(fits[c]), c) for c in order}
    # a stable sort: cp950 stays first on a tie (the course is taught in Taiwan)
    order.sort(key=lambda c: -score[c])
    return order[0]


def split_path(name: str) -> list[str]:
    """Path components of a member name, with `\\` as a separator, empty and '.' dropped."""
    return [p for p in SEPARATORS.split(name) if p not in ("", ".")]


# --------------------------------------------------------------------------- the zip


@dataclass
class Unpacked:
    """What came out of a zip."""

    written: list[Written] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    skipped: dict[str, tuple[IntakeStatus, str]] = field(default_factory=dict)  # (lenient) member -> why left out
    strip: int = 0  # leading folders looked through (one common top folder)


EOCD, EOCD64_LOCATOR = b"PK\x05\x06", b"PK\x06\x07"


def declared_members(path: Path) -> int | None:
    """How many members a zip's end record declares, read from its last 64 KiB before the
    central directory is parsed (ZipFile builds an object per member); None if not found."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - (1 << 16) - 22))
        tail = f.read()
        at = tail.rfind(EOCD)
        if at < 0 or len(tail) < at + 22:
            return None
        count = struct.unpack("<H", tail[at + 10 : at + 12])[0]
        locator = at - 20
        if count == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == EOCD64_LOCATOR:
            offset = struct.unpack("<Q", tail[locator + 8 : locator + 16])[0]
            f.seek(offset)
            record = f.read(56)
            if record[:4] == b"PK\x06\x06" and len(record) == 56:
                count = struct.unpack("<Q", record[32:40])[0]
        return count


def _open_zip(path: Path, max_members: int = MAX_MEMBERS) -> zipfile.ZipFile:
    with open(path, "rb") as f:
        head = f.read(512)
    declared = declared_members(path) if looks_like_zip(head) or path.suffix.lower() == ".zip" else None
    if declared is not None and declared > max_members:
        raise SubmissionError("unsafe_zip", Message(
            "{file} declares {n} members (limit {limit}); zip only your code and report (no virtual environments, "
            "datasets or .git)", file=path.name, n=declared, limit=max_members))
    what = sniff(head)
    if what and not looks_like_zip(head):
        raise SubmissionError("bad_zip", Message("{file} is {what}, not a zip", file=path.name, what=what)
                              if what == EMPTY_FILE else
                              Message("{file} is {what}, not a zip; submit a .zip made with your system's zip tool",
                                      file=path.name, what=what))
    try:
        return zipfile.ZipFile(path)
    except UnicodeDecodeError:
        raise SubmissionError("bad_zip", Message(
            "{file}: the zip marks its file names as UTF-8 but they are not; re-zip it with another tool",
            file=path.name)) from None
    except Exception as e:  # BadZipFile, OSError, EOFError, ValueError, ...
        if looks_like_zip(head):
            raise SubmissionError("bad_zip", Message(
                "{file} is damaged or truncated ({error}); zip the files again and re-upload", file=path.name,
                error=_reason(e))) from None
        raise SubmissionError("bad_zip", Message("{file} is not a zip file ({error}); submit a .zip", file=path.name,
                                                 error=_reason(e))) from None


def _reason(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text[:120]


@dataclass
class _Member:
    info: zipfile.ZipInfo
    display: str
    parts: tuple[str, ...]
    is_dir: bool


def _vetted_members(
    z: zipfile.ZipFile, name: str, name_hint: str | None, budget: Budget, notes: list[str],
    skipped: dict[str, tuple[IntakeStatus, str]] | None = None,
) -> list[_Member]:
    """Every check on the central directory; returns the members, none written yet. A member
    that fails a check of its own refuses the zip, or (`skipped` given: a class's archive,
    whose members are many students' files) is left out and recorded there with why."""
    infos = z.infolist()
    if not infos:
        raise SubmissionError("bad_zip", Message("{file} is an empty zip (no files in it)", file=name))
    if len(infos) > budget.files:
        raise SubmissionError("unsafe_zip", Message(
            "{file} has {n} members (limit {limit}); zip only your code and report (no virtual environments, "
            "datasets or .git)", file=name, n=len(infos), limit=MAX_MEMBERS))
    budget.files -= len(infos)
    displays, codec_note = decode_names(infos, name_hint)
    if codec_note:
        notes.append(codec_note)

    def refuse(status: IntakeStatus, message: str, display: str) -> None:
        if skipped is None:
            raise SubmissionError(status, message)
        skipped[display.replace("\\", "/")] = (status, message)

    members: list[_Member] = []
    seen: dict[str, str] = {}
    files: set[str] = set()
    dirs: set[str] = set()
    for info, display in zip(infos, displays, strict=True):
        problem = _member_problem(info, display, name)
        if problem is not None:
            refuse(*problem, display)
            continue
        parts = tuple(split_path(display))
        mode = info.external_attr >> 16
        is_dir = (
            info.is_dir()
            or display.endswith("\\")
            or stat.S_IFMT(mode) == stat.S_IFDIR
            or (info.external_attr & 0x10 and info.file_size == 0)  # MS-DOS directory bit
        )
        if not parts:
            if not is_dir:
                refuse("unsafe_zip", Message("{file} has a member with an empty name", file=name), display)
            continue
        key = "/".join(parts).casefold()
        for k in range(1, len(parts)):
            dirs.add("/".join(parts[:k]).casefold())
        if is_dir:
            dirs.add(key)
            members.append(_Member(info, "/".join(parts), parts, True))
            continue
        if key in seen:
            here = "/".join(parts)
            what = (
                Message("two files named {here}", here=repr(here))
                if seen[key] == here
                else Message("files whose names differ only in case or accents: {there} and {here}",
                             there=repr(seen[key]), here=repr(here))
            )
            refuse("unsafe_zip", Message("{file} holds {what}; keep one", file=name, what=what), here)
            continue
        seen[key] = "/".join(parts)
        files.add(key)
        members.append(_Member(info, "/".join(parts), parts, False))
    for clash in sorted(files & dirs):
        refuse("unsafe_zip", Message("{file} has {member} both as a file and as a folder", file=name,
                                     member=repr(seen[clash])), seen[clash])
        members = [m for m in members if m.is_dir or "/".join(m.parts).casefold() != clash]
    kept = []
    for m in members:
        problem = None if m.is_dir or ignore_reason(m.parts) else _content_problem(m, name)
        if problem is not None:
            refuse(*problem, m.display)
        else:
            kept.append(m)
    declared = sum(m.info.file_size for m in kept if not m.is_dir)
    if declared > budget.total:
        raise SubmissionError("unsafe_zip", Message(
            "{file} declares {size} of content (limit {limit}); submit only your code and report", file=name,
            size=mib(declared), limit=mib(MAX_TOTAL)))
    return kept


def encrypted(name: str) -> Message:
    return Message("{file} is encrypted (password-protected); zip it again without a password", file=name)


def _member_problem(info: zipfile.ZipInfo, display: str, name: str) -> tuple[IntakeStatus, str] | None:
    """What makes a member's name or kind unsafe to write, if anything."""
    shown = display.replace("\\", "/")
    if "\x00" in info.orig_filename:
        return "unsafe_zip", Message("a member name in {file} contains a NUL byte", file=name)
    member = repr(shown[:80])
    if shown.startswith("/") or DRIVE.match(shown):
        return "unsafe_zip", Message("{file} has a member with an absolute path ({member})", file=name, member=member)
    if ".." in SEPARATORS.split(display):
        return "unsafe_zip", Message("{file} has a member that points outside the folder ({member})", file=name,
                                     member=member)
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "unsafe_zip", Message("{file} contains a symbolic link ({member}); zip real files", file=name,
                                     member=member)
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "unsafe_zip", Message("{file} contains a device or special file ({member})", file=name, member=member)
    if len(split_path(display)) > MAX_DEPTH:
        return "unsafe_zip", Message("{file} has paths nested deeper than {n} folders", file=name, n=MAX_DEPTH)
    return None


def _content_problem(m: _Member, name: str) -> tuple[IntakeStatus, str] | None:
    """What makes a file member unreadable or too big to take, if anything."""
    info = m.info
    if info.file_size > MAX_MEMBER:
        return "unsafe_zip", Message("{member} in {file} declares {size} (limit {limit} per file)", member=m.display,
                                     file=name, size=mib(info.file_size), limit=mib(MAX_MEMBER))
    if info.file_size >= RATIO_MIN_SIZE and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return "unsafe_zip", Message("{member} in {file} expands {ratio} times (limit {limit}); this looks like a zip "
                                     "bomb", member=m.display, file=name,
                                     ratio=info.file_size // max(info.compress_size, 1), limit=MAX_RATIO)
    if info.flag_bits & 0x1 or info.compress_type == 99:
        return "bad_zip", encrypted(name)
    if info.compress_type not in ALLOWED_METHODS:
        method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        extra = (Message(" (Windows Explorer uses it for large files); re-zip it with another tool")
                 if info.compress_type == 9 else Message("; re-zip it with the standard zip format (deflate)"))
        return "bad_zip", Message("{member} in {file} is compressed with {method}, which the grader cannot read{extra}",
                                  member=m.display, file=name, method=method, extra=extra)
    return None


def unpack_zip(
    path: Path,
    root: Path,
    scratch: Path,
    name_hint: str | None = None,
    *,
    _level: int = 0,
    _budget: Budget | None = None,
    _label: str | None = None,
    lenient: bool = False,
    only: Callable[[str], bool] | None = None,
) -> Unpacked:
    """Check `path` completely, then write its useful members under `root`.

    `scratch` is a folder of the grader's where an inner zip may be unpacked first
    (a zip holding nothing but one zip is opened, one level deep, on the same budget).
    Raises SubmissionError ("bad_zip" / "unsafe_zip"); `lenient` (a class's archive) leaves
    out a member that fails a check of its own instead, recording why in `skipped`. `only`
    writes just the members whose name it accepts (a student's report), after the same checks.
    """
    budget = _budget or Budget()
    label = _label or path.name
    out = Unpacked()
    z = _open_zip(path, budget.files)
    with z:
        try:
            members = _vetted_members(z, label, name_hint, budget, out.notes, out.skipped if lenient else None)
        except SubmissionError:
            raise
        except Exception as e:  # a central directory zipfile accepted but cannot describe
            raise SubmissionError("bad_zip", Message("{file} cannot be read ({error})", file=label,
                                                     error=_reason(e))) from None
        keep: list[_Member] = []
        for m in members:
            if m.is_dir:
                continue
            reason = ignore_reason(m.parts)
            if reason:
                out.ignored[reason] += 1
            else:
                keep.append(m)
        inner = [m for m in keep if m.parts[-1].casefold().endswith(".zip")] if not lenient else []
        if len(keep) == 1 and inner:
            if _level >= 1:
                raise SubmissionError("unsafe_zip", Message(
                    "{file} holds a zip inside a zip inside a zip; submit one zip with your files", file=label))
            m = inner[0]
            tmp = scratch / f"inner-{_short_hash(m.display)}.zip"
            _write_member(z, m, tmp, budget, label)
            try:
                nested = unpack_zip(
                    tmp,
                    root,
                    scratch,
                    name_hint,
                    _level=1,
                    _budget=budget,
                    _label=f"{label}/{m.display}",
                    only=only,
                )
            finally:
                tmp.unlink(missing_ok=True)
            nested.notes.insert(0, Message("opened the zip inside the zip ({member})", member=m.display))
            nested.ignored.update(out.ignored)
            nested.notes = out.notes + nested.notes
            return nested
        if _level >= 1 and inner:
            raise SubmissionError("unsafe_zip", Message(
                "{file} holds further zips ({member}); submit one zip with your files", file=label,
                member=inner[0].display))
        if inner:
            out.notes.append(Message("zip files inside the submission were not opened: {members}",
                                     members=", ".join(m.display for m in inner[:5])))
        strip = out.strip = _single_top(keep)
        names = SafeNames()
        for m in keep:
            if only is not None and not only(m.parts[-1]):
                continue
            rel = names.file(m.parts[strip:])
            dest = root.joinpath(*rel)
            try:
                size = _write_member(z, m, dest, budget, label)
            except SubmissionError as exc:
                if not lenient:
                    raise
                dest.unlink(missing_ok=True)
                out.skipped[m.display] = (exc.status, exc.message)
                continue
            out.written.append(Written(m.display, dest, size, _member_time(m.info)))
    return out


def _single_top(members: list[_Member]) -> int:
    """1 when every kept member sits under one common top folder (which is looked through)."""
    tops = {m.parts[0] for m in members if len(m.parts) > 1}
    if len(tops) == 1 and all(len(m.parts) > 1 for m in members):
        return 1
    return 0


def _write_member(z: zipfile.ZipFile, m: _Member, dest: Path, budget: Budget, label: str) -> int:
    what = Message("{member} in {file}", member=m.display, file=label)
    if m.info.file_size <= MAX_MEMBER:
        limit, too_big = (
            m.info.file_size,
            Message("{what} holds more than its declared size; the zip is forged", what=what),
        )
    else:  # pragma: no cover - refused by _check already
        limit, too_big = MAX_MEMBER, Message("{what} is larger than {limit}", what=what, limit=mib(MAX_MEMBER))
    try:
        with z.open(m.info) as src:
            size, _ = copy_capped(src, dest, limit, budget, too_big)
    except SubmissionError:
        raise
    except RuntimeError as e:
        if "encrypted" in str(e) or "password" in str(e):
            raise SubmissionError("bad_zip", encrypted(label)) from None
        raise SubmissionError("bad_zip", Message("{file} cannot be read ({error})", file=what,
                                                 error=_reason(e))) from None
    except NotImplementedError as e:
        raise SubmissionError("bad_zip", Message("{what} uses a zip feature the grader cannot read ({error}); re-zip it",
                                                 what=what, error=_reason(e))) from None
    except (OSError, EOFError, zlib.error, ValueError, zipfile.BadZipFile, LookupError) as e:
        raise SubmissionError("bad_zip", Message("{what} cannot be read, the zip is damaged ({error}); zip the files "
                                                 "again", what=what, error=_reason(e))) from None
    return size


def remove_tree(path: Path) -> None:
    """Delete a folder the grader made (never follows links)."""
    shutil.rmtree(path, ignore_errors=True)


def holds_module(path: Path) -> bool:
    """Whether a zip's central directory names a `.py` or a notebook: which of a student's
    several zips is the submission. A zip that cannot be read holds none."""
    try:
        if path.stat().st_size > MAX_ZIP_FILE:
            return False
        with _open_zip(path) as z:
            names = [i.filename for i in z.infolist()[:MAX_MEMBERS]]
    except (SubmissionError, OSError):
        return False
    return any(n.casefold().endswith((".py", ".ipynb")) and ignore_reason(split_path(n)) is None for n in names)


def _member_time(info: zipfile.ZipInfo) -> datetime | None:
    try:
        return datetime(*info.date_time)
    except (TypeError, ValueError):  # a member with an impossible date
        return None


def newest_member_time(path: Path) -> datetime | None:
    """The latest modification time among a zip's members (its central directory only; a
    naive time, as zip stores it), or None when the file is not a readable zip."""
    try:
        with _open_zip(path) as z:
            stamps = [t for info in z.infolist()[:MAX_MEMBERS] if (t := _member_time(info)) is not None]
    except (SubmissionError, OSError):
        return None
    return max(stamps, default=None)
