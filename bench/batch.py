"""Batch throughput: grade a generated class and print submissions per minute and efficiency.

Efficiency = sum of the per-submission grading times / (wall time x jobs): how much of
the machine the batch keeps busy grading (1.0 = no idle worker, no overhead between
submissions).

    python bench/batch.py [--students 40] [--jobs 2] [--iterations 20000] [--runs 3]
                          [--modes none,namespaces,bwrap] [--scheduler local:2 [--repeats 3]]
                          [--every-run] [--correct SHARE]

With several isolation modes, the same class is graded once in each, one after the other
in this run, and each mode's throughput is given relative to the first. With
`--scheduler`, the class is graded on Dask too (`--repeats` pairs of local and Dask,
alternating which goes first, for the median ratio). With `--every-run`, the class is
graded with every run trained and with the runs a majority makes unneeded skipped
(settings.stop_when_decided), back to back (`--repeats` pairs, alternating which goes
first): the wall-time ratio, and whether every CSV score is the same.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections import Counter
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.batch import run as batch_run  # noqa: E402
from grader.batch.run import BatchOptions, run_batch  # noqa: E402
from grader.sandbox import probe  # noqa: E402
from grader.settings import Settings  # noqa: E402

# A class as it comes: mostly working per-step code, some classic bugs.
MIX = ["correct_bce.py"] * 6 + ["correct_mse.py", "bptt_no_recurrent.py", "state_carried.py",
                                "update_no_clip_bce.py"]


BUGGY = [name for name in MIX if not name.startswith("correct_")]


def mix_of(students: int, correct: float | None) -> list[str]:
    """Each student's corpus file: MIX in turn, or with `correct` the share of correct ones
    (correct_bce and correct_mse alternating), the others MIX's buggy files in turn."""
    if correct is None:
        return [MIX[i % len(MIX)] for i in range(students)]
    good = round(students * correct)
    return ([("correct_bce.py", "correct_mse.py")[i % 2] for i in range(good)]
            + [BUGGY[i % len(BUGGY)] for i in range(students - good)])


