"""What a sandboxed child sees of the host: an allowlist, the same for every isolation mode.

The interpreter, the standard library (with its site-packages masked), NumPy, and the
shared libraries that these load (read from /proc/self/maps of a probe process that
imports NumPy and every extension module of the standard library), each at its host path
so that paths compiled into them keep working; symlinks on the way are recreated. Nothing
else of the host: no other site-packages or dist-packages, no grader, no home folder.

Per sandbox, `sandbox_mounts` adds the worker's two files, a read-only copy of the
submission, a size-capped writable /tmp, /dev/shm, five devices and /proc. The jail
(`jail.py`) and bubblewrap (`bwrap_args`) are two renderings of the same list.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SANDBOX_DIR = "/sandbox"  # the worker's files and the submission, inside the view
WORKER_DIR = f"{SANDBOX_DIR}/worker"
SUBMISSION_DIR = f"{SANDBOX_DIR}/submission"
SCRATCH = "/tmp"  # the child's cwd, HOME and TMPDIR: the only place it may write
SCRATCH_ELSEWHERE = f"{SANDBOX_DIR}/tmp"  # when the interpreter itself lives under /tmp
DEVICES = ("null", "zero", "full", "random", "urandom")
MASKED = ("site-packages", "dist-packages")  # inside the standard library's folder
PATH = "/usr/local/bin:/usr/bin:/bin"
BLAS_MACHINE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE")


def base_env(home: str) -> dict[str, str]:
    """The child's whole environment (one BLAS thread, UTF-8, nothing of the grader's); the
    probe of mapped libraries runs in it too, so it maps the locale files the child will."""
    env = {
        "PATH": PATH, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1",
    }
    # The machine's own BLAS settings: without /sys the child could not detect the same
    # kernel, and its sums would differ from the grader's in the last bits.
    env.update({k: v for k, v in os.environ.items() if k in BLAS_MACHINE_VARS})
    if os.name == "nt":  # Windows' Python cannot start without SYSTEMROOT (its random source),
        # and a conda NumPy finds its DLLs (MKL) through PATH
        env.update({k: v for k, v in os.environ.items() if k.upper() in ("SYSTEMROOT", "PATH")})
    return env

# Mapped by a process that imported NumPy and every extension module it could.
_MAPS_PROBE = r"""
import json, os, sys, importlib
import numpy, numpy.linalg, numpy.random, numpy.fft
dynload = next((p for p in sys.path if os.path.basename(p) == "lib-dynload"), "")
for name in sorted(os.listdir(dynload) if os.path.isdir(dynload) else []):
    if name.endswith(".so"):
        try:
            importlib.import_module(name.split(".")[0])
        except Exception:
            pass
files = set()
with open("/proc/self/maps") as f:
    for line in f:
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith("/"):
            files.add(parts[5].rstrip("\n").removesuffix(" (deleted)"))
print(json.dumps(sorted(files)))
"""


@dataclass(frozen=True)
class Mount:
    """One entry of the view. kind: "bind" (read-only), "device", "link" (a symlink to
    `target`), "tmpfs" (`options`; read-only unless `writable`), "proc"."""

    kind: str
    at: str
    source: str = ""
    target: str = ""
    options: str = ""
    writable: bool = False


def _resolve(path: str, links: dict[str, str], depth: int = 0) -> str:
    """The real path behind `path`, recording every symlink met on the way in `links`."""
    if depth > 40:
        raise OSError(f"too many symbolic links: {path}")
    parts = Path(os.path.abspath(path)).parts
    current = "/"
    for i, part in enumerate(parts[1:], start=1):
        candidate = os.path.join(current, part)
        if os.path.islink(candidate):
            target = os.readlink(candidate)
            links[candidate] = target
            joined = os.path.normpath(os.path.join(current, target))
            return _resolve(os.path.join(joined, *parts[i + 1:]), links, depth + 1)
        current = candidate
    return current


def _inside(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f + "/") for f in folders)


def _mapped_files() -> list[str]:
    done = subprocess.run([sys.executable, "-I", "-B", "-c", _MAPS_PROBE], capture_output=True,
                          stdin=subprocess.DEVNULL, env=base_env("/"), timeout=60, cwd="/", check=False)
    if done.returncode != 0:
        raise OSError(f"cannot list NumPy's shared libraries: {done.stderr.decode(errors='replace')[-200:]}")
    return json.loads(done.stdout)


@functools.lru_cache(maxsize=None)
def python_view() -> tuple[Mount, ...]:
    """The interpreter, the standard library and NumPy, as one list of mounts (cached)."""
    links: dict[str, str] = {}
    dynload = [p for p in sys.path if os.path.basename(p) == "lib-dynload" and os.path.isdir(p)]
    stdlib = {_resolve(p, links) for p in [os.path.dirname(os.__file__), *dynload]}
    stdlib = {p for p in stdlib if not _inside(os.path.dirname(p), list(stdlib))}
    numpy_dir = _resolve(os.path.dirname(np.__file__), links)
    folders = sorted(stdlib) + [numpy_dir]
    for extra in (numpy_dir + ".libs", os.path.join(numpy_dir, ".libs")):  # bundled OpenBLAS
        if os.path.isdir(extra) and not _inside(extra, folders):
            folders.append(extra)
    files = {_resolve(sys.executable, links)}
    if sys.prefix != sys.base_prefix:
        files.add(_resolve(os.path.join(sys.prefix, "pyvenv.cfg"), links))
    if os.path.exists("/etc/ld.so.cache"):  # where the program loader looks libraries up
        files.add(_resolve("/etc/ld.so.cache", links))
    for mapped in _mapped_files():
        if os.path.isfile(mapped) and not _inside(mapped, folders):
            files.add(_resolve(mapped, links))
    _interpreter_links(files, links)
    mounts = [Mount("bind", at=p, source=p) for p in folders]
    mounts += [Mount("bind", at=p, source=p) for p in sorted(files) if not _inside(p, folders)]
    for folder in stdlib:
        mounts += [Mount("tmpfs", at=os.path.join(folder, name), options="size=16k,mode=0755")
                   for name in MASKED if os.path.isdir(os.path.join(folder, name))]
    mounts += [Mount("link", at=at, target=target) for at, target in sorted(links.items())]
    return tuple(mounts)


def _elf_interpreter(path: str) -> str | None:
    """The program loader named in an ELF executable's PT_INTERP header (64-bit, LE)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return None
            phoff = int.from_bytes(head[32:40], "little")
            size, count = int.from_bytes(head[54:56], "little"), int.from_bytes(head[56:58], "little")
            for i in range(count):
                f.seek(phoff + i * size)
                ph = f.read(size)
                if int.from_bytes(ph[0:4], "little") == 3:  # PT_INTERP
                    f.seek(int.from_bytes(ph[8:16], "little"))
                    return f.read(int.from_bytes(ph[32:40], "little")).rstrip(b"\0").decode()
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _interpreter_links(files: set[str], links: dict[str, str]) -> None:
    """The names the program loader opens: the PT_INTERP path, the top-level links of a
    merged /usr, and the soname links beside each library (libz.so.1 -> libz.so.1.2.13)."""
    loader = _elf_interpreter(os.path.realpath(sys.executable))
    if loader:
        files.add(_resolve(loader, links))
    for name in os.listdir("/"):
        if os.path.islink("/" + name):
            links["/" + name] = os.readlink("/" + name)
    for folder in {os.path.dirname(f) for f in files}:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink() and os.path.realpath(entry.path) in files:
                links[entry.path] = os.readlink(entry.path)


