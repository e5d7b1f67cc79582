"""Start the worker in a world of its own, built from what a stock Linux kernel offers.

Run by grader.sandbox.process as a script (standard library only, never imported by the
grader):

    python -I -S jail.py SPEC_FILE -- WORKER_COMMAND...

(SPEC_FILE: JSON, in the sandbox's private scratch folder, read before anything is built,
so that the view and the environment do not show in every user's `ps`.)

Three processes, so that nothing the submission does outlives or escapes its grading:

* the launcher (this script as started): joins the sandbox's cgroups, makes new mount,
  PID, network, IPC and UTS namespaces (and a user namespace when the grader is not root),
  forks the namespace's first process and relays its exit status;
* init (PID 1 of the new PID namespace): builds a read-only root on a tmpfs holding only
  what the spec lists (`view.py`: the interpreter, the standard library, NumPy, the shared
  libraries they load, the worker's two files, a read-only copy of the submission), a
  size-capped tmpfs as /tmp and /dev/shm, a /dev of five character devices and a /proc of
  its own; pivots into it; gives up every capability for good (bounding set, ambient set,
  securebits, no_new_privs) and, when the grader is root, the root user itself for a
  fresh uid that owns no file; installs the seccomp filter of seccomp.py (no new user
  namespace, no mount, keyring, BPF, ptrace...); then forks the worker and reaps. When init ends, the kernel
  kills every process left in the namespace;
* the worker (PID 2), which execs the interpreter on grader/sandbox/worker.py.

A failure while building is reported on stderr as one line starting with "jail:" and exit
status 125: the grader then names what this machine could not do.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import select
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
# statvfs f_flag bits -> the mount flags a remount must keep (the kernel locks them).
KEPT_FLAGS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME,
              2048: MS_NODIRATIME, 4096: MS_RELATIME}

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_SECCOMP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 22, 28, 38, 47
SECCOMP_MODE_FILTER = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4
# NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED, NO_CAP_AMBIENT_RAISE, each with its lock bit.
SECUREBITS = 0b11 | 0b1100 | 0b100000 | 0b11000000
CAPABILITY_VERSION_3 = 0x20080522
SYSCALLS = {"x86_64": {"pivot_root": 155, "capset": 126},
            "aarch64": {"pivot_root": 41, "capset": 91}}
FAILED = 125
DEVICES = ("null", "zero", "full", "random", "urandom")

libc = ctypes.CDLL(None, use_errno=True)


class JailError(Exception):
    pass


def _check(result: int, what: str) -> int:
    if result == -1:
        errno = ctypes.get_errno()
        raise JailError(f"{what}: {os.strerror(errno)}")
    return result


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    _check(libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {target}")


def _syscall(name: str, *args: object) -> int:
    number = SYSCALLS.get(platform.machine(), {}).get(name)
    if number is None:
        raise JailError(f"{name}: not supported on {platform.machine()}")
    return _check(libc.syscall(number, *args), name)


def _prctl(option: int, arg: int = 0, what: str = "prctl") -> None:
    _check(libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), what)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


# ---- the launcher --------------------------------------------------------------------


def launch(spec: dict, command: list[str]) -> int:
    if spec.get("pdeathsig"):
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, "parent-death signal")
        if os.getppid() != spec["parent_pid"]:
            return FAILED
    for group in spec["cgroups"]:
        _write(os.path.join(group, "cgroup.procs"), str(os.getpid()))
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    uid, gid = os.getuid(), os.getgid()
    if spec["userns"]:
        _check(libc.unshare(CLONE_NEWUSER | flags), "unshare (user namespace)")
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    else:
        _check(libc.unshare(flags), "unshare")
    alive_r, alive_w = os.pipe()  # init sees end of file here when the launcher is gone
    pid = os.fork()
    if pid == 0:
        os.close(alive_w)
        try:
            return init(spec, command, alive_r)
        except JailError as exc:
            print(f"jail: {exc}", file=sys.stderr, flush=True)
            return FAILED
    os.close(alive_r)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: os.kill(pid, signal.SIGKILL))
    _, status = os.waitpid(pid, 0)
    return _relay(status)


def _relay(status: int) -> int:
    """Exit as the child did: the same code, or death by the same signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return os.WEXITSTATUS(status)


