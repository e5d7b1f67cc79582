"""What the sandbox costs: to start, per isolation mode, and per training iteration (the
worker's "train" op against the same loop run in-process).

    python bench/sandbox_overhead.py [--starts 20] [--iterations 20000] [--chunk 2000] [--repeats 3]

Start cost: a sandbox started (interpreter, NumPy, the submission's import), its model
constructed and the sandbox closed, `--starts` times in each mode this machine offers;
"none" (a plain child process) is the cost without isolation, so the difference is what
the isolation adds.

Two models:
* a null model whose methods return precomputed values: the difference is the worker loop's
  own cost (row views, the yhat check and copy, the five parameter snapshots, and the five
  gradients' where the grader asks for them) plus the frames' transfer, per iteration;
* the reference RNN: what a real run pays, in chunks as the grader sends them.
Each with the record grading asks for where gradient_reference passed (the parameters
only: the grader computes the gradients) and where it failed (the gradients too).
Times are the best of the repeats (the machine may be shared).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.sandbox import Sandbox  # noqa: E402
from reference.rnn import RNN  # noqa: E402
from grader.settings import Limits  # noqa: E402

NULL_MODEL = '''
import numpy as np
class RNN:
    def __init__(self, input_dim=2, hidden_dim=16, output_dim=1, seed=None):
        self.U = np.zeros((hidden_dim, input_dim)); self.W = np.zeros((hidden_dim, hidden_dim))
        self.V = np.zeros((output_dim, hidden_dim)); self.b = np.zeros(hidden_dim)
        self.c = np.zeros(output_dim); self._y = np.full((8, output_dim), 0.5)
        self._g = {"U": self.U, "W": self.W, "V": self.V, "b": self.b, "c": self.c}
    def forward(self, x): return self._y
    def backward(self, y): return self._g
    def update(self, grads, alpha): pass
'''


def data(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 128, n), rng.integers(0, 128, n)
    bits = lambda v: ((v[:, None] >> np.arange(8)) & 1).astype(float)  # noqa: E731
    return np.stack([bits(a), bits(b)], axis=2), bits(a + b)[:, :, None]


def in_process(model: object, X: np.ndarray, Y: np.ndarray) -> float:
    forward, backward, update = model.forward, model.backward, model.update
    started = time.perf_counter()
    for k in range(len(X)):
        forward(X[k])
        update(backward(Y[k]), 0.1)
    return time.perf_counter() - started


def worker_loop(path: Path, X: np.ndarray, Y: np.ndarray, chunk: int, grads: bool) -> float:
    """The worker's train loop run in this process (no pipes, no second process): its own
    cost per iteration, free of the scheduling noise between two processes."""
    import importlib.util

    import grader.sandbox.protocol as protocol
    from grader.sandbox.worker import Worker

    worker = Worker(protocol, None, None, str(path))
    spec = importlib.util.spec_from_file_location(f"bench_{path.parent.name}", path)
    worker.module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker.module)
    worker.op_construct({"input_dim": 2, "hidden_dim": 16, "output_dim": 1, "seed": 1}, {})
    started = time.perf_counter()
    for s in range(0, len(X), chunk):
        header, _ = worker.op_train({"alpha": 0.1, "record_grads": grads}, {"X": X[s : s + chunk], "Y": Y[s : s + chunk]})
        assert header["done"] == len(X[s : s + chunk]), header
    return time.perf_counter() - started


def sandboxed(path: Path, X: np.ndarray, Y: np.ndarray, chunk: int, grads: bool) -> tuple[float, Sandbox]:
    """As grading trains: the chunk's record (parameters, and gradients if `grads`) in shared memory."""
    n = sum(int(np.prod(s)) for s in ((16, 2), (16, 16), (1, 16), (16,), (1,)))
    box = Sandbox(path, Limits(call_seconds=600, total_seconds=3600), record_bytes=(2 * chunk + 1) * n * 8)
    box.start()
    box.call("construct", input_dim=2, hidden_dim=16, output_dim=1, seed=1)
    started = time.perf_counter()
    for s in range(0, len(X), chunk):
        reply = box.call("train", arrays={"X": X[s : s + chunk], "Y": Y[s : s + chunk]}, alpha=0.1,
                         record_grads=grads)
        assert reply.header["done"] == len(X[s : s + chunk]), reply.header
    return time.perf_counter() - started, box


def start_costs(starts: int) -> None:
    """Median and best seconds to start, construct and close a sandbox, per mode."""
    import os
    import shutil
    import statistics

    from grader.sandbox import probe

    modes = ["none", "namespaces"] + (["bwrap"] if shutil.which("bwrap", path=probe.PATH) else [])
    baseline = None
    for mode in modes:
        os.environ[probe.CHOOSE_VAR] = mode
        probe._probe.cache_clear()
        found = probe.isolation()
        if found.mode != mode:
            print(f"start  {mode:10s} not available here ({found.note})")
            continue
        times = []
        for _ in range(starts):
            started = time.perf_counter()
            with Sandbox(ROOT / "reference" / "rnn.py", Limits()) as box:
                box.start()
                box.call("construct", input_dim=2, hidden_dim=16, output_dim=1, seed=1)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        baseline = median if mode == "none" else baseline
        extra = f"  (+{median - baseline:.3f} s over none)" if baseline is not None and mode != "none" else ""
        print(f"start  {mode:10s} median {median:.3f} s, best {min(times):.3f} s over {starts}{extra}"
              f"  [{found.describe()}]")
    os.environ.pop(probe.CHOOSE_VAR, None)
    probe._probe.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=20, help="sandbox starts per mode (0: skip)")
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.starts:
        start_costs(args.starts)
    X, Y = data(args.iterations)
    n = args.iterations
    with tempfile.TemporaryDirectory() as tmp:
        null_path = Path(tmp) / "rnn.py"
        null_path.write_text(NULL_MODEL)
        namespace: dict = {}
        exec(compile(NULL_MODEL, "null", "exec"), namespace)
        cases = [(name, path, make, grads) for name, path, make in (
            ("null model", null_path, namespace["RNN"]), ("reference", ROOT / "reference" / "rnn.py", RNN))
            for grads in (False, True)]
        for name, path, make, grads in cases:
            best_box = best_local = best_loop = float("inf")
            for _ in range(args.repeats):
                seconds, box = sandboxed(path, X, Y, args.chunk, grads)
                isolation = box.isolation
                box.close()
                best_box = min(best_box, seconds)
                best_local = min(best_local, in_process(make(seed=1), X, Y))
                best_loop = min(best_loop, worker_loop(path, X, Y, args.chunk, grads))
            us = 1e6 / n
            record = "params+grads" if grads else "params only "
            print(f"{name:10s} {record} bare loop {best_local * us:7.2f} us/iter | worker loop in-process "
                  f"{best_loop * us:7.2f} ({(best_loop - best_local) * us:+5.2f}) | sandbox ({isolation}, "
                  f"chunks of {args.chunk}) {best_box * us:7.2f} ({(best_box - best_local) * us:+5.2f})")


if __name__ == "__main__":
    main()
