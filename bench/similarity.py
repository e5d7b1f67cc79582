"""Similarity at scale: seconds to find the similar pairs of N generated fingerprints with
the index (grader/checks/similarity.py), and, for a smaller class, against comparing every
pair, with the pairs checked equal.

    python bench/similarity.py [--students 10000] [--compare 2000] [--threshold 0.5]

A generated class as the lab's looks: every fingerprint holds part of the template's
structure, about 250 hashes of its own, and 3% are copies of a classmate with some hashes
changed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.checks.similarity import similar_pairs, similarity  # noqa: E402


def make_class(students: int, seed: int = 7) -> dict[str, list[int]]:
    rng = np.random.default_rng(seed)
    template = rng.choice(1 << 31, size=120, replace=False)
    prints: dict[str, list[int]] = {}
    for i in range(students):
        if i and rng.random() < 0.03:
            source = prints[f"s{int(rng.integers(0, i)):05d}"]
            kept = [h for h in source if rng.random() < 0.85]
            prints[f"s{i:05d}"] = sorted(set(kept) | set(rng.choice(1 << 31, size=30).tolist()))
            continue
        own = rng.choice(1 << 31, size=int(rng.integers(150, 350)), replace=False)
        prints[f"s{i:05d}"] = sorted(set(own.tolist()) | set(template[: int(rng.integers(40, 120))].tolist()))
    return prints


def every_pair(prints: dict[str, list[int]], threshold: float) -> list[tuple[str, str, float]]:
    names = sorted(prints)
    sets = {n: set(prints[n]) for n in names}
    pairs = [(a, b, similarity(sets[a], sets[b])) for i, a in enumerate(names) for b in names[i + 1:]]
    return sorted(((a, b, round(s, 4)) for a, b, s in pairs if s >= threshold), key=lambda p: (-p[2], p[0], p[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10000)
    parser.add_argument("--compare", type=int, default=2000, help="class size for the every-pair comparison")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    small = make_class(args.compare)
    start = time.perf_counter()
    indexed = similar_pairs(small, args.threshold)
    index_seconds = time.perf_counter() - start
    start = time.perf_counter()
    compared = every_pair(small, args.threshold)
    every_seconds = time.perf_counter() - start
    print(f"{args.compare} fingerprints: index {index_seconds:.2f} s, every pair {every_seconds:.2f} s "
          f"(ratio {index_seconds / every_seconds:.3f}); {len(indexed)} pairs; the same pairs: {indexed == compared}")
    large = make_class(args.students)
    start = time.perf_counter()
    pairs = similar_pairs(large, args.threshold)
    print(f"{args.students} fingerprints: index {time.perf_counter() - start:.2f} s, {len(pairs)} pairs "
          f"at or above {args.threshold}")


if __name__ == "__main__":
    main()
