"""A seccomp filter for the sandboxed child: the few system calls it has no business with.

Capabilities are gone before the submission runs, but some kernel interfaces need none
and are where kernel privilege escalations live: new user namespaces (which hand back
every capability inside), keyrings, BPF, perf events, userfaultfd, io_uring, ptrace,
and the mount family. The filter refuses them with EPERM, refuses clone3 with ENOSYS (its
flags cannot be inspected; the C library then falls back to clone), refuses x32 calls on
x86-64, and kills a process that calls in through another architecture.

`program()` returns the filter as classic BPF bytes (struct sock_filter[]): the jail
installs them itself, bubblewrap reads them from a file descriptor (--seccomp FD).
"""

from __future__ import annotations

import errno
import platform
import struct

LD_W_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
ALLOW, KILL_PROCESS = 0x7FFF0000, 0x80000000
ERRNO = 0x00050000
NR, ARCH, ARG0 = 0, 4, 16  # offsets in struct seccomp_data (little-endian: arg0's low word)
X32_BIT = 0x40000000
NAMESPACES = 0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 \
    | 0x20000000 | 0x40000000  # CLONE_NEWTIME, NS, CGROUP, UTS, IPC, USER, PID, NET

ARCHES = {
    "x86_64": {
        "audit": 0xC000003E, "clone": 56, "unshare": 272, "clone3": 435,
        "denied": {"ptrace": 101, "mount": 165, "umount2": 166, "pivot_root": 155, "setns": 308,
                   "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298,
                   "userfaultfd": 323, "open_by_handle_at": 304, "kexec_load": 246, "init_module": 175,
                   "finit_module": 313, "io_uring_setup": 425, "io_uring_enter": 426,
                   "io_uring_register": 427, "fsopen": 430, "fsmount": 432, "move_mount": 429,
                   "open_tree": 428, "mount_setattr": 442},
    },
    "aarch64": {
        "audit": 0xC00000B7, "clone": 220, "unshare": 97, "clone3": 435,
        "denied": {"ptrace": 117, "mount": 40, "umount2": 39, "pivot_root": 41, "setns": 268,
                   "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280, "perf_event_open": 241,
                   "userfaultfd": 282, "open_by_handle_at": 265, "kexec_load": 104, "init_module": 105,
                   "finit_module": 273, "io_uring_setup": 425, "io_uring_enter": 426,
                   "io_uring_register": 427, "fsopen": 430, "fsmount": 432, "move_mount": 429,
                   "open_tree": 428, "mount_setattr": 442},
    },
}


def supported() -> bool:
    return platform.machine() in ARCHES


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes:
    """The filter for this (or the named) architecture, as sock_filter records."""
    arch = ARCHES[machine or platform.machine()]
    eperm = ERRNO | errno.EPERM
    ops = [_op(LD_W_ABS, ARCH), _op(JEQ, arch["audit"], 1, 0), _op(RET, KILL_PROCESS), _op(LD_W_ABS, NR)]
    if arch["audit"] == ARCHES["x86_64"]["audit"]:
        ops += [_op(JGE, X32_BIT, 0, 1), _op(RET, eperm)]
    for number in sorted(arch["denied"].values()):
        ops += [_op(JEQ, number, 0, 1), _op(RET, eperm)]
    ops += [_op(JEQ, arch["clone3"], 0, 1), _op(RET, ERRNO | errno.ENOSYS)]
    for call in ("clone", "unshare"):  # allowed, but not with a new namespace
        ops += [_op(JEQ, arch[call], 0, 4), _op(LD_W_ABS, ARG0), _op(JSET, NAMESPACES, 0, 1),
                _op(RET, eperm), _op(RET, ALLOW)]
    ops.append(_op(RET, ALLOW))
    return b"".join(ops)
