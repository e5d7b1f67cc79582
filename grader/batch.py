"""Grade a class: every submission in its own grader process, results stored as they come.

Each result is stored atomically under a key made of the submission's content hash, the
settings hash and the grader version, the moment it is known; a batch killed at any point
and run again grades only what is missing. One grader process per submission means a
crash of any kind costs that submission's row, never the batch.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from grader import __version__
from grader.results import GradeResult, SubmissionInfo
from reference.spec import Settings

IGNORED = {"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini"}
# One core per grader process: -j N then means N busy cores, not N x BLAS threads.
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
MARGIN_SECONDS = 60.0  # grader start-up and reporting on top of the submission's time limit


@dataclass(frozen=True)
class Item:
    """One submission of the class."""

    path: Path
    file: str
    sha256: str

    def key(self, settings: Settings) -> str:
        return f"{self.sha256[:20]}-{settings.digest()}-{__version__}"


@dataclass
class Outcome:
    """Every submission's result, and how many were graded now or reused from the store."""

    results: dict[Item, GradeResult]
    graded: int
    reused: int


def content_hash(path: Path) -> str:
    """sha256 of a file, or of a folder's relative paths and contents (symlinks not followed)."""
    digest = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    for sub in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
        digest.update(str(sub.relative_to(path)).encode("utf-8", "surrogateescape") + b"\0")
        digest.update(sub.read_bytes() + b"\0")
    return digest.hexdigest()


def find_submissions(folder: Path) -> list[Item]:
    """Every file or folder directly in `folder` is one submission (junk names skipped)."""
    items = []
    for entry in sorted(folder.iterdir()):
        if entry.name in IGNORED or entry.name.startswith(".") or entry.is_symlink():
            continue
        items.append(Item(entry, entry.name, content_hash(entry)))
    return items


class Store:
    """One JSON file per graded submission, written atomically (tmp + rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> GradeResult | None:
        try:
            return GradeResult.model_validate_json(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing or torn by a crash: grade again

    def save(self, key: str, result: GradeResult) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(result.model_dump_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path(key))


def _failed(item: Item, settings: Settings, status: str, message: str) -> GradeResult:
    """A row for a submission whose grader process itself did not deliver a result."""
    return GradeResult(
        grader_version=__version__,
        settings_hash=settings.digest(),
        submission=SubmissionInfo(source=str(item.path), sha256=item.sha256),
        status=status,
        message=message,
    )


def grade_in_process(item: Item, settings_file: Path, settings: Settings, log: Path) -> GradeResult:
    """Run `bptt-grader check` on one submission in a fresh grader process."""
    timeout = settings.limits.total_seconds + MARGIN_SECONDS
    with tempfile.TemporaryDirectory(prefix="bptt-batch-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "grader", "check", str(item.path), "--json", str(out),
               "--settings", str(settings_file)]
        started = time.perf_counter()
        try:
            with log.open("wb") as log_file:
                proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log_file, env=ENV,
                                      stderr=subprocess.STDOUT, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return _failed(item, settings, "timeout", f"grading took longer than {timeout:g} s")
        try:
            result = GradeResult.model_validate_json(out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            tail = log.read_text(encoding="utf-8", errors="replace")[-300:].strip()
            return _failed(item, settings, "grader_error",
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
) -> Outcome:
    """Grade what is not stored yet, plus everything (`force`) or the `only` ones again."""
    store = Store(out / "results")
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    settings_file = out / "settings.toml"
    settings_file.write_text(settings.to_toml(), encoding="utf-8")
    results: dict[Item, GradeResult] = {}
    todo = []
    for item in items:
        selected = only is not None and any(wanted in item.file for wanted in only)
        cached = None if (force or selected) else store.load(item.key(settings))
        if cached is not None:
            results[item] = cached
        else:
            todo.append(item)
    bar = _progress(len(items), len(results), progress)
    graded_now = 0
    running: dict[Future, tuple[Item, float]] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending = iter(todo)
        _fill(pool, pending, running, jobs, settings_file, settings, logs)
        while running:
            done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                item, _start = running.pop(future)
                result = future.result()
                store.save(item.key(settings), result)
                results[item] = result
                graded_now += 1
                bar.done(item, result)
            _fill(pool, pending, running, jobs, settings_file, settings, logs)
            if running:
                item, start = min(running.values(), key=lambda v: v[1])
                bar.slowest(item, time.monotonic() - start)
    bar.close()
    return Outcome(results, graded_now, len(items) - graded_now)


def _fill(pool: ThreadPoolExecutor, pending: Iterator[Item], running: dict, jobs: int,
          settings_file: Path, settings: Settings, logs: Path) -> None:
    while len(running) < max(1, jobs):
        item = next(pending, None)
        if item is None:
            return
        log = logs / f"{item.sha256[:20]}.log"
        future = pool.submit(grade_in_process, item, settings_file, settings, log)
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
        self.bar.set_postfix_str(f"slowest: {item.file} {seconds:.0f}s", refresh=False)

    def close(self) -> None:
        self.bar.close()


class _Lines:
    """Progress for logs and CI (no terminal): one line per finished submission."""

    def __init__(self, total: int, initial: int) -> None:
        self.total, self.count, self.started = total, initial, time.monotonic()

    def done(self, item: Item, result: GradeResult) -> None:
        self.count += 1
        print(f"[{self.count}/{self.total} {time.monotonic() - self.started:.0f}s] {item.file}: "
              f"{result.status}, score {result.score:g}/{result.max_score:g}", file=sys.stderr, flush=True)

    def slowest(self, item: Item, seconds: float) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, initial: int, enabled: bool) -> _Bar | _Lines:
    if enabled and not sys.stderr.isatty():
        return _Lines(total, initial)
    return _Bar(total, initial, enabled)
