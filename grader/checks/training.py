"""Training, driven and audited by the grader: the `train` check's runs.

A run is the contract's loop on the grader's stream, in round trips of the sandbox
(checks/session.py): a short first chunk, so a model's speed is known early, then
TRAIN_CHUNK iterations each. Every chunk is audited before its predictions count, every
step against what `update` may do with the gradient (trajectory.py). Where backward is
the reference's BPTT (gradient_reference passed), the grader computes that gradient and
the prediction itself at every step (stepwise.py), so not one step can be forged. Else
the gradient is the one backward returned, and at secret iterations the prediction is
checked against the reference forward and the gradient against backward's where
training cannot interfere. Each run has its own time limit (Settings.run_seconds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields

import numpy as np

from grader.checks.oracle import ReferenceModel
from grader.checks.outcome import Fail, Malformed, TimedOut, iteration
from grader.checks.params import segments
from grader.checks.session import TRAIN_CHUNK, Session
from grader.checks.trajectory import REL, unexplained_steps
from grader.messages import Message
from grader.results import RunResult
from grader.sandbox import Pending
from reference.data import sample_stream
from grader.settings import Loss, Settings
from reference.curves import Curves

FIRST_CHUNK = 100  # a run's first round trip: short, so a model's speed is known early
HOPELESS = 2.0  # a run predicted to need this many times its limit is stopped at once
EARLY_WINDOW = 200  # iterations in which a freshly initialised model cannot add yet
CURVE_BLOCK = 100  # iterations per point of the stored learning curves


@dataclass
class Audits:
    """Training, audited: every step against what `update` may do with the gradient
    (grader/checks/trajectory.py): the reference's at every step, with every prediction
    (`every_step`), or backward's, with the prediction and gradient at secret iterations."""

    every_step: bool = False
    checked: int = 0
    mismatches: list[tuple[int, int, float]] = field(default_factory=list)  # (iteration, run, diff)
    steps: int = 0
    jumps: list[tuple[int, int, str]] = field(default_factory=list)  # (iteration, run, what)
    forged: list[tuple[int, int, float]] = field(default_factory=list)  # (iteration, run, by how much)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (run, why no audit was possible)

    def absorb(self, other: Audits) -> None:
        """Add another run's audit (its counts and findings) to this one: runs trained apart."""
        for item in fields(self):
            if item.name != "every_step":
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


# The kinds the sandbox's worker gives a value it refuses during training (not an exception of
# the student's): named in the student's language.
WORKER_KINDS = {"bad parameter": Message("bad parameter"), "bad return value": Message("bad return value")}


def _describe_error(error: object) -> str:
    """A training error from the child as text, whatever shape the child gave it."""
    if not isinstance(error, dict):
        return Message("training failed")
    op, kind, message = (str(error.get(k, ""))[:300] for k in ("op", "kind", "message"))
    what = f"RNN.{op or 'forward'}"
    raised = (Message("{what} raised {kind}", what=what, kind=WORKER_KINDS.get(kind, kind)) if kind else
              Message("{what} raised an exception", what=what))
    return Message("{raised}: {error}", raised=raised, error=message) if message else raised


class AuditFailed(Fail):
    """The audit of a training chunk could not be done: its predictions do not count."""


