"""Markdown a browser renders, from text a student controls.

Student-controlled text (names from file names, exception messages, printed output) ends
up in Markdown that is rendered in a browser, so every such string goes through `md_text`
(or `md_fence` for captured output) and can neither break a table nor add a link (a bare
address included) or HTML.
"""

from __future__ import annotations

import math
import re
from urllib.parse import quote

OUTPUT_LINES = 20
OUTPUT_WIDTH = 200
_MD_ESCAPES = {
    "\\": "\\\\",
    "`": "\\`",
    "|": "\\|",
    "[": "\\[",
    "]": "\\]",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]|\x1b\[[0-9;?]*[A-Za-z]")


# What a renderer turns into a link with no brackets at all (GFM's autolinks): the scheme's
# `://`, `www.` and an address's `@`, written as character references that show the same.
_AUTOLINK = [("://", ":&#47;&#47;"), ("www.", "www&#46;"), ("WWW.", "WWW&#46;"), ("@", "&#64;")]


def md_text(value: object) -> str:
    """Any text made inert inline Markdown: one line, no table break, no link (not even a
    bare address), no HTML."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = _CONTROL.sub("", str(value).replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(_MD_ESCAPES.get(ch, ch) for ch in text)
    for bare, shown in _AUTOLINK:
        text = text.replace(bare, shown)
    return "<br>".join(line.strip() for line in text.strip().split("\n"))


def md_table(headers: list[str], rows: list[list[object]]) -> str:
    """The one place a Markdown table is built; every cell goes through md_text."""
    lines = ["| " + " | ".join(md_text(h) for h in headers) + " |"]
    lines.append("| " + " | ".join("---" for _ in headers) + " |")
    for row in rows:
        cells = [md_text(cell) for cell in row] + [""] * (len(headers) - len(row))
        lines.append("| " + " | ".join(cells[: len(headers)]) + " |")
    return "\n".join(lines)


def md_fence(text: str, last: int = OUTPUT_LINES) -> str:
    """The tail of captured output in a code fence no line of it can close or escape."""
    lines = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip("\n").split("\n")
    tail = [line[:OUTPUT_WIDTH].replace("`", "\u02cb") for line in lines[-last:]]
    return "\n".join(["```text", *tail, "```"])


def number(value: object, spec: str = ".3f") -> str:
    """A number for a report, or a dash when there is none (None, NaN, not a number)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(number) else format(number, spec)


def image(alt: str, path: str) -> str:
    """An image link whose target cannot break out of the link syntax."""
    return f"![{md_text(alt)}]({quote(path, safe='/._-')})"