def make_class(folder: Path, students: int, correct: float | None = None) -> None:
    corpus = ROOT / "tests" / "submissions"
    for i, name in enumerate(mix_of(students, correct)):
        source = (corpus / name).read_text(encoding="utf-8") + f"\n# student {i}\n"
        with zipfile.ZipFile(folder / f"DLP_LAB4_3105{i:05d}_S{i}.zip", "w") as z:
            z.writestr(f"DLP_LAB4_3105{i:05d}_S{i}/rnn.py", source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modes", default="", help="isolation modes to compare (default: the probed one)")
    parser.add_argument("--scheduler", help="also grade on Dask (local:N or an address), next to local mode")
    parser.add_argument("--repeats", type=int, default=1,
                        help="with --scheduler or --every-run: pairs of gradings, in alternating order")
    parser.add_argument("--correct", type=float, metavar="SHARE",
                        help="the share of correct submissions (default: MIX, 7 in 10)")
    parser.add_argument("--every-run", action="store_true",
                        help="compare training every run with skipping the runs that cannot change the median")
    args = parser.parse_args()
    settings = Settings().with_overrides(runs=args.runs, iterations=args.iterations,
                                         accuracy_window=min(1000, args.iterations))
    if args.scheduler:
        from grader.batch import on_dask

        _timed(on_dask, "connect", "connect")  # a cluster's start is the class's, not a task's
    if args.every_run:
        compare_every_run(args, settings)
        return
    first = None
    for mode in args.modes.split(",") if args.modes else [""]:
        throughput = grade_once(args, settings, mode)
        first = first or throughput
        if mode and throughput != first:
            print(f"throughput relative to {args.modes.split(',')[0]}: {throughput / first:.3f}")
    if args.scheduler:
        compare_with_dask(args, settings, first)


def compare_with_dask(args: argparse.Namespace, settings: Settings, local: float) -> None:
    """Dask's throughput relative to local mode's. A shared machine's speed drifts by as much
    as the difference, so with --repeats each pair is taken back to back, local first in one
    pair and Dask first in the next, and the ratios' median and range are printed."""
    ratios = [grade_once(args, settings, "", args.scheduler) / local]
    for i in range(1, args.repeats):
        order = ("", args.scheduler) if i % 2 else (args.scheduler, "")
        per_minute = {scheduler: grade_once(args, settings, "", scheduler or None) for scheduler in order}
        ratios.append(per_minute[args.scheduler] / per_minute[""])
    print(f"throughput on {args.scheduler} relative to local mode: " + ", ".join(f"{r:.3f}" for r in ratios)
          + (f"; median {statistics.median(ratios):.3f}, range {min(ratios):.3f}-{max(ratios):.3f}"
             if len(ratios) > 1 else ""))


def compare_every_run(args: argparse.Namespace, settings: Settings) -> None:
    """Wall time with the unneeded runs skipped relative to every run trained, and the scores."""
    every = settings.with_overrides(stop_when_decided=False)
    mix = ", ".join(f"{n} {name}" for name, n in sorted(Counter(mix_of(args.students, args.correct)).items()))
    print(f"the class: {mix}")
    ratios, same = [], True
    for i in range(args.repeats):
        order = (("every", every), ("needed", settings)) if i % 2 == 0 else (("needed", settings), ("every", every))
        walls, scores = {}, {}
        for name, chosen in order:
            print(f"--- {name} run{'s' if name == 'every' else 's only'}")
            walls[name], scores[name] = grade_class(args, chosen)
        ratios.append(walls["needed"] / walls["every"])
        same = same and scores["needed"] == scores["every"]
    print("wall time, needed runs only / every run: " + ", ".join(f"{r:.3f}" for r in ratios)
          + (f"; median {statistics.median(ratios):.3f}" if len(ratios) > 1 else "")
          + f"; every CSV score the same: {same}")


def grade_class(args: argparse.Namespace, settings: Settings) -> tuple[float, dict[str, float]]:
    """One grading of the generated class: its wall time and each student's score."""
    with tempfile.TemporaryDirectory() as tmp:
        klass, out = Path(tmp) / "class", Path(tmp) / "out"
        klass.mkdir()
        make_class(klass, args.students, args.correct)
        start = time.perf_counter()
        report = run_batch(klass, out, settings, BatchOptions(jobs=args.jobs, progress=False))
        wall = time.perf_counter() - start
    runs = sum(len(r.result.runs) for r in report.rows)
    print(f"{len(report.rows)} submissions, {runs} runs trained, wall time {wall:.1f} s")
    return wall, {r.who.student_id or r.file: r.result.score for r in report.rows}


def grade_once(args: argparse.Namespace, settings: Settings, mode: str, scheduler: str | None = None) -> float:
    if mode:
        os.environ[probe.CHOOSE_VAR] = mode
        probe._probe.cache_clear()
    isolation = probe.isolation()
    PHASES.clear()
    with tempfile.TemporaryDirectory() as tmp:
        klass, out = Path(tmp) / "class", Path(tmp) / "out"
        klass.mkdir()
        make_class(klass, args.students, args.correct)
        start = time.perf_counter()
        report = run_batch(klass, out, settings, BatchOptions(jobs=args.jobs, progress=False, isolation=isolation,
                                                              scheduler=scheduler))
        wall = time.perf_counter() - start
    items = report.rows
    busy = sum(r.result.timings.get("process", 0.0) for r in items)
    statuses = sorted({r.result.status for r in items})
    print(f"[{isolation.describe()}" + (f", on Dask {scheduler}" if scheduler else "") + "]")
    print(f"{len(items)} submissions, {settings.runs} runs x {settings.iterations} iterations, "
          f"-j {args.jobs}: statuses {statuses}")
    print(f"wall time            {wall:8.1f} s")
    print(f"throughput           {len(items) / wall * 60:8.1f} submissions per minute")
    print(f"grading time, summed {busy:8.1f} s ({busy / len(items):.1f} s per submission)")
    print(f"efficiency           {busy / (wall * args.jobs):8.3f}  (summed grading time / (wall x jobs))")
    if scheduler:
        print("(on Dask the summed time is each task's grader process, as in local mode)")
    inside = sum(r.result.timings.get("total", 0.0) for r in items)  # grade() itself, in the grader process
    grading = PHASES["grading"] - PHASES.get("connect", 0.0)  # from the first task sent to the last result
    print(f"grading phase        {grading:8.1f} s  (the rest is the class's own: reading, flags, outputs"
          + (f"; {PHASES['connect']:.1f} s starting the cluster" if scheduler else "") + ")")
    print(f"overhead per task    {(grading * args.jobs - inside) / len(items):8.3f} s  ((phase x jobs - time inside "
          f"grade()) / submissions: {(busy - inside) / len(items):.3f} s starting and ending the grader process, "
          f"{(grading * args.jobs - busy) / len(items):.3f} s "
          + ("sending the submission, scheduling, returning the result" if scheduler else "handing out the next task")
          + ", with the last tasks' idle workers)")
    return len(items) / wall


PHASES: dict[str, float] = {}


def _timed(module: object, name: str, phase: str) -> None:
    """Wrap module.name so that each call's duration is kept in PHASES[phase]."""
    original = getattr(module, name)

    def timed(*args: object, **kwargs: object) -> object:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            PHASES[phase] = time.perf_counter() - start

    setattr(module, name, timed)


_timed(batch_run, "grade", "grading")  # the batch's grading stage (batch/run.py)

if __name__ == "__main__":
    main()
