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

from grader.checks.diagnose import bptt
from grader.checks.replies import malformed
from grader.checks.trajectory import unexplained_steps
from grader.results import CheckResult, RunResult
from grader.sandbox import (
    Pending,
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
FIRST_CHUNK = 100  # a run's first round trip: short, so a model's speed is known early
HOPELESS = 2.0  # a run predicted to need this many times its limit is stopped at once
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
    "gradients": "RNN.backward at parameters recorded during training",
}


def flatten(params: dict[str, np.ndarray]) -> np.ndarray:
    """Parameters as one vector in the contract's order U, W, V, b, c."""
    return np.concatenate([params[k].ravel() for k in PARAMS])


def segments(settings: Settings) -> list[tuple[str, slice]]:
    """Each parameter's columns in a flattened vector, in the contract's order U, W, V, b, c."""
    out, start = [], 0
    for name, shape in settings.param_shapes().items():
        size = int(np.prod(shape))
        out.append((name, slice(start, start + size)))
        start += size
    return out


def unflatten(vector: np.ndarray, settings: Settings) -> dict[str, np.ndarray]:
    """The inverse of `flatten`, with the shapes of the settings."""
    shapes = settings.param_shapes()
    return {name: vector[cols].reshape(shapes[name]) for name, cols in segments(settings)}


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
    """Training, audited: every step against what `update` may do with the gradient backward
    returned (grader/checks/trajectory.py); at secret iterations, the prediction against the
    reference forward on that moment's parameters and the gradient against backward's in a
    fresh sandbox."""

    checked: int = 0
    mismatches: list[tuple[int, int, float]] = field(default_factory=list)  # (iteration, run, diff)
    steps: int = 0
    jumps: list[tuple[int, int, str]] = field(default_factory=list)  # (iteration, run, what)
    forged: list[tuple[int, int, float]] = field(default_factory=list)  # (iteration, run, by how much)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (run, why no audit was possible)


def _describe_error(error: object) -> str:
    """A training error from the child as text, whatever shape the child gave it."""
    if not isinstance(error, dict):
        return "training failed"
    op, kind, message = (str(error.get(k, ""))[:300] for k in ("op", "kind", "message"))
    return f"RNN.{op or 'forward'} raised {kind or 'an exception'}" + (f": {message}" if message else "")


class Malformed(Fail):
    """The child's reply did not have the shape of its op's reply (replies.py)."""


class AuditFailed(Fail):
    """The audit of a training chunk could not be done: its predictions do not count."""


def train_chunks(iterations: int) -> list[tuple[int, int]]:
    """(start, stop) of each round trip of a run: a short first one, then TRAIN_CHUNK each."""
    starts = [0, *range(min(FIRST_CHUNK, iterations), iterations, TRAIN_CHUNK)]
    return list(zip(starts, [*starts[1:], iterations]))


