"""Signals processes outside the sandbox: a victim the test started, and the grader."""

import os
import signal

from _attempt import TARGETS, attempt, model


def _signal(pid, sig):
    os.kill(pid, sig)
    return f"signalled {pid}"


def _try():
    for pid in TARGETS.get("pids", []):
        attempt(f"see pid {pid}", lambda pid=pid: _signal(pid, 0))
        attempt(f"terminate pid {pid}", lambda pid=pid: _signal(pid, signal.SIGTERM))
    visible = [p for p in os.listdir("/proc") if p.isdigit()]
    attempt("see other processes", lambda: len(visible) > 2 and visible)


RNN = model(_try)
