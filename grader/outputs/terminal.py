"""Views of a GradeResult: the terminal report a student reads, and JUnit XML for CI.

Pure functions from a result to text, so every view shows the same facts.
"""

from __future__ import annotations

import shutil
import textwrap
import unicodedata
import xml.etree.ElementTree as ET

from grader.messages import Lang, Message, say, shown
from grader.results import CheckResult, GradeResult
from grader.safe_text import one_line
from grader.settings import Settings

LABEL = {"passed": Message("PASS"), "failed": Message("FAIL"), "skipped": Message("SKIP"), "error": Message("ERROR")}
WITHHELD = Message("HELD")  # ran, but a gate kept its points: never PASS beside a withheld score


def label(c: CheckResult, lang: Lang = "en") -> str:
    """A check's label in every report: its status, or HELD where a gate kept its points."""
    return shown(WITHHELD if c.withheld else LABEL[c.status], lang)


def nothing_ran(result: GradeResult) -> bool:
    """Not graded, and not one check passed: the submission never reached the code (a zip
    that could not be read, no module, ...); its reports are a few lines."""
    return result.status != "graded" and not any(c.status == "passed" for c in result.checks)


def columns(text: str) -> int:
    """The columns a terminal gives `text`: two for each wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, width: int, indent: str = "") -> list[str]:
    """textwrap.wrap by the columns a terminal shows: where the text holds wide characters, a
    line may also break between two of them (Chinese has no spaces between words)."""
    if columns(text) == len(text):
        return textwrap.wrap(text, width=width, subsequent_indent=indent)
    lines: list[str] = []
    line = text[: len(text) - len(text.lstrip())]  # the first line keeps its indent, as textwrap's does
    for token in _tokens(text.lstrip()):
        if token.isspace():
            line += " " * len(token) if line.strip() else ""  # a tab or newline as a space, as textwrap does
            continue
        while columns(token) > width - len(indent):  # a word longer than a line, cut as textwrap cuts it
            room = width - columns(line)
            lines.append(line + token[:room])
            line, token = indent, token[room:]
        if line.strip() and columns(line + token) > width:
            carry = _last_token(line) if token[0] in NO_LINE_START or line[-1] in NO_LINE_END else ""
            if len(carry) >= len(line.strip()) or columns(indent + carry + token) > width:
                carry = ""  # never the whole line, nor a next line too long
            lines.append(line[: len(line) - len(carry)].rstrip())
            line = indent + carry
        line += token
    return [*lines, line.rstrip()] if line.strip() else lines


NO_LINE_START = set("）」』，。、；：！？")  # Chinese punctuation a line must not start with
NO_LINE_END = set("（「『")  # nor end with


def _last_token(line: str) -> str:
    """The end of a line that moves with what follows it: a wide character, or a word."""
    return "" if not line or line[-1].isspace() else _tokens(line)[-1]


def _tokens(text: str) -> list[str]:
    """Spaces, each wide character, and each run of other characters (a word or a number)."""
    tokens: list[str] = []
    for ch in text:
        wide, space = unicodedata.east_asian_width(ch) in "WF", ch.isspace()
        if tokens and not wide and not space and not tokens[-1].isspace() and columns(tokens[-1][-1]) == 1:
            tokens[-1] += ch
        elif tokens and space and tokens[-1].isspace():
            tokens[-1] += ch
        else:
            tokens.append(ch)
    return tokens


def performance_text(result: GradeResult) -> Message | None:
    """Where the performance points went: accuracy times the points, or held by a gate."""
    train = result.check("train")
    if result.accuracy is None or train is None or not train.max_points:
        return None
    if train.withheld:
        return Message("performance 0/{max:g}: accuracy {accuracy:.3f} ({runs}); the points wait for {gates} to pass",
                       max=train.max_points, accuracy=result.accuracy, runs=result.runs_text,
                       gates=Message.join(" and ", train.withheld))
    return Message("performance {points:g}/{max:g} = {max:g} x accuracy {accuracy:.3f} ({runs})", points=train.points,
                   max=train.max_points, accuracy=result.accuracy, runs=result.runs_text)


def headline(result: GradeResult, width: int = 100, lang: Lang = "en") -> list[str]:
    """The lines a student reads first: the score, where the points went, the one thing to
    fix first (its whole message) or why nothing was graded."""
    lines = [say(lang, "score: {score:g} / {max:g}", score=result.score, max=result.max_score)]
    if performance := performance_text(result):
        lines.append(f"  {shown(performance, lang)}")
    if result.status != "graded":
        lines += wrap(say(lang, "not graded ({status}): {message}", status=result.status,
                          message=one_line(result.in_lang(result.message, lang))), width, "  ")
    elif (first := result.fix_first()) is not None:
        lines += wrap(say(lang, "fix first: {check}: {message}", check=first.name,
                          message=one_line(first.in_lang(first.message, lang))), width, "  ")
    return lines


SELF_CHECK = Message("self-check (student kit): it compares your code with numbers shipped in the kit and audits "
                     "nothing, so it proves nothing to the grader, which uses other, secret parameters and audits "
                     "every training step. Passing here means your code follows the contract.")


def terminal(result: GradeResult, width: int | None = None, lang: Lang = "en") -> str:
    """The report a student can act on: the score and what to fix first, then one line per
    check, the runs, and where the code ran."""
    width = width or min(shutil.get_terminal_size((100, 20)).columns, 120)
    sub = result.submission
    who = one_line(" ".join(p for p in (sub.student_id, sub.name) if p))
    lines = [f"bptt-grader {result.grader_version}: {one_line(sub.module or sub.source)}" + (f" ({who})" if who else "")]
    lines += headline(result, width, lang)
    lines += [say(lang, "note: {note}", note=one_line(sub.in_lang(note, lang))) for note in sub.notes]
    if sub.report_note is not None:
        lines.append(say(lang, "note: {note}", note=sub.report_note))
    checks = [] if nothing_ran(result) else [c for c in result.checks if c.status != "skipped"]
    skipped = [c.name for c in result.checks if c.status == "skipped" and not c.grader_only]
    grader_only = [c.name for c in result.checks if c.grader_only]
    if checks:
        lines += ["", say(lang, "checks:")]
    name_width = max(len(c.name) for c in checks) if checks else 10
    label_width = max([5, *(columns(label(c, lang)) for c in result.checks)])
    for c in checks:
        points = f"{c.points:g}/{c.max_points:g}" if c.max_points else ""
        tag = label(c, lang)
        head = f"  {tag}{' ' * (label_width - columns(tag))} {c.name:<{name_width}} {points:>7}  "
        wrapped = wrap(c.in_lang(c.message, lang), max(width - columns(head), 30)) or [""]
        lines.append(head + wrapped[0])
        lines.extend(" " * columns(head) + more for more in wrapped[1:])
    skip = shown(LABEL["skipped"], lang)
    pad = f"  {skip}{' ' * (label_width - columns(skip))} "
    if skipped and not nothing_ran(result):
        lines += wrap(pad + say(lang, "{n} checks run once what they need passes: {checks}", n=len(skipped),
                                checks=", ".join(skipped)), width, " " * 8)
    if grader_only and not nothing_ran(result):
        lines += wrap(pad + say(lang, "{checks}: the grader's only (they need the reference model)",
                                checks=", ".join(grader_only)), width, " " * 8)
    if result.runs:
        window = (say(lang, "the last {n} iterations", n=result.accuracy_window) if result.accuracy_window
                  else say(lang, "the window"))
        lines += ["", say(lang, "runs (accuracy over {window}):", window=window)]
        for i, run in enumerate(result.runs, 1):
            line = say(lang, "run {i} (seed {seed}): accuracy {accuracy:.3f}, {done} iterations in {seconds:.1f} s",
                       i=i, seed=run.seed, accuracy=run.accuracy, done=run.iterations_done, seconds=run.seconds)
            if run.ms_per_iteration:
                line += say(lang, " ({ms:.2f} ms per iteration)", ms=run.ms_per_iteration)
            if run.error:
                line += say(lang, "  (did not finish: see train)")
            lines.append(f"  {line}")
    facts = []
    if result.accuracy_exhaustive is not None:
        facts.append(say(lang, "all pairs: {accuracy:.4f}", accuracy=result.accuracy_exhaustive))
    if result.loss_recognised:
        facts.append(say(lang, "loss: {loss}", loss=result.loss_recognised))
    if facts:
        lines.append("   ".join(facts))
    if result.self_check:
        lines += ["", *wrap(shown(SELF_CHECK, lang), width)]
    if result.sandbox:  # one plain line; what fell back and why is in --json (sandbox_note)
        weak = "" if result.sandbox_strong else say(lang, "  (WEAK: the code ran with your rights)")
        lines += ["", say(lang, "sandbox: {sandbox}", sandbox=result.sandbox) + weak]
    if result.output.strip():
        tail = result.output.strip().splitlines()[-5:]
        lines.append("")
        lines.append(say(lang, "your code printed (last lines):"))
        lines.extend(f"  | {line[:200]}" for line in tail)
    return "\n".join(lines) + "\n"


QUICK_ITERATIONS = 2000  # enough to see learning start; a tenth of the assignment's run


def quick_settings(full: Settings) -> Settings:
    """A self-check in seconds: every check, and one run of QUICK_ITERATIONS."""
    iterations = min(full.iterations, QUICK_ITERATIONS)
    return full.with_overrides(runs=1, iterations=iterations, accuracy_window=min(full.accuracy_window, iterations // 4))


def quick_summary(result: GradeResult, full: Settings, lang: Lang = "en") -> str:
    """What full grading will do with this submission, and about how long, on this machine."""
    run = result.runs[0] if result.runs else None
    lines = ["", say(lang, "quick check: not the grade. Full grading trains {runs} runs of {iterations} iterations "
                           "(accuracy over the last {window} of each).", runs=full.runs, iterations=full.iterations,
                     window=full.accuracy_window)]
    if run is not None and run.ms_per_iteration:
        per_run = run.ms_per_iteration * full.iterations / 1000
        verdict = Message("within") if per_run <= full.run_seconds else Message("OVER")
        lines.append(say(lang, "at {ms:.2f} ms per iteration measured here, a run takes about {per_run:.0f} s and all "
                               "{runs} about {total:.0f} s: {verdict} the limit of {limit:g} s per run",
                         ms=run.ms_per_iteration, per_run=per_run, runs=full.runs, total=per_run * full.runs,
                         verdict=verdict, limit=full.run_seconds))
    else:
        lines.append(say(lang, "training did not run far enough here to estimate its time; fix what is above first"))
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
