"""How much grading costs on top of training: `check` vs training in-process.

For a student-speed submission (the per-step baseline) and the fast reference, prints the
wall time of grading one submission (every check, the settings' runs of full training,
in the sandbox) against training the same model the same number of times in this
process, their ratio, and the harness's cost per training iteration (split into what
training costs more in the sandbox, and the fixed cost around it). Then, at student speed,
`check` training its runs at once (grader/checks/run_pool.py) against one at a time.

    python bench/check.py [--runs 3] [--iterations 20000] [--repeats 3] [--at-once-only]

A shared machine's speed drifts: each case's two timings alternate `--repeats` times; the
best of each gives the ratio, and the pairs' own ratios (each taken back to back) give its
median and range. The isolation probe (once per grader process: per `check`, once per
batch) is timed apart, before the cases.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import naive_rnn  # noqa: E402

from grader.checks.pipeline import grade  # noqa: E402
from grader.checks.run_pool import run_workers  # noqa: E402
from grader.sandbox import isolation  # noqa: E402
from reference import rnn  # noqa: E402
from grader.settings import Settings  # noqa: E402
from reference.train import train  # noqa: E402


def in_process(factory, settings: Settings) -> float:  # noqa: ANN001
    """Wall time of training a fresh model once per run seed, in this process."""
    start = time.perf_counter()
    for seed in settings.run_seeds:
        train(factory(seed=seed), settings, seed)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--at-once-only", action="store_true", help="only the runs-at-once comparison")
    args = parser.parse_args()
    as_graded = Settings().with_overrides(runs=args.runs, iterations=args.iterations,
                                          accuracy_window=min(1000, args.iterations))
    settings = as_graded.with_overrides(stop_when_decided=False)  # every run, as in-process trains them
    iterations = settings.runs * settings.iterations
    cases = [
        ("per-step baseline (student speed)", ROOT / "bench" / "naive_rnn.py", naive_rnn.RNN),
        ("fast reference", ROOT / "reference" / "rnn.py", rnn.RNN),
    ]
    if args.at_once_only:
        at_once(cases[0][1], as_graded, args.repeats)
        return
    start = time.perf_counter()
    mode = isolation().mode
    print(f"isolation probe ({mode}): {time.perf_counter() - start:.2f} s, once per grader process")
    print(f"{settings.runs} runs x {settings.iterations} iterations, best of {args.repeats}\n")
    for label, path, factory in cases:
        local, checked, result, ratios = float("inf"), float("inf"), None, []
        for _ in range(args.repeats):
            here = in_process(factory, settings)
            start = time.perf_counter()
            graded = grade(path, settings)
            seconds = time.perf_counter() - start
            ratios.append(seconds / here)  # a pair taken back to back: the drift between them is small
            local = min(local, here)
            if seconds < checked:
                checked, result = seconds, graded
        statuses = {c.name: c.status for c in result.checks}
        failed = [n for n, s in statuses.items() if s not in ("passed",)]
        train_s = sum(r.seconds for r in result.runs)
        print(f"{label}: {path.relative_to(ROOT)}")
        print(f"  in-process training      {local:8.2f} s")
        print(f"  bptt-grader check        {checked:8.2f} s   (training inside it {train_s:.2f} s)")
        print(f"  ratio check / in-process {checked / local:8.2f}   (best of each; pair by pair: "
              f"median {statistics.median(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f})")
        print(f"  harness cost             {(checked - local) / iterations * 1e6:8.1f} us per training iteration: "
              f"{(train_s - local) / iterations * 1e6:.1f} us during training, and {checked - train_s:.2f} s "
              "before and after it (the sandbox's start, the other checks)")
        print(f"  score {result.score:g}/{result.max_score:g}, accuracy {result.accuracy}, "
              f"sandbox {result.sandbox}" + (f", not passed: {failed}" if failed else ""))
        slow = sorted(((c.seconds, c.name) for c in result.checks), reverse=True)[:4]
        print("  slowest checks           " + ", ".join(f"{n} {s:.2f}s" for s, n in slow) + "\n")
    at_once(cases[0][1], as_graded, args.repeats)


def at_once(path: Path, settings: Settings, repeats: int) -> None:
    """`check` training its runs at once (as many as run_workers allows here) against one at a
    time, as it did before and `batch` still does: the same grade, back-to-back pairs."""
    workers = run_workers(settings)
    pairs, grades = [], set()
    for _ in range(repeats):
        timed = []
        for n in (1, workers):
            start = time.perf_counter()
            result = grade(path, settings, run_workers=n)
            timed.append(time.perf_counter() - start)
            grades.add((result.score, len(result.runs)))
        pairs.append(timed)
    ratios = [b / a for a, b in pairs]
    print(f"runs at once ({workers} here, {len(grades)} distinct (score, runs made) over all gradings: {grades}), "
          f"{path.relative_to(ROOT)}")
    print(f"  one at a time  {statistics.median(p[0] for p in pairs):8.2f} s   at once {statistics.median(p[1] for p in pairs):8.2f} s"
          f"   ratio median {statistics.median(ratios):.2f} (pairs: {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
