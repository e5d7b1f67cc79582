"""The checks of one submission, in order, each a function that passes or raises `Fail`.

Every check runs in the parent and talks to the student's code only through the
sandbox's client (`Grading.client`); every number it judges is computed here from
validated arrays. What it establishes for later checks goes to `Grading.facts`.
A check whose prerequisites did not pass is skipped with the reason, never passed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import numpy as np

from grader.checks.diagnose import Diagnosis, name_the_bug, relative_errors
from grader.checks.grading import Grading
from grader.checks.oracle import ProbeRequest, grader_params, random_sequence
from grader.checks.outcome import Fail, Passed, iteration
from grader.checks.params import flatten, unflatten
from grader.checks.registry import CHECKS, SPECS, CheckSpec
from grader.checks.run_pool import train_at_once
from grader.checks.similarity import numbers_digest
from grader.checks.session import Session
from grader.checks.training import EARLY_WINDOW, Trainer
from grader.messages import Message
from reference.data import all_pairs
from reference.loss import PARAMS, sequence_loss
from grader.settings import Settings

# A fresh RNN cannot add: the reference, 20 seeds x 2 losses, was right on at most 8% of
# its first 200 answers; far more than that means the weights were trained before grading.
PRETRAINED = 0.5
SPOT_CHECKS = 16  # operand pairs on which generalize compares the student's forward
FORWARD_TRIES = 3  # parameter sets forward_values compares under
OTHER_LENGTHS = (1, 3, 12)  # forward_lengths' sequence lengths besides the assignment's
GRADIENT_SEQUENCES = 3  # sequences gradient_reference compares at one parameter set
FORWARD_SCALE, GRADIENT_SCALE = 0.5, 0.1  # the probes' parameter scales (small for BPTT: no saturation)

Run = Callable[[Grading], "str | Passed"]
_RUNNERS: dict[str, Run] = {}


def check(name: str) -> Callable[[Run], Run]:
    """The function that runs the registry's check `name` (its prerequisites are the registry's)."""

    def register(func: Run) -> Run:
        spec = SPECS.get(name)
        if spec is None or spec.pipeline or name in _RUNNERS:
            why = "not in the registry" if spec is None else "run by the pipeline" if spec.pipeline else "registered twice"
            raise ValueError(f"check {name!r}: {why}")
        _RUNNERS[name] = func
        return func

    return register


def contract_checks() -> list[tuple[CheckSpec, Run]]:
    """The contract's checks in the registry's order, each with its function."""
    missing = [s.name for s in CHECKS if not s.pipeline and s.name not in _RUNNERS]
    if missing:
        raise ValueError(f"no function runs the registry's checks {', '.join(missing)}")
    return [(s, _RUNNERS[s.name]) for s in CHECKS if not s.pipeline]


# ---------------------------------------------------------------- helpers


def forward_request(steps: int) -> ProbeRequest:
    """The probe of a forward check: one sequence of `steps` steps."""
    return ProbeRequest(steps, 1, FORWARD_SCALE)


def gradient_request(settings: Settings) -> ProbeRequest:
    """The probe of gradient_reference: GRADIENT_SEQUENCES sequences at small parameters."""
    return ProbeRequest(settings.bits, GRADIENT_SEQUENCES, GRADIENT_SCALE, gradients=True)


def probe_requests(settings: Settings) -> list[ProbeRequest]:
    """Every probe the checks ask the oracle for, in order: what a student kit ships."""
    return [*[forward_request(settings.bits)] * FORWARD_TRIES, *map(forward_request, OTHER_LENGTHS),
            gradient_request(settings)]


def closest_loss(report: dict[str, dict[str, float]], rtol: float) -> str:
    """The accepted loss a backward is closest to: most parameters right first, then the
    smallest worst error (both gradient checks choose this way, so they name the same loss)."""
    return min(report, key=lambda loss: (sum(e >= rtol for e in report[loss].values()), max(report[loss].values())))


def _fmt_errors(errors: dict[str, float], rtol: float) -> Message:
    """Each parameter's relative error, the ones at or above `rtol` marked wrong."""
    return Message.join(", ", [Message("{name} {error:.1e}", name=k, error=e) if e < rtol else
                               Message("{name} {error:.1e} (wrong)", name=k, error=e) for k, e in errors.items()])


