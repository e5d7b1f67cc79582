"""The grader's own files, written so that nothing planted where they go can redirect them.

Where a submission could ever have written (a weak sandbox, a hostile LMS download), a
file may already sit under the name the grader is about to use: a symlink pointing at
something the grader's user owns, or a FIFO that blocks the first open forever. So:

* every output is written to a fresh temporary file (O_EXCL | O_NOFOLLOW: never an
  existing entry) and renamed over its name, which replaces whatever entry was there
  without following it; a crash leaves the old file or the new one, never half of one;
* logs that are written while a process runs are opened the same way, fresh;
* reads refuse anything but a regular file (O_NONBLOCK | O_NOFOLLOW, then fstat), so a
  planted FIFO cannot hang a batch;
* output folders are made private (0700): a classmate on the same machine reads nothing.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

# Neither of the first two exists on Windows, where O_BINARY keeps bytes as they are.
_NOFOLLOW, _CLOEXEC, _BINARY = (getattr(os, f"O_{name}", 0) for name in ("NOFOLLOW", "CLOEXEC", "BINARY"))
FRESH = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
READ = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _CLOEXEC | _BINARY


class UnsafePath(OSError):
    """An output path is not what the grader expects there (a link, a folder...)."""


def private_dir(path: Path) -> Path:
    """`path` as a folder only its owner can enter (made if missing, never a symlink)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePath(f"{path} is not a folder (a link or a file is in its place)")
    os.chmod(path, 0o700)
    return path


def open_fresh(path: Path, mode: int = 0o600) -> int:
    """A new, empty file at `path` for writing (whatever entry was there is removed first)."""
    path = Path(path)
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            raise UnsafePath(f"{path} is a folder")
        os.unlink(path)
    except FileNotFoundError:
        pass
    return os.open(path, FRESH, mode)


def write_atomic(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Write `data` to `path` through a fresh temporary file renamed over it."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, FRESH, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        if os.path.isdir(path) and not os.path.islink(path):
            raise UnsafePath(f"{path} is a folder")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_regular(path: Path, limit: int = 64 << 20) -> bytes | None:
    """The bytes of `path` if it is a regular file (not a link, FIFO or device), else None."""
    try:
        fd = os.open(path, READ)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                return None
        return b"".join(chunks)
    finally:
        os.close(fd)
