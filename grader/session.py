"""The parent's side of a conversation with one submission's sandboxed process.

Checks call plain methods (`forward`, `backward`, `train_run` ...) and get validated
float64 arrays back, or a `Fail` whose message says what the student should fix. The
session restarts the child when it died, within the submission's total time budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.results import CheckResult, RunResult
from grader.sandbox import (
    ProtocolError,
    Reply,
    Sandbox,
    SandboxCrashed,
    SandboxTimeout,
    StudentError,
)
from reference.data import sample_stream
from reference.rnn import PARAMS, forward_batch
from reference.spec import Settings
from reference.train import Curves

TRAIN_CHUNK = 2000  # iterations per round trip to the child
EARLY_WINDOW = 200  # iterations in which a freshly initialised model cannot add yet
CURVE_BLOCK = 100  # iterations per point of the stored learning curves


# How each sandbox operation reads in a message to the student.
OPERATIONS = {
    "import": "importing the module",
    "construct": "RNN.__init__",
    "get_params": "reading the parameters U, W, V, b, c",
    "set_params": "setting the parameters U, W, V, b, c",
    "forward_params": "RNN.forward",
    "train": "training",
    "snapshots": "reading the parameters during training",
}


def flatten(params: dict[str, np.ndarray]) -> np.ndarray:
    """Parameters as one vector in the contract's order U, W, V, b, c."""
    return np.concatenate([params[k].ravel() for k in PARAMS])


def unflatten(vector: np.ndarray, settings: Settings) -> dict[str, np.ndarray]:
    """The inverse of `flatten`, with the shapes of the settings."""
    out, start = {}, 0
    for name, shape in settings.param_shapes().items():
        size = int(np.prod(shape))
        out[name] = vector[start : start + size].reshape(shape)
        start += size
    return out


class Fail(Exception):
    """A check failed; the message is for the student, details for the JSON."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class TimedOut(Fail):
    """A call or the whole submission ran past its time limit."""


@dataclass
class Audits:
    """Training predictions compared with the reference forward on that moment's parameters."""

    checked: int = 0
    mismatches: list[tuple[int, int, float]] = field(default_factory=list)  # (iteration, run, diff)