# ---------------------------------------------------------------- the checks


@check("api")
def check_api(g: Grading) -> str | Passed:
    """RNN has forward, backward, update and float64 parameters U, W, V, b, c of the contract's shapes."""
    info = g.client.construct(seed=g.settings.run_seeds[0])
    problems = []
    for method, meta in info["methods"].items():
        if not meta.get("present"):
            problems.append(Message("RNN has no method {method}()", method=method))
    shapes = g.settings.param_shapes()
    wrong_dtype: dict[str, list[str]] = {}
    roles = {"U": "(hidden, input)", "W": "(hidden, hidden)", "V": "(output, hidden)",
             "b": "(hidden,)", "c": "(output,)"}
    for name, want in shapes.items():
        attr = info["attrs"].get(name) or {}
        kind, shape, dtype = attr.get("type"), attr.get("shape"), attr.get("dtype")
        if kind is None or kind == "missing":
            problems.append(Message("RNN has no attribute {name} (after __init__)", name=name))
            continue
        if kind != "ndarray":
            problems.append(Message("{name} is a {kind}; the contract wants a float64 numpy array", name=name, kind=kind))
            continue
        got = tuple(shape or ())
        if got != want:
            hint = ""
            if tuple(reversed(got)) == want and len(got) == 2:
                hint = Message(": row-vector layout? transpose it")
            elif int(np.prod(got)) == int(np.prod(want)):
                hint = Message(": same size, wrong shape; reshape it")
            problems.append(Message("{name} has shape {got}; the contract wants {role} = {want}{hint}",
                                    name=name, got=got, role=roles[name], want=want, hint=hint))
        if dtype != "float64":
            wrong_dtype.setdefault(str(dtype), []).append(name)
    for dtype, names in wrong_dtype.items():
        problems.append(Message("{names} has dtype {dtype}; the contract wants float64", names=names[0], dtype=dtype)
                        if len(names) == 1 else
                        Message("{names} have dtype {dtype}; the contract wants float64", names=", ".join(names),
                                dtype=dtype))
    if problems:
        raise Fail(Message.join("; ", problems))
    return Message("class, methods and parameter shapes follow the contract")


@check("forward_shape")
def check_forward_shape(g: Grading) -> str | Passed:
    """forward(x) returns yhat of shape (T, output_dim) with values in [0, 1]."""
    steps = g.settings.bits  # the assignment's length; other lengths are forward_lengths'
    x, _ = random_sequence(g.settings, g.rng, steps)
    yhat = g.client.forward(x)
    if yhat.min() < 0 or yhat.max() > 1:
        raise Fail(Message("yhat has values outside [0, 1] (min {low:.3g}, max {high:.3g}): apply the sigmoid "
                           "to o_t = c + V h_t", low=yhat.min(), high=yhat.max()))
    return Message("shape (T, output_dim) for T = {steps}, values in [0, 1]", steps=steps)


