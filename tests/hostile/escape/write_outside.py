"""Writes where it must not: the installed grader (appending code to it), its
dependencies, the interpreter's folder, the home folder, the batch's output, its own
submission folder, and the root; and leaves files in /tmp and /dev/shm (those writes
succeed inside the sandbox; the test checks that nothing of them reaches the host)."""

import os

from _attempt import MARK, TARGETS, attempt, model


def _write(path, mode="w"):
    with open(path, mode, encoding="utf-8") as f:
        f.write(f"\nraise SystemExit('{MARK}')\n")
    return path


def _try():
    for folder in TARGETS.get("writable", []) + ["/", "/sandbox/submission", "/sandbox/worker"]:
        attempt(f"write into {folder}", lambda folder=folder: _write(os.path.join(folder, MARK)))
    for path in TARGETS.get("appendable", []):
        attempt(f"append to {path}", lambda path=path: _write(path, "a"))
    for folder in ("/tmp", "/dev/shm"):
        try:
            _write(os.path.join(folder, MARK))
        except OSError:
            pass


RNN = model(_try)
