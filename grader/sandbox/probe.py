"""What this machine can do to isolate a submission, found out once per grader process.

Modes, strongest first for the user the grader runs as:

* "namespaces": grader/sandbox/jail.py, from the kernel alone (no setuid helper, no
  package): new mount, PID, network, IPC and UTS namespaces with a constructed read-only
  root (view.py), every capability dropped for good; the uid is a fresh one when the
  grader is root, and the grader's own, mapped into a user namespace, when it is not.
  The first choice as root: bubblewrap cannot run as another user and still read a Python
  installed in root's home.
* "bwrap": bubblewrap with the same view; the first choice for an ordinary user.
* "none": a plain child process with rlimits; nothing of the file system or the user is
  isolated. `batch` refuses it unless the instructor allows weak isolation.
* "portable": what macOS and Windows offer (and Linux, when chosen): a plain child process
  talking over its standard pipes, deadlines kept by threads, rlimits where `resource`
  exists. For students checking their own code; `batch` refuses it as it refuses "none".

`Isolation.guarantees` names what holds: files (sees only the view), user (not the
grader's rights: no capability, never host root), network, pids (its own PID namespace:
cannot see or signal another process), ipc, and the limits that apply to the sandbox as a
whole (memory, processes, cpu) rather than to each process.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field

from grader.results import STRONG_GUARANTEES

from . import cgroups, seccomp
from .view import (  # noqa: F401  (PATH, BLAS_MACHINE_VARS: part of this module's interface)
    BLAS_MACHINE_VARS,
    PATH,
    Mount,
    as_json,
    base_env,
    bwrap_args,
    python_view,
    sandbox_mounts,
    scratch_dir,
)

JAIL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jail.py")
MODES = ("namespaces", "bwrap", "none", "portable")
FRESH_UIDS = (1 << 30, 1 << 24)  # as root, each sandbox runs as base + a random offset
CHOOSE_VAR = "BPTT_GRADER_ISOLATION"  # one of MODES: use that mode or none (tests, instructors)
STRONG = STRONG_GUARANTEES  # what `batch` needs unless weak isolation is allowed
ISOLATED = ("files", "user", "network", "pids", "ipc")
FIX = ("install bubblewrap (apt install bubblewrap) or allow unprivileged user namespaces "
       "(sysctl kernel.unprivileged_userns_clone=1; on Ubuntu also kernel.apparmor_restrict_unprivileged_userns=0)")


@dataclass(frozen=True)
class Isolation:
    mode: str
    guarantees: tuple[str, ...]
    note: str  # what is weaker than it could be, and why
    view: tuple[Mount, ...] = ()  # what of the host the child sees (view.python_view)
    cgroup_bases: dict[str, str] = field(default_factory=dict)
    bwrap_size: bool = False
    pdeathsig: bool = False

    def export(self) -> dict:
        """As JSON-ready data, for a grader process that should not probe again."""
        return asdict(self)

    @classmethod
    def from_export(cls, data: dict) -> Isolation:
        return cls(**{**data, "guarantees": tuple(data["guarantees"]),
                      "view": tuple(Mount(**m) for m in data["view"])})

    @property
    def strong(self) -> bool:
        return all(g in self.guarantees for g in STRONG)

    def describe(self) -> str:
        """One plain line: the mode and each guarantee that holds."""
        if self.mode == "portable":
            return f"portable: a plain child process on {SYSTEMS.get(sys.platform, sys.platform)}, weaker isolation"
        return f"{self.mode}: {', '.join(self.guarantees) or 'process limits only'}"

    def missing(self) -> list[str]:
        return [g for g in STRONG if g not in self.guarantees]


def _run(cmd: list[str], timeout: float = 30.0, pass_fds: tuple[int, ...] = ()) -> tuple[int, str]:
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                              env=base_env("/"), cwd="/", pass_fds=pass_fds)
    except (OSError, subprocess.SubprocessError) as exc:
        return -1, str(exc)
    text = (done.stderr or done.stdout or b"").decode("utf-8", "replace").strip()
    return done.returncode, text.splitlines()[-1][:200] if text else ""


def jail_command(spec: dict, folder: str, command: list[str]) -> list[str]:
    """The launcher's command line; its spec goes to a file in the sandbox's own `folder`."""
    path = os.path.join(folder, "jail.json")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "w",
              encoding="utf-8") as f:
        json.dump(spec, f)
    return [sys.executable, "-I", "-S", "-B", JAIL, path, "--", *command]


def jail_spec(view: tuple[Mount, ...], submission: str | os.PathLike, root: str, scratch_mb: int, *,
              env: dict[str, str] | None = None, cgroups: list[str] | None = None,
              pdeathsig: bool = False) -> dict:
    """What jail.py builds: the view plus this sandbox's mounts, the user it becomes (a
    fresh uid as root, the grader's own mapped into a user namespace otherwise), its
    environment (base_env plus `env`), cgroups and the seccomp filter."""
    userns = os.geteuid() != 0
    uid = 0 if userns else FRESH_UIDS[0] + secrets.randbelow(FRESH_UIDS[1])
    scratch = scratch_dir(view)
    return {"root": root, "mounts": as_json(sandbox_mounts(view, submission, scratch_mb, uid)),
            "userns": userns, "uid": uid, "gid": uid, "cgroups": list(cgroups or []), "cwd": scratch,
            "env": {**base_env(scratch), **(env or {})}, "pdeathsig": pdeathsig, "parent_pid": os.getpid(),
            "seccomp": seccomp.program().hex() if seccomp.supported() else ""}


def bwrap_command(bwrap: str, view: tuple[Mount, ...], submission: str | os.PathLike, scratch_mb: int,
                  size_ok: bool, seccomp_fd: int | None) -> list[str]:
    """bubblewrap's arguments for the same sandbox (the seccomp filter read from `seccomp_fd`)."""
    args = bwrap_args(bwrap, sandbox_mounts(view, submission, scratch_mb, os.getuid()), size_ok)
    return args + (["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else [])


def seccomp_file(folder: str) -> int | None:
    """The seccomp filter in a file of `folder`, open at its start (for bubblewrap), or None."""
    if not seccomp.supported():
        return None
    fd = os.open(os.path.join(folder, "seccomp.bpf"), os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.write(fd, seccomp.program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _try(mode: str, bwrap: str | None, size_ok: bool, view: tuple[Mount, ...]) -> tuple[int, str]:
    """Import NumPy inside a real sandbox of `mode`, built as every sandbox is (seccomp filter
    included), with an empty submission folder."""
    with tempfile.TemporaryDirectory(prefix="bptt-probe-") as tmp:
        os.chmod(tmp, 0o755)
        submission, root = os.path.join(tmp, "submission"), os.path.join(tmp, "root")
        os.mkdir(submission, 0o755)
        os.mkdir(root, 0o755)
        probe = [sys.executable, "-I", "-B", "-c", "import numpy"]
        try:
            if mode == "bwrap":
                fd = seccomp_file(tmp)
                try:
                    return _run(bwrap_command(bwrap, view, submission, 16, size_ok, fd) + ["--", *probe],
                                pass_fds=() if fd is None else (fd,))
                finally:
                    if fd is not None:
                        os.close(fd)
            return _run(jail_command(jail_spec(view, submission, root, 16), tmp, probe))
        except OSError as exc:
            return -1, str(exc)


def _mode(notes: list[str], view: tuple[Mount, ...]) -> tuple[str, bool]:
    bwrap = shutil.which("bwrap", path=PATH)
    size_ok = False
    if bwrap:
        try:
            size_ok = b"--size" in subprocess.run([bwrap, "--help"], capture_output=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            size_ok = False
    order = ["namespaces", "bwrap"] if os.geteuid() == 0 else ["bwrap", "namespaces"]
    chosen = os.environ.get(CHOOSE_VAR, "")
    if chosen in MODES:
        order = [m for m in order if m == chosen]
        notes.append(f"{CHOOSE_VAR}={chosen}")
    for mode in order:
        if mode == "bwrap" and not bwrap:
            continue
        rc, why = _try(mode, bwrap, size_ok, view)
        if rc == 0:
            return mode, size_ok
        notes.append(f"{mode} not usable ({why or f'exit status {rc}'})")
    if not bwrap and "bwrap" in order:
        notes.append("bubblewrap not installed")
    return "none", size_ok


_ADOPTED: list[Isolation] = []


def adopt(found: Isolation) -> None:
    """Use what another grader process found out (the batch's), instead of probing."""
    _ADOPTED[:] = [found]


def isolation() -> Isolation:
    """What this machine can isolate: found out once per process, or adopted."""
    return _ADOPTED[0] if _ADOPTED else _probe()


SYSTEMS = {"darwin": "macOS", "win32": "Windows", "linux": "Linux"}
PORTABLE_FIX = "grade on Linux, where bubblewrap or user namespaces isolate each submission"
PORTABLE_NOTE = "a plain child process: your code runs with your own rights (no Linux namespaces here)"


@functools.lru_cache(maxsize=None)
def _probe() -> Isolation:
    if sys.platform != "linux" or os.environ.get(CHOOSE_VAR) == "portable":
        return Isolation("portable", (), PORTABLE_NOTE)
    notes: list[str] = []
    view: tuple[Mount, ...] = ()
    try:
        view = python_view()
        mode, size_ok = _mode(notes, view)
    except OSError as exc:
        notes.append(str(exc))
        mode, size_ok = "none", False
    bases = cgroups.available() if mode != "none" else {}
    guarantees = list(ISOLATED) if mode != "none" else []
    if os.geteuid() == 0 and mode == "bwrap":
        guarantees.remove("user")
        notes.append("bwrap as root: the child keeps uid 0 on the host (without capabilities)")
    for limit, controller in (("memory", "memory"), ("processes", "pids"), ("cpu", "cpu")):
        if controller in bases:
            guarantees.append(limit)
    fallback = [g for g in ("memory", "processes", "cpu") if g not in guarantees]
    if fallback and mode != "none":
        notes.append(f"{', '.join(fallback)}: per process only (no cgroup{'' if os.geteuid() == 0 else ' as a non-root user'})")
    rc, _ = _run([shutil.which("setpriv", path=PATH) or "setpriv", "--pdeathsig", "SIGKILL", "/bin/true"], 10)
    return Isolation(mode, tuple(guarantees), "; ".join(notes), view, bases, size_ok, rc == 0)
