"""Runs the grader as a system without Linux's pieces would: `fcntl`, `resource` and
`termios` cannot be imported, and `select.poll`, `os.memfd_create`, `os.killpg`,
`os.getuid`, `os.geteuid`, `os.O_NOFOLLOW` and `os.O_NONBLOCK` are gone, in the grader
and in its worker alike.

Started by tests/sandbox/test_sandbox.py (the portable mode forced):

    python tests/sandbox/without_linux.py check rnn.py      # the grader's command line
    python tests/sandbox/without_linux.py --worker ARGS...  # the worker (as the interpreter)

It proves that the portable path touches nothing Windows lacks; a stray use raises here.
"""

from __future__ import annotations

import importlib.abc
import os
import runpy
import select
import stat
import sys
import tempfile

BLOCKED = ("fcntl", "resource", "termios")
GONE = {select: ("poll",), os: ("memfd_create", "killpg", "getuid", "geteuid", "O_NOFOLLOW", "O_NONBLOCK")}


class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # noqa: ANN001, ANN201
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"No module named {name!r} (not on this system)")
        return None


def take_away() -> None:
    sys.meta_path.insert(0, _Blocked())
    for name in BLOCKED:
        sys.modules.pop(name, None)
    for module, names in GONE.items():
        for name in names:
            if hasattr(module, name):
                delattr(module, name)


def interpreter() -> str:
    """A stand-in for sys.executable that starts the worker through this file."""
    path = os.path.join(tempfile.mkdtemp(prefix="without-linux-"), "python")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\nexec "{sys.executable}" -I -B "{os.path.abspath(__file__)}" --worker "$@"\n')
    os.chmod(path, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return path


def main() -> None:
    if sys.argv[1] == "--worker":  # ARGS are the interpreter's: -I -B worker.py ...
        args = [a for a in sys.argv[2:] if a not in ("-I", "-B")]
        take_away()
        sys.argv = args
        runpy.run_path(args[0], run_name="__main__")
        return
    shim = interpreter()
    take_away()
    sys.executable = shim
    from grader.cli import main as grader

    sys.exit(grader(sys.argv[1:]))


if __name__ == "__main__":
    main()
