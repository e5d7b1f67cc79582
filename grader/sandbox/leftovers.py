"""What killed graders leave behind: scratch folders and cgroups whose names carry the pid
of a grader that is gone. The next grader removes them."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill there terminates the process: leave the leftovers be
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def of_dead_graders(parent: str, prefix: str) -> list[str]:
    """Paths in `parent` named `prefix` + the pid of a process that no longer exists + ..."""
    try:
        names = [n for n in os.listdir(parent) if n.startswith(prefix)]
    except OSError:
        return []
    found = []
    for name in names:
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            found.append(os.path.join(parent, name))
    return found
