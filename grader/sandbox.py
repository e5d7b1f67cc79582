"""Run a submission's code in a child process that cannot take the grader down with it.

One `Sandbox` is one worker process (grader/worker.py) for one submission:

    with Sandbox(module_path, settings.limits) as box:
        info = box.start()                       # import the module (StudentError, SandboxTimeout)
        box.call("construct", input_dim=2, hidden_dim=16, output_dim=1, seed=0)
        yhat = box.call("forward", arrays={"x": x}).arrays["yhat"]

Layers, each covering a different hole (see the project's sandbox research notes):

* A separate process, talking over two pipes with length-prefixed JSON + raw float64
  frames (grader/protocol.py): no pickle, sizes capped before reading, replies matched to
  their request by a random id. The grader validates what comes back and computes every
  score itself; nothing the child says is trusted beyond format, dtype and shape.
* Wall-clock deadlines: per call (limits.call_seconds, or the import limit) and for the
  whole submission (limits.total_seconds from start()). On expiry the whole process tree
  is killed; the exception says which limit it was.
* Resource limits set by the worker before it imports anything of the submission:
  RLIMIT_AS, FSIZE, NOFILE, CORE=0, CPU (backstop), NPROC (where the kernel applies it).
* A scrubbed environment, `python -I -B -X pycache_prefix=<empty dir>`, stdin /dev/null,
  its own session, a fresh temporary directory as cwd, HOME and TMPDIR.
* Isolation, the strongest this machine allows (probed once, `isolation_available()`):
  "bwrap" (bubblewrap: own namespaces, read-only view of /usr, the Python environment and
  the submission only), "namespaces" (`unshare`: own user, network and PID namespaces:
  no network, the parent cannot be signalled, killing the namespace kills every
  descendant, but the file system is the host's), or "none" (process + limits only).
  As root, the worker drops to uid 65534 when that uid can read the Python environment and
  the submission; and a pids cgroup caps the number of processes when one can be created.
  Whatever is weaker than it could be is said in `isolation_note`; a missing stronger
  sandbox never makes grading fail.
* stdout+stderr drained by a thread into a capped head + tail buffer: a child printing
  gigabytes neither deadlocks nor fills the grader's memory.
"""

from __future__ import annotations

import atexit
import functools
import json
import math
import os
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reference.spec import Limits

from .protocol import ChannelClosed, ProtocolError, read_frame, write_frame

__all__ = [
    "ProtocolError",
    "Reply",
    "Sandbox",
    "SandboxCrashed",
    "SandboxTimeout",
    "StudentError",
    "isolation_available",
]

WORKER = Path(__file__).resolve().with_name("worker.py")
PROTOCOL = Path(__file__).resolve().with_name("protocol.py")
STARTUP_SECONDS = 30.0  # interpreter + NumPy, before the submission's import clock starts
EXIT_WAIT = 2.0  # after end of file on the reply pipe, how long the child may take to exit
KILL_WAIT = 5.0
NOBODY = 65534
TOKEN_VAR = "BPTT_GRADER_SANDBOX"  # marks every process of one sandbox (for the sweep)
SCRATCH_PREFIX = "bptt-sandbox-"  # + grader pid: temporary directories
CGROUP_PREFIX = "bptt-grader-"  # + grader pid: pids cgroups
PATH = "/usr/local/bin:/usr/bin:/bin"


# ---- exceptions and replies -----------------------------------------------------------


def _one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class StudentError(Exception):
    """The submission's code raised. `kind` is the exception's type name, `message` its
    text, `trace` the last frames in the submission's files (all truncated)."""

    def __init__(self, kind: str, message: str, trace: str = "", op: str = "") -> None:
        self.kind, self.message, self.trace, self.op = kind, message, trace, op
        where = f" in {op}" if op else ""
        super().__init__(_one_line(f"{kind}{where}: {message}" if message else f"{kind}{where}", 300))


class SandboxTimeout(Exception):
    """An operation did not finish in time; the child was killed."""

    def __init__(self, op: str, seconds: float, total: bool = False) -> None:
        self.op, self.seconds, self.total = op, seconds, total
        limit = "the submission's total time limit" if total else "its time limit"
        super().__init__(f"{op} did not finish within {seconds:.3g} s ({limit}); the process was killed")


