"""Run a submission's code in a child process that cannot take the grader down with it.

One `Sandbox` is one worker process (worker.py) for one submission:

    with Sandbox(module_path, settings.limits) as box:
        info = box.start()                       # import the module (StudentError, SandboxTimeout)
        box.call("construct", input_dim=2, hidden_dim=16, output_dim=1, seed=0)
        yhat = box.call("forward", arrays={"x": x}).arrays["yhat"]

Layers, each covering a different hole (see the project's sandbox research notes):

* Isolation, the strongest this machine allows (probe.py, found out once): a world of its
  own built by jail.py or bubblewrap, where the child sees the standard library, NumPy, its
  worker and a read-only copy of this submission only (view.py), writes only to a
  size-capped /tmp, cannot see or signal another process, has no network and no
  capability, and is never the host's root. Limits apply to the sandbox as a whole where
  cgroups allow (cgroups.py).
* A separate process, talking over two pipes with length-prefixed JSON + raw float64
  frames (protocol.py): no pickle, sizes capped before reading, replies matched to their
  request by a random id. The grader validates what comes back and computes every score
  itself; nothing the child says is trusted beyond format, dtype and shape.
* Wall-clock deadlines: per call (limits.call_seconds, or the import limit) and for the
  whole submission (limits.total_seconds from start()). On expiry the whole process tree
  is killed; the exception says which limit it was.
* Resource limits set by the worker before it imports anything of the submission:
  RLIMIT_AS, FSIZE, NOFILE, CORE=0, CPU (backstop), NPROC. Where no memory cgroup holds
  the sandbox, the submission may start no process at all, so that the per-process
  address-space limit is the sandbox's limit.
* A scrubbed environment, `python -I -B` (no bytecode written), stdin /dev/null, its own
  session. The submission's private copy holds no bytecode (a shipped .pyc is never
  loaded), while NumPy's and the standard library's cached bytecode is read as usual:
  compiling them afresh would cost every start about 0.3 s.
* stdout+stderr drained by a thread into a capped head + tail buffer (pipes.py).
"""

from __future__ import annotations

import atexit
import functools
import json
import math
import mmap
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

from grader.messages import Message
from grader.safe_text import one_line
from grader.settings import Limits

from . import probe as machine
from .cgroups import Cgroups
from .leftovers import of_dead_graders
from .pipes import Capture, Died, Expired, Pipe
from .portable_pipes import ThreadedCapture, ThreadedReader, ThreadedWriter
from .protocol import ChannelClosed, ProtocolError, read_frame, write_frame
from .view import SUBMISSION_DIR, WORKER_DIR, scratch_dir, worker_files

__all__ = [
    "ProtocolError",
    "Reply",
    "Sandbox",
    "SandboxCrashed",
    "SandboxTimeout",
    "StudentError",
]

STARTUP_SECONDS = 30.0  # interpreter + NumPy, before the submission's import clock starts
EXIT_WAIT = 2.0  # after end of file on the reply pipe, how long the child may take to exit
KILL_WAIT = 5.0
TOKEN_VAR = "BPTT_GRADER_SANDBOX"  # marks every process of one sandbox (for the sweep)
SCRATCH_PREFIX = "bptt-sandbox-"  # + grader pid: temporary directories
PIPE_BYTES = 1 << 20  # the default /proc/sys/fs/pipe-max-size
COPY_LIMITS = (2000, 64 << 20)  # files, bytes of the submission's folder copied in
BYTECODE = (".pyc", ".pyo")  # never copied in (nor __pycache__/): Python would run them
HELPERS = 3  # the launcher, init and the worker, counted in the pids cgroup
JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@"'


@functools.lru_cache(maxsize=None)
def remove_stale_scratch() -> None:
    """Scratch folders of graders that were killed (their names carry the grader's pid)."""
    for path in of_dead_graders(tempfile.gettempdir(), SCRATCH_PREFIX):
        shutil.rmtree(path, ignore_errors=True)


def _own_group() -> dict[str, Any]:
    """Popen's arguments that give the child a process group of its own (to kill it whole)."""
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _widen_pipe(fd: int) -> None:
    """Make a pipe hold PIPE_BYTES (where the kernel allows): a 64 KiB pipe costs a pair of
    context switches per 64 KiB of a frame."""
    import fcntl  # Linux only, like the call

    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except OSError:
        pass


