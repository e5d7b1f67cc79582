"""How fast the reference is: its training loop against the per-step baseline, in one run.

Both models go through the same `reference.train.train` loop on the same data stream and
seed (20000 iterations by default), alternately, `--repeat` times each, in this process
and after every import. Printed: min and median seconds of the loop, microseconds per
iteration, the accuracies, the baseline/reference ratio of the medians, of the minimums and
of each pair of consecutive runs (the machine's load changes less within a pair), then the
batched forward on every operand pair and a vectorised finite-difference gradient check.

    python bench/reference.py [--repeat 3] [--iterations 20000] [--seed S] [--settings FILE]

Seconds are wall time (`TrainResult.seconds`, the loop only); the CPU time of the same
`train` calls (their data drawing included, a few ms) is printed beside them because it
is less sensitive to other processes on the machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# The repository root goes first: this file's own folder (which Python puts on the path
# for a script) must not shadow the `reference` package with this `reference.py`.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if __name__ == "reference":
    # Imported in place of the package, by a script that put bench/ ahead of the root on
    # sys.path: register the real package under the name, so the import gets it.
    _spec = importlib.util.spec_from_file_location(
        "reference", ROOT / "reference" / "__init__.py",
        submodule_search_locations=[str(ROOT / "reference")],
    )
    sys.modules["reference"] = _package = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_package)

import numpy as np  # noqa: E402

from reference.data import all_pairs  # noqa: E402
from reference.rnn import PARAMS, RNN, forward_batch  # noqa: E402
from grader.settings import Settings, load_settings  # noqa: E402
from reference.train import TrainResult, reference_model, train  # noqa: E402


def load_baseline():  # noqa: ANN201
    """bench/naive_rnn.py, the per-step baseline, loaded from its file."""
    spec = importlib.util.spec_from_file_location("naive_rnn", ROOT / "bench" / "naive_rnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed_run(factory: Callable[[], object], settings: Settings, seed: int) -> tuple[TrainResult, float]:
    """One training run: its result (wall time of the loop inside) and its CPU seconds."""
    model = factory()
    cpu = time.process_time()
    result = train(model, settings, seed)
    return result, time.process_time() - cpu


def batch_losses(thetas: np.ndarray, model: RNN, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """bce loss of one sequence for K parameter vectors at once (rows of thetas)."""
    k, parts, at = len(thetas), {}, 0
    for name in PARAMS:
        shape = getattr(model, name).shape
        size = int(np.prod(shape))
        parts[name] = thetas[:, at : at + size].reshape(k, *shape)
        at += size
    h = np.zeros((k, model.hidden_dim))
    hs = np.empty((k, len(x), model.hidden_dim))
    for t in range(len(x)):
        h = np.tanh(parts["b"] + np.einsum("kij,kj->ki", parts["W"], h) + parts["U"] @ x[t])
        hs[:, t] = h
    o = np.einsum("koh,kth->kto", parts["V"], hs) + parts["c"][:, None, :]
    return (np.logaddexp(0.0, o) - y * o).sum(axis=(1, 2))


def gradient_check(model: RNN, x: np.ndarray, y: np.ndarray, eps: float) -> float:
    """Max relative error (per parameter, in norm) of backward against centred differences."""
    theta = np.concatenate([getattr(model, k).ravel() for k in PARAMS])
    n = theta.size
    thetas = np.tile(theta, (2 * n, 1))
    thetas[np.arange(n), np.arange(n)] += eps
    thetas[n + np.arange(n), np.arange(n)] -= eps
    losses = batch_losses(thetas, model, x, y)
    numeric = (losses[:n] - losses[n:]) / (2 * eps)
    model.forward(x)
    grads = model.backward(y)
    worst, at = 0.0, 0
    for name in PARAMS:
        g = grads[name].ravel()
        d = numeric[at : at + g.size]
        at += g.size
        worst = max(worst, float(np.linalg.norm(g - d) / max(np.linalg.norm(g), np.linalg.norm(d), 1e-300)))
    return worst


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each model (default 3)")
    parser.add_argument("--iterations", type=int, help="training iterations (default: settings)")
    parser.add_argument("--seed", type=int, help="seed of model and data (default: first run seed)")
    parser.add_argument("--settings", metavar="FILE", help="assignment settings (TOML)")
    args = parser.parse_args()
    settings = load_settings(args.settings)
    if args.iterations is not None:
        window = min(settings.accuracy_window, args.iterations)
        settings = settings.with_overrides(iterations=args.iterations, accuracy_window=window)
    seed = settings.run_seeds[0] if args.seed is None else args.seed
    n = settings.iterations
    dims = (settings.input_dim, settings.hidden_dim, settings.output_dim)

    naive_rnn = load_baseline()
    models = {
        "reference": lambda: reference_model(settings, seed),
        "baseline": lambda: naive_rnn.RNN(*dims, seed=seed),
    }
    print(
        f"Python {platform.python_version()}, NumPy {np.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"training loop: {n} iterations, seed {seed}, loss {settings.reference_loss}, "
        f"alpha {settings.alpha}, {args.repeat} runs each, alternating"
    )
    warm = settings.with_overrides(iterations=min(n, 200), accuracy_window=min(n, 200))
    for factory in models.values():  # first calls (workspaces, caches) outside the timing
        train(factory(), warm, seed)

    wall: dict[str, list[float]] = {k: [] for k in models}
    cpu: dict[str, list[float]] = {k: [] for k in models}
    accuracy: dict[str, list[float]] = {k: [] for k in models}
    for i in range(args.repeat):
        for name, factory in models.items():
            result, cpu_seconds = timed_run(factory, settings, seed)
            wall[name].append(result.seconds)
            cpu[name].append(cpu_seconds)
            accuracy[name].append(result.accuracy)
            print(
                f"  run {i + 1} {name:9s}  {result.seconds:7.3f} s wall  {cpu_seconds:7.3f} s cpu  "
                f"{result.seconds / n * 1e6:7.1f} us/iteration  accuracy {result.accuracy:.3f}"
            )

    print()
    print(f"{'':10s} {'min s':>8s} {'median s':>9s} {'us/iter':>8s} {'cpu med s':>10s}  accuracy")
    for name in models:
        med = statistics.median(wall[name])
        accs = " ".join(f"{a:.3f}" for a in accuracy[name])
        print(
            f"{name:10s} {min(wall[name]):8.3f} {med:9.3f} {med / n * 1e6:8.1f} "
            f"{statistics.median(cpu[name]):10.3f}  {accs}"
        )
    ratio = statistics.median(wall["baseline"]) / statistics.median(wall["reference"])
    paired = [b / r for b, r in zip(wall["baseline"], wall["reference"])]
    cpu_ratio = statistics.median(cpu["baseline"]) / statistics.median(cpu["reference"])
    best = min(wall["baseline"]) / min(wall["reference"])
    print(f"baseline / reference, medians:   {ratio:.2f}x  (cpu time {cpu_ratio:.2f}x)")
    print(f"baseline / reference, minimums:  {best:.2f}x  (the least disturbed run of each)")
    print(
        f"baseline / reference, paired:    median {statistics.median(paired):.2f}x, "
        f"min {min(paired):.2f}x  ({' '.join(f'{p:.2f}' for p in paired)})"
    )

    print()
    ab, x, y = all_pairs(settings)
    model = reference_model(settings, seed)
    params = model.params()
    seconds = best_of(lambda: forward_batch(params, x), 5)
    print(f"batched forward, all {len(x)} operand pairs: {seconds * 1e3:.1f} ms (best of 5)")
    rng = np.random.default_rng(seed)
    check = RNN(*dims, seed=seed)
    for name in PARAMS:
        setattr(check, name, rng.normal(0.0, 0.5, getattr(check, name).shape))
    i = int(rng.integers(len(x)))
    eps = settings.tolerances.numeric_eps
    error = gradient_check(check, x[i], y[i], eps)
    seconds = best_of(lambda: gradient_check(check, x[i], y[i], eps), 5)
    print(
        f"vectorised centred-difference gradient check, {settings.n_params} parameters "
        f"(eps {eps:g}): {seconds * 1e3:.1f} ms (best of 5), max relative error {error:.1e}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
