"""Looks for a way back to privileges: capabilities, remounting / read-write (also from a
user namespace of its own), ptrace of the sandbox's init, setuid to the host's root."""

import ctypes
import os

from _attempt import attempt, model

MS_REMOUNT, MS_BIND = 32, 4096
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
PTRACE_ATTACH = 16
libc = ctypes.CDLL(None, use_errno=True)


def _capabilities():
    with open("/proc/self/status") as f:
        caps = {k: v.strip() for k, v in (line.split(":", 1) for line in f if line.startswith("Cap"))}
    held = {k: v for k, v in caps.items() if k in ("CapEff", "CapPrm", "CapBnd", "CapAmb") and int(v, 16)}
    return held or False


def _remount_rw():
    if libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND, None) != 0:
        raise OSError(ctypes.get_errno(), "remount")
    with open("/escaped-rw", "w") as f:
        f.write("x")
    return "remounted / read-write"


def _remount_in_own_namespace():
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    return _remount_rw()


def _ptrace_init():
    if libc.ptrace(PTRACE_ATTACH, 1, None, None) != 0:
        raise OSError(ctypes.get_errno(), "ptrace")
    return "attached to pid 1"


def _host_root():
    before = os.getuid()
    os.setuid(0)
    return _capabilities() or (before != 0 and "setuid(0) worked")


def _try():
    attempt("hold capabilities", _capabilities)
    attempt("remount / read-write", _remount_rw)
    attempt("ptrace the sandbox's init", _ptrace_init)
    attempt("become root", _host_root)
    try:
        pid = os.fork()  # unshare changes the process for good: do it in a child
    except OSError:  # no process may be started here: then in this one
        attempt("remount / from a new user namespace", _remount_in_own_namespace)
        return
    if pid == 0:
        try:
            attempt("remount / from a new user namespace", _remount_in_own_namespace)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    attempt("remount / from a new user namespace", lambda: os.waitstatus_to_exitcode(status) == 3)


RNN = model(_try)