class Session:
    """One submission's sandbox plus everything the checks learned so far."""

    def __init__(
        self,
        module_path: Path,
        settings: Settings,
        rng: np.random.Generator,
        audit_rng: np.random.Generator,
    ) -> None:
        self.module_path = module_path
        self.settings = settings
        self.rng = rng  # the grader's test inputs: seeded, so the same submission reads the same
        self.audit_rng = audit_rng  # which iterations are audited: secret, fresh every grading
        self.deadline = time.monotonic() + settings.limits.total_seconds
        self.sandbox: Sandbox | None = None
        self.import_reply: Reply | None = None
        self.isolation, self.isolation_note = "", ""
        self.results: dict[str, CheckResult] = {}
        self.details: dict[str, dict[str, object]] = {}  # figures behind passed checks
        self.runs: list[RunResult] = []
        self.final_params: list[dict[str, np.ndarray]] = []
        self.audits = Audits()
        self.loss_recognised: str | None = None
        self.accuracy_exhaustive: float | None = None
        self._construct_args: dict[str, int] | None = None
        self._outputs: list[str] = []

    # ------------------------------------------------------------ process

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def start(self) -> Reply:
        """Start the child and import the module (the `import` check)."""
        left = self.remaining()
        if left <= 0:
            raise TimedOut(f"the time limit of {self.settings.limits.total_seconds:g} s is used up")
        limits = self.settings.limits.model_copy(update={"total_seconds": left})
        self.sandbox = Sandbox(self.module_path, limits)
        self.isolation = self.sandbox.machine.describe()
        self.isolation_note = self.sandbox.isolation_note
        reply = self._guard("import", self.sandbox.start)
        self.import_reply = reply
        self.isolation_note = self.sandbox.isolation_note
        return reply

    def _live(self) -> Sandbox:
        """The running child; a dead one is replaced (fresh import and construct)."""
        if self.sandbox is None:
            self.start()
            if self._construct_args is not None:
                self._call("construct", **self._construct_args)
        assert self.sandbox is not None
        return self.sandbox

    def _drop(self) -> None:
        if self.sandbox is not None:
            self._outputs.append(self.sandbox.output())
            self.sandbox.close()
            self.sandbox = None

    def close(self) -> None:
        self._drop()

    def output(self) -> str:
        text = "\n".join(o for o in self._outputs if o)
        if self.sandbox is not None:
            text = "\n".join(t for t in (text, self.sandbox.output()) if t)
        return text

    def _guard(self, op: str, func, *args, **kwargs) -> Reply:  # noqa: ANN001
        """Run one sandbox operation, turning every way it can go wrong into a Fail."""
        what = OPERATIONS.get(op, f"RNN.{op}")
        try:
            return func(*args, **kwargs)
        except StudentError as exc:
            if exc.kind == "NotImplementedError":
                raise Fail(f"not implemented: {what} raises NotImplementedError ({exc.message})") from None
            detail = f": {exc.message}" if exc.message else ""
            if exc.kind == "MemoryError":
                detail += f" (the limit is {self.settings.limits.memory_mb} MiB of address space)"
            raise Fail(f"{what} raised {exc.kind}{detail}", trace=exc.trace) from None
        except SandboxTimeout as exc:
            self._drop()
            hint = ""
            if op == "import":
                hint = ": does it train at import time? Put training under if __name__ == \"__main__\":"
            raise TimedOut(f"{what} did not finish within {exc.seconds:g} s{hint}") from None
        except SandboxCrashed as exc:
            self._drop()
            raise Fail(f"the submission's process died during {what}: {exc.exit_description}") from None
        except ProtocolError as exc:
            self._drop()
            raise Fail(f"the submission's process sent malformed data during {what}: {exc}") from None

    def _call(self, op: str, arrays: dict[str, np.ndarray] | None = None, timeout: float | None = None, **params: object) -> Reply:
        if self.remaining() <= 0:
            raise TimedOut(f"the time limit of {self.settings.limits.total_seconds:g} s is used up")
        sandbox = self._live()
        return self._guard(op, sandbox.call, op, arrays=arrays, timeout=timeout, **params)

    # ------------------------------------------------------------ the contract's calls

    def construct(self, seed: int) -> dict:
        s = self.settings
        self._construct_args = {
            "input_dim": s.input_dim, "hidden_dim": s.hidden_dim, "output_dim": s.output_dim, "seed": seed,
        }
        return self._call("construct", **self._construct_args).header

    def _array(self, reply: Reply, name: str, shape: tuple[int, ...], what: str) -> np.ndarray:
        bad = reply.header.get("bad_return")
        if bad:
            raise Fail(f"{what} returned {bad}; the contract wants a float64 numpy array of shape {shape}")
        arr = reply.arrays.get(name)
        if arr is None:
            raise Fail(f"{what} returned nothing usable; the contract wants an array of shape {shape}")
        if arr.shape != shape:
            raise Fail(f"{what} returned shape {arr.shape}; the contract wants {shape}")
        if not np.isfinite(arr).all():
            raise Fail(f"{what} returned NaN or inf values")
        return arr

    def forward(self, x: np.ndarray) -> np.ndarray:
        reply = self._call("forward", arrays={"x": x})
        return self._array(reply, "yhat", (len(x), self.settings.output_dim), "forward(x)")

    def backward(self, y: np.ndarray) -> dict[str, np.ndarray]:
        reply = self._call("backward", arrays={"y": y})
        header = reply.header
        if header.get("bad_return"):
            raise Fail(f"backward(y) returned {header['bad_return']}; the contract wants a dict of arrays")
        keys = [str(k) for k in header.get("keys", [])]
        expected = [repr(k) for k in PARAMS]
        missing = [k for k, r in zip(PARAMS, expected) if r not in keys]
        extra = [k for k in keys if k not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if extra:
                parts.append(f"unexpected {', '.join(extra)}")
            raise Fail(f"backward's dict has {'; '.join(parts)}; it must have exactly the keys U, W, V, b, c")
        for name, why in (header.get("bad") or {}).items():
            raise Fail(f"backward's gradient {name} is {why}; it must be a float64 numpy array")
        shapes = self.settings.param_shapes()
        return {k: self._array(reply, k, shapes[k], f"backward's gradient {k}") for k in PARAMS}

    def get_params(self) -> dict[str, np.ndarray]:
        reply = self._call("get_params")
        for name, why in (reply.header.get("bad") or {}).items():
            raise Fail(f"parameter {name} is {why}; it must be a float64 numpy array")
        shapes = self.settings.param_shapes()
        out = {}
        for k in PARAMS:
            arr = reply.arrays.get(k)
            if arr is None or arr.shape != shapes[k]:
                got = None if arr is None else arr.shape
                raise Fail(f"parameter {k} has shape {got}; the contract wants {shapes[k]}")
            out[k] = arr
        return out

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        self._call("set_params", arrays=params)

    def update(self, grads: dict[str, np.ndarray], alpha: float) -> None:
        self._call("update", arrays=grads, alpha=alpha)

    def forward_many(self, probes: np.ndarray, x: np.ndarray) -> np.ndarray:
        """forward(x) under each row of flattened parameters (for finite differences)."""
        budget = min(self.remaining(), self.settings.limits.call_seconds * len(probes))
        reply = self._call("forward_params", arrays={"params": probes, "x": x}, timeout=budget)
        shape = (len(probes), len(x), self.settings.output_dim)
        return self._array(reply, "yhat", shape, "forward(x) under perturbed parameters")

    # ------------------------------------------------------------ training

    def train_run(self, seed: int) -> RunResult:
        """One run of the contract: the grader's stream, predictions audited at random."""
        s = self.settings
        started = time.perf_counter()
        x, y = sample_stream(seed, s.iterations, s)
        audit_at = np.sort(self.audit_rng.choice(s.iterations, size=min(s.audits_per_run, s.iterations), replace=False))
        yhat = np.full(y.shape, np.nan)
        done, error = 0, ""
        params: dict[str, np.ndarray] | None = None
        try:
            self.construct(seed)
            for start in range(0, s.iterations, TRAIN_CHUNK):
                stop = min(start + TRAIN_CHUNK, s.iterations)
                reply = self._call(
                    "train",
                    arrays={"X": x[start:stop], "Y": y[start:stop]},
                    alpha=s.alpha,
                    timeout=min(self.remaining(), s.limits.call_seconds * (stop - start)),
                )
                got = reply.arrays.get("yhat")
                k = int(reply.header.get("done", 0))
                if got is None or got.shape != (k, *y.shape[1:]):
                    raise Fail(f"training returned predictions of shape {None if got is None else got.shape}")
                yhat[start : start + k] = got
                self._audit(x[start : start + k], got, start, audit_at, len(self.runs) + 1)
                done = start + k
                if reply.header.get("error"):
                    err = reply.header["error"]
                    raise Fail(f"at iteration {done} RNN.{err.get('op', 'forward')} raised {err.get('kind')}: {err.get('message')}")
            params = self.get_params()
        except Fail as exc:
            error = exc.message
        curves = Curves.from_predictions(np.nan_to_num(yhat, nan=-1.0), y, self.loss_recognised or s.reference_loss)
        window = s.accuracy_window
        result = RunResult(
            seed=seed,
            iterations_done=done,
            accuracy=float(curves.correct[-window:].mean()),
            accuracy_first=float(curves.correct[:EARLY_WINDOW].mean()),
            seconds=time.perf_counter() - started,
            curve_block=CURVE_BLOCK,
            accuracy_curve=_blocks(curves.correct, CURVE_BLOCK),
            bit_error_curve=_blocks(curves.bit_errors, CURVE_BLOCK),
            loss_curve=_blocks(curves.loss, CURVE_BLOCK),
            error=error,
        )
        self.runs.append(result)
        self.final_params.append(params if params is not None else {})
        return result

    def _audit(self, x: np.ndarray, yhat: np.ndarray, offset: int, audit_at: np.ndarray, run: int) -> None:
        """Compare the audited predictions of one chunk with the reference on their parameters."""
        chosen = audit_at[(audit_at >= offset) & (audit_at < offset + len(x))] - offset
        if not len(chosen):
            return
        reply = self._call("snapshots", arrays={"index": chosen.astype(np.float64)})
        rows = reply.arrays.get("params")
        n = self.settings.n_params
        if rows is None or rows.shape != (len(chosen), n):
            raise Fail("the parameter snapshots taken during training are missing or malformed")
        atol = self.settings.tolerances.forward_atol
        for i, row in zip(chosen, rows):
            want = forward_batch(unflatten(row, self.settings), x[i][None])[0]
            diff = float(np.abs(want - yhat[i]).max()) if np.isfinite(row).all() else np.inf
            self.audits.checked += 1
            if not diff <= atol:
                self.audits.mismatches.append((int(offset + i), run, diff))

    def final_params_of_median_run(self) -> dict[str, np.ndarray]:
        order = np.argsort([r.accuracy for r in self.runs], kind="stable")
        median_run = int(order[len(order) // 2])
        params = self.final_params[median_run]
        if not params:
            raise Fail("the median run did not finish, so there are no trained parameters")
        return params

    def passed(self, name: str) -> bool:
        result = self.results.get(name)
        return result is not None and result.status == "passed"


def _blocks(values: np.ndarray, block: int) -> list[float]:
    """Means over consecutive blocks, rounded for a compact JSON."""
    n = len(values) // block * block
    if n == 0:
        return []
    return [round(float(v), 4) for v in np.asarray(values[:n], dtype=np.float64).reshape(-1, block).mean(axis=1)]
