"""A class graded on this machine: a pool of `jobs` grader processes, and its progress."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from grader.batch.one_process import grade_in_process
from grader.batch.rows import Upload
from grader.batch.store import identity
from grader.messages import Message
from grader.results import GradeResult
from grader.safe_text import neutralise
from grader.sandbox.probe import Isolation
from grader.settings import Settings

Save = Callable[[Upload, GradeResult], None]


def grade_all(todo: list[Upload], settings: Settings, jobs: int, isolation: Isolation, logs: Path,
              save: Save, progress: Progress) -> None:
    """Each upload in a grader process of its own, `jobs` at once; each result to `save`."""
    running: dict[Future, tuple[Upload, float]] = {}
    pending = iter(todo)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        while True:
            while len(running) < max(1, jobs) and (upload := next(pending, None)) is not None:
                future = pool.submit(grade_in_process, upload.path, settings, isolation,
                                     logs / f"{identity(upload)}.log")
                running[future] = (upload, time.monotonic())
            if not running:
                return
            done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                upload, _start = running.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - this upload's row says so; the class goes on
                    error = f"{type(exc).__name__}: {exc}"[:300]
                    result = GradeResult.ungraded("grader_error", Message("the batch could not grade it: {error}",
                                                                          error=error), settings.digest(), upload.file)
                save(upload, result)
            if running:
                upload, start = min(running.values(), key=lambda v: v[1])
                progress.slowest(upload, time.monotonic() - start)


class Progress:
    """A terminal progress bar (done / total, elapsed, the slowest running submission), or
    one line per finished submission where stderr is not a terminal (logs, CI)."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        self.total, self.count, self.started = total, initial, time.monotonic()
        self.bar = None
        if not (enabled and not sys.stderr.isatty()):  # else one line per submission
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, disable=not enabled, unit="sub", desc="grading",
                            dynamic_ncols=True)

    def done(self, upload: Upload, result: GradeResult) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.update(1)
        else:
            print(f"[{self.count}/{self.total} {time.monotonic() - self.started:.0f}s] {neutralise(upload.file)}: "
                  f"{result.status}, score {result.score:g}/{result.max_score:g}", file=sys.stderr, flush=True)

    def slowest(self, upload: Upload, seconds: float) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"slowest: {neutralise(upload.file)} {seconds:.0f}s", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
