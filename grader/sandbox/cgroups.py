"""Limits for a sandbox as a whole (all its processes together), from cgroup v1 controllers.

Per sandbox, one directory in each of the `memory`, `pids` and `cpu` hierarchies that this
process may write (as root): memory.limit_in_bytes (and the swap-inclusive limit where the
kernel accounts swap), pids.max, and a CFS quota of one core. The directories are owned by
the grader and the child never runs as that user, so it cannot raise its own limits. A
controller that cannot be had is simply missing from `Cgroups.limited`; the sandbox then
falls back to per-process rlimits and says so.

Directory names carry the grader's pid, so the leftovers of a killed grader are removed by
the next one (`remove_stale`).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from .leftovers import of_dead_graders

PREFIX = "bptt-grader-"  # + grader pid + "-" + token
CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000


def _own_directories() -> dict[str, str]:
    """controller -> this process's directory in its v1 hierarchy, where we may write."""
    if os.geteuid() != 0:
        return {}
    try:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            mounts = [line.split() for line in f]
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            groups = [line.rstrip("\n").split(":", 2) for line in f]
    except OSError:
        return {}
    found = {}
    for controller in CONTROLLERS:
        mount = next((m[1] for m in mounts
                      if len(m) > 3 and m[2] == "cgroup" and controller in m[3].split(",")), None)
        own = next((g[2] for g in groups if len(g) == 3 and controller in g[1].split(",")), None)
        if mount and own is not None:
            base = os.path.join(mount, own.lstrip("/"))
            if os.access(base, os.W_OK):
                found[controller] = base
    return found


def available() -> dict[str, str]:
    """The controllers (and their base directories) usable here; stale leftovers removed."""
    bases = _own_directories()
    remove_stale(bases.values())
    return bases


def _write(path: str, value: str) -> None:
    with open(path, "w", encoding="ascii") as f:
        f.write(value)


@dataclass
class Cgroups:
    """One sandbox's cgroup directories; `limited` names the controllers in force."""

    paths: list[str] = field(default_factory=list)
    limited: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, bases: dict[str, str], token: str, memory_mb: int, max_processes: int) -> Cgroups:
        groups = cls()
        settings = {  # controller: (what must be set, what is set where the kernel has it)
            "memory": ([("memory.limit_in_bytes", str(memory_mb << 20))],
                       [("memory.memsw.limit_in_bytes", str(memory_mb << 20)), ("memory.swappiness", "0")]),
            "pids": ([("pids.max", str(max_processes))], []),
            "cpu": ([("cpu.cfs_period_us", str(CPU_PERIOD_US)), ("cpu.cfs_quota_us", str(CPU_PERIOD_US))], []),
        }
        for controller, base in bases.items():
            path = os.path.join(base, f"{PREFIX}{os.getpid()}-{token}")
            required, optional = settings[controller]
            try:
                os.mkdir(path, 0o755)
                for name, value in required:
                    _write(os.path.join(path, name), value)
            except OSError:
                remove(path)
                continue
            for name, value in optional:
                try:
                    _write(os.path.join(path, name), value)
                except OSError:
                    pass
            groups.paths.append(path)
            groups.limited.append(controller)
        return groups

    def kill_all(self) -> None:
        for path in self.paths:
            kill_members(path)

    def remove(self) -> None:
        self.paths = [p for p in self.paths if not remove(p)]


def kill_members(path: str) -> None:
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


def remove(path: str) -> bool:
    """rmdir, retried while the last processes finish dying."""
    for _ in range(40):
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.025)
    return False


def remove_stale(bases: Iterable[str]) -> None:
    for base in bases:
        for path in of_dead_graders(base, PREFIX):
            kill_members(path)
            try:
                os.rmdir(path)
            except OSError:
                pass