def worker_files() -> dict[str, Path]:
    """The host files the worker needs: its script and the frame protocol."""
    here = Path(__file__).resolve().parent
    return {"worker.py": here / "worker.py", "protocol.py": here / "protocol.py"}


def scratch_dir(view: tuple[Mount, ...]) -> str:
    """/tmp, unless part of the view lives there (a venv made with mktemp): then /tmp is a
    read-only skeleton holding it, and the writable scratch goes elsewhere."""
    return SCRATCH_ELSEWHERE if any(_inside(m.at, [SCRATCH]) for m in view) else SCRATCH


def sandbox_mounts(view: tuple[Mount, ...], module_dir: Path | str, scratch_mb: int, owner: int) -> list[Mount]:
    """The whole view of one sandbox: `view` (python_view) plus this sandbox's own mounts;
    `owner` is the uid (inside) that owns the scratch folder (scratch_dir)."""
    mounts = list(view)
    mounts += [Mount("bind", at=f"{WORKER_DIR}/{name}", source=str(path)) for name, path in worker_files().items()]
    mounts.append(Mount("bind", at=SUBMISSION_DIR, source=str(module_dir)))
    mounts.append(Mount("tmpfs", at=scratch_dir(view), writable=True,
                        options=f"size={scratch_mb}m,nr_inodes=4096,mode=0700,uid={owner},gid={owner}"))
    mounts.append(Mount("tmpfs", at="/dev", options="size=16k,mode=0755"))
    mounts += [Mount("device", at=f"/dev/{d}", source=f"/dev/{d}") for d in DEVICES]
    mounts.append(Mount("tmpfs", at="/dev/shm", writable=True, options="size=1m,nr_inodes=64,mode=1777"))
    mounts += [Mount("link", at="/dev/fd", target="/proc/self/fd"),
               Mount("link", at="/dev/stdin", target="/proc/self/fd/0"),
               Mount("link", at="/dev/stdout", target="/proc/self/fd/1"),
               Mount("link", at="/dev/stderr", target="/proc/self/fd/2")]
    mounts.append(Mount("proc", at="/proc"))
    return mounts


def as_json(mounts: list[Mount]) -> list[dict]:
    return [asdict(m) for m in mounts]


def bwrap_args(bwrap: str, mounts: list[Mount], size_ok: bool) -> list[str]:
    """The same view as bubblewrap arguments (its own namespaces, every capability dropped)."""
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--hostname", "sandbox"]
    readonly = []
    for m in sorted(mounts, key=lambda e: (e.at.count("/"), e.at)):
        if m.kind == "bind":
            args += ["--ro-bind", m.source, m.at]
        elif m.kind == "device":
            args += ["--dev-bind", m.source, m.at]
        elif m.kind == "link":
            args += ["--symlink", m.target, m.at]
        elif m.kind == "proc":
            args += ["--proc", m.at]
        elif m.kind == "tmpfs":
            size = next((o[5:] for o in m.options.split(",") if o.startswith("size=")), "")
            if size_ok and size:
                args += ["--size", str(_bytes(size))]
            mode = next((o[5:] for o in m.options.split(",") if o.startswith("mode=")), "")
            if mode:
                args += ["--perms", mode]
            args += ["--tmpfs", m.at]
            if not m.writable:
                readonly.append(m.at)
    for at in reversed(readonly):  # after everything inside them was created
        args += ["--remount-ro", at]
    scratch = next(m.at for m in mounts if m.kind == "tmpfs" and m.writable and m.at != "/dev/shm")
    return args + ["--remount-ro", "/", "--chdir", scratch]


def _bytes(size: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    return int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)
