"""Grade one submission: find the module, run every check in order, score, never crash.

Whatever the submission does, `grade` returns a GradeResult: a student's failure is a
failed check, a grader bug is an `error` check, and a submission that cannot be graded
gets a status naming why.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

from grader import __version__
from grader.checks.contract import Run, contract_checks
from grader.checks.grading import Facts, Grading
from grader.checks.oracle import Oracle, current_oracle
from grader.checks.outcome import Fail, Passed, TimedOut
from grader.checks.registry import CheckSpec
from grader.checks.rubric import award, total
from grader.checks.session import Session
from grader.checks.similarity import fingerprint
from grader.checks.static import DISALLOWED, import_advice, missing_module_advice, policy_message, scan_imports
from grader.checks.suspicions import complex_arithmetic, slow_backward
from grader.environment import environment
from grader.intake.submission import Submission, SubmissionError, open_submission, parse_name
from grader.messages import Message
from grader.results import CHECK_NAMES, CheckResult, GradeResult, SubmissionInfo, median_or_none, skipped
from grader.settings import Settings

SLOW_IMPORT = 2.0  # seconds: far more than NumPy's import, so the module does work at import


def _skip_rest(results: dict[str, CheckResult], reason: Message) -> None:
    """Every check not run yet, skipped for `reason` (what a report says each waits for)."""
    for name in CHECK_NAMES:
        results.setdefault(name, CheckResult(name=name, status="skipped", message=skipped(reason)))


def _read_sources(root: Path) -> dict[str, str]:
    sources = {}
    for path in sorted(root.rglob("*.py")):
        try:
            sources[str(path.relative_to(root))] = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return sources


NOT_IN_KIT = Message("not run by the self-check: it computes with the reference model, which only the grader "
                     "holds; the grading runs it")


def _run_check(g: Grading, spec: CheckSpec, func: Run) -> CheckResult:
    name = spec.name
    if spec.reference_only and g.oracle.model is None:
        return CheckResult.for_the_grader(name, NOT_IN_KIT)
    missing = [n for n in spec.needs if not g.passed(n)]
    if missing:
        return CheckResult(name=name, status="skipped", waiting_for=missing,
                           message=Message("skipped: needs {checks} to pass first", checks=", ".join(missing)))
    started = time.perf_counter()
    try:
        outcome = func(g)
        passed = outcome if isinstance(outcome, Passed) else Passed(outcome)
        result = CheckResult(name=name, status="passed", message=passed.message, details=dict(passed.details))
    except Fail as exc:
        result = CheckResult(name=name, status="failed", message=exc.message, details=dict(exc.details))
    except Exception as exc:  # a bug of the grader, never the student's zero
        error = f"{type(exc).__name__}: {exc}"
        result = CheckResult(
            name=name,
            status="error",
            message=Message("grader error in {name}: {error}", name=name, error=error),
            details={"traceback": traceback.format_exc(limit=8)[-4000:]},
        )
    result.seconds = round(time.perf_counter() - started, 4)
    return result


def grade(path: Path, settings: Settings, workdir: Path | None = None, oracle: Oracle | None = None,
          run_workers: int = 1) -> GradeResult:
    """Run every check on the submission at `path` (a .py, a folder or a .zip), against the
    reference's answers (or, in the student kit, its shipped numbers: oracle.current_oracle),
    training up to `run_workers` runs at once (run_pool.py)."""
    oracle = (oracle or current_oracle()).for_grading()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bptt-grader-", dir=workdir) as scratch:
        # Private while graded (0700, the default): only the grader reads the intake's copy;
        # the sandbox reads a copy of its own (sandbox/process.private_copy).
        result = GradeResult(
            grader_version=__version__,
            settings_hash=settings.digest(),
            submission=SubmissionInfo(source=str(path)),
            status="graded",
            self_check=oracle.model is None,
        )
        results: dict[str, CheckResult] = {}
        try:
            submission = open_submission(Path(path), Path(scratch))
        except SubmissionError as exc:  # not graded, but still named as its file names it
            student_id, name, naming_ok, _ = parse_name(Path(path).name)
            result = GradeResult.ungraded(exc.status, exc.message, settings.digest(), str(path),
                                          student_id=student_id, name=name, naming_ok=naming_ok)
            results["discover"] = CheckResult(name="discover", status="failed", message=exc.message)
            _skip_rest(results, Message("no module to grade"))
            return _finish(result, results, settings, None, started)
        client = Session(submission.module_path, settings)
        client.launch()  # the child imports NumPy while the grader reads the sources
        g = Grading(client, settings, rng=np.random.default_rng([settings.seed, 7]),
                    audit_rng=np.random.default_rng(secrets.randbits(64)), results=results, oracle=oracle,
                    run_workers=run_workers)
        try:
            result.submission = _info(submission)
            results["discover"] = CheckResult(
                name="discover", status="passed",
                message=Message("graded module: {module}", module=submission.module_display)
            )
            static, module_text = _read_static(submission, result)
            _run_all(g, static, result, module_text)
        except Exception as exc:  # a grader bug: this submission's row says so, the batch goes on
            result.status = "grader_error"
            error = f"{type(exc).__name__}: {exc}"[:500]
            result.message = Message("grader error: {error}", error=error)
            _skip_rest(results, Message("grading stopped (grader error)"))
        finally:
            client.close()
            result.output = client.output()[-20000:]
            slow = slow_backward(client.call_seconds["forward"], client.call_seconds["backward"])
            if slow:
                result.suspicions = [*result.suspicions, slow]
            result.sandbox, result.sandbox_note = client.isolation, client.isolation_note
        return _finish(result, results, settings, g.facts, started)


def _read_static(submission: Submission, result: GradeResult) -> tuple[dict[str, list[str]], str]:
    """What the sources show without running them: their imports (for `policy`), complex
    arithmetic (a suspicion), and the graded module's text."""
    sources = _read_sources(submission.root)
    complex_at = complex_arithmetic(sources)
    if complex_at:
        result.suspicions = [f"complex arithmetic at {', '.join(complex_at)}: complex-step gradients?"]
    return scan_imports(sources), sources.get(str(submission.module_path.relative_to(submission.root)), "")