def train_chunks(iterations: int) -> list[tuple[int, int]]:
    """(start, stop) of each round trip of a run: a short first one, then TRAIN_CHUNK each,
    the last of them cut in halves down to FIRST_CHUNK. A chunk is audited while the next
    one trains, so only the last one's audit is left when training ends: a short one."""
    starts = [0, *range(min(FIRST_CHUNK, iterations), iterations, TRAIN_CHUNK)]
    while iterations - starts[-1] > 2 * FIRST_CHUNK:
        starts.append(starts[-1] + (iterations - starts[-1]) // 2)
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


@dataclass
class Training:
    """Every run the grader drove, each run's final parameters, and the audit of them all."""

    runs: list[RunResult] = field(default_factory=list)
    final_params: list[dict[str, np.ndarray]] = field(default_factory=list)
    audits: Audits = field(default_factory=Audits)

    @classmethod
    def joined(cls, parts: list[Training], audits: Audits) -> Training:
        """One Training of several trained apart (run_pool.py), in the order given."""
        whole = cls(audits=audits)
        for part in parts:
            whole.runs += part.runs
            whole.final_params += part.final_params
            audits.absorb(part.audits)
        return whole

    def final_params_of_median_run(self) -> dict[str, np.ndarray]:
        order = np.argsort([r.accuracy for r in self.runs], kind="stable")
        params = self.final_params[int(order[len(order) // 2])]
        if not params:
            raise Fail(Message("the median run did not finish, so there are no trained parameters"))
        return params


def _non_finite_rows(rows: np.ndarray | None) -> np.ndarray | None:
    """Which rows of a chunk's record hold NaN or inf; None where none can (one sum tells,
    so the every-chunk case costs a sum: a sum of finite values is finite, or overflows and
    the search then finds nothing)."""
    with np.errstate(all="ignore"):
        if rows is None or not len(rows) or np.isfinite(rows.sum()):
            return None
    return ~np.isfinite(rows).all(axis=1)


class Trainer:
    """Drives runs through the client into one Training. `model`: the reference the audit
    computes with (None in the student kit, which audits nothing); `gradient_loss`: the loss
    whose reference BPTT backward is known to equal (gradient_reference passed), so the audit
    can compare with it instead of asking the auditor sandbox; `curve_loss`: the loss the
    learning curves are computed with."""

    def __init__(self, client: Session, settings: Settings, audit_rng: np.random.Generator,
                 model: ReferenceModel | None, gradient_loss: Loss | None, curve_loss: Loss) -> None:
        self.client, self.settings, self.audit_rng, self.model = client, settings, audit_rng, model
        self.gradient_loss, self.curve_loss = gradient_loss, curve_loss
        self.training = Training(audits=Audits(every_step=gradient_loss is not None))

    @property
    def record_grads(self) -> bool:
        """Whether the child records backward's gradients: for the secret audits, where the
        grader does not compute them itself."""
        return self.gradient_loss is None and self.model is not None

    def run(self, seed: int, number: int | None = None) -> RunResult:
        """One run of the contract: the grader's stream, predictions audited at random, within
        the run's own time limit (Settings.run_seconds); `number` names it in the audit's
        findings (default: the next of this Training)."""
        s = self.settings
        started = time.perf_counter()
        x, y = sample_stream(seed, s.iterations, s)
        audit_at = audit_positions(self.audit_rng, s) if self.record_grads else None  # else: every iteration
        yhat = np.full(y.shape, np.nan)
        done, error, loop_seconds = 0, "", 0.0
        params: dict[str, np.ndarray] | None = None
        run = number or len(self.training.runs) + 1
        diverged: str | None = None  # where NaN or inf first showed in the record
        try:
            self.client.construct(seed)
            deadline = time.monotonic() + s.run_seconds  # this run's own limit
            chunks = train_chunks(s.iterations)
            pending = self._send_chunk(x, y, chunks[0], deadline, region=0)
            for j, (start, stop) in enumerate(chunks):
                try:
                    reply = self.client.receive_train(pending)
                except Malformed as exc:
                    raise AuditFailed(exc.message) from None
                pending = None
                sent = stop - start
                got, k = reply.arrays.get("yhat"), reply.header["done"]  # an int: replies.TrainReply
                if k > sent or got is None or got.shape != (k, *y.shape[1:]):
                    raise AuditFailed(Message("training sent back a malformed reply (more iterations than it was sent, "
                                              "or predictions of the wrong shape)"))
                loop_seconds += float(reply.header.get("seconds", 0.0))
                error_reply = reply.header.get("error")
                if k < sent and not error_reply:  # a run is finished only when every iteration was trained
                    raise AuditFailed(Message("training answered {k} of the {sent} iterations it was sent, with no "
                                              "error: fewer iterations than it was sent", k=k, sent=sent))
                hopeless = k > 0 and loop_seconds / (start + k) * s.iterations > HOPELESS * s.run_seconds
                if j + 1 < len(chunks) and not error_reply and not hopeless:  # trains on during the audit,
                    pending = self._send_chunk(x, y, chunks[j + 1], deadline, region=(j + 1) % 2)  # recording
                record = self.client.record_of(reply, sent, k, region=j % 2,  # in the other region
                                               grads=self.record_grads)
                diverged = diverged or self._first_non_finite(record, start)
                self._finite_answers_need_finite_parameters(record, got, start)
                self._audit(x[start : start + k], y[start : start + k], got, record, bool(error_reply), start,
                            audit_at, run)
                yhat[start : start + k] = got  # counted only once audited
                done = start + k
                if error_reply:
                    raise Fail(_describe_error(error_reply) + _diverged_hint(diverged))
                if hopeless and done < s.iterations:
                    raise TimedOut(Message("it cannot finish in time"), op="train", hopeless=True)
            params = self.client.get_params()
        except AuditFailed as exc:
            error = exc.message
            self.training.audits.failures.append((run, Message("at {it}: {why}", it=iteration(done), why=exc.message)))
            self.client.restart()  # a chunk may still be in flight: start afresh rather than read it
        except TimedOut as exc:
            error = (self._too_slow(done, loop_seconds, bool(exc.details.get("hopeless")))
                     if exc.details.get("op") == "train" else exc.message)
        except Fail as exc:
            error = exc.message
        curves = Curves.from_predictions(np.nan_to_num(yhat, nan=-1.0), y, self.curve_loss)
        window = s.accuracy_window
        result = RunResult(
            seed=seed,
            iterations_done=done,
            accuracy=float(curves.correct[-window:].mean()),
            accuracy_first=float(curves.correct[:EARLY_WINDOW].mean()),
            seconds=time.perf_counter() - started,
            ms_per_iteration=round(1000 * loop_seconds / done, 4) if done else None,
            curve_block=CURVE_BLOCK,
            accuracy_curve=per_block(curves.correct, CURVE_BLOCK),
            bit_error_curve=per_block(curves.bit_errors, CURVE_BLOCK),
            loss_curve=per_block(curves.loss, CURVE_BLOCK),
            error=error,
        )
        self.training.runs.append(result)
        self.training.final_params.append(params if params is not None else {})
        return result

    def _send_chunk(self, x: np.ndarray, y: np.ndarray, chunk: tuple[int, int], deadline: float,
                    region: int) -> Pending:
        s = self.settings
        start, stop = chunk
        left = min(self.client.remaining(), deadline - time.monotonic())
        if left <= 0:
            raise TimedOut(Message("the time limit is used up"), op="train")
        return self.client.send_train(x[start:stop], y[start:stop], s.alpha,
                                      timeout=min(left, s.limits.call_seconds * (stop - start)), region=region,
                                      grads=self.record_grads)

    def _too_slow(self, done: int, loop_seconds: float, hopeless: bool) -> str:
        """Why a run stopped at a time limit, with the figures a student can act on."""
        s = self.settings
        per = 1000 * loop_seconds / done if done else None
        run_limit = Message("a run may take {seconds:g} s ({ms:g} ms per iteration, limits.iteration_ms)",
                            seconds=s.run_seconds, ms=s.limits.iteration_ms)
        if hopeless and per is not None:
            what = Message("at {per:.1f} ms per iteration its {n} iterations would take {total:.0f} s, and {limit}",
                           per=per, n=s.iterations, total=per * s.iterations / 1000, limit=run_limit)
        elif self.client.remaining() <= 0:
            what = Message("the submission's time limit of {seconds:g} s (limits.total_seconds) was used up",
                           seconds=s.limits.total_seconds)
        else:
            what = Message("it reached its time limit: {limit}", limit=run_limit)
            what += Message("; it trained at {per:.1f} ms per iteration", per=per) if per is not None else ""
        calls = {op: float(np.median(t)) * 1000 for op, t in self.client.call_seconds.items() if t}
        measured = ", ".join(f"{op} {ms:.1f} ms" for op, ms in calls.items())
        took = Message(" (a call took about: {measured})", measured=measured) if measured else ""
        return Message("{what}. Make forward, backward and update faster{took}: NumPy products of whole vectors and "
                       "matrices, no Python loops over their elements", what=what, took=took)

    def _first_non_finite(self, record: tuple[np.ndarray | None, np.ndarray | None], offset: int) -> str | None:
        """Where a chunk's record first holds NaN or inf: backward's gradient, or the
        parameters, with the iteration and the entry."""
        found = []
        for what, rows in ((Message("backward's gradient"), record[1]), (Message("the parameters"), record[0])):
            bad = _non_finite_rows(rows)
            if bad is not None and bad.any():
                row = int(np.flatnonzero(bad)[0])
                found.append((row, Message("{what} at iteration {it} ({entry})", what=what, it=offset + row,
                                           entry=self._non_finite_entry(rows[row]))))
        return min(found)[1] if found else None

    def _finite_answers_need_finite_parameters(self, record: tuple[np.ndarray | None, np.ndarray | None],
                                               yhat: np.ndarray, offset: int) -> None:
        """Parameters that hold inf or NaN while the predictions made with them stay finite
        (tanh saturates) fail the run: an entry that is not a number cannot be audited, and
        would otherwise shelter the rest of its parameter."""
        k = len(yhat)
        bad = _non_finite_rows(record[0][:k] if record[0] is not None else None)
        if bad is None:
            return
        with np.errstate(all="ignore"):
            bad &= np.isfinite(yhat.reshape(k, -1)).all(axis=1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise AuditFailed(Message("the parameters hold inf or NaN ({entry} at iteration {it}) while the predictions "
                                      "stay finite: keep every parameter finite (clip the gradient in update)",
                                      entry=self._non_finite_entry(record[0][row]), it=offset + row))

    def _non_finite_entry(self, row: np.ndarray) -> str:
        """The first entry of a flattened row that is NaN or inf, as `W[3, 4] = inf`."""
        col = int(np.flatnonzero(~np.isfinite(row))[0])
        return f"{self._entry(col)} = {row[col]}"

    def _entry(self, col: int) -> str:
        """The parameter entry of a column of a flattened vector, as `W[3, 4]`."""
        for name, cols in segments(self.settings):
            if cols.start <= col < cols.stop:
                index = np.unravel_index(col - cols.start, self.settings.param_shapes()[name])
                return f"{name}[{', '.join(map(str, index))}]"
        return f"entry {col}"

    def _audit(self, x: np.ndarray, y: np.ndarray, yhat: np.ndarray,
               record: tuple[np.ndarray | None, np.ndarray | None], ended_early: bool, offset: int,
               audit_at: np.ndarray | None, run: int) -> None:
        """Audit one chunk. Every step: the parameters moved as update(g, alpha) allows (grader/checks/trajectory.py), for g the
        reference BPTT gradient at those parameters where backward is known to be it (and then
        every prediction is checked too), else the g backward returned, checked at the secret
        iterations against backward in a fresh sandbox that never trained."""
        k = len(x)
        if k == 0 or self.model is None:  # the student kit: nothing to audit with
            return
        params, grads = record
        n = self.settings.n_params
        complete = params is not None and params.shape == (k + 1, n)
        if not (complete or (ended_early and params is not None and params.shape == (k, n))) or (
                self.record_grads and not (grads is not None and grads.shape == (k, n))):
            raise AuditFailed("the parameters and gradients recorded during training are missing or malformed")
        steps = len(params) - 1
        if self.gradient_loss:
            grads = self._every_step(x, y, yhat, params[:k], offset, run)
            with np.errstate(invalid="ignore"):  # a step to NaN or inf: the submission's own gradient may have been
                judged = np.where(np.isfinite(params[1:]), grads[:steps], np.nan)  # (never a way back: trajectory.py)
            rel = self.settings.tolerances.gradient_rtol
        else:
            assert audit_at is not None
            self._secret_iterations(x, y, yhat, params, grads, offset, audit_at, run)
            judged, rel = grads[:steps], REL
        for row, why in unexplained_steps(params[:steps], params[1:], judged, segments(self.settings),
                                          self.settings.alpha, rel):
            self.training.audits.jumps.append((offset + row, run, why))
        self.training.audits.steps += steps

    def _every_step(self, x: np.ndarray, y: np.ndarray, yhat: np.ndarray, params: np.ndarray, offset: int,
                    run: int) -> np.ndarray:
        """Every prediction against the reference forward of its parameters; returns the
        reference's BPTT gradient at every step's parameters."""
        assert self.model is not None and self.gradient_loss is not None
        want, grads = self.model.forward_and_gradients(params, x, y, self.settings, self.gradient_loss)
        audits = self.training.audits
        for i, diff in self._prediction_gaps(want, yhat):
            audits.mismatches.append((offset + i, run, diff))
        audits.checked += len(x)
        return grads

    def _secret_iterations(self, x: np.ndarray, y: np.ndarray, yhat: np.ndarray, params: np.ndarray,
                           grads: np.ndarray, offset: int, audit_at: np.ndarray, run: int) -> None:
        """At the chunk's secret iterations: the prediction is the reference forward of that
        moment's parameters, and the gradient is what backward gives at those parameters in a
        fresh sandbox."""
        k, audits = len(x), self.training.audits
        chosen = audit_at[(audit_at >= offset) & (audit_at < offset + k)] - offset
        if not len(chosen):
            return
        assert self.model is not None
        want = self.model.forward_each(params[chosen], x[chosen], self.settings)
        for i, diff in self._prediction_gaps(want, yhat[chosen]):
            audits.mismatches.append((int(offset + chosen[i]), run, diff))
        audits.checked += len(chosen)
        try:
            clean = self.client.backward_at(params[chosen], x[chosen], y[chosen])
        except Fail as exc:
            raise AuditFailed(exc.message) from None
        with np.errstate(all="ignore"):  # the same code at the same parameters: equal to REL
            off = np.abs(clean - grads[chosen]) - REL * (1.0 + np.abs(clean).max(axis=1, keepdims=True))
        for i, row_off in zip(chosen, off):
            if (row_off > 0).any():
                audits.forged.append((int(offset + i), run, float(np.nanmax(row_off))))

    def _prediction_gaps(self, want: np.ndarray, got: np.ndarray) -> list[tuple[int, float]]:
        """(row, largest gap) of the predictions further than forward_atol from the reference's
        (NaN where the reference has NaN too counts as equal: diverged parameters compute NaN)."""
        with np.errstate(all="ignore"):
            gap = np.where(np.isnan(want) & np.isnan(got), 0.0, np.abs(want - got))
            worst = np.nan_to_num(gap, nan=np.inf).reshape(len(gap), -1).max(axis=1)
        return [(int(i), float(worst[i])) for i in np.flatnonzero(~(worst <= self.settings.tolerances.forward_atol))]


def _diverged_hint(diverged: str | None) -> str:
    if diverged is None:
        return ""
    return Message("; the first NaN or inf was in {where}: training diverged. Look for a division by zero or an "
                   "overflow in backward, and clip each gradient's norm in update", where=diverged)


def per_block(values: np.ndarray, block: int) -> list[float]:
    """Means over consecutive blocks, rounded for a compact JSON."""
    n = len(values) // block * block
    if n == 0:
        return []
    return [round(float(v), 4) for v in np.asarray(values[:n], dtype=np.float64).reshape(-1, block).mean(axis=1)]