def private_copy(folder: Path, target: Path) -> Path:
    """This sandbox's own copy of the submission's folder: regular files only (no link, no
    FIFO), readable by the sandbox's user, within COPY_LIMITS; bound read-only. No bytecode:
    Python would run a shipped .pyc instead of the source every check reads."""
    max_files, max_bytes = COPY_LIMITS
    files = size = 0
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not os.path.islink(os.path.join(here, d)))
        rel = os.path.relpath(here, folder)
        dest = target if rel == "." else target / rel
        dest.mkdir(mode=0o755, exist_ok=True)
        for name in sorted(names):
            source = os.path.join(here, name)
            st = os.lstat(source)
            if not stat.S_ISREG(st.st_mode) or name.endswith(BYTECODE):
                continue
            files, size = files + 1, size + st.st_size
            if files > max_files or size > max_bytes:
                return target
            shutil.copyfile(source, dest / name, follow_symlinks=False)
            os.chmod(dest / name, 0o644)
    return target


# ---- exceptions and replies -----------------------------------------------------------


class StudentError(Exception):
    """The submission's code raised. `kind` is the exception's type name, `message` its
    text, `trace` the last frames in the submission's files (all truncated)."""

    def __init__(self, kind: str, message: str, trace: str = "", op: str = "") -> None:
        self.kind, self.message, self.trace, self.op = kind, message, trace, op
        where = f" in {op}" if op else ""
        super().__init__(one_line(f"{kind}{where}: {message}" if message else f"{kind}{where}", 300))


class SandboxTimeout(Exception):
    """An operation did not finish in time; the child was killed."""

    def __init__(self, op: str, seconds: float, total: bool = False) -> None:
        self.op, self.seconds, self.total = op, seconds, total
        limit = "the submission's total time limit" if total else "its time limit"
        super().__init__(f"{op} did not finish within {seconds:.3g} s ({limit}); the process was killed")


class SandboxCrashed(Exception):
    """The child ended (or had to be ended) without a proper reply."""

    def __init__(self, exit_description: str, op: str = "") -> None:
        self.exit_description, self.op = exit_description, op
        if exit_description.startswith("exited during"):
            text = f"the submission {exit_description}"
        else:
            text = f"the submission's process ended during {op or 'startup'}: {exit_description}"
        super().__init__(text)


@dataclass(frozen=True)
class Pending:
    """A request sent and not yet answered (Sandbox.send / Sandbox.receive)."""

    op: str
    rid: int
    limit: float
    deadline: float
    seconds: float
    total: bool


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