def _run_all(g: Grading, static: dict, result: GradeResult, module_text: str) -> None:
    started, results = time.perf_counter(), g.results
    try:
        reply = g.client.start()
        seconds = float(reply.header.get("seconds", time.perf_counter() - started))
        message = Message("imported in {seconds:.2f} s", seconds=seconds)
        if seconds > SLOW_IMPORT:  # passes, but every grading and every classmate's waits for it
            message += Message(", slowly: {advice}", advice=import_advice(module_text))
        results["import"] = CheckResult(name="import", status="passed", message=message, seconds=round(seconds, 4),
                                        details={"slow": True} if seconds > SLOW_IMPORT else {})
    except Fail as exc:
        if isinstance(exc, TimedOut):
            exc.message = Message("{error}: {advice}", error=exc.message, advice=import_advice(module_text))
        elif (advice := missing_module_advice(module_text, exc.message)) is not None:
            exc.message = Message("{advice} ({error})", advice=advice, error=exc.message)  # the fix first
        results["import"] = CheckResult(name="import", status="failed", message=exc.message)
        result.status = "timeout" if isinstance(exc, TimedOut) else "import_failed"
        result.message = exc.message
        _policy(results, static, [])
        _skip_rest(results, Message("the module could not be imported"))
        return
    for spec, func in contract_checks():
        results[spec.name] = _run_check(g, spec, func)
        if g.client.remaining() <= 0:
            result.status = "timeout"
            result.message = Message("grading stopped during {name}: the submission used up its time limit of "
                                     "{seconds:g} s", name=spec.name, seconds=g.settings.limits.total_seconds)
            break
    _policy(results, static, g.client.modules())
    _skip_rest(results, Message("grading stopped (time limit)"))


def _policy(results: dict[str, CheckResult], static: dict[str, list[str]], runtime: list[str]) -> None:
    found = dict(static)
    for module in runtime:
        top = module.split(".")[0]
        if top in DISALLOWED and top not in found:
            found[top] = ["run time"]
    if found:
        results["policy"] = CheckResult(
            name="policy", status="failed", message=policy_message(found),
            details={"imports": found},
        )
    else:
        results["policy"] = CheckResult(name="policy", status="passed", message=Message("only allowed imports"))


def _info(sub: Submission) -> SubmissionInfo:
    source = sub.module_path.read_bytes()
    return SubmissionInfo(
        source=str(sub.source),
        module=sub.module_display,
        student_id=sub.student_id,
        name=sub.name,
        sha256=sub.sha256,
        module_sha256=hashlib.sha256(source).hexdigest(),
        fingerprint=fingerprint(source.decode("utf-8", errors="replace")),
        naming_ok=sub.naming_ok,
        notes=list(sub.notes) + ([sub.naming_note] if sub.naming_note else []),
        said=sub.said,
        report=sub.report,
        report_pages=sub.report_pages,
        report_others=sub.report_others,
        report_sought=sub.report_sought,
    )


def _finish(
    result: GradeResult,
    results: dict[str, CheckResult],
    settings: Settings,
    facts: Facts | None,
    started: float,
) -> GradeResult:
    accuracy = None
    if facts is not None:
        result.runs = facts.training.runs
        result.accuracy_runs = [r.accuracy for r in facts.training.runs]
        accuracy = median_or_none(result.accuracy_runs)
        result.accuracy = accuracy
        result.accuracy_exhaustive = facts.accuracy_exhaustive
        result.loss_recognised = facts.loss_recognised
        result.timings = {name: r.seconds for name, r in results.items() if r.seconds}
    result.accuracy_window = settings.accuracy_window
    result.environment = environment()
    award(results, settings, accuracy)
    result.checks = [results[name] for name in CHECK_NAMES if name in results]
    result.score, result.max_score = total(results)
    result.timings["total"] = round(time.perf_counter() - started, 4)
    return result

