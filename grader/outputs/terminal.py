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


def nothing_ran(result: GradeResult) -> bool:
    """Not graded, and not one check passed: the submission never reached the code (a zip
    that could not be read, no module, ...); its reports are a few lines."""
    return result.status != "graded" and not any(c.status == "passed" for c in result.checks)


def performance_text(result: GradeResult) -> str | None:
    """Where the performance points went: accuracy times the points, or held by a gate."""
    train = result.check("train")
    if result.accuracy is None or train is None or not train.max_points:
        return None
    median = f"accuracy {result.accuracy:.3f} ({result.runs_text})"
    if train.withheld:
        return (f"performance 0/{train.max_points:g}: {median}; the points wait for "
                f"{' and '.join(train.withheld)} to pass")
    return f"performance {train.points:g}/{train.max_points:g} = {train.max_points:g} x {median}"


def headline(result: GradeResult, width: int = 100) -> list[str]:
    """The lines a student reads first: the score, where the points went, the one thing to
    fix first (its whole message) or why nothing was graded."""
    lines = [f"score: {result.score:g} / {result.max_score:g}"]
    if performance := performance_text(result):
        lines.append(f"  {performance}")
    if result.status != "graded":
        lines += textwrap.wrap(f"not graded ({result.status}): {one_line(result.message)}", width=width,
                               subsequent_indent="  ")
    elif (first := result.fix_first()) is not None:
        lines += textwrap.wrap(f"fix first: {first.name}: {one_line(first.message)}", width=width,
                               subsequent_indent="  ")
    return lines


SELF_CHECK = ("self-check (student kit): it compares your code with numbers shipped in the kit and audits "
              "nothing, so it proves nothing to the grader, which uses other, secret parameters and audits "
              "every training step. Passing here means your code follows the contract.")


def terminal(result: GradeResult, width: int | None = None) -> str:
    """The report a student can act on: the score and what to fix first, then one line per
    check, the runs, and where the code ran."""
    width = width or min(shutil.get_terminal_size((100, 20)).columns, 120)
    sub = result.submission
    who = one_line(" ".join(p for p in (sub.student_id, sub.name) if p))
    lines = [f"bptt-grader {result.grader_version}: {one_line(sub.module or sub.source)}" + (f" ({who})" if who else "")]
    lines += headline(result, width)
    lines += [f"note: {one_line(note)}" for note in sub.notes]
    shown = [] if nothing_ran(result) else [c for c in result.checks if c.status != "skipped"]
    skipped = [c.name for c in result.checks if c.status == "skipped" and not c.grader_only]
    grader_only = [c.name for c in result.checks if c.grader_only]
    if shown:
        lines += ["", "checks:"]
    name_width = max(len(c.name) for c in shown) if shown else 10
    for c in shown:
        points = f"{c.points:g}/{c.max_points:g}" if c.max_points else ""
        head = f"  {label(c):<5} {c.name:<{name_width}} {points:>7}  "
        wrapped = textwrap.wrap(c.message, width=max(width - len(head), 30)) or [""]
        lines.append(head + wrapped[0])
        lines.extend(" " * len(head) + more for more in wrapped[1:])
    if skipped and not nothing_ran(result):
        lines += textwrap.wrap(f"  {LABEL['skipped']:<5} {len(skipped)} checks run once what they need passes: "
                               f"{', '.join(skipped)}", width=width, subsequent_indent=" " * 8)
    if grader_only and not nothing_ran(result):
        lines += textwrap.wrap(f"  {LABEL['skipped']:<5} {', '.join(grader_only)}: the grader's only (they need the "
                               "reference model)", width=width, subsequent_indent=" " * 8)
    if result.runs:
        window = f"the last {result.accuracy_window} iterations" if result.accuracy_window else "the window"
        lines += ["", f"runs (accuracy over {window}):"]
        for i, run in enumerate(result.runs, 1):
            extra = "  (did not finish: see train)" if run.error else ""
            per = f" ({run.ms_per_iteration:.2f} ms per iteration)" if run.ms_per_iteration else ""
            lines.append(f"  run {i} (seed {run.seed}): accuracy {run.accuracy:.3f}, "
                         f"{run.iterations_done} iterations in {run.seconds:.1f} s{per}{extra}")
    facts = []
    if result.accuracy_exhaustive is not None:
        facts.append(f"all pairs: {result.accuracy_exhaustive:.4f}")
    if result.loss_recognised:
        facts.append(f"loss: {result.loss_recognised}")
    if facts:
        lines.append("   ".join(facts))
    if result.self_check:
        lines += ["", *textwrap.wrap(SELF_CHECK, width=width)]
    if result.sandbox:  # one plain line; what fell back and why is in --json (sandbox_note)
        weak = "" if result.sandbox_strong else "  (WEAK: the code ran with your rights)"
        lines += ["", f"sandbox: {result.sandbox}{weak}"]
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
