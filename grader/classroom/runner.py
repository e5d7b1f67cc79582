"""Grade a class: every submission in its own grader process, results stored as they come.

Each result is stored atomically under a key made of the submission's content hash, the
settings hash and the grader version, the moment it is known; a batch killed at any point
and run again grades only what is missing. One grader process per submission
(grader/classroom/gradeproc.py, under the isolation this batch checked) means a crash of any kind
costs that submission's row, never the batch; each has a deadline, so nothing a
submission does can hang the batch. Every file is written with grader/safe_files.py.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from grader import __version__
from grader.classroom.gradeproc import GradeRequest
from grader.intake.layouts import ClassDownload, Entry, read_class
from grader.intake.submission import content_hash, parse_name
from grader.results import RESULT_SCHEMA, GradeResult, SubmissionInfo, neutralise
from grader.safe_files import open_fresh, private_dir, read_regular, write_atomic
from grader.sandbox.probe import Isolation
from reference.spec import Settings

# One core per grader process: -j N then means N busy cores, not N x BLAS threads. Without
# the malloc setting a Dask nanny gives its workers (MALLOC_TRIM_THRESHOLD_=65536): a grader
# process frees and takes back megabytes every training chunk, and with it each one went back
# to the system and was faulted in again (a grading 6% slower, measured).
ENV = {**{k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"},
       "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
LOG_TAIL = 300
MARGIN_SECONDS = 60.0  # grader start-up and reporting on top of the submission's time limit


@dataclass(frozen=True)
class Item:
    """One submission of the class."""

    path: Path
    file: str
    sha256: str
    entry: Entry | None = field(default=None, compare=False)  # what the platform's download says

    def matches(self, wanted: str) -> bool:
        """`--only`: a part of the file's name, or the student id its name or platform states."""
        named = parse_name(Path(self.file).name)[0] or parse_name(self.path.name)[0]
        return wanted in self.file or wanted in (named, self.entry.student_id if self.entry else None)

    @property
    def identity(self) -> str:
        """This submission under this name: identical zips of two students are two of them."""
        named = self.file.encode("utf-8", "surrogateescape") + b"\0" + self.sha256.encode()
        return hashlib.sha256(named).hexdigest()[:20]

    def key(self, settings: Settings) -> str:
        """The store's key: the identity, the settings and the grader version."""
        return f"{self.identity}-{settings.digest()}-{__version__}"


@dataclass
class Outcome:
    """Every submission's result, and how many were graded now or reused from the store."""

    results: dict[Item, GradeResult]
    graded: int
    reused: int


def items_of(download: ClassDownload) -> list[Item]:
    """The gradable entries of a class download (an entry of online text alone is not)."""
    return [Item(e.path, e.file, content_hash(e.path), entry=e) for e in download.entries if e.path is not None]


def find_submissions(folder: Path, staging: Path | None = None) -> list[Item]:
    """Every student's submission in `folder`, in whichever layout it is (intake/layouts.py)."""
    return items_of(read_class(folder, staging))