@check("forward_values")
def check_forward_values(g: Grading) -> str | Passed:
    """With parameters set by the grader, forward matches the reference model."""
    atol = g.settings.tolerances.forward_atol
    steps = g.settings.bits
    for _ in range(FORWARD_TRIES):
        probe = g.oracle.probe(g.settings, g.rng, forward_request(steps))
        (x, _), want = probe.sequences[0], probe.yhat()[0]
        g.client.set_params(probe.params)
        got = g.client.forward(x)
        diff = np.abs(got - want).max(axis=1)
        if diff.max() > atol:
            first = int(np.argmax(diff > atol))
            where = (
                Message("already at t = 0: check the output layer yhat = sigmoid(c + V h_t), "
                        "h_0 = tanh(b + U x_0), and that h_(-1) = 0 (no state kept from an earlier call)")
                if first == 0
                else Message("from t = {first} on (t = 0 is right): check the recurrence a_t = b + W h_(t-1) + U x_t",
                             first=first)
            )
            raise Fail(
                Message("forward differs from the reference by up to {diff:.2e} (T = {steps}), {where}. forward must "
                        "compute from the public U, W, V, b, c", diff=diff.max(), steps=steps, where=where),
                max_abs_diff=float(diff.max()),
            )
    return Message("matches the reference to {atol:g} for T = {steps}, under {tries} sets of parameters",
                   atol=atol, steps=steps, tries=FORWARD_TRIES)


@check("forward_stateless")
def check_forward_stateless(g: Grading) -> str | Passed:
    """Each forward call starts from h_{-1} = 0: the same input gives the same output."""
    x1, _ = random_sequence(g.settings, g.rng, g.settings.bits)
    x2, _ = random_sequence(g.settings, g.rng, g.settings.bits)
    first = g.client.forward(x1)
    g.client.forward(x2)
    again = g.client.forward(x1)
    diff = float(np.abs(first - again).max())
    if diff > 1e-12:
        raise Fail(Message("forward(x) changed by {diff:.2e} after another call: state is carried between calls. "
                           "Start every forward from h_(-1) = 0", diff=diff))
    return Message("same output for the same input after another call")


@check("forward_lengths")
def check_forward_lengths(g: Grading) -> str | Passed:
    """forward works for any T, not only the assignment's (the contract: any T >= 1); it
    gates nothing by default, so a length hard-coded in the model costs only this check."""
    atol = g.settings.tolerances.forward_atol
    for steps in OTHER_LENGTHS:
        probe = g.oracle.probe(g.settings, g.rng, forward_request(steps))
        (x, _), want = probe.sequences[0], probe.yhat()[0]
        g.client.set_params(probe.params)
        try:
            got = g.client.forward(x)
        except Fail as exc:
            raise Fail(Message("forward works for T = {bits} but not for T = {steps} ({why}): is a length hard-coded "
                               "(a reshape to ({bits}, ...) or range({bits}))? use len(x)",
                               bits=g.settings.bits, steps=steps, why=exc.message)) from None
        diff = float(np.abs(got - want).max())
        if diff > atol:
            raise Fail(Message("forward differs from the reference by up to {diff:.2e} for T = {steps} (it matches "
                               "for T = {bits}): is a length hard-coded? use len(x)",
                               diff=diff, steps=steps, bits=g.settings.bits))
    return Message("matches the reference for T = {lengths} too", lengths=", ".join(map(str, OTHER_LENGTHS)))


@check("backward_shape")
def check_backward_shape(g: Grading) -> str | Passed:
    """backward(y) returns a dict with exactly U, W, V, b, c, each its parameter's shape, finite."""
    x, y = random_sequence(g.settings, g.rng, g.settings.bits)
    g.client.forward(x)
    g.client.backward(y)  # Session.backward validates keys, shapes and finiteness
    return Message("keys U, W, V, b, c with the parameters' shapes")


@check("backward_pure")
def check_backward_pure(g: Grading) -> str | Passed:
    """backward computes gradients only: the parameters are unchanged by it."""
    x, y = random_sequence(g.settings, g.rng, g.settings.bits)
    g.client.forward(x)
    before = g.client.get_params()
    g.client.backward(y)
    after = g.client.get_params()
    changed = [k for k in PARAMS if not np.array_equal(before[k], after[k])]
    if changed:
        raise Fail(Message("backward changed {changed}: it must only return gradients; the step p -= alpha * g "
                           "belongs in update", changed=", ".join(changed)))
    return Message("parameters unchanged by backward")