def audit_positions(rng: np.random.Generator, settings: Settings) -> np.ndarray:
    """Which iterations of a run are audited (secret): `audits_per_run` drawn uniformly, plus
    one in every chunk and a fifth of them in the accuracy window, so that no part of
    training that counts can go unaudited by luck."""
    n, k = settings.iterations, settings.audits_per_run
    picks = [rng.choice(n, size=min(k, n), replace=False)]
    picks += [rng.integers(start, min(start + TRAIN_CHUNK, n), size=1) for start in range(0, n, TRAIN_CHUNK)]
    window = settings.accuracy_window
    picks.append(n - window + rng.choice(window, size=min(max(k // 5, 1), window), replace=False))
    return np.unique(np.concatenate(picks))


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
        self._auditor: Sandbox | None = None  # a second sandbox: backward where training cannot interfere
        self.call_seconds: dict[str, list[float]] = {"forward": [], "backward": [], "update": []}  # suspicions.py

    # ------------------------------------------------------------ process

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def start(self) -> Reply:
        """Start the child and import the module (the `import` check)."""
        left = self.remaining()
        if left <= 0:
            raise TimedOut(f"the time limit of {self.settings.limits.total_seconds:g} s is used up")
        limits = self.settings.limits.model_copy(update={"total_seconds": left})
        record = (2 * TRAIN_CHUNK + 1) * self.settings.n_params * 8  # a chunk's parameters and gradients
        self.sandbox = Sandbox(self.module_path, limits, record_bytes=record)
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
        self._drop_auditor()

    def output(self) -> str:
        text = "\n".join(o for o in self._outputs if o)
        if self.sandbox is not None:
            text = "\n".join(t for t in (text, self.sandbox.output()) if t)
        return text

    def _guard(self, op: str, func, *args, drop=None, **kwargs) -> Reply:  # noqa: ANN001
        """Run one sandbox operation, turning every way it can go wrong into a Fail; `drop`
        forgets a sandbox that died (by default the training one)."""
        what = OPERATIONS.get(op, f"RNN.{op}")
        drop = drop or self._drop
        try:
            reply = func(*args, **kwargs)
        except StudentError as exc:
            if exc.kind == "NotImplementedError":
                raise Fail(f"not implemented: {what} raises NotImplementedError ({exc.message})") from None
            detail = f": {exc.message}" if exc.message else ""
            if exc.kind == "MemoryError":
                detail += f" (the limit is {self.settings.limits.memory_mb} MiB of address space)"
            raise Fail(f"{what} raised {exc.kind}{detail}", trace=exc.trace) from None
        except SandboxTimeout as exc:
            drop()
            raise TimedOut(f"{what} did not finish within {exc.seconds:g} s", op=op) from None
        except SandboxCrashed as exc:
            drop()
            raise Fail(f"the submission's process died during {what}: {exc.exit_description}") from None
        except ProtocolError as exc:
            drop()
            raise Malformed(f"the submission's process sent malformed data during {what}: {exc}") from None
        why = malformed(op, reply.header) if isinstance(reply, Reply) else None
        if why:
            drop()
            raise Malformed(f"the submission's process sent a malformed reply during {what} ({why})")
        return reply

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
        started = time.perf_counter()
        reply = self._call("forward", arrays={"x": x})
        self.call_seconds["forward"].append(time.perf_counter() - started)
        return self._array(reply, "yhat", (len(x), self.settings.output_dim), "forward(x)")

    def backward(self, y: np.ndarray) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        reply = self._call("backward", arrays={"y": y})
        self.call_seconds["backward"].append(time.perf_counter() - started)
        header = reply.header
        if header.get("bad_return"):
            raise Fail(f"backward(y) returned {header['bad_return']}; the contract wants a dict of arrays")
        keys = [str(k) for k in header.get("keys", [])]
        expected = [repr(k) for k in PARAMS]
        missing = [k for k, r in zip(PARAMS, expected) if r not in keys]
        extra = [k for k in keys if k not in expected]
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"unexpected {', '.join(extra)}"] if extra else []
        if problems:
            raise Fail(f"backward's dict has {'; '.join(problems)}; it must have exactly the keys U, W, V, b, c")
        bad = header.get("bad") or {}
        shapes = self.settings.param_shapes()
        for k in PARAMS:  # every gradient's problem at once, not one per run
            arr = reply.arrays.get(k)
            if k in bad:
                problems.append(f"{k} is {bad[k]} (must be a float64 numpy array)")
            elif arr is None:
                problems.append(f"{k} is missing from the reply")
            elif arr.shape != shapes[k]:
                problems.append(f"{k} has shape {arr.shape} (its parameter's is {shapes[k]})")
            elif not np.isfinite(arr).all():
                problems.append(f"{k} has NaN or inf values")
        if problems:
            raise Fail(f"backward's gradients: {'; '.join(problems)}", problems=problems)
        return {k: reply.arrays[k] for k in PARAMS}

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
        started = time.perf_counter()
        self._call("update", arrays=grads, alpha=alpha)
        self.call_seconds["update"].append(time.perf_counter() - started)

    def forward_many(self, probes: np.ndarray, x: np.ndarray) -> np.ndarray:
        """forward(x) under each row of flattened parameters (for finite differences)."""
        budget = min(self.remaining(), self.settings.limits.call_seconds * len(probes))
        reply = self._call("forward_params", arrays={"params": probes, "x": x}, timeout=budget)
        shape = (len(probes), len(x), self.settings.output_dim)
        return self._array(reply, "yhat", shape, "forward(x) under perturbed parameters")

    # ------------------------------------------------------------ training

    def train_run(self, seed: int) -> RunResult:
        """One run of the contract: the grader's stream, predictions audited at random, within
        the run's own time limit (Settings.run_seconds)."""
        s = self.settings
        started = time.perf_counter()
        x, y = sample_stream(seed, s.iterations, s)
        audit_at = audit_positions(self.audit_rng, s)
        yhat = np.full(y.shape, np.nan)
        done, error, loop_seconds = 0, "", 0.0
        params: dict[str, np.ndarray] | None = None
        run = len(self.runs) + 1
        diverged: str | None = None  # where NaN or inf first showed in the record
        try:
            self.construct(seed)
            deadline = time.monotonic() + s.run_seconds  # this run's own limit
            chunks = train_chunks(s.iterations)
            pending = self._send_chunk(x, y, chunks[0], deadline)
            for j, (start, stop) in enumerate(chunks):
                try:
                    reply = self._guard("train", self._live().receive, pending)
                except Malformed as exc:
                    raise AuditFailed(exc.message) from None
                pending = None
                sent = stop - start
                got, k = reply.arrays.get("yhat"), reply.header["done"]  # an int: replies.TrainReply
                if k > sent or got is None or got.shape != (k, *y.shape[1:]):
                    raise AuditFailed("training sent back a malformed reply (more iterations than it was sent, "
                                      "or predictions of the wrong shape)")
                loop_seconds += float(reply.header.get("seconds", 0.0))
                error_reply = reply.header.get("error")
                record = self._record_of(reply, sent, k)  # before the next chunk is sent
                diverged = diverged or self._first_non_finite(record, start)
                hopeless = k > 0 and loop_seconds / (start + k) * s.iterations > HOPELESS * s.run_seconds
                if j + 1 < len(chunks) and not error_reply and not hopeless:  # trains on during the audit
                    pending = self._send_chunk(x, y, chunks[j + 1], deadline)
                self._audit(x[start : start + k], y[start : start + k], got, record, bool(error_reply), start,
                            audit_at, run)
                yhat[start : start + k] = got  # counted only once audited
                done = start + k
                if error_reply:
                    raise Fail(_describe_error(error_reply) + _diverged_hint(diverged))
                if hopeless and done < s.iterations:
                    raise TimedOut("it cannot finish in time", op="train", hopeless=True)
            params = self.get_params()
        except AuditFailed as exc:
            error = exc.message
            self.audits.failures.append((run, f"at iteration {done}: {exc.message}"))
            self._drop()  # a chunk may still be in flight: start afresh rather than read it
        except TimedOut as exc:
            error = (self._too_slow(done, loop_seconds, bool(exc.details.get("hopeless")))
                     if exc.details.get("op") == "train" else exc.message)
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
            ms_per_iteration=round(1000 * loop_seconds / done, 4) if done else None,
            curve_block=CURVE_BLOCK,
            accuracy_curve=_blocks(curves.correct, CURVE_BLOCK),
            bit_error_curve=_blocks(curves.bit_errors, CURVE_BLOCK),
            loss_curve=_blocks(curves.loss, CURVE_BLOCK),
            error=error,
        )
        self.runs.append(result)
        self.final_params.append(params if params is not None else {})
        return result

    def _send_chunk(self, x: np.ndarray, y: np.ndarray, chunk: tuple[int, int], deadline: float) -> Pending:
        s = self.settings
        start, stop = chunk
        left = min(self.remaining(), deadline - time.monotonic())
        if left <= 0:
            raise TimedOut("the time limit is used up", op="train")
        return self._guard("train", self._live().send, "train", arrays={"X": x[start:stop], "Y": y[start:stop]},
                           alpha=s.alpha, timeout=min(left, s.limits.call_seconds * (stop - start)))

    def _too_slow(self, done: int, loop_seconds: float, hopeless: bool) -> str:
        """Why a run stopped at a time limit, with the figures a student can act on."""
        s = self.settings
        per = 1000 * loop_seconds / done if done else None
        run_limit = (f"a run may take {s.run_seconds:g} s ({s.limits.iteration_ms:g} ms per iteration, "
                     "limits.iteration_ms)")
        if hopeless and per is not None:
            what = (f"at {per:.1f} ms per iteration its {s.iterations} iterations would take "
                    f"{per * s.iterations / 1000:.0f} s, and {run_limit}")
        elif self.remaining() <= 0:
            what = f"the submission's time limit of {s.limits.total_seconds:g} s (limits.total_seconds) was used up"
        else:
            what = f"it reached its time limit: {run_limit}"
            what += f"; it trained at {per:.1f} ms per iteration" if per is not None else ""
        calls = {op: float(np.median(t)) * 1000 for op, t in self.call_seconds.items() if t}
        measured = ", ".join(f"{op} {ms:.1f} ms" for op, ms in calls.items())
        return (f"{what}. Make forward, backward and update faster"
                + (f" (a call took about: {measured})" if measured else "")
                + ": NumPy products of whole vectors and matrices, no Python loops over their elements")

    def _first_non_finite(self, record: tuple[np.ndarray | None, np.ndarray | None], offset: int) -> str | None:
        """Where a chunk's record first holds NaN or inf: backward's gradient, or the
        parameters, with the iteration and the entry."""
        found = []
        for what, rows in (("backward's gradient", record[1]), ("the parameters", record[0])):
            if rows is None or not len(rows):
                continue
            bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
            if len(bad):
                row = rows[bad[0]]
                col = int(np.flatnonzero(~np.isfinite(row))[0])
                found.append((int(bad[0]), f"{what} at iteration {offset + int(bad[0])} ({self._entry(col)} = {row[col]})"))
        return min(found)[1] if found else None

    def _entry(self, col: int) -> str:
        """The parameter entry of a column of a flattened vector, as `W[3, 4]`."""
        for name, cols in segments(self.settings):
            if cols.start <= col < cols.stop:
                index = np.unravel_index(col - cols.start, self.settings.param_shapes()[name])
                return f"{name}[{', '.join(map(str, index))}]"
        return f"entry {col}"

    def _record_of(self, reply: Reply, sent: int, k: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """A chunk's record (parameters before each backward, plus the end; the gradients),
        copied out of the frame or of the shared memory the worker wrote it to."""
        n = self.settings.n_params
        rows = reply.header.get("record")
        if rows is None:
            return reply.arrays.get("params"), reply.arrays.get("grads")
        box = self._live()
        params = box.shared_floats(0, rows["params"] * n)
        grads = box.shared_floats((sent + 1) * n, rows["grads"] * n)
        if params is None or grads is None or rows["grads"] != k:
            return None, None
        return params.reshape(rows["params"], n), grads.reshape(k, n)

    def _audit(self, x: np.ndarray, y: np.ndarray, yhat: np.ndarray,
               record: tuple[np.ndarray | None, np.ndarray | None], ended_early: bool, offset: int,
               audit_at: np.ndarray, run: int) -> None:
        """Audit one chunk. Every step: the parameters moved as update(g, alpha) allows for the
        gradient g that backward returned (grader/checks/trajectory.py). At the secret iterations:
        the prediction is the reference forward of that moment's parameters, and g is what
        backward gives at those parameters (the reference's where gradient_reference passed,
        else a fresh sandbox's that never trained)."""
        k = len(x)
        if k == 0:
            return
        params, grads = record
        n = self.settings.n_params
        complete = params is not None and params.shape == (k + 1, n)
        if not (grads is not None and grads.shape == (k, n) and (
                complete or (ended_early and params is not None and params.shape == (k, n)))):
            raise AuditFailed("the parameters and gradients recorded during training are missing or malformed")
        steps = len(params) - 1
        for row, why in unexplained_steps(params[:steps], params[1:], grads[:steps], segments(self.settings),
                                          self.settings.alpha):
            self.audits.jumps.append((offset + row, run, why))
        self.audits.steps += steps
        chosen = audit_at[(audit_at >= offset) & (audit_at < offset + k)] - offset
        if not len(chosen):
            return
        atol = self.settings.tolerances.forward_atol
        for i in chosen:
            with np.errstate(all="ignore"):  # diverged parameters compute NaN, and so must forward
                want = forward_batch(unflatten(params[i], self.settings), x[i][None])[0]
                gap = np.where(np.isnan(want) & np.isnan(yhat[i]), 0.0, np.abs(want - yhat[i]))
            diff = float(np.nan_to_num(gap, nan=np.inf).max())
            self.audits.checked += 1
            if not diff <= atol:
                self.audits.mismatches.append((int(offset + i), run, diff))
        if self.loss_recognised and self.passed("gradient_reference"):  # backward is the reference's
            clean = np.stack([flatten(bptt(unflatten(params[i], self.settings), x[i], y[i], self.loss_recognised))
                              for i in chosen])
            rtol = self.settings.tolerances.gradient_rtol
        else:  # backward itself, where training cannot interfere
            clean, rtol = self._audited_gradients(params[chosen], x[chosen], y[chosen]), 1e-9
        with np.errstate(all="ignore"):
            off = np.abs(clean - grads[chosen]) - rtol * (1.0 + np.abs(clean).max(axis=1, keepdims=True))
        for i, row_off in zip(chosen, off):
            if (row_off > 0).any():
                self.audits.forged.append((int(offset + i), run, float(np.nanmax(row_off))))

    def _audited_gradients(self, rows: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """backward's gradients at recorded parameters, from the auditor: a sandbox of its own."""
        try:
            if self._auditor is None:
                limits = self.settings.limits.model_copy(update={"total_seconds": max(self.remaining(), 1.0)})
                self._auditor = Sandbox(self.module_path, limits)
                self._guard("import", self._auditor.start, drop=self._drop_auditor)
                self._guard("construct", self._auditor.call, "construct", drop=self._drop_auditor,
                            **{**(self._construct_args or {}), "seed": 0})
            reply = self._guard("gradients", self._auditor.call, "gradients", drop=self._drop_auditor,
                                arrays={"params": rows, "X": x, "Y": y},
                                timeout=min(self.remaining(), self.settings.limits.call_seconds * len(rows)))
        except Fail as exc:
            self._drop_auditor()
            raise AuditFailed(f"backward could not be run at the recorded parameters ({exc.message})") from None
        grads = reply.arrays.get("grads")
        why = reply.header.get("bad_return") or "; ".join(f"{k} is {v}" for k, v in reply.header.get("bad", {}).items())
        if why or grads is None or grads.shape != rows.shape:
            raise AuditFailed(f"backward at the recorded parameters returned {why or 'nothing usable'}")
        return grads

    def _drop_auditor(self) -> None:
        if self._auditor is not None:
            self._outputs.append(self._auditor.output())
            self._auditor.close()
            self._auditor = None

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


def _diverged_hint(diverged: str | None) -> str:
    if diverged is None:
        return ""
    return (f"; the first NaN or inf was in {diverged}: training diverged. Look for a division by zero or "
            "an overflow in backward, and clip each gradient's norm in update")


def _blocks(values: np.ndarray, block: int) -> list[float]:
    """Means over consecutive blocks, rounded for a compact JSON."""
    n = len(values) // block * block
    if n == 0:
        return []
    return [round(float(v), 4) for v in np.asarray(values[:n], dtype=np.float64).reshape(-1, block).mean(axis=1)]