# ---- init: PID 1 of the new namespace ------------------------------------------------


def _die_with_launcher(alive_fd: int) -> None:
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, "parent-death signal")
    if select.select([alive_fd], [], [], 0)[0]:  # the launcher died before we could notice
        os._exit(FAILED)


def init(spec: dict, command: list[str], alive_fd: int) -> int:
    _die_with_launcher(alive_fd)
    _check(libc.sethostname(b"sandbox", 7), "sethostname")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates to the host
    build_root(spec)
    drop_privileges(spec)
    _die_with_launcher(alive_fd)  # a change of uid clears the parent-death signal
    pid = os.fork()
    if pid == 0:
        os.close(alive_fd)
        os.chdir(spec["cwd"])
        os.execve(command[0], command, spec["env"])
    _prctl(PR_SET_DUMPABLE, 0, "dumpable")
    while True:  # reap everything; the worker's end is the namespace's end
        try:
            done, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return FAILED
        if done == pid:
            return _relay(status)


def build_root(spec: dict) -> None:
    root = spec["root"]
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755")
    readonly: list[tuple[str, int]] = []
    for entry in sorted(spec["mounts"], key=lambda e: (e["at"].count("/"), e["at"])):
        at = root + entry["at"]
        kind = entry["kind"]
        if kind == "link":
            os.makedirs(os.path.dirname(at), exist_ok=True)
            if not os.path.lexists(at):
                os.symlink(entry["target"], at)
            continue
        if kind in ("bind", "device"):
            source = entry["source"]
            if os.path.isdir(source):
                os.makedirs(at, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(at), exist_ok=True)
                if not os.path.lexists(at):
                    os.close(os.open(at, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            _mount(source, at, None, MS_BIND | MS_REC)
            kept = sum(ms for st, ms in KEPT_FLAGS.items() if os.statvfs(source).f_flag & st)
            extra = MS_NOSUID if kind == "device" else MS_NOSUID | MS_NODEV
            readonly.append((at, kept | extra))
        elif kind == "tmpfs":
            os.makedirs(at, exist_ok=True)
            _mount("tmpfs", at, "tmpfs", MS_NOSUID | MS_NODEV, entry["options"])
            if not entry.get("writable"):
                readonly.append((at, MS_NOSUID | MS_NODEV))
        elif kind == "proc":
            os.makedirs(at, exist_ok=True)
            _mount("proc", at, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        else:
            raise JailError(f"unknown mount kind {kind!r}")
    for at, flags in readonly:
        _mount(None, at, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
    os.chdir(root)
    _syscall("pivot_root", b".", b".")  # the old root ends up on top; detach it
    _check(libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def drop_privileges(spec: dict) -> None:
    """Every capability, for good; as host root also the uid (to one that owns nothing)."""
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
        last = int(f.read())
    _prctl(PR_SET_SECUREBITS, SECUREBITS, "securebits")
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap, "drop the capability bounding set")
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, "clear ambient capabilities")
    if not spec["userns"]:
        uid, gid = spec["uid"], spec["gid"]
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    header = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    _syscall("capset", header, data)
    _prctl(PR_SET_NO_NEW_PRIVS, 1, "no_new_privs")
    if spec.get("seccomp"):
        install_seccomp(bytes.fromhex(spec["seccomp"]))


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp(program: bytes) -> None:
    """The filter built by grader/sandbox/seccomp.py (8-byte sock_filter records)."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    _check(libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), 0, 0),
           "seccomp filter")


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print("usage: jail.py SPEC_FILE -- COMMAND...", file=sys.stderr)
        return 2
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            spec = json.load(f)
        return launch(spec, sys.argv[3:])
    except (JailError, OSError) as exc:
        print(f"jail: {exc}", file=sys.stderr, flush=True)
        return FAILED


if __name__ == "__main__":
    os._exit(main())
