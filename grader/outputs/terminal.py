"""Views of a GradeResult: the terminal report a student reads, and JUnit XML for CI.

Pure functions from a result to text, so every view shows the same facts.
"""

from __future__ import annotations

import shutil
import textwrap
import xml.etree.ElementTree as ET

from grader.results import CheckResult, GradeResult, one_line
from grader.settings import Settings

LABEL = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP", "error": "ERROR"}
WITHHELD = "HELD"  # ran, but a gate kept its points: never PASS beside a withheld score


def label(c: CheckResult) -> str:
    """A check's label in every report: its status, or HELD where a gate kept its points."""
    return WITHHELD if c.withheld else LABEL[c.status]


def terminal(result: GradeResult, width: int | None = None) -> str:
    """The report a student can act on: one line per check, then runs and score."""
    width = width or min(shutil.get_terminal_size((100, 20)).columns, 120)
    sub = result.submission
    who = one_line(" ".join(p for p in (sub.student_id, sub.name) if p))
    lines = [f"bptt-grader {result.grader_version}: {one_line(sub.module or sub.source)}" + (f" ({who})" if who else "")]
    if result.sandbox:  # one plain line; what fell back and why is in --json (sandbox_note)
        weak = "" if result.sandbox_strong else "  (WEAK: the code ran with your rights)"
        lines.append(f"sandbox: {result.sandbox}{weak}")
    for note in sub.notes:
        lines.append(f"note: {one_line(note)}")
    lines.append("")
    name_width = max(len(c.name) for c in result.checks) if result.checks else 10
    for c in result.checks:
        points = f"{c.points:g}/{c.max_points:g}" if c.max_points else ""
        head = f"  {label(c):<5} {c.name:<{name_width}} {points:>7}  "
        wrapped = textwrap.wrap(c.message, width=max(width - len(head), 30)) or [""]
        lines.append(head + wrapped[0])
        lines.extend(" " * len(head) + more for more in wrapped[1:])
    if result.runs:
        lines.append("")
        window = f"{result.accuracy_window} iterations" if result.accuracy_window else "window"
        for i, run in enumerate(result.runs, 1):
            extra = "  (did not finish: see train)" if run.error else ""
            per = f" ({run.ms_per_iteration:.2f} ms per iteration)" if run.ms_per_iteration else ""
            lines.append(
                f"run {i} (seed {run.seed}): accuracy {run.accuracy:.3f} over the last {window}, "
                f"{run.iterations_done} iterations in {run.seconds:.1f} s{per}{extra}"
            )
    lines.append("")
    facts = []
    if result.accuracy is not None:
        runs = len(result.accuracy_runs)
        facts.append(f"accuracy ({f'median of {runs} runs' if runs != 1 else 'one run'}): {result.accuracy:.3f}")
    if result.accuracy_exhaustive is not None:
        facts.append(f"all pairs: {result.accuracy_exhaustive:.4f}")
    if result.loss_recognised:
        facts.append(f"loss: {result.loss_recognised}")
    if facts:
        lines.append("   ".join(facts))
    if result.status != "graded":
        lines.append(f"status: {result.status}: {one_line(result.message)}")
    first = result.fix_first()
    if first is not None:
        lines.append(f"fix first: {first.name} (above)")
    lines.append(f"score: {result.score:g} / {result.max_score:g}")
    if result.output.strip():
        tail = result.output.strip().splitlines()[-5:]
        lines.append("")
        lines.append("your code printed (last lines):")
        lines.extend(f"  | {line[:200]}" for line in tail)
    return "\n".join(lines) + "\n"


QUICK_ITERATIONS = 2000  # enough to see learning start; a tenth of the assignment's run


def quick_settings(full: Settings) -> Settings:
    """A self-check in seconds: every check, and one run of QUICK_ITERATIONS."""
    iterations = min(full.iterations, QUICK_ITERATIONS)
    return full.with_overrides(runs=1, iterations=iterations, accuracy_window=min(full.accuracy_window, iterations // 4))


def quick_summary(result: GradeResult, full: Settings) -> str:
    """What full grading will do with this submission, and about how long, on this machine."""
    run = result.runs[0] if result.runs else None
    lines = ["", f"quick check: not the grade. Full grading trains {full.runs} runs of {full.iterations} iterations "
                 f"(accuracy over the last {full.accuracy_window} of each)."]
    if run is not None and run.ms_per_iteration:
        per_run = run.ms_per_iteration * full.iterations / 1000
        verdict = "within" if per_run <= full.run_seconds else "OVER"
        lines.append(f"at {run.ms_per_iteration:.2f} ms per iteration measured here, a run takes about {per_run:.0f} s "
                     f"and all {full.runs} about {per_run * full.runs:.0f} s: {verdict} the limit of "
                     f"{full.run_seconds:g} s per run")
    else:
        lines.append("training did not run far enough here to estimate its time; fix what is above first")
    return "\n".join(lines) + "\n"


def junit_xml(result: GradeResult) -> str:
    """One test case per check, for CI systems."""
    failures = sum(c.status == "failed" or bool(c.withheld) for c in result.checks)
    errors = sum(c.status == "error" for c in result.checks)
    skipped = sum(c.status == "skipped" for c in result.checks)
    suite = ET.Element(
        "testsuite",
        name="bptt-grader",
        tests=str(len(result.checks)),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
        time=f"{result.timings.get('total', 0.0):.3f}",
    )
    for c in result.checks:
        case = ET.SubElement(suite, "testcase", classname="bptt_grader", name=c.name, time=f"{c.seconds:.3f}")
        if c.status == "failed" or c.withheld:  # points withheld by a gate fail the case too
            ET.SubElement(case, "failure", message=c.message).text = c.message
        elif c.status == "error":
            ET.SubElement(case, "error", message=c.message).text = str(c.details.get("traceback", c.message))
        elif c.status == "skipped":
            ET.SubElement(case, "skipped", message=c.message)
        else:
            ET.SubElement(case, "system-out").text = c.message
    props = ET.SubElement(suite, "properties")
    for key, value in (("score", result.score), ("max_score", result.max_score), ("status", result.status)):
        ET.SubElement(props, "property", name=key, value=str(value))
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
