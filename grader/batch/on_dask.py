"""A class graded on a Dask cluster (the optional extra `bptt-grader[dask]`).

The submission's bytes travel with its task (workers share no file system with the
client). On the worker the task checks that it runs the client's grader version and that
the machine isolates as the client requires, rebuilds the submission in a temporary
folder and grades it exactly as local mode does: a fresh grader process in the sandbox
(one_process.grade_in_process). The result comes back as JSON; the client keeps the only
store, and stores each result the moment it arrives, so a killed client resumes by
grading what is missing. A worker that dies mid-task makes the scheduler run the task
elsewhere; one that kills every worker it lands on is stopped after the scheduler's
allowed failures with the status `worker_lost`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from grader import __version__
from grader.batch.one_process import grade_in_process
from grader.batch.rows import Upload
from grader.batch.store import identity
from grader.checks.pipeline import grade
from grader.intake.submission import SubmissionError, kept_files
from grader.intake.unzip import MAX_ZIP_FILE, mib
from grader.messages import Message
from grader.results import GradeResult
from grader.settings import Settings

Payload = bytes | list[tuple[str, bytes]]  # a file's bytes, or a folder's (relative path, bytes)
ALLOWED_FAILURES = 2  # workers a task may take down before it is `worker_lost`
IN_FLIGHT_PER_WORKER = 2  # payloads held by the client at once, per worker: not the whole class
QUIET = {"distributed.admin.tick.interval": "200ms", "distributed.admin.system-monitor.interval": "2s",
         "distributed.worker.memory.monitor-interval": "1s"}  # see connect


def payload_of(path: Path) -> Payload:
    """What travels: a file's bytes, or the files of a folder the intake keeps, and its junk
    as empty files (so the worker notes it as local mode does). SubmissionError, before
    anything is read, for a file or folder the intake refuses (too many files, or too big)."""
    if path.is_file():
        size = path.stat().st_size
        if size > MAX_ZIP_FILE:
            raise SubmissionError("unsafe_zip", f"{path.name} is {mib(size)} (limit {mib(MAX_ZIP_FILE)}); "
                                  "submit only your code and report")
        return path.read_bytes()
    listing = kept_files(path)
    return ([("/".join(parts), full.read_bytes()) for parts, full, _ in listing.files]
            + [("/".join(parts), b"") for parts in listing.junk])


def grade_on_worker(name: str, payload: Payload, settings_json: str, client_version: str, allow_weak: bool) -> str:
    """The task: a GradeResult as JSON, graded on this worker in its own sandbox."""
    from grader.sandbox import isolation

    settings = Settings.model_validate_json(settings_json)
    if client_version != __version__:
        return GradeResult.ungraded("version_mismatch", Message("a worker runs grader {worker}, the client {client}",
                                                                worker=__version__, client=client_version),
                                    settings.digest(), name).model_dump_json()
    found = isolation()
    if not found.strong and not allow_weak:
        return GradeResult.ungraded("weak_isolation", Message("the worker cannot isolate submissions ({sandbox}); allow "
                                                              "it with --allow-weak-sandbox", sandbox=found.describe()),
                                    settings.digest(), name).model_dump_json()
    with tempfile.TemporaryDirectory(prefix="bptt-dask-") as tmp:
        path = Path(tmp) / Path(name).name
        if isinstance(payload, bytes):
            path.write_bytes(payload)
        else:
            for rel, data in payload:
                target = path / rel
                if path.resolve() not in target.resolve().parents:
                    continue  # the client's own listing never holds this; refuse it anyway
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        result = grade_in_process(path, settings, found, Path(tmp) / "grade.log")
    return result.model_dump_json()  # its sandbox says the worker's mode, as in local mode, where one ran


def connect(scheduler: str):  # noqa: ANN201 - distributed's types stay lazy
    """A client of `ADDRESS`, or of a local cluster of N worker processes for `local:N`."""
    import dask
    from distributed import Client, LocalCluster

    # Workers only wait for a grader process, but by default they wake often: the profiler
    # samples their stacks every 10 ms, the event loops tick every 20 ms, the nannies read
    # memory every 100 ms and every process its system load every 500 ms. A local cluster of
    # two, idle, used 9.9% of a core without the profiler and 2.2% with these (measured over
    # 15 s), a core the gradings share.
    dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                     "distributed.worker.profile.enabled": False, **QUIET})
    if scheduler.startswith("local:"):
        cluster = LocalCluster(n_workers=int(scheduler.removeprefix("local:")), threads_per_worker=1,
                               processes=True, dashboard_address="127.0.0.1:0")  # this machine only
        return Client(cluster)
    return Client(scheduler)


def grade_all(todo: list[Upload], settings: Settings, scheduler: str, allow_weak: bool,
              save: Callable[[Upload, GradeResult], None], announce: Callable[[str], None] | None = None,
              task: Callable[..., str] = grade_on_worker) -> None:
    """Grade `todo` on the cluster with `task` (grade_on_worker; a test passes one that
    kills its worker); each result goes to `save` as it arrives."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    with connect(scheduler) as client:
        if announce is not None:
            announce(f"dask: {len(client.scheduler_info().get('workers', {}))} workers, "
                     f"dashboard {client.dashboard_link}")
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        pending, futures, running = iter(todo), {}, as_completed()

        def submit_next() -> None:
            """Read and send the next payload: the client holds a few, never the class."""
            for upload in pending:
                try:
                    payload = payload_of(upload.path)
                except SubmissionError:  # refused before any code runs: the client's intake says so
                    save(upload, grade(upload.path, settings))
                    continue
                future = client.submit(task, upload.path.name, payload, settings.model_dump_json(), __version__,
                                       allow_weak, key=f"grade-{identity(upload)}", pure=False)
                futures[future] = upload
                running.add(future)
                return

        for _ in range(IN_FLIGHT_PER_WORKER * workers):
            submit_next()
        for future in running:
            upload = futures.pop(future)
            try:
                result = GradeResult.model_validate_json(future.result())
            except KilledWorker:
                result = GradeResult.ungraded("worker_lost", Message("the workers grading it died {n} times",
                                                                     n=ALLOWED_FAILURES + 1),
                                              settings.digest(), str(upload.path))
            except Exception as exc:  # the task itself raised: the row says so, the batch goes on
                error = f"{type(exc).__name__}: {exc}"
                result = GradeResult.ungraded("grader_error", Message("on a worker: {error}", error=error),
                                              settings.digest(), str(upload.path))
            future.release()  # its payload is the scheduler's to forget
            save(upload, result)
            submit_next()
