"""`batch` as a test calls it: the command's stages with its options, the summary it prints."""

from __future__ import annotations

from pathlib import Path

from grader.batch.run import BatchOptions, run_batch
from reference.spec import Settings


def batch(source: Path, out: Path, settings: Settings, **options: object) -> str:
    """Run a batch (no progress bar, two jobs unless told) and return what the command prints."""
    options = {"jobs": 2, "progress": False, **options}
    if "only" in options:
        options["only"] = frozenset(options["only"])  # type: ignore[arg-type]
    return run_batch(source, out, settings, BatchOptions(**options)).text(out)  # type: ignore[arg-type]