@check("gradient_numeric")
def check_gradient_numeric(g: Grading) -> str | Passed:
    """Gradients agree with centred finite differences of the loss of your own forward."""
    settings, tol = g.settings, g.settings.tolerances
    params = grader_params(settings, g.rng, 0.5)
    x, y = random_sequence(settings, g.rng, settings.bits)
    g.client.set_params(params)
    g.client.forward(x)
    grads = g.client.backward(y)
    theta = flatten(params)
    n, eps = theta.size, tol.numeric_eps
    probes = np.repeat(theta[None], 2 * n, axis=0)
    probes[np.arange(n), np.arange(n)] += eps
    probes[n + np.arange(n), np.arange(n)] -= eps
    yhat = g.client.forward_many(probes, x)
    report = {}
    for loss in settings.accepted_losses:
        losses = sequence_loss(yhat, np.broadcast_to(y, yhat.shape), loss)
        report[loss] = relative_errors(grads, unflatten((losses[:n] - losses[n:]) / (2 * eps), settings))
    loss = closest_loss(report, tol.numeric_rtol)
    errors, worst = report[loss], max(report[loss].values())
    if worst > tol.numeric_rtol:
        raise Fail(
            Message("backward disagrees with finite differences of your forward's loss (closest: {loss}): relative "
                    "error {errors}", loss=loss, errors=_fmt_errors(errors, tol.numeric_rtol)),
            relative_errors=errors,
        )
    agreeing = [name for name, e in report.items() if max(e.values()) <= tol.numeric_rtol]
    details = {"loss": loss, "relative_errors": errors}
    if len(agreeing) > 1:  # e.g. gradients of zero for an output that ignores the parameters
        return Passed(Message("agrees with finite differences of {losses} alike, worst relative error {worst:.1e}",
                              losses=Message.join(" and ", agreeing), worst=worst), details)
    g.facts.loss_recognised = loss  # gradient_reference, if it passes, names the loss too
    return Passed(Message("agrees with finite differences ({loss} loss), worst relative error {worst:.1e}",
                          loss=loss, worst=worst), details)


@check("gradient_reference")
def check_gradient_reference(g: Grading) -> str | Passed:
    """Gradients equal the reference BPTT gradients for one of the accepted losses."""
    settings, rtol = g.settings, g.settings.tolerances.gradient_rtol
    probe = g.oracle.probe(settings, g.rng, gradient_request(settings))
    g.client.set_params(probe.params)
    student = []
    for x, y in probe.sequences:
        g.client.forward(x)
        student.append(g.client.backward(y))
    report = {}
    for loss in settings.accepted_losses:
        errors = [relative_errors(s, want) for s, want in zip(student, probe.gradients(loss))]
        worst = {k: max(e[k] for e in errors) for k in PARAMS}
        report[loss] = worst
        if max(worst.values()) < rtol:
            g.facts.loss_recognised = loss
            return Message("equal to the reference BPTT gradients of the {loss} loss (worst {worst:.1e})",
                           loss=loss, worst=max(worst.values()))
    closest = closest_loss(report, rtol)
    wrong = [k for k, e in report[closest].items() if e >= rtol]
    found = name_the_bug(student, probe, settings.accepted_losses, rtol)
    if found is None and set(wrong) == {"U", "W", "b"}:
        found = Diagnosis("recurrence", Message("only W, U and b are wrong while V and c are right: the error is in "
                                                "the recurrence (the W^T da_(t+1) term of dh_t, or dW built from h_t "
                                                "instead of h_(t-1))"))
    idiosyncratic = found is None or found.name == "recurrence"  # no classic bug explains the numbers
    likely = Message(". Likely: {bug}", bug=found.sentence) if found else ""
    raise Fail(
        Message("gradients of {wrong} differ from the reference (closest loss: {loss}; relative errors {errors}){likely}",
                wrong=", ".join(wrong), loss=closest, errors=_fmt_errors(report[closest], rtol), likely=likely),
        relative_errors=report,
        closest_loss=closest,
        bug=found.sentence if found else None,
        bug_name=found.name if found else None,
        wrong_numbers=numbers_digest(student) if idiosyncratic else None,
    )


