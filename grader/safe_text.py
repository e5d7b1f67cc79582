"""Text a student controls, made plain: nothing in it may drive a terminal, an XML parser or a
spreadsheet, reorder what is shown, or hide itself (every result's text passes through here)."""

from __future__ import annotations

import re

# Characters that make a terminal, an XML parser or a spreadsheet do something other than
# show text, or that hide text: C0 controls but tab and newline (ESC among them), DEL, C1
# controls, the bidi marks and overrides that reorder what is shown, zero-width characters
# (a name that looks like another), lone surrogates and the XML non-characters.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069"
                     "\ufeff\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029\x85]")


def neutralise(text: str) -> str:
    """Student text as plain text: every character above is removed (a CR, a line or
    paragraph separator becomes a newline)."""
    return _UNSAFE.sub("", _LINE_BREAKS.sub("\n", text))


def one_line(text: str, limit: int | None = None) -> str:
    """Text on one line (its own newlines must not start lines of a report), cut to `limit`."""
    text = " ".join(str(text).split())
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."
