"""A student's `check` trains its runs at once where the machine has cores to spare.

A student on a 4-core laptop should wait for one run, not three. Each run trains in a sandbox
of its own (every sandbox keeps the submission's limits, and all of them share its one
deadline); how many at once is bounded by the free cores and by the memory each sandbox may
take. Runs start in seed order, and once a majority of all the runs agree
(contract.decided) no further one starts, as one at a time it would stop; the runs made are
put in seed order, so the grade is the one sequential grading gives. The platforms' runs of
one submission (Gradescope, PrairieLearn, Classroom 50) do the same; `batch` grades one
submission per worker and trains its runs one after another (workers = 1).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from grader.checks.training import Audits, Trainer, Training
from grader.settings import Settings


def free_cores(sample: float = 0.1) -> int:
    """Cores this process may use that are idle now, at least 1: Linux's /proc/stat over
    `sample` seconds (a load average lags by a minute, and would count the student's own
    last run); elsewhere all of them."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    first = _cpu_times()
    if first is None:
        return count
    time.sleep(sample)
    second = _cpu_times()
    if second is None or second[1] <= first[1]:
        return count
    idle_share = (second[0] - first[0]) / (second[1] - first[1])  # of the whole machine
    machine = os.cpu_count() or count
    return max(1, min(count, int(idle_share * machine + 0.5)))


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies of all CPUs since boot, or None where /proc/stat is not there."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[3] + fields[4], sum(fields[:8])) if len(fields) >= 5 else None


def free_memory_mb() -> int | None:
    """Memory available now (Linux's MemAvailable), or None where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def run_workers(settings: Settings) -> int:
    """How many runs `check` trains at once here: free cores, and room for each sandbox's memory."""
    if settings.runs <= 1:  # nothing to share (check --quick): no need to sample the cores
        return 1
    memory = free_memory_mb()
    room = settings.runs if memory is None else max(1, memory // settings.limits.memory_mb)
    return max(1, min(settings.runs, free_cores(), room))


def train_at_once(main: Trainer, another: Callable[[], Trainer], seeds: list[int], workers: int,
                  enough: Callable[[list[float]], bool], may_be_enough: Callable[[list[float], int], bool]) -> None:
    """Train the runs of `seeds`, up to `workers` at once, into `main.training` in seed order.

    `main` trains in its own sandbox, each of `another()` in a new one (closed by the caller).
    No run starts once `enough` says the accuracies made decide the grade, nor while the runs
    in progress `may_be_enough` to (it would be wasted), so exactly the runs one at a time
    would make are made."""
    turn = threading.Condition()
    made: dict[int, Training] = {}
    queue = iter(range(len(seeds)))
    every_step = main.training.audits.every_step
    errors: list[BaseException] = []
    running = 0

    def next_run() -> int | None:  # called holding `turn`
        nonlocal running
        while True:
            accuracies = [made[i].runs[0].accuracy for i in sorted(made)]
            if errors or enough(accuracies):
                return None
            if not (running and may_be_enough(accuracies, running)):
                i = next(queue, None)
                running += i is not None
                return i
            turn.wait()

    def work(trainer: Trainer | Callable[[], Trainer]) -> None:
        nonlocal running
        try:
            with turn:
                i = next_run()
            if i is not None and not isinstance(trainer, Trainer):
                trainer = trainer()
            while i is not None:
                assert isinstance(trainer, Trainer)
                trainer.training = Training(audits=Audits(every_step=every_step))
                try:
                    trainer.run(seeds[i], number=i + 1)
                finally:
                    with turn:
                        running -= 1
                        made[i] = trainer.training
                        turn.notify_all()
                with turn:
                    i = next_run()
        except BaseException as exc:  # a grader bug in a helper: raised in the caller, never a lost run
            with turn:
                errors.append(exc)
                turn.notify_all()

    helpers = [threading.Thread(target=work, args=(another,), daemon=True)
               for _ in range(min(workers, len(seeds)) - 1)]
    for helper in helpers:
        helper.start()
    work(main)
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]
    main.training = Training.joined([made[i] for i in sorted(made)], Audits(every_step=every_step))
