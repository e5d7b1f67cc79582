"""Raises its own limits: writes "max" into its cgroup's pids.max and memory limit, mounts
a cgroup file system, and tries again from a user namespace of its own."""

import ctypes
import os

from _attempt import TARGETS, attempt, model

CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
FILES = ("pids.max", "memory.limit_in_bytes", "memory.max", "cpu.cfs_quota_us", "cpu.max")


def _own_cgroup_files():
    paths = list(TARGETS.get("cgroup_files", []))
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for c in controllers.split(",") or [""]:
                    paths += [f"/sys/fs/cgroup/{c}{path}/{name}" for name in FILES]
    except OSError:
        pass
    return paths


def _write(path):
    with open(path, "w") as f:
        f.write("max" if not path.endswith("_in_bytes") else str(1 << 40))
    return path


def _mount_cgroup():
    libc = ctypes.CDLL(None, use_errno=True)
    os.makedirs("/tmp/cg", exist_ok=True)
    if libc.mount(b"cgroup", b"/tmp/cg", b"cgroup", 0, b"pids") != 0:
        raise OSError(ctypes.get_errno(), "mount")
    return os.listdir("/tmp/cg")


def _try():
    for path in _own_cgroup_files():
        attempt(f"write {path}", lambda path=path: _write(path))
    attempt("mount a cgroup file system", _mount_cgroup)


RNN = model(_try)
