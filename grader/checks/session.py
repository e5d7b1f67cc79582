"""The parent's side of a conversation with one submission's sandboxed process: the
sandbox's client, and nothing else.

Checks call plain methods (`forward`, `backward`, `update` ...) and get validated float64
arrays back, or a `Fail` whose message says what the student should fix. The session
restarts the child when it died, within the submission's total time budget. Training's
round trips (`send_train`, `receive_train`, `record_of`) and the auditor's `backward_at`
are offered to checks/training.py, which judges them.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from grader.checks.outcome import Fail, Malformed, TimedOut
from grader.checks.replies import malformed
from grader.sandbox import (
    Pending,
    ProtocolError,
    Reply,
    Sandbox,
    SandboxCrashed,
    SandboxTimeout,
    StudentError,
)
from grader.messages import Message
from reference.loss import PARAMS
from grader.settings import Settings

TRAIN_CHUNK = 2000  # iterations per round trip to the child (a run's first is shorter)


# How each sandbox operation reads in a message to the student.
OPERATIONS: dict[str, str] = {
    "import": Message("importing the module"),
    "construct": "RNN.__init__",
    "get_params": Message("reading the parameters U, W, V, b, c"),
    "set_params": Message("setting the parameters U, W, V, b, c"),
    "forward_params": "RNN.forward",
    "train": Message("training"),
    "gradients": Message("RNN.backward at parameters recorded during training"),
}


class Session:
    """One submission's sandbox (restarted when it dies) and its auditor."""

    def __init__(self, module_path: Path, settings: Settings, deadline: float | None = None) -> None:
        self.module_path = module_path
        self.settings = settings
        self.deadline = time.monotonic() + settings.limits.total_seconds if deadline is None else deadline
        self.sandbox: Sandbox | None = None
        self.import_reply: Reply | None = None
        self.isolation, self.isolation_note = "", ""
        self._construct_args: dict[str, int] | None = None
        self._outputs: list[str] = []
        self._auditor: Sandbox | None = None  # a second sandbox: backward where training cannot interfere
        self.call_seconds: dict[str, list[float]] = {"forward": [], "backward": [], "update": []}  # suspicions.py

    # ------------------------------------------------------------ process

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def used_up(self) -> Message:
        return Message("the time limit of {seconds:g} s is used up", seconds=self.settings.limits.total_seconds)

    def launch(self) -> None:
        """Start the child now, without waiting: it imports Python and NumPy (most of a
        sandbox's start) while the grader reads the sources. `start` finishes the start."""
        try:
            self._new_sandbox().launch()
        except Exception:  # noqa: BLE001 - start() starts afresh, and reports what fails where it always has
            self._drop()

    def _new_sandbox(self) -> Sandbox:
        left = self.remaining()
        if left <= 0:
            raise TimedOut(self.used_up())
        limits = self.settings.limits.model_copy(update={"total_seconds": left})
        # Two regions, each a chunk's parameters and gradients: the child writes the next
        # chunk's record into one while the grader copies the last one out of the other.
        record = 2 * self._region_floats() * 8
        self.sandbox = Sandbox(self.module_path, limits, record_bytes=record)
        self.isolation = self.sandbox.machine.describe()
        self.isolation_note = self.sandbox.isolation_note
        return self.sandbox

    def start(self) -> Reply:
        """Start the child (unless `launch` did) and import the module (the `import` check)."""
        sandbox = self.sandbox or self._new_sandbox()
        reply = self._guard("import", sandbox.start)
        self.import_reply = reply
        self.isolation_note = sandbox.isolation_note
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

    def absorb(self, other: Session) -> None:
        """Close another sandbox of this submission (one that trained a run) and keep its output."""
        other.close()
        self._outputs.append(other.output())

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
                raise Fail(Message("not implemented: {what} raises NotImplementedError ({error})", what=what,
                                   error=exc.message)) from None
            detail = f": {exc.message}" if exc.message else ""
            if exc.kind == "MemoryError":
                detail = Message("{error} (the limit is {mb} MiB of address space)", error=detail,
                                 mb=self.settings.limits.memory_mb)
            raise Fail(Message("{what} raised {kind}{error}", what=what, kind=exc.kind, error=detail),
                       trace=exc.trace) from None
        except SandboxTimeout as exc:
            drop()
            raise TimedOut(Message("{what} did not finish within {seconds:g} s", what=what, seconds=exc.seconds),
                           op=op) from None
        except SandboxCrashed as exc:
            drop()
            raise Fail(Message("the submission's process died during {what}: {error}", what=what,
                               error=exc.exit_description)) from None
        except ProtocolError as exc:
            drop()
            raise Malformed(Message("the submission's process sent malformed data during {what}: {error}", what=what,
                                    error=str(exc))) from None
        why = malformed(op, reply.header) if isinstance(reply, Reply) else None
        if why:
            drop()
            raise Malformed(Message("the submission's process sent a malformed reply during {what} ({error})",
                                    what=what, error=why))
        return reply

    def _call(self, op: str, arrays: dict[str, np.ndarray] | None = None, timeout: float | None = None, **params: object) -> Reply:
        if self.remaining() <= 0:
            raise TimedOut(self.used_up())
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
            raise Fail(Message("{what} returned {bad}; the contract wants a float64 numpy array of shape {shape}",
                               what=what, bad=bad, shape=shape))
        arr = reply.arrays.get(name)
        if arr is None:
            raise Fail(Message("{what} returned nothing usable; the contract wants an array of shape {shape}",
                               what=what, shape=shape))
        if arr.shape != shape:
            raise Fail(Message("{what} returned shape {got}; the contract wants {shape}", what=what, got=arr.shape,
                               shape=shape))
        if not np.isfinite(arr).all():
            raise Fail(Message("{what} returned NaN or inf values", what=what))
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
            raise Fail(Message("backward(y) returned {bad}; the contract wants a dict of arrays",
                               bad=header["bad_return"]))
        keys = [str(k) for k in header.get("keys", [])]
        expected = [repr(k) for k in PARAMS]
        missing = [k for k, r in zip(PARAMS, expected) if r not in keys]
        extra = [k for k in keys if k not in expected]
        problems: list[str] = [Message("missing {keys}", keys=", ".join(missing))] if missing else []
        problems += [Message("unexpected {keys}", keys=", ".join(extra))] if extra else []
        if problems:
            raise Fail(Message("backward's dict has {problems}; it must have exactly the keys U, W, V, b, c",
                               problems=Message.join("; ", problems)))
        bad = header.get("bad") or {}
        shapes = self.settings.param_shapes()
        for k in PARAMS:  # every gradient's problem at once, not one per run
            arr = reply.arrays.get(k)
            if k in bad:
                problems.append(Message("{name} is {bad} (must be a float64 numpy array)", name=k, bad=bad[k]))
            elif arr is None:
                problems.append(Message("{name} is missing from the reply", name=k))
            elif arr.shape != shapes[k]:
                problems.append(Message("{name} has shape {got} (its parameter's is {shape})", name=k, got=arr.shape,
                                        shape=shapes[k]))
            elif not np.isfinite(arr).all():
                problems.append(Message("{name} has NaN or inf values", name=k))
        if problems:
            raise Fail(Message("backward's gradients: {problems}", problems=Message.join("; ", problems)),
                       problems=[str(p) for p in problems])
        return {k: reply.arrays[k] for k in PARAMS}

    def get_params(self) -> dict[str, np.ndarray]:
        reply = self._call("get_params")
        for name, why in (reply.header.get("bad") or {}).items():
            raise Fail(Message("parameter {name} is {bad}; it must be a float64 numpy array", name=name, bad=why))
        shapes = self.settings.param_shapes()
        out = {}
        for k in PARAMS:
            arr = reply.arrays.get(k)
            if arr is None or arr.shape != shapes[k]:
                got = None if arr is None else arr.shape
                raise Fail(Message("parameter {name} has shape {got}; the contract wants {shape}", name=k, got=got,
                                   shape=shapes[k]))
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
        return self._array(reply, "yhat", shape, Message("forward(x) under perturbed parameters"))

    def modules(self) -> list[str]:
        """Every module the child had imported: after the import, and now if it still runs."""
        runtime: list[str] = []
        try:
            if self.sandbox is not None:
                header = self.sandbox.call("modules").header
                runtime = list(header["modules"]) if malformed("modules", header) is None else []
        except Exception:  # the child may be gone; the import's list still stands
            pass
        if self.import_reply is not None:
            runtime += list(self.import_reply.header.get("modules", []))
        return runtime

    # ------------------------------------------------------------ training's round trips

    def _region_floats(self) -> int:
        return (2 * TRAIN_CHUNK + 1) * self.settings.n_params

    def send_train(self, x: np.ndarray, y: np.ndarray, alpha: float, timeout: float, region: int,
                   grads: bool) -> Pending:
        """Send one chunk of training (the child starts on it at once); its record (the
        parameters at every step, and backward's gradients if `grads`) goes to shared region
        0 or 1 (alternate them: record_of reads one while the other fills)."""
        return self._guard("train", self._live().send, "train", arrays={"X": x, "Y": y}, alpha=alpha,
                           timeout=timeout, record_at=region * self._region_floats(), record_grads=grads)

    def receive_train(self, pending: Pending) -> Reply:
        return self._guard("train", self._live().receive, pending)

    def restart(self) -> None:
        """Forget the child (a chunk may be in flight); the next call starts a fresh one."""
        self._drop()

    def record_of(self, reply: Reply, sent: int, k: int, region: int,
                  grads: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
        """A chunk's record (parameters before each backward, plus the end; the gradients if
        `grads` were asked for, else None), copied out of the frame or of the shared region
        the worker wrote it to."""
        n = self.settings.n_params
        rows = reply.header.get("record")
        if rows is None:
            return reply.arrays.get("params"), reply.arrays.get("grads") if grads else None
        box, at = self._live(), region * self._region_floats()
        params = box.shared_floats(at, rows["params"] * n)
        if params is None:
            return None, None
        params = params.reshape(rows["params"], n)
        if not grads:
            return params, None
        got = box.shared_floats(at + (sent + 1) * n, rows["grads"] * n)
        if got is None or rows["grads"] != k:
            return None, None
        return params, got.reshape(k, n)

    def backward_at(self, rows: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """backward's gradients at recorded parameters, from the auditor: a sandbox of its own
        that never trained, so training cannot interfere."""
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
            raise Fail(Message("backward could not be run at the recorded parameters ({error})",
                               error=exc.message)) from None
        grads = reply.arrays.get("grads")
        why = reply.header.get("bad_return") or "; ".join(f"{k} is {v}" for k, v in reply.header.get("bad", {}).items())
        if why or grads is None or grads.shape != rows.shape:
            raise Fail(Message("backward at the recorded parameters returned {bad}", bad=why) if why else
                       Message("backward at the recorded parameters returned nothing usable"))
        return grads

    def _drop_auditor(self) -> None:
        if self._auditor is not None:
            self._outputs.append(self._auditor.output())
            self._auditor.close()
            self._auditor = None