@check("update")
def check_update(g: Grading) -> str | Passed:
    """update(grads, alpha) takes exactly the step p - alpha * g (small gradients, no clipping)."""
    atol = g.settings.tolerances.update_atol
    for alpha in (0.1, 0.03):
        params = grader_params(g.settings, g.rng, 0.5)
        grads = grader_params(g.settings, g.rng, 0.01)  # every norm far below 1: no clipping
        g.client.set_params(params)
        g.client.update(grads, alpha)
        after = g.client.get_params()
        errors = {k: float(np.abs(after[k] - (params[k] - alpha * grads[k])).max()) for k in PARAMS}
        wrong = {k: e for k, e in errors.items() if e > atol}
        if wrong:
            moved = {k: float(np.abs(after[k] - params[k]).max()) for k in wrong}
            hint = ""
            if all(v == 0 for v in moved.values()):
                hint = Message(": the parameters did not move; update must change U, W, V, b, c")
            raise Fail(
                Message("after update(grads, alpha={alpha}) {wrong} differ from p - alpha * g by up to {diff:.2e}{hint}",
                        alpha=alpha, wrong=", ".join(wrong), diff=max(wrong.values()), hint=hint),
                errors=errors,
            )
    return Message("p - alpha * g exactly, for alpha = 0.1 and 0.03")


EXTRA_RUN_MARGIN = 30.0  # seconds the checks after training may need (integrity, generalize)


def may_decide(accuracies: list[float], running: int, runs: int) -> bool:
    """Whether these accuracies, with the `running` runs still to come all agreeing with the
    most common one, would be a majority of all the runs (so another run might not be needed)."""
    return max(Counter(accuracies).values(), default=0) + running >= runs // 2 + 1


def decided(accuracies: list[float], runs: int) -> bool:
    """Whether the median of `runs` accuracies is known from these first ones: a majority of
    all the runs already agree, so whatever the others give, the middle value is theirs."""
    return bool(accuracies) and may_decide(accuracies, 0, runs)


def _train_planned(g: Grading, trainer: Trainer, trainer_for: Callable[[Session, np.random.Generator], Trainer]) -> None:
    """The settings' runs into trainer.training: at once, each in a sandbox of its own, where
    `check` found idle cores (run_pool.py), else one after another; none starts once a
    majority agree, so the median cannot move (settings.stop_when_decided)."""
    settings = g.settings

    def enough(accuracies: list[float]) -> bool:
        return settings.stop_when_decided and decided(accuracies, settings.runs)

    def may_be_enough(accuracies: list[float], running: int) -> bool:
        return settings.stop_when_decided and may_decide(accuracies, running, settings.runs)

    if g.run_workers <= 1 or settings.runs <= 1:
        for seed in settings.run_seeds:
            trainer.run(seed)
            if enough([r.accuracy for r in trainer.training.runs]):
                return
        return
    lock, helpers = threading.Lock(), []

    def another() -> Trainer:  # a sandbox of its own, within the submission's deadline
        with lock:
            helpers.append(Session(g.client.module_path, settings, deadline=g.client.deadline))
            return trainer_for(helpers[-1], np.random.default_rng(g.audit_rng.integers(2**63)))

    try:
        train_at_once(trainer, another, list(settings.run_seeds), g.run_workers, enough, may_be_enough)
    finally:
        for helper in helpers:
            g.client.absorb(helper)