class Store:
    """One JSON file per graded submission, written atomically (tmp + rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = private_dir(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> GradeResult | None:
        data = read_regular(self.path(key))
        if data is None:
            return None  # missing, or not a regular file: grade again
        try:
            result = GradeResult.model_validate_json(data)
        except ValueError:
            return None  # torn by a crash: grade again
        return result if result.schema_version == RESULT_SCHEMA else None  # an older grader's: again

    def save(self, key: str, result: GradeResult) -> None:
        write_atomic(self.path(key), result.model_dump_json())


def failed_result(item: Item, settings: Settings, status: str, message: str) -> GradeResult:
    """A row for a submission whose grader process itself did not deliver a result."""
    return GradeResult(
        grader_version=__version__,
        settings_hash=settings.digest(),
        submission=SubmissionInfo(source=str(item.path), sha256=item.sha256),
        status=status,
        message=message,
    )


def grade_in_process(item: Item, settings: Settings, isolation: Isolation, log: Path) -> GradeResult:
    """Grade one submission in a fresh grader process (grader/classroom/gradeproc.py)."""
    timeout = settings.limits.total_seconds + MARGIN_SECONDS
    with tempfile.TemporaryDirectory(prefix="bptt-batch-") as tmp:
        out = Path(tmp) / "result.json"
        request = GradeRequest(path=str(item.path), result=str(out), settings=settings,
                               isolation=isolation.export())
        started = time.perf_counter()
        fd = open_fresh(log)
        try:
            proc = subprocess.run([sys.executable, "-m", "grader.classroom.gradeproc"], input=request.model_dump_json().encode(),
                                  stdout=fd, stderr=subprocess.STDOUT, env=ENV, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return failed_result(item, settings, "timeout", f"grading took longer than {timeout:g} s")
        finally:
            os.close(fd)
        data = read_regular(out)
        try:
            result = GradeResult.model_validate_json(data or b"")
        except ValueError:
            tail = (read_regular(log) or b"")[-LOG_TAIL:].decode("utf-8", "replace").strip()
            return failed_result(item, settings, "grader_error",
                           f"the grader exited with code {proc.returncode} and no result: {tail}")
        result.timings["process"] = round(time.perf_counter() - started, 4)
        return result


def run(
    items: list[Item],
    settings: Settings,
    out: Path,
    jobs: int,
    force: bool = False,
    only: set[str] | None = None,
    progress: bool = True,
    isolation: Isolation | None = None,
    scheduler: str | None = None,
    allow_weak: bool = False,
    announce: Callable[[str], None] | None = None,
) -> Outcome:
    """Grade what is not stored yet, plus everything (`force`) or the `only` ones again:
    here, in a pool of grader processes, or on a Dask cluster (`scheduler`: an address, or
    `local:N`), with one store either way."""
    store = Store(out / "results")
    logs = private_dir(out / "logs")
    write_atomic(out / "settings.toml", settings.to_toml())  # what these grades were made with
    results: dict[Item, GradeResult] = {}
    todo = []
    for item in items:
        selected = only is not None and any(item.matches(wanted) for wanted in only)
        cached = None if (force or selected) else store.load(item.key(settings))
        if cached is not None:
            results[item] = cached
        else:
            todo.append(item)
    bar = _progress(len(items), len(results), progress)

    def save(item: Item, result: GradeResult) -> None:
        """Each result is stored the moment it is known, wherever it was graded."""
        store.save(item.key(settings), result)
        results[item] = result
        bar.done(item, result)

    if todo:  # else all stored: no cluster to start, no pool
        if scheduler is not None:
            from grader.classroom.on_dask import grade_all

            grade_all(todo, settings, scheduler, allow_weak, save, announce)
        else:
            from grader.sandbox import isolation as probe_isolation

            _grade_here(todo, settings, jobs, isolation or probe_isolation(), logs, save, bar)
    bar.close()
    return Outcome(results, len(todo), len(items) - len(todo))  # every one to do was graded and saved


def _grade_here(todo: list[Item], settings: Settings, jobs: int, isolation: Isolation, logs: Path,
                save: Callable[[Item, GradeResult], None], bar: _Bar | _Lines) -> None:
    """A pool of `jobs` grader processes on this machine."""
    running: dict[Future, tuple[Item, float]] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending = iter(todo)
        _fill(pool, pending, running, jobs, settings, isolation, logs)
        while running:
            done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                item, _start = running.pop(future)
                save(item, future.result())
            _fill(pool, pending, running, jobs, settings, isolation, logs)
            if running:
                item, start = min(running.values(), key=lambda v: v[1])
                bar.slowest(item, time.monotonic() - start)


def _fill(pool: ThreadPoolExecutor, pending: Iterator[Item], running: dict, jobs: int,
          settings: Settings, isolation: Isolation, logs: Path) -> None:
    while len(running) < max(1, jobs):
        item = next(pending, None)
        if item is None:
            return
        log = logs / f"{item.identity}.log"
        future = pool.submit(grade_in_process, item, settings, isolation, log)
        running[future] = (item, time.monotonic())


class _Bar:
    """A terminal progress bar: done / total, elapsed, the slowest running submission."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, initial=initial, disable=not enabled, unit="sub",
                        desc="grading", dynamic_ncols=True)

    def done(self, item: Item, result: GradeResult) -> None:
        self.bar.update(1)

    def slowest(self, item: Item, seconds: float) -> None:
        self.bar.set_postfix_str(f"slowest: {neutralise(item.file)} {seconds:.0f}s", refresh=False)

    def close(self) -> None:
        self.bar.close()


class _Lines:
    """Progress for logs and CI (no terminal): one line per finished submission."""

    def __init__(self, total: int, initial: int) -> None:
        self.total, self.count, self.started = total, initial, time.monotonic()

    def done(self, item: Item, result: GradeResult) -> None:
        self.count += 1
        print(f"[{self.count}/{self.total} {time.monotonic() - self.started:.0f}s] {neutralise(item.file)}: "
              f"{result.status}, score {result.score:g}/{result.max_score:g}", file=sys.stderr, flush=True)

    def slowest(self, item: Item, seconds: float) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, initial: int, enabled: bool) -> _Bar | _Lines:
    if enabled and not sys.stderr.isatty():
        return _Lines(total, initial)
    return _Bar(total, initial, enabled)