class SandboxCrashed(Exception):
    """The child ended (or had to be ended) without a proper reply."""

    def __init__(self, exit_description: str, output_tail: str = "", op: str = "") -> None:
        self.exit_description, self.output_tail, self.op = exit_description, output_tail, op
        if exit_description.startswith("exited during"):
            text = f"the submission {exit_description}"
        else:
            text = f"the submission's process ended during {op or 'startup'}: {exit_description}"
        super().__init__(text)


@dataclass
class Reply:
    header: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


# ---- exit statuses --------------------------------------------------------------------


def _signal_name(number: int) -> str | None:
    try:
        return signal.Signals(number).name
    except ValueError:
        return None


def describe_status(returncode: int | None, shell_style: bool) -> str:
    """'exit code 3', 'killed by SIGSEGV'; `shell_style`: the wrapper reports 128+n."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        return f"killed by {_signal_name(-returncode) or f'signal {-returncode}'}"
    if shell_style and returncode > 128 and _signal_name(returncode - 128):
        return f"killed by {_signal_name(returncode - 128)} (exit status {returncode})"
    return f"exit code {returncode}"


# ---- probing what this machine offers -------------------------------------------------


@dataclass(frozen=True)
class _Probe:
    mode: str
    note: str
    drop_uid: bool  # the Python environment is usable as uid 65534 (we are root)
    bwrap_size: bool  # bwrap understands --size (0.8+)
    pids_cgroup: str | None  # a writable v1 pids cgroup directory to create children in
    pdeathsig: bool = False  # setpriv can set the parent-death signal


def _run(cmd: list[str], timeout: float = 30.0, cwd: str = "/") -> tuple[int, str]:
    try:
        done = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=_base_env("/"), cwd=cwd,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return -1, str(exc)
    text = (done.stderr or done.stdout or b"").decode("utf-8", "replace").strip()
    return done.returncode, text.splitlines()[-1][:200] if text else ""


def _setpriv_prefix() -> list[str]:
    setpriv = shutil.which("setpriv", path=PATH)
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--no-new-privs"]


def _python_paths() -> list[str]:
    """Directories the worker's interpreter and NumPy need (read-only binds in bwrap)."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  os.path.dirname(os.path.realpath(sys.executable)),
                  os.path.dirname(os.path.dirname(os.path.realpath(np.__file__)))}
    paths = sorted(os.path.realpath(p) for p in candidates if p and os.path.isdir(p))
    kept: list[str] = []
    for p in paths:  # sorted: a parent comes before its children
        if p != "/" and not any(p == k or p.startswith(k + os.sep) for k in kept):
            kept.append(p)
    return kept


def _bwrap_args(bwrap: str, module_dir: str, workdir: str, pycache: str, size_ok: bool,
                scratch_mb: int) -> list[str]:
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives"):
        args += ["--ro-bind-try", etc, etc]
    for path in _python_paths():
        if path != "/usr" and not path.startswith("/usr/"):
            args += ["--ro-bind", path, path]
    args += ["--ro-bind", str(WORKER), str(WORKER), "--ro-bind", str(PROTOCOL), str(PROTOCOL),
             "--ro-bind", module_dir, module_dir, "--proc", "/proc", "--dev", "/dev"]
    if size_ok:
        args += ["--size", str(scratch_mb << 20), "--tmpfs", workdir,
                 "--size", str(1 << 20), "--tmpfs", "/dev/shm"]
    else:
        args += ["--bind", workdir, workdir, "--tmpfs", "/dev/shm"]
    args += ["--dir", pycache, "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", workdir]
    return args


def _pids_cgroup_base() -> str | None:
    """Our own directory in a cgroup v1 `pids` hierarchy, if we may create children there."""
    if os.geteuid() != 0:
        return None
    try:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            mounts = [line.split() for line in f]
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            groups = [line.rstrip("\n").split(":", 2) for line in f]
    except OSError:
        return None
    mount = next(
        (m[1] for m in mounts if len(m) > 3 and m[2] == "cgroup" and "pids" in m[3].split(",")), None
    )
    own = next((g[2] for g in groups if len(g) == 3 and "pids" in g[1].split(",")), None)
    if mount is None or own is None:
        return None
    base = os.path.join(mount, own.lstrip("/"))
    return base if os.access(base, os.W_OK) else None