@check("train")
def check_train(g: Grading) -> str | Passed:
    """Trained by the grader on its own data: median last-window accuracy of the runs."""
    settings, facts = g.settings, g.facts
    gradient_loss = facts.loss_recognised if g.passed("gradient_reference") else None
    curve_loss = facts.loss_recognised or settings.reference_loss

    def trainer_for(client: Session, rng: np.random.Generator) -> Trainer:
        return Trainer(client, settings, rng, g.oracle.model, gradient_loss, curve_loss)

    trainer = trainer_for(g.client, g.audit_rng)
    _train_planned(g, trainer, trainer_for)
    facts.training = training = trainer.training
    planned = [r.accuracy for r in training.runs]
    gated = [gate for gate in settings.gates if gate in g.results and not g.passed(gate)]
    finished = not any(r.error for r in training.runs)  # an unfinished run fails the check anyway
    if max(planned) - min(planned) > settings.straddle and finished and not gated:  # a rerun could differ
        longest = max(r.seconds for r in training.runs)
        # only while the submission's time limit leaves room for another run and the checks after
        while len(training.runs) < settings.max_runs and g.client.remaining() > 2 * longest + EXTRA_RUN_MARGIN:
            trainer.run(settings.extra_seed(len(training.runs) - len(planned)))
    accuracies = [r.accuracy for r in training.runs]
    median = float(np.median(accuracies))
    runs = ", ".join(f"{a:.3f}" for a in accuracies)
    text = (Message("median accuracy {median:.3f} over {n} runs ({runs})", median=median, n=len(accuracies), runs=runs)
            if len(accuracies) > 1 else Message("accuracy {median:.3f} (one run)", median=median))
    details: dict[str, object] = {"spread": round(max(accuracies) - min(accuracies), 4)}
    if (added := len(accuracies) - len(planned)) > 0:
        details["runs_added"] = added
        text += Message("; runs 1-{planned} straddled ({low:.3f} to {high:.3f}, more than {straddle:g} apart), so "
                        "{added} more were trained and the median is of {n}", planned=len(planned), low=min(planned),
                        high=max(planned), straddle=settings.straddle, added=added, n=len(accuracies))
    if (skipped := settings.runs - len(accuracies)) > 0:
        details["runs_not_needed"] = skipped
        later = ", ".join(str(i) for i in range(len(accuracies) + 1, settings.runs + 1))
        needed = {"later": later, "n": len(accuracies), "runs": settings.runs}
        text += (Message("; runs {later} not needed: {n} of {runs} runs agree, so the median cannot move", **needed)
                 if skipped > 1 else
                 Message("; run {later} not needed: {n} of {runs} runs agree, so the median cannot move", **needed))
    unaudited = {run for run, _ in training.audits.failures}  # integrity's to report
    unfinished = [(i, r) for i, r in enumerate(training.runs, 1) if r.error and i not in unaudited]
    if unfinished:  # an exception, the time limit, a bad return value
        i, run = unfinished[0]
        which = (Message("{k} of {n} runs", k=len(unfinished), n=len(training.runs)) if len(training.runs) > 1
                 else Message("the run"))
        raise Fail(Message("{which} did not finish: run {i} stopped after {done} of {iterations} iterations: {error}. "
                           "Scored as they stand: {text}", which=which, i=i, done=run.iterations_done,
                           iterations=settings.iterations, error=run.message_of(run.error), text=text),
                   unfinished=len(unfinished))
    early = [r.accuracy_first for r in training.runs]
    if max(early) > PRETRAINED:
        text += Message(". {share:.0%} of the answers were already right in the first {window} iterations: a freshly "
                        "initialised RNN cannot add yet, so the weights look trained before submission (flagged for "
                        "the instructor)", share=max(early), window=EARLY_WINDOW)
        details["learned_before_training"] = max(early)
    if median < 0.9 and g.passed("gradient_reference"):
        text += Message(". Your gradients are right, so look at training: clip each gradient's norm in update (bce "
                        "with alpha 0.1 explodes without it) and start from small weights")
    return Passed(text, details)


