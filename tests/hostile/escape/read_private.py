"""Reads what belongs to others: a classmate's submission, the batch's stored results,
logs and settings, the home folder."""

from _attempt import TARGETS, attempt
from _correct import Correct


def _read(path):
    with open(path, "rb") as f:
        return f.read(40)


def _try():
    for path in TARGETS.get("private", []):
        attempt(f"read {path}", lambda path=path: _read(path))


_try()


class RNN(Correct):
    def forward(self, x):
        _try()
        return super().forward(x)