def _try_pids_cgroup(base: str) -> bool:
    probe = os.path.join(base, f"{CGROUP_PREFIX}{os.getpid()}-probe")
    try:
        os.mkdir(probe)
    except OSError:
        return False
    try:
        with open(os.path.join(probe, "pids.max"), "w", encoding="ascii") as f:
            f.write("8")
        rc, _ = _run(["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec true', probe], timeout=10)
        return rc == 0
    except OSError:
        return False
    finally:
        _remove_cgroup(probe)


def _remove_cgroup(path: str) -> bool:
    for _ in range(40):
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.025)
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_stale(cgroup_base: str | None) -> None:
    """Scratch directories and (empty) cgroups left by graders that were killed: their
    names carry the grader's pid."""
    places = [(tempfile.gettempdir(), SCRATCH_PREFIX)]
    if cgroup_base:
        places.append((cgroup_base, CGROUP_PREFIX))
    for parent, prefix in places:
        try:
            names = [n for n in os.listdir(parent) if n.startswith(prefix)]
        except OSError:
            continue
        for name in names:
            pid = name[len(prefix) :].split("-", 1)[0]
            if not pid.isdigit() or _pid_alive(int(pid)):
                continue
            path = os.path.join(parent, name)
            if parent == cgroup_base:
                try:
                    os.rmdir(path)  # only succeeds when no process is left in it
                except OSError:
                    pass
            else:
                shutil.rmtree(path, ignore_errors=True)


@functools.lru_cache(maxsize=None)
def _probe() -> _Probe:
    notes: list[str] = []
    root = os.geteuid() == 0
    drop = False
    if root:
        blocked = _first_unreachable([os.path.realpath(sys.executable), os.path.dirname(os.__file__),
                                      os.path.dirname(np.__file__)])
        if not shutil.which("setpriv", path=PATH):
            notes.append("runs as root: setpriv not found")
        elif blocked:
            notes.append(
                f"runs as root: uid {NOBODY} cannot read the Python environment ({blocked} is closed to others)"
            )
        else:
            rc, why = _run(_setpriv_prefix() + [sys.executable, "-I", "-B", "-c", "import numpy"])
            drop = rc == 0
            if not drop:
                why = why or f"rc {rc}"
                notes.append(f"runs as root: uid {NOBODY} cannot use the Python environment ({why})")
    prefix = _setpriv_prefix() if drop else []

    mode, size_ok = "none", False
    bwrap = shutil.which("bwrap")
    if bwrap:
        try:
            helptext = subprocess.run([bwrap, "--help"], capture_output=True, timeout=10).stdout.decode()
            size_ok = "--size" in helptext
        except (OSError, subprocess.SubprocessError):
            size_ok = False
        with tempfile.TemporaryDirectory(prefix="bptt-probe-") as tmp:
            os.chmod(tmp, 0o755)
            work, cache = os.path.join(tmp, "work"), os.path.join(tmp, "pycache")
            os.mkdir(work)
            os.mkdir(cache)
            if drop:
                os.chown(work, NOBODY, NOBODY)
            cmd = prefix + _bwrap_args(bwrap, tmp, work, cache, size_ok, 16) + [
                "--", sys.executable, "-I", "-B", "-c", "import numpy"]
            rc, why = _run(cmd, cwd=work)
        if rc == 0:
            mode = "bwrap"
        else:
            notes.append(f"bwrap present but not usable ({why or f'rc {rc}'})")
    if mode == "none":
        unshare = shutil.which("unshare", path=PATH)
        if unshare:
            cmd = [unshare, "-r", "-n", "-p", "-f", "--kill-child", "--mount-proc", "/bin/true"]
            rc, why = _run(prefix + cmd, timeout=10)
            if rc != 0 and drop:  # maybe only root may: keep root rather than lose the namespaces
                rc2, _ = _run(cmd, timeout=10)
                if rc2 == 0:
                    rc, drop, prefix = 0, False, []
                    notes.append(f"runs as root: uid {NOBODY} may not create namespaces")
            if rc == 0:
                mode = "namespaces"
                notes.insert(0, "no file-system isolation (bubblewrap not available): the submission "
                             "can read and write what its user can")
            else:
                why = why or f"rc {rc}"
                notes.insert(0, f"network not cut and no PID namespace: unshare not permitted ({why})")
        else:
            notes.insert(0, "network not cut and no PID namespace: unshare not found")

    cgroup = _pids_cgroup_base()
    if cgroup is not None and not _try_pids_cgroup(cgroup):
        cgroup = None
    _remove_stale(cgroup)
    userns = mode != "none"
    if root and not drop:
        if cgroup:
            notes.append("RLIMIT_NPROC does not apply to root: the process count is capped by a pids cgroup")
        else:
            notes.append(
                "RLIMIT_NPROC does not apply to root and no pids cgroup: the process count is not capped"
            )
    elif not userns and not root:
        notes.append("RLIMIT_NPROC counts all processes of this user (set relative to the current count)")
    pdeathsig = False
    setpriv = shutil.which("setpriv", path=PATH)
    if setpriv:
        rc, _ = _run([setpriv, "--pdeathsig", "SIGKILL", "/bin/true"], timeout=10)
        pdeathsig = rc == 0
    return _Probe(mode, "; ".join(notes), drop, size_ok, cgroup, pdeathsig)


def isolation_available() -> tuple[str, str]:
    """("bwrap" | "namespaces" | "none", a note on what is weaker than it could be)."""
    probe = _probe()
    return probe.mode, probe.note


def _first_unreachable(paths: list[str]) -> str | None:
    """The first of `paths` (or of their ancestors) that others may not read or enter."""
    for path in paths:
        p = Path(path)
        for ancestor in [*reversed(p.parents), p]:
            try:
                mode = ancestor.stat().st_mode
            except OSError:
                return str(ancestor)
            need = stat.S_IXOTH if ancestor != p or stat.S_ISDIR(mode) else stat.S_IROTH
            if ancestor == p and stat.S_ISDIR(mode):
                need |= stat.S_IROTH
            if mode & need != need:
                return str(ancestor)
    return None


def _readable_by_nobody(path: Path) -> bool:
    """Can uid 65534 (no groups) read `path` (a file) and list its directory?"""
    try:
        st = path.stat()
        if not st.st_mode & stat.S_IROTH:
            return False
        parent = path.parent
        st = parent.stat()
        if (st.st_mode & (stat.S_IROTH | stat.S_IXOTH)) != (stat.S_IROTH | stat.S_IXOTH):
            return False
        for ancestor in parent.parents:
            if not ancestor.stat().st_mode & stat.S_IXOTH:
                return False
    except OSError:
        return False
    return True


def _base_env(workdir: str) -> dict[str, str]:
    return {
        "PATH": PATH,
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "VECLIB_MAXIMUM_THREADS": "1",
    }


# ---- pipes with deadlines -------------------------------------------------------------


class _Expired(Exception):
    pass


class _Died(Exception):
    pass


class _Pipe:
    """A non-blocking pipe end whose reads and writes give up at `deadline`, and notice
    when the child process has ended (a grandchild may still hold the other end)."""

    def __init__(self, fd: int, events: int, proc: subprocess.Popen) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self.poller = select.poll()
        self.poller.register(fd, events)
        self.proc = proc
        self.deadline = 0.0

    def _wait(self) -> None:
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise _Expired
            if self.poller.poll(min(remaining, 0.1) * 1000 + 1):
                return
            if self.proc.poll() is not None:
                # Ended; a last look at what it may have written just before.
                if not self.poller.poll(0):
                    raise _Died

    def readinto(self, view: memoryview) -> int:
        while True:
            try:
                return os.readv(self.fd, [view])
            except BlockingIOError:
                self._wait()

    def write(self, data: memoryview) -> int:
        while True:
            try:
                return os.write(self.fd, data)
            except BlockingIOError:
                self._wait()

    def pending(self) -> bytes | None:
        """Bytes already waiting (b"" at end of file), None if there are none."""
        if not self.poller.poll(0):
            return None
        try:
            return os.read(self.fd, 4096)
        except BlockingIOError:
            return None
        except OSError:
            return b""


class _Capture:
    """Drains the child's stdout+stderr: keeps the first and last `cap/2` bytes."""

    def __init__(self, fd: int, cap: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self.head_cap = cap // 2
        self.tail_cap = cap - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.eof = False
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sandbox-output", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while not self.stop.is_set() and not self.eof:
            if poller.poll(100):
                self.read_available()

    def read_available(self) -> None:
        with self.lock:
            for _ in range(256):
                if self.eof or self.fd < 0:
                    return
                try:
                    data = os.read(self.fd, 1 << 16)
                except BlockingIOError:
                    return
                except OSError:
                    self.eof = True
                    return
                if not data:
                    self.eof = True
                    return
                self._add(data)

    def _add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.tail_cap:
                del self.tail[: -self.tail_cap]

    def text(self) -> str:
        with self.lock:
            head, tail = bytes(self.head), bytes(self.tail[-self.tail_cap :] if self.tail_cap else b"")
            cut = self.total - len(head) - len(tail)
        marker = f"\n[... {cut} bytes cut ...]\n".encode() if cut > 0 else b""
        return (head + marker + tail).decode("utf-8", "replace")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(1.0)
        self.read_available()
        with self.lock:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1


# ---- the sandbox ----------------------------------------------------------------------

_LIVE: weakref.WeakSet[Sandbox] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for box in list(_LIVE):
        box.close()


class Sandbox:
    """A worker process for one submission; see the module docstring.

    Not started by `with`: call start() first. After a timeout, crash or protocol error
    the child is gone and every later call raises SandboxCrashed; after a StudentError the
    worker is still alive and usable.
    """

    def __init__(self, module_path: Path, limits: Limits, *, extra_env: dict | None = None) -> None:
        self.module_path = Path(module_path).resolve()
        self.limits = limits
        self.extra_env = {str(k): str(v) for k, v in (extra_env or {}).items()}
        probe = _probe()
        self.isolation: str = probe.mode
        self.isolation_note: str = probe.note
        # As root, the worker runs as uid 65534 when that uid can read the submission.
        self._drop_uid = probe.drop_uid and _readable_by_nobody(self.module_path)
        if probe.drop_uid and not self._drop_uid:
            self.isolation_note = "; ".join(filter(None, [
                self.isolation_note,
                f"runs as root: uid {NOBODY} cannot read the submission (RLIMIT_NPROC does not apply)"]))
        self._proc: subprocess.Popen | None = None
        self._capture: _Capture | None = None
        self._cmd: _Pipe | None = None
        self._reply: _Pipe | None = None
        self._tmp: str | None = None
        self._cgroup: str | None = None
        self._token = secrets.token_hex(12)
        self._deadline_total = math.inf
        self._closed = False
        self._cleaned = False
        self._dead_reason = ""
        self.worker_info: dict[str, Any] = {}

    # ---- public ----

    @property
    def output_bytes(self) -> int:
        return self._capture.total if self._capture else 0

    def output(self) -> str:
        """Captured stdout+stderr: head and tail within limits.output_kb, with a marker."""
        if self._capture is None:
            return ""
        self._capture.read_available()
        return self._capture.text()

    def start(self) -> Reply:
        """Start the worker and import the submission; the reply's header has "seconds",
        "modules" (top-level modules the import added), "has_RNN" and "module_name"."""
        if self._proc is not None or self._closed:
            raise RuntimeError("a Sandbox can be started once")
        if not self.module_path.is_file():
            raise FileNotFoundError(f"no such module: {self.module_path.name}")
        self._deadline_total = time.monotonic() + self.limits.total_seconds
        self._spawn()
        hello = self._receive("startup", STARTUP_SECONDS, expect_id=None)
        if "fatal" in hello.header:
            raise self._die(SandboxCrashed(f"worker could not start: {_one_line(hello.header['fatal'], 300)}",
                                           self._tail(), "startup"))
        if hello.header.get("hello") is not True:
            raise self._die(ProtocolError("the worker did not say hello"))
        self.worker_info = hello.header
        notes = hello.header.get("notes")
        if isinstance(notes, list) and notes:
            self.isolation_note = "; ".join(filter(None, [self.isolation_note, *map(str, notes)]))
        reply = self._receive("import", self.limits.import_seconds, expect_id="import")
        header = reply.header
        if "error" in header:
            error = self._student_error(header["error"], "import")
            self.close()
            raise error
        if not (isinstance(header.get("seconds"), (int, float)) and isinstance(header.get("modules"), list)
                and isinstance(header.get("has_RNN"), bool)):
            raise self._die(ProtocolError("malformed import reply"))
        return reply

    def call(self, op: str, *, timeout: float | None = None, arrays: dict[str, np.ndarray] | None = None,
             **params: Any) -> Reply:
        """Run one worker op and return its reply (see grader/worker.py for the ops).

        StudentError if the submission raised (except for "train", whose reply carries
        "done" and "error"); SandboxTimeout after `timeout` (default limits.call_seconds,
        capped by what is left of limits.total_seconds); SandboxCrashed if the child died;
        ProtocolError for a malformed or out-of-step reply (or a request the worker refused,
        header "fault", which leaves the child running).
        """
        if self._proc is None:
            raise RuntimeError("call start() first")
        if self._closed:
            raise SandboxCrashed(f"not running ({self._dead_reason or 'closed'})", "", op)
        limit = self.limits.call_seconds if timeout is None else float(timeout)
        rid = secrets.randbits(62)
        to_send = {k: np.asarray(v, dtype=np.float64, order="C") for k, v in (arrays or {}).items()}
        self._check_quiet(op)
        self._set_deadline(op, limit)
        try:
            write_frame(self._cmd, {"op": op, "id": rid, "params": params}, to_send)
        except _Expired:
            raise self._die(SandboxTimeout(op, self._timeout_seconds, self._timeout_total)) from None
        except (BrokenPipeError, _Died):
            raise self._crashed(op) from None
        reply = self._receive(op, limit, expect_id=rid, deadline_set=True)
        header = reply.header
        if "exit" in header:
            how = _one_line(header["exit"], 120)
            raise self._die(SandboxCrashed(f"exited during {op} ({how})", self._tail(), op))
        if "fault" in header:
            raise ProtocolError(f"the worker refused {op}: {_one_line(header['fault'], 300)}")
        if "error" in header and op != "train":
            raise self._student_error(header["error"], op)
        return reply

    def close(self) -> None:
        """Kill the whole process tree and clean up; idempotent, never hangs."""
        if getattr(self, "_cleaned", True):
            return
        self._closed = self._cleaned = True
        proc = self._proc
        if proc is not None:
            self._kill_tree(proc)
        for pipe in (self._cmd, self._reply):
            if pipe is not None and pipe.fd >= 0:
                try:
                    os.close(pipe.fd)
                except OSError:
                    pass
                pipe.fd = -1
        if self._capture is not None:
            self._capture.close()
        if self._cgroup is not None:
            if _remove_cgroup(self._cgroup):
                self._cgroup = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        _LIVE.discard(self)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # ---- spawning ----

    def _spawn(self) -> None:
        limits = self.limits
        self._tmp = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
        workdir = os.path.join(self._tmp, "work")
        pycache = os.path.join(self._tmp, "pycache")
        os.mkdir(workdir, 0o700)
        os.mkdir(pycache, 0o755)
        drop = self._drop_uid
        if drop:
            os.chmod(self._tmp, 0o711)
            os.chown(workdir, NOBODY, NOBODY)
        cmd_r, cmd_w = os.pipe()
        reply_r, reply_w = os.pipe()
        out_r, out_w = os.pipe()
        mode = self.isolation
        config = {
            "memory_mb": limits.memory_mb,
            "max_file_mb": limits.max_file_mb,
            "max_open_files": limits.max_open_files,
            "max_processes": limits.max_processes,
            "cpu_seconds": int(math.ceil(limits.total_seconds)) + 5,
            # In a fresh user namespace RLIMIT_NPROC counts that namespace's processes; outside
            # one it counts every process of the uid (relative), and root ignores it (skip).
            "nproc": "absolute" if mode != "none" else "relative" if drop or os.geteuid() != 0 else "skip",
            "userns": mode != "none",
        }
        python = [sys.executable, "-I", "-B", "-X", f"pycache_prefix={pycache}", str(WORKER),
                  str(cmd_r), str(reply_w), str(self.module_path), json.dumps(config)]
        probe = _probe()
        if mode == "bwrap":
            bwrap = shutil.which("bwrap") or "bwrap"
            scratch_mb = max(16, limits.max_file_mb)
            cmd = _bwrap_args(bwrap, str(self.module_path.parent), workdir, pycache, probe.bwrap_size,
                              scratch_mb) + ["--", *python]
        elif mode == "namespaces":
            cmd = [shutil.which("unshare", path=PATH) or "unshare", "-r", "-n", "-p", "-f", "--kill-child",
                   "--mount-proc", *python]
        else:
            cmd = python
        # If the grader dies (a batch runner's SIGKILL), its children die too: the wrapper
        # takes SIGKILL as its parent-death signal (unshare --kill-child and bwrap
        # --die-with-parent pass it on; in "none" mode the worker takes it from the shell).
        # Only from the main thread: the signal fires when the *thread* that forked ends.
        deathsig = probe.pdeathsig and threading.current_thread() is threading.main_thread()
        setpriv = shutil.which("setpriv", path=PATH) or "setpriv"
        if drop:
            cmd = _setpriv_prefix() + cmd
        if deathsig:
            cmd = [setpriv, "--pdeathsig", "SIGKILL", *(cmd[1:] if drop else cmd)]
        script = []
        if probe.pids_cgroup:
            self._cgroup = self._make_cgroup(probe.pids_cgroup)
            if self._cgroup:
                script.append('echo $$ > "$0/cgroup.procs" 2>/dev/null')
        # Without namespaces a shell stays between us and the worker, so the submission's
        # os.getppid() is that shell, not the grader. Otherwise exec: statuses pass through.
        script.append('"$@"; exit $?' if mode == "none" else 'exec "$@"')
        if len(script) > 1 or mode == "none":
            cmd = ["/bin/sh", "-c", "; ".join(script), self._cgroup or "-", *cmd]
            if deathsig and mode == "none":  # the shell stays: it needs its own
                cmd = [setpriv, "--pdeathsig", "SIGKILL", *cmd]
        self._shell_status = mode in ("bwrap", "none")
        env = _base_env(workdir)
        env[TOKEN_VAR] = self._token
        env.update(self.extra_env)
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w, pass_fds=(cmd_r, reply_w),
                env=env, cwd=workdir, start_new_session=True, close_fds=True,
            )
        except BaseException:
            for fd in (cmd_r, cmd_w, reply_r, reply_w, out_r, out_w):
                os.close(fd)
            self.close()
            raise
        for fd in (cmd_r, reply_w, out_w):
            os.close(fd)
        self._proc = proc
        _LIVE.add(self)
        self._capture = _Capture(out_r, limits.output_kb * 1024)
        self._cmd = _Pipe(cmd_w, select.POLLOUT, proc)
        self._reply = _Pipe(reply_r, select.POLLIN, proc)

    def _make_cgroup(self, base: str) -> str | None:
        path = os.path.join(base, f"{CGROUP_PREFIX}{os.getpid()}-{self._token[:8]}")
        try:
            os.mkdir(path)
            with open(os.path.join(path, "pids.max"), "w", encoding="ascii") as f:
                f.write(str(self.limits.max_processes + 2))  # + the wrapper and the worker
        except OSError:
            _remove_cgroup(path)
            return None
        return path

    # ---- exchanging frames ----

    def _set_deadline(self, op: str, limit: float) -> None:
        now = time.monotonic()
        remaining = self._deadline_total - now
        self._timeout_total = remaining < limit
        self._timeout_seconds = max(0.0, min(limit, remaining))
        if self._timeout_seconds <= 0:
            raise self._die(SandboxTimeout(op, 0.0, True))
        self._cmd.deadline = self._reply.deadline = now + self._timeout_seconds

    def _check_quiet(self, op: str) -> None:
        """Nothing may be waiting on the reply pipe between calls."""
        data = self._reply.pending()
        if data is None:
            return
        if data == b"":
            raise self._crashed(op)
        raise self._die(ProtocolError("unexpected data on the reply channel (written outside a call)"))

    def _receive(self, op: str, limit: float, expect_id: Any, deadline_set: bool = False) -> Reply:
        if not deadline_set:
            self._set_deadline(op, limit)
        try:
            header, arrays = read_frame(self._reply)
        except _Expired:
            raise self._die(SandboxTimeout(op, self._timeout_seconds, self._timeout_total)) from None
        except (ChannelClosed, _Died):
            raise self._crashed(op) from None
        except ProtocolError as exc:
            if self._proc.poll() is not None:
                raise self._crashed(op) from None
            raise self._die(ProtocolError(f"{op}: {exc}")) from None
        if "fatal" not in header and header.get("id") != expect_id:
            raise self._die(ProtocolError(f"{op}: reply out of step with its request"))
        header.pop("id", None)
        return Reply(header, arrays)

    def _student_error(self, error: Any, op: str) -> StudentError:
        fields = ("kind", "message", "trace")
        if not (isinstance(error, dict) and all(isinstance(error.get(k), str) for k in fields)):
            return self._die(ProtocolError(f"{op}: malformed error report"))
        return StudentError(error["kind"][:100], error["message"][:500], error["trace"][:2000], op)

    def _tail(self, chars: int = 2000) -> str:
        return self.output()[-chars:]

    def _crashed(self, op: str) -> Exception:
        """End of file on a pipe: the child died, or the submission closed our pipe."""
        try:
            returncode = self._proc.wait(EXIT_WAIT)
        except subprocess.TimeoutExpired:
            return self._die(ProtocolError(f"{op}: the reply channel was closed but the process lives on"))
        if returncode == 0:
            description = f"exited during {op} (exit code 0)"
        else:
            description = describe_status(returncode, self._shell_status)
        return self._die(SandboxCrashed(description, self._tail(), op))

    def _die(self, exc: Exception) -> Exception:
        """Kill everything, remember why, and hand back `exc` for raising."""
        self._dead_reason = _one_line(str(exc), 200)
        self.close()
        if isinstance(exc, SandboxCrashed):
            exc.output_tail = self._tail()  # complete now: close() drained the pipe
        return exc

    # ---- killing ----

    def _kill_tree(self, proc: subprocess.Popen) -> None:
        if proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.kill()
            except OSError:
                pass
        if self._cgroup is not None:
            self._kill_cgroup(self._cgroup)
        if self.isolation == "none":
            self._sweep_token()
        try:
            proc.wait(KILL_WAIT)
        except subprocess.TimeoutExpired:
            pass

    @staticmethod
    def _kill_cgroup(path: str) -> None:
        procs = os.path.join(path, "cgroup.procs")
        for _ in range(50):
            try:
                with open(procs, encoding="ascii") as f:
                    pids = [int(line) for line in f if line.strip()]
            except (OSError, ValueError):
                return
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)

    def _sweep_token(self) -> None:
        """Without a PID namespace: kill every process still carrying this sandbox's token
        (a `setsid()` grandchild escapes killpg; one that scrubs its environment escapes this)."""
        needle = f"{TOKEN_VAR}={self._token}".encode()
        for _ in range(3):
            found = False
            try:
                entries = os.listdir("/proc")
            except OSError:  # no procfs (macOS): killpg was all we could do
                return
            for entry in entries:
                if not entry.isdigit() or int(entry) == os.getpid():
                    continue
                try:
                    with open(f"/proc/{entry}/environ", "rb") as f:
                        if needle in f.read():
                            os.kill(int(entry), signal.SIGKILL)
                            found = True
                except OSError:
                    continue
            if not found:
                return
            time.sleep(0.01)
