"""Hints about a report PDF that help a TA and decide nothing: its pages, whether it holds a
figure, and which of each criterion's words its text mentions.

A student's PDF is hostile input to a parser: it is read by pypdf in a child process with
a memory and CPU limit and a timeout, so a crafted file costs one hint, not the server.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

from grader.settings import Criterion

TEXT_CHARS = 400_000  # enough for a report's every page; a bigger text is cut
LIMIT_SECONDS, LIMIT_BYTES = 30, 1 << 30


def _limit() -> None:
    """The child's own limits, set before it opens the PDF (not a preexec_fn: the server
    that starts it has threads)."""
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (LIMIT_SECONDS, LIMIT_SECONDS))


def _figures(page: object) -> int:
    """A page's pictures, counted without decoding them: its raster images (a pasted
    screenshot) and form objects (a plot placed as a PDF, as LaTeX does)."""
    resources = page.get("/Resources")  # type: ignore[attr-defined]
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    if xobjects is None:
        return 0
    return sum(1 for x in xobjects.get_object().values() if x.get_object().get("/Subtype") in ("/Image", "/Form"))


def read_pdf(path: Path) -> dict[str, object]:
    """What the child prints: pages, images and the text, lower case."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    images, text = 0, []
    for page in reader.pages:
        images += _figures(page)
        if sum(map(len, text)) < TEXT_CHARS:
            text.append(page.extract_text() or "")
    return {"pages": len(reader.pages), "images": images, "text": " ".join(text)[:TEXT_CHARS].casefold()}


def pdf_hints(path: Path, criteria: tuple[Criterion, ...]) -> dict[str, object]:
    """pages, images, characters of text and, per criterion, the words of its `words` found;
    `error` (and nothing else) where the PDF could not be read."""
    try:
        done = subprocess.run([sys.executable, "-m", "grader.review.hints", str(path)], capture_output=True,
                              text=True, timeout=LIMIT_SECONDS + 5)
        read = json.loads(done.stdout) if done.returncode == 0 else None
    except (subprocess.TimeoutExpired, json.JSONDecodeError):
        read = None
    if not isinstance(read, dict):
        return {"error": "the PDF could not be read for hints (damaged, encrypted, or too costly to parse)"}
    text = str(read["text"])
    return {"pages": read["pages"], "images": read["images"], "characters": len(text),
            "words": {c.name: [w for w in c.words if w.casefold() in text] for c in criteria}}


if __name__ == "__main__":  # the child: one PDF's pages, images and text as JSON
    _limit()
    try:
        print(json.dumps(read_pdf(Path(sys.argv[1]))))
    except Exception as exc:  # noqa: BLE001 - any failure is "no hints", said by the exit status
        print(type(exc).__name__, file=sys.stderr)
        sys.exit(1)
