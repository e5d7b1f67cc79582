"""Reads what belongs to others: a classmate's submission, the batch's stored results,
logs and settings, the home folder."""

from _attempt import TARGETS, attempt, model


def _read(path):
    with open(path, "rb") as f:
        return f.read(40)


def _try():
    for path in TARGETS.get("private", []):
        attempt(f"read {path}", lambda path=path: _read(path))


RNN = model(_try)
