"""Which of a submission's files is its report: one rule for the intake (what `check` and the
feedback say of it) and the batch (the copy in OUT/reports a TA opens), so the two never name
different files.

A PDF before a Word or OpenDocument file, before Markdown, before a notebook; among files of
one kind, one whose name says it is the report (report, 報告, lab4, ...) first, then the one
nearest the top, then by name. A template's README.md is never a report.
"""

from __future__ import annotations

import re

from grader.messages import Message

KINDS = (".pdf", ".docx", ".odt", ".doc", ".md", ".ipynb")  # in the order the rule prefers them
NOT_REPORTS = {"readme.md"}
REPORTISH = re.compile(r"report|報告|报告|lab\s*4|dlp", re.IGNORECASE)
MAX_LISTED = 5


def is_candidate(name: str) -> bool:
    """Whether a file (its base name) may be the report."""
    folded = name.rsplit("/", 1)[-1].casefold()
    return folded.endswith(KINDS) and folded not in NOT_REPORTS


def rank(display: str) -> tuple[int, bool, int, str]:
    """The rule's order of a candidate, by its path as the student named it (first is chosen)."""
    base = display.rsplit("/", 1)[-1]
    kind = next(i for i, k in enumerate(KINDS) if base.casefold().endswith(k))
    return kind, not REPORTISH.search(base), display.count("/"), display


def report_note(file: str | None, pages: int | None, others: tuple[str, ...] | list[str]) -> Message:
    """What a student reads of their report: the file chosen, its pages, the candidates left."""
    if file is None:
        return Message("no report found (a PDF, Word, OpenDocument or Markdown file)")
    note = (Message("report: {file} ({pages} page)", file=file, pages=pages) if pages == 1 else
            Message("report: {file} ({pages} pages)", file=file, pages=pages) if pages else
            Message("report: {file}", file=file))
    if others:
        note += Message("; also found, not used: {others}", others=", ".join(list(others)[:MAX_LISTED]))
    return note