def describe_status(returncode: int | None, shell_style: bool) -> Message:
    """'exit code 3', 'killed by SIGSEGV'; `shell_style`: the wrapper reports 128+n."""
    if returncode is None:
        return Message("still running")
    if returncode < 0:
        name = _signal_name(-returncode)
        return (Message("killed by {signal}", signal=name) if name else
                Message("killed by signal {number}", number=-returncode))
    if shell_style and returncode > 128 and _signal_name(returncode - 128):
        return Message("killed by {signal} (exit status {code})", signal=_signal_name(returncode - 128), code=returncode)
    return Message("exit code {code}", code=returncode)


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

    def __init__(self, module_path: Path, limits: Limits, *, extra_env: dict | None = None,
                 record_bytes: int = 0) -> None:
        self.module_path = Path(module_path).resolve()
        self.record_bytes = record_bytes  # sealed memory shared with the worker for a chunk's record
        self._record: mmap.mmap | None = None
        self.limits = limits
        self.extra_env = {str(k): str(v) for k, v in (extra_env or {}).items()}
        self.machine = machine.isolation()
        remove_stale_scratch()
        self.isolation_note: str = self.machine.note
        self._proc: subprocess.Popen | None = None
        self._started = False
        self._capture: Capture | None = None
        self._cmd: Pipe | None = None
        self._reply: Pipe | None = None
        self._tmp: str | None = None
        self._cgroups = Cgroups()
        self._token = secrets.token_hex(12)
        self._deadline_total = math.inf
        self._closed = False
        self._cleaned = False
        self._dead_reason = ""

    # ---- public ----

    @property
    def portable(self) -> bool:
        """A plain child over its standard pipes, with thread-kept deadlines (macOS, Windows)."""
        return self.machine.mode == "portable"

    @property
    def isolation(self) -> str:
        """The mode this sandbox runs in ("namespaces", "bwrap", "none" or "portable")."""
        return self.machine.mode

    def output(self) -> str:
        """Captured stdout+stderr: head and tail within limits.output_kb, with a marker."""
        if self._capture is None:
            return ""
        self._capture.read_available()
        return self._capture.text()

    def launch(self) -> None:
        """Start the worker process without waiting for it: it imports NumPy while the caller
        does its own work. `start` then waits for it and imports the submission."""
        if self._proc is not None or self._closed:
            raise RuntimeError("a Sandbox can be started once")
        if not self.module_path.is_file():
            raise FileNotFoundError(f"no such module: {self.module_path.name}")
        self._deadline_total = time.monotonic() + self.limits.total_seconds
        self._spawn()

    def start(self) -> Reply:
        """Start the worker (unless `launch` did) and import the submission; the reply's header
        has "seconds", "modules" (top-level modules the import added), "has_RNN" and "module_name"."""
        if self._started:
            raise RuntimeError("a Sandbox can be started once")
        self._started = True
        if self._proc is None:
            self.launch()
        hello = self._receive("startup", STARTUP_SECONDS, expect_id=None)
        if "fatal" in hello.header:
            raise self._die(SandboxCrashed(f"worker could not start: {one_line(hello.header['fatal'], 300)}",
                                           "startup"))
        if hello.header.get("hello") is not True:
            raise self._die(ProtocolError("the worker did not say hello"))
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
        """Run one worker op and return its reply (see worker.py for the ops).

        StudentError if the submission raised (except for "train", whose reply carries
        "done" and "error"); SandboxTimeout after `timeout` (default limits.call_seconds,
        capped by what is left of limits.total_seconds); SandboxCrashed if the child died;
        ProtocolError for a malformed or out-of-step reply (or a request the worker refused,
        header "fault", which leaves the child running).
        """
        return self.receive(self.send(op, timeout=timeout, arrays=arrays, **params))

    def send(self, op: str, *, timeout: float | None = None, arrays: dict[str, np.ndarray] | None = None,
             **params: Any) -> Pending:
        """The first half of `call`: the request is on its way; `receive` waits for its reply
        (in between the grader may do its own work, but make no other call)."""
        if self._proc is None:
            raise RuntimeError("call start() first")
        if self._closed:
            raise SandboxCrashed(f"not running ({self._dead_reason or 'closed'})", op)
        limit = self.limits.call_seconds if timeout is None else float(timeout)
        rid = secrets.randbits(62)
        to_send = {k: np.asarray(v, dtype=np.float64, order="C") for k, v in (arrays or {}).items()}
        self._check_quiet(op)
        self._set_deadline(op, limit)
        try:
            write_frame(self._cmd, {"op": op, "id": rid, "params": params}, to_send)
        except Expired:
            raise self._die(SandboxTimeout(op, self._timeout_seconds, self._timeout_total)) from None
        except (BrokenPipeError, Died):
            raise self._crashed(op) from None
        return Pending(op, rid, limit, self._reply.deadline, self._timeout_seconds, self._timeout_total)

    def receive(self, pending: Pending) -> Reply:
        """The reply to a request made with `send` (the same exceptions as `call`)."""
        op = pending.op
        self._cmd.deadline = self._reply.deadline = pending.deadline
        self._timeout_seconds, self._timeout_total = pending.seconds, pending.total
        reply = self._receive(op, pending.limit, expect_id=pending.rid, deadline_set=True)
        header = reply.header
        if "exit" in header:
            how = one_line(header["exit"], 120)
            raise self._die(SandboxCrashed(Message("exited during {op} ({how})", op=op, how=how), op))
        if "fault" in header:
            raise ProtocolError(f"the worker refused {op}: {one_line(header['fault'], 300)}")
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
            if pipe is not None:
                pipe.close()
        if self._capture is not None:
            self._capture.close()
        self._cgroups.remove()
        if self._record is not None:
            try:
                self._record.close()
            except BufferError:  # a view of it is still alive somewhere: the collector frees it
                pass
            self._record = None
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

    def _worker_config(self) -> dict[str, Any]:
        limits, iso = self.limits, self.machine
        if iso.mode == "portable":  # what `resource` offers, if anything (macOS: most; Windows: none)
            nproc, extra = "skip", limits.max_processes
        elif iso.mode == "none":  # outside a namespace RLIMIT_NPROC counts the uid's processes; root ignores it
            nproc, extra = ("relative" if os.geteuid() != 0 else "skip"), limits.max_processes
        else:  # without a memory cgroup: no new process, so RLIMIT_AS bounds the sandbox's memory
            nproc, extra = "relative", limits.max_processes if "memory" in iso.guarantees else 0
        return {
            "memory_mb": limits.memory_mb, "max_file_mb": limits.max_file_mb,
            "max_open_files": limits.max_open_files, "max_processes": extra,
            "cpu_seconds": int(math.ceil(limits.total_seconds)) + 5, "nproc": nproc,
            "userns": iso.mode not in ("none", "portable"), "stdio": iso.mode == "portable",
        }

    def _command(self, worker: list[str]) -> list[str]:
        """The whole command line for this machine's mode; `worker` is the interpreter's."""
        iso, limits = self.machine, self.limits
        main_thread = threading.current_thread() is threading.main_thread()
        scratch_mb = max(16, limits.max_file_mb)
        deathsig = [shutil.which("setpriv", path=machine.PATH) or "setpriv", "--pdeathsig", "SIGKILL"]
        deathsig = deathsig if iso.pdeathsig and main_thread else []
        if iso.mode == "portable":  # no shell, no setpriv: what every system has
            return worker
        if iso.mode == "none":  # a shell in between: the submission's getppid() is not the grader
            return deathsig + ["/bin/sh", "-c", '"$@"; exit $?', "-", *deathsig, *worker]
        self._cgroups = Cgroups.create(iso.cgroup_bases, self._token, limits.memory_mb,
                                       limits.max_processes + HELPERS)
        if iso.mode == "namespaces":
            root = os.path.join(self._tmp, "root")
            os.mkdir(root, 0o700)
            spec = machine.jail_spec(iso.view, self._copy, root, scratch_mb, env=self._env(),
                                     cgroups=self._cgroups.paths, pdeathsig=main_thread)
            return machine.jail_command(spec, self._tmp, worker)
        fd = machine.seccomp_file(self._tmp)
        if fd is not None:
            self._extra_fds.append(fd)
        bwrap = shutil.which("bwrap", path=machine.PATH) or "bwrap"
        cmd = machine.bwrap_command(bwrap, iso.view, self._copy, scratch_mb, iso.bwrap_size, fd) + ["--", *worker]
        if self._cgroups.paths:  # bubblewrap joins no cgroup: a shell does, then becomes it
            cmd = ["/bin/sh", "-c", JOIN_CGROUPS, "sh", *self._cgroups.paths, "--", *cmd]
        # If the grader dies (a batch runner's SIGKILL), its children die too. Only from the
        # main thread: the parent-death signal fires when the *thread* that forked ends.
        return deathsig + cmd

    def _shared_record(self) -> int | None:
        """A memfd the worker writes each chunk's record into, sealed so that it can neither
        shrink (a read past its end would kill the grader with SIGBUS) nor grow."""
        if not self.record_bytes or not hasattr(os, "memfd_create") or self.portable:
            return None
        import fcntl  # Linux only, like memfd_create

        fd = os.memfd_create("bptt-record", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(fd, self.record_bytes)
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
            self._record = mmap.mmap(fd, self.record_bytes)
        except (OSError, AttributeError, ValueError):
            os.close(fd)
            return None
        self._extra_fds.append(fd)
        return fd

    def shared_floats(self, start: int, count: int) -> np.ndarray | None:
        """A copy of `count` float64 of the shared record from `start` (None if out of range):
        copied at once, so the child cannot change what the grader goes on to check."""
        if self._record is None or start < 0 or count < 0 or (start + count) * 8 > self.record_bytes:
            return None
        return np.frombuffer(self._record, dtype=np.float64, count=count, offset=start * 8).copy()

    def _env(self) -> dict[str, str]:
        """What the child's environment adds to base_env: this sandbox's token, the caller's."""
        return {TOKEN_VAR: self._token, **self.extra_env}

    def _spawn(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
        self._copy = private_copy(self.module_path.parent, Path(self._tmp) / "submission")
        cmd_r, cmd_w = os.pipe()
        reply_r, reply_w = os.pipe()
        out_r, out_w = os.pipe()
        for fd in (cmd_w, reply_w) if not self.portable else ():  # a train chunk's frames are
            _widen_pipe(fd)  # megabytes: fewer round trips
        isolated = self.machine.mode not in ("none", "portable")
        if isolated:
            worker_py, module = f"{WORKER_DIR}/worker.py", f"{SUBMISSION_DIR}/{self.module_path.name}"
            home = scratch_dir(self.machine.view)
        else:
            worker_py, module = str(worker_files()["worker.py"]), str(self._copy / self.module_path.name)
            home = os.path.join(self._tmp, "work")
            os.mkdir(home, 0o700)
        self._extra_fds: list[int] = []
        config = self._worker_config()
        fd = self._shared_record()
        if fd is not None:
            config.update(record_fd=fd, record_bytes=self.record_bytes)
        # Portable: no descriptor can be handed over but the three standard ones, so commands
        # come on stdin and replies on stdout (the worker moves the student's prints to stderr).
        channels = ("0", "1") if self.portable else (str(cmd_r), str(reply_w))
        worker = [sys.executable, "-I", "-B", worker_py, *channels, module, json.dumps(config)]
        try:
            cmd = self._command(worker)
            proc = subprocess.Popen(
                cmd, stdin=cmd_r if self.portable else subprocess.DEVNULL,
                stdout=reply_w if self.portable else out_w, stderr=out_w,
                pass_fds=() if self.portable else (cmd_r, reply_w, *self._extra_fds),
                env={**machine.base_env(home), **self._env()}, cwd=home if not isolated else "/",
                close_fds=True, **_own_group(),
            )
        except BaseException:
            for fd in (cmd_r, cmd_w, reply_r, reply_w, out_r, out_w, *self._extra_fds):
                os.close(fd)
            self.close()
            raise
        for fd in (cmd_r, reply_w, out_w, *self._extra_fds):
            os.close(fd)
        self._proc = proc
        _LIVE.add(self)
        self._capture = (ThreadedCapture if self.portable else Capture)(out_r, self.limits.output_kb * 1024)
        if self.portable:
            self._cmd, self._reply = ThreadedWriter(cmd_w, proc), ThreadedReader(reply_r, proc)
        else:
            self._cmd, self._reply = Pipe(cmd_w, select.POLLOUT, proc), Pipe(reply_r, select.POLLIN, proc)

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
        except Expired:
            raise self._die(SandboxTimeout(op, self._timeout_seconds, self._timeout_total)) from None
        except (ChannelClosed, Died):
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

    def _crashed(self, op: str) -> Exception:
        """End of file on a pipe: the child died, or the submission closed our pipe."""
        try:
            returncode = self._proc.wait(EXIT_WAIT)
        except subprocess.TimeoutExpired:
            return self._die(ProtocolError(f"{op}: the reply channel was closed but the process lives on"))
        if returncode == 0:
            description = Message("exited during {op} ({how})", op=op, how=describe_status(0, True))
        else:
            description = describe_status(returncode, True)  # shell, launcher and bwrap say 128 + n
        return self._die(SandboxCrashed(description, op))

    def _die(self, exc: Exception) -> Exception:
        """Kill everything, remember why, and hand back `exc` for raising."""
        self._dead_reason = one_line(str(exc), 200)
        self.close()
        return exc

    # ---- killing ----

    def _kill_tree(self, proc: subprocess.Popen) -> None:
        if proc.returncode is None:
            try:
                if hasattr(os, "killpg"):  # not on Windows: the child alone is killed there
                    os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.kill()
            except OSError:
                pass
        self._cgroups.kill_all()
        if self.isolation in ("none", "portable"):
            self._sweep_token()
        try:
            proc.wait(KILL_WAIT)
        except subprocess.TimeoutExpired:
            pass

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
