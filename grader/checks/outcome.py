"""What a check concludes: it returns its message (or a `Passed` with details) or raises
`Fail`; the pipeline alone turns either into a CheckResult."""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.messages import Message

ITERATION = "iteration {it}"  # the template of an audited iteration's number


def iteration(it: int) -> Message:
    """An audited iteration's number as a Message of its own, so a platform can hide it before the
    due date in any language (gradescope_results.py): which iterations are audited is secret."""
    return Message("iteration {it}", it=it)


@dataclass(frozen=True)
class Passed:
    """A passed check's message and the figures behind it (for the JSON)."""

    message: str
    details: dict[str, object] = field(default_factory=dict)


class Fail(Exception):
    """A check failed; the message is for the student, details for the JSON."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class TimedOut(Fail):
    """A call or the whole submission ran past its time limit."""


class Malformed(Fail):
    """The child's reply did not have the shape of its op's reply (replies.py)."""