@check("integrity")
def check_integrity(g: Grading) -> str | Passed:
    """Every step of training is update(grads, alpha) with the gradient at its parameters, and
    the predictions are what the parameters compute: at every step where backward is the
    reference's BPTT, else at secret iterations (checks/training.py)."""
    audits = g.facts.training.audits
    if audits.failures:
        run, why = audits.failures[0]
        raise Fail(Message("run {run} could not be audited {why}: its predictions from there on do not count, and the "
                           "performance score is 0", run=run, why=why), failures=len(audits.failures))
    if not audits.checked:
        raise Fail(Message("no training iteration could be audited, so the accuracy cannot be trusted; the "
                           "performance score is 0"))
    if audits.mismatches:
        it, run, diff = audits.mismatches[0]
        raise Fail(
            Message("{k} of {n} audited training predictions differ from what the parameters compute (first: run "
                    "{run}, {it}, by {diff:.2e}). forward must compute yhat from U, W, V, b, c; the "
                    "performance score is 0", k=len(audits.mismatches), n=audits.checked, run=run,
                    it=iteration(it), diff=diff),
            mismatches=len(audits.mismatches),
            audited=audits.checked,
        )
    if audits.forged:
        it, run, diff = audits.forged[0]
        raise Fail(
            Message("{k} of {n} audited gradients that training used differ from backward at the same parameters in "
                    "a fresh process (first: run {run}, {it}, by {diff:.2e}). backward must depend only on "
                    "the parameters and the last forward; the performance score is 0",
                    k=len(audits.forged), n=audits.checked, run=run, it=iteration(it), diff=diff),
            forged=len(audits.forged))
    gradient = (Message("the BPTT gradient at the step's parameters") if audits.every_step
                else Message("the gradient backward returned"))
    if audits.jumps:
        it, run, why = audits.jumps[0]
        raise Fail(
            Message("{k} of {n} training steps are not update(grads, alpha) with {gradient} (first: run {run}, "
                    "{it}: {why}). The parameters may change only by update with backward's gradient; the "
                    "performance score is 0", k=len(audits.jumps), n=audits.steps, gradient=gradient, run=run,
                    it=iteration(it), why=why),
            jumps=len(audits.jumps), audited_steps=audits.steps,
        )
    if audits.every_step:
        return Message("all {steps} training steps are update(grads, alpha) with {gradient}, and all {checked} "
                       "predictions are what the parameters compute", steps=audits.steps, gradient=gradient,
                       checked=audits.checked)
    return Message("all {steps} training steps are update(backward(y), alpha); {checked} randomly chosen predictions "
                   "and gradients match the parameters", steps=audits.steps, checked=audits.checked)


@check("generalize")
def check_generalize(g: Grading) -> str | Passed:
    """The trained parameters on all operand pairs, and your forward on some of them."""
    settings = g.settings
    final = g.facts.training.final_params_of_median_run()
    ab, x, y = all_pairs(settings)
    model = g.oracle.model
    assert model is not None, "generalize needs the reference model (registry: reference_only)"
    yhat = model.forward_batch(final, x)
    correct = ~((yhat >= 0.5) != (y >= 0.5)).any(axis=(1, 2))
    g.facts.accuracy_exhaustive = exhaustive = float(correct.mean())
    pick = g.rng.choice(len(x), size=SPOT_CHECKS, replace=False)
    g.client.set_params(final)
    mismatched = []
    for i in pick:
        got = g.client.forward(x[i])
        if np.abs(got - yhat[i]).max() > settings.tolerances.forward_atol:
            mismatched.append(f"{ab[i][0]}+{ab[i][1]}")
    if mismatched:
        raise Fail(Message("{share:.4f} of all {n} sums right with the trained parameters, but your forward disagrees "
                           "with those parameters on {sums}", share=exhaustive, n=len(x), sums=", ".join(mismatched[:5])))
    return Message("{share:.4f} of all {n} sums right with the trained parameters; your forward gives the same answers "
                   "on {k} of the sums, chosen at random", share=exhaustive, n=len(x), k=SPOT_CHECKS)
