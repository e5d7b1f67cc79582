"""The batch's own cost per submission as the class grows: N generated submissions with a
tiny training (so intake, the sandbox's start, the store, similarity and the outputs are
what is measured), at two class sizes, in one run.

    python bench/scale.py [--sizes 50,1000] [--jobs 2] [--iterations 20]

Prints seconds per submission at each size and the ratio of the largest to the smallest.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.batch.run import BatchOptions, run_batch  # noqa: E402
from grader.settings import Settings  # noqa: E402

SOURCES = ["correct_bce.py", "correct_mse.py", "bptt_no_recurrent.py", "state_carried.py"]


def make_class(folder: Path, students: int) -> None:
    corpus = ROOT / "tests" / "submissions"
    texts = [(corpus / name).read_text(encoding="utf-8") for name in SOURCES]
    for i in range(students):
        with zipfile.ZipFile(folder / f"DLP_LAB4_4{i:08d}_S{i}.zip", "w") as z:
            z.writestr(f"DLP_LAB4_4{i:08d}_S{i}/rnn.py", texts[i % len(texts)] + f"\n# student {i}\n")
            z.writestr(f"DLP_LAB4_4{i:08d}_S{i}/report.pdf", b"%PDF-1.4\n%%EOF\n")


def per_submission(students: int, settings: Settings, jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        klass, out = Path(tmp) / "class", Path(tmp) / "out"
        klass.mkdir()
        make_class(klass, students)
        start = time.perf_counter()
        report = run_batch(klass, out, settings, BatchOptions(jobs=jobs, progress=False))
        wall = time.perf_counter() - start
    assert len(report.rows) == students
    print(f"N = {students}: {wall:.1f} s, {wall / students:.3f} s per submission "
          f"({report.graded_now} graded, statuses {sorted({r.result.status for r in report.rows})})")
    return wall / students


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,1000")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    settings = Settings().with_overrides(runs=1, iterations=args.iterations, accuracy_window=args.iterations,
                                         audits_per_run=20)
    sizes = [int(n) for n in args.sizes.split(",")]
    costs = {n: per_submission(n, settings, args.jobs) for n in sizes}
    print(f"per-submission cost at N = {max(sizes)} / at N = {min(sizes)}: {costs[max(sizes)] / costs[min(sizes)]:.3f}")


if __name__ == "__main__":
    main()
