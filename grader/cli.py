"""The `bptt-grader` command line: one subcommand per job, each a small function.

Exit codes: 0 success (or a passing submission), 1 a failing submission, 2 usage errors
and inputs the grader cannot read, 130 interrupted (a batch first writes its outputs for
what it finished).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from grader import __version__
from grader.messages import LANGS, normal_lang
from grader.settings import LOSSES, Settings, SettingsError, batch_settings, load_settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A problem with the command line or its inputs: printed as one line, exit code 2."""


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings file (or defaults: a student kit's are those it was built with) with the
    common overrides from the flags applied."""
    from grader.kit import kit_settings

    settings = load_settings(getattr(args, "settings", None) or kit_settings())
    iterations = getattr(args, "iterations", None)
    return settings.with_overrides(
        runs=getattr(args, "runs", None),
        iterations=iterations,
        lang=getattr(args, "lang", None),
        accuracy_window=min(settings.accuracy_window, iterations) if iterations else None,
        **(
            {"limits": settings.limits.model_copy(update={"total_seconds": args.time_limit})}
            if getattr(args, "time_limit", None) is not None
            else {}
        ),
    )


def add_settings_flags(parser: argparse.ArgumentParser, runs: bool = True) -> None:
    parser.add_argument("--settings", metavar="FILE", help="assignment settings (TOML)")
    parser.add_argument("--iterations", type=int, metavar="N", help="training iterations per run")
    parser.add_argument("--lang", type=normal_lang, choices=LANGS, help="the language of what students read "
                        "(report, feedback, Gradescope); default: the settings' lang, else en")
    if runs:
        parser.add_argument("--runs", type=int, metavar="N", help="independent training runs")
        parser.add_argument(
            "--time-limit", type=float, metavar="SECONDS", help="wall time for one submission"
        )


def cmd_reference(args: argparse.Namespace) -> int:
    """Train the reference RNN once and print its accuracy and time."""
    from reference.train import train_reference

    settings = settings_from_args(args)
    seed = settings.run_seeds[0] if args.seed is None else args.seed
    result = train_reference(settings, seed, args.loss)
    per_iter = result.seconds / result.iterations * 1e6
    print(
        f"reference RNN  loss={args.loss or settings.reference_loss}  seed={seed}  "
        f"iterations={result.iterations}"
    )
    print(
        f"accuracy (last {settings.accuracy_window}): {result.accuracy:.3f}   "
        f"training loop: {result.seconds:.2f} s ({per_iter:.1f} us/iteration)"
    )
    return EXIT_OK


def cmd_settings(args: argparse.Namespace) -> int:
    """Print the settings (defaults, or a file's) as TOML, and their hash."""
    settings = settings_from_args(args)
    print(f"# bptt-grader settings, hash {settings.digest()}")
    print(f"# {settings.time_budget()}")
    print(settings.to_toml(), end="")
    return EXIT_OK


TEMPLATE_FILES = {  # in the package -> in the student's repository
    "rnn.py": "rnn.py",
    "README.md": "README.md",
    "STUDENT_API.md": "STUDENT_API.md",
    "github/check.yml": ".github/workflows/check.yml",
}


def cmd_template(args: argparse.Namespace) -> int:
    """Copy the student template into DIR: rnn.py, its README, the contract, and the GitHub
    Actions workflow and GitHub Classroom test that run the grader on every push."""
    target = Path(args.dir)
    source = resources.files("student_template")
    existing = [target / dest for dest in TEMPLATE_FILES.values() if (target / dest).exists()]
    if existing and not args.force:
        raise UsageError(f"{existing[0]} exists; use --force to overwrite it")
    for name, dest in TEMPLATE_FILES.items():
        path = target / dest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(source.joinpath(*name.split("/")).read_bytes())
        print(f"wrote {path}")
    return EXIT_OK


# What `check --json` leaves out: numbers for the class's similarity, meaningless to a
# student (the batch's stored results keep them).
INTERNALS = {"submission": {"fingerprint"}}


def cmd_check(args: argparse.Namespace) -> int:
    """Grade one submission, print the report; exit 0 if it passes, 1 if not, 2 if unreadable."""
    from grader.checks.pipeline import grade
    from grader.checks.run_pool import run_workers
    from grader.outputs.terminal import junit_xml, quick_settings, quick_summary, terminal
    from grader.sandbox import isolation
    from grader.sandbox.probe import FIX

    full = settings_from_args(args)
    settings = quick_settings(full) if args.quick else full
    path = Path(args.path)
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    found = isolation()
    if not found.strong and found.mode != "portable":  # a student checking their own code may go on
        print(f"warning: weak sandbox ({found.describe()}): the code runs with your own rights; {FIX}",
              file=sys.stderr)
    result = grade(path, settings, run_workers=run_workers(settings))
    text = terminal(result, lang=full.lang) + (quick_summary(result, full, full.lang) if args.quick else "")
    print(text, end="", file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json:
        payload = result.model_dump_json(indent=2, exclude=INTERNALS)
        if args.json == "-":
            print(payload)
        else:
            Path(args.json).write_text(payload + "\n", encoding="utf-8")
    if args.junit_xml:
        Path(args.junit_xml).write_text(junit_xml(result), encoding="utf-8")
    discover = result.check("discover")
    if discover is not None and discover.status != "passed":
        return EXIT_USAGE
    bad = [c for c in result.checks if c.status in ("failed", "error")]
    passes = result.status == "graded" and not bad and result.score >= (args.min_score or 0.0)
    return EXIT_OK if passes else EXIT_FAIL


def _dask_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("distributed") is not None


def cmd_batch(args: argparse.Namespace) -> int:
    """Grade a class's download into OUT: grades.csv, feedback/, summary.md, index.html."""
    from grader.batch.roster import RosterError, load_roster
    from grader.batch.run import BatchError, BatchOptions, run_batch
    from grader.sandbox import isolation
    from grader.sandbox.probe import FIX, PORTABLE_FIX

    settings = settings_from_args(args)
    source, out = Path(args.submissions), Path(args.out)
    if not source.exists():
        raise UsageError(f"{source}: no such file or folder")
    try:
        roster = load_roster(Path(args.roster)) if args.roster else None
    except RosterError as exc:
        raise UsageError(str(exc)) from None
    if args.scheduler and not _dask_installed():
        raise UsageError("--scheduler needs Dask: pip install 'bptt-grader[dask]'")
    found = isolation()
    print(f"sandbox: {found.describe()}" + (" (here; each Dask worker checks its own)" if args.scheduler else ""),
          file=sys.stderr)
    if not found.strong and not args.scheduler:
        if not args.allow_weak_sandbox:
            raise UsageError(
                f"refusing to grade: submissions cannot be isolated here (no {' or '.join(found.missing())} "
                f"isolation: {found.note}), so one student's code could read or change the others' grades. "
                f"Fix: {PORTABLE_FIX if found.mode == 'portable' else FIX}; or pass --allow-weak-sandbox "
                "(every row is then flagged 'sandbox')")
        print("warning: --allow-weak-sandbox: submissions run with your rights; rows are flagged 'sandbox'",
              file=sys.stderr)
    options = BatchOptions(
        jobs=args.jobs or os.cpu_count() or 1, force=args.force, only=frozenset(args.only or ()),
        progress=not args.quiet, isolation=found, roster=roster, scheduler=args.scheduler,
        allow_weak=args.allow_weak_sandbox, announce=lambda line: print(line, file=sys.stderr),
        archive=Path(args.archive) if args.archive else None,
        **({"similar_above": args.similar_above} if args.similar_above is not None else {}))
    try:
        report = run_batch(source, out, settings, options)
    except BatchError as exc:
        raise UsageError(str(exc)) from None
    print(report.text(out))
    return EXIT_INTERRUPTED if report.interrupted else EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    """Add the manually scored report columns to grades.csv and write final.csv."""
    from grader.outputs.merge import keep_higher, merge, write
    from grader.outputs.table import CsvError

    settings = settings_from_args(args)
    grades = Path(args.grades)
    try:
        merged = merge(grades, Path(args.manual), settings)
        if args.keep_higher:
            merged = keep_higher(merged, Path(args.keep_higher))
    except CsvError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.output) if args.output else grades.with_name("final.csv")
    write(merged.table, out)
    for problem in merged.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if merged.not_graded:
        shown = ", ".join(merged.not_graded[:20]) + (" ..." if len(merged.not_graded) > 20 else "")
        print(f"not graded yet (a blank report cell; their total is left blank): {len(merged.not_graded)}: {shown}")
    if merged.kept_higher:
        print(f"kept the higher earlier total of {len(merged.kept_higher)}: {', '.join(merged.kept_higher[:20])}")
    print(f"read {args.manual} as {merged.codec}; wrote {out} ({len(merged.table)} students, "
          f"{len(merged.problems)} problems)")
    return EXIT_FAIL if merged.problems else EXIT_OK


def cmd_sheet(args: argparse.Namespace) -> int:
    """A sheet to grade the report in a spreadsheet: every gradable student, the criteria blank."""
    from grader.outputs.sheet import blank_sheet
    from grader.outputs.table import CsvError, write_safe_csv

    out = Path(args.out)
    if not (out / "grades.csv").is_file():
        raise UsageError(f"{out}: no grades.csv in it; run bptt-grader batch first")
    target = Path(args.output) if args.output else out / "sheet.csv"
    if target.exists() and not args.force:
        raise UsageError(f"{target} exists (someone may have filled it in); give -o another file, or --force")
    settings = batch_settings(out, Path(args.settings) if args.settings else None)
    try:
        table, left_out = blank_sheet(out / "grades.csv", settings)
    except CsvError as exc:
        raise UsageError(str(exc)) from None
    write_safe_csv(table, target)
    rubric = ", ".join(f"{c.name} (0-{c.points:g})" for c in settings.report.criteria)
    print(f"wrote {target}: {len(table)} students; fill in {rubric}, then run "
          f"bptt-grader merge {out / 'grades.csv'} {target}")
    for line in left_out:
        print(f"not on the sheet: {line}")
    return EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    """Serve the TAs' review of the report on this machine (or, with --host, to a course's TAs)."""
    import secrets

    import uvicorn

    from grader.outputs.table import CsvError
    from grader.review.app import LOCAL_HOSTS, create_app
    from grader.review.klass import load_class

    out = Path(args.out)
    if not (out / "grades.csv").is_file():
        raise UsageError(f"{out}: no grades.csv in it; run bptt-grader batch first")
    settings = batch_settings(out, Path(args.settings) if args.settings else None)
    try:
        klass = load_class(out, settings)
    except CsvError as exc:
        raise UsageError(str(exc)) from None
    local = args.host in ("127.0.0.1", "localhost", "::1")
    token = None if local else secrets.token_urlsafe(24)
    app = create_app(klass, token, LOCAL_HOSTS if local else ("*",))
    shown = "127.0.0.1" if local else args.host
    print(f"review of {len(klass.students)} students ({len(klass.left_out)} rows cannot be graded here); "
          f"scores are saved in {out / 'review.sqlite'} and written to {out / 'manual.csv'}")
    print(f"open http://{shown}:{args.port}/" + (f"?token={token}" if token else "") + "  (Ctrl-C stops; then run "
          f"bptt-grader merge {out / 'grades.csv'} {out / 'manual.csv'})")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write the file a platform's gradebook imports, from OUT's final.csv (else grades.csv)."""
    from grader.outputs.gradebook import export
    from grader.outputs.merge import graded_sheet
    from grader.outputs.table import CsvError

    try:
        grades = graded_sheet(Path(args.out))
        done = export(grades, args.target, Path(args.output), args.assignment, args.feedback_files,
                      batch_settings(Path(args.out)).lang)
    except CsvError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {', '.join(map(str, done.files))}: {done.graded} grades from {grades.name}, "
          f"{done.blank} left blank; the grade is {done.scale}")
    if done.shared:
        print(f"left blank, several submissions claim them (flag shared_id): {', '.join(done.shared)}")
    if done.late_lowered:
        print(f"a late factor lowered the grade of {len(done.late_lowered)}: {', '.join(done.late_lowered)}")
    return EXIT_OK


def cmd_gradescope(args: argparse.Namespace) -> int:
    """Build the Gradescope autograder zip (the settings in force go inside)."""
    from grader.gradescope import AutograderError, build

    try:
        out = build(Path(args.output), settings_from_args(args), args.allow_weak_sandbox, args.leaderboard)
    except AutograderError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {out}: upload it as the autograder of a Gradescope programming assignment")
    return EXIT_OK


def cmd_gradescope_run(args: argparse.Namespace) -> int:
    """What run_autograder does on Gradescope: grade ROOT/submission, write ROOT/results/results.json."""
    from grader.gradescope import ROOT_ENV, run

    root = Path(args.root or os.environ.get(ROOT_ENV) or "/autograder")
    results = run(root, settings_from_args(args), args.allow_weak_sandbox, args.leaderboard)
    print(f"score {results['score']}: wrote {root / 'results' / 'results.json'}")
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """Grade a submission again as a stored result says it was graded; say what differs."""
    from pydantic import ValidationError

    from grader.replay import ReplayError, replay
    from grader.results import GradeResult

    try:
        recorded = GradeResult.model_validate_json(Path(args.result).read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError) as exc:
        raise UsageError(f"{args.result}: not a result the grader wrote ({str(exc).splitlines()[0][:200]})") from None
    try:
        found = replay(recorded, Path(args.submission), settings_from_args(args))
    except ReplayError as exc:
        raise UsageError(str(exc)) from None
    for line in found.machine:
        print(f"machine: {line}")
    for line in found.differences:
        print(f"differs: {line}")
    print(f"replayed: score {found.again.score:g} / {found.again.max_score:g}; "
          + ("nothing differs" if not found.differences else f"{len(found.differences)} differences"))
    return EXIT_FAIL if found.differences else EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    """Each student's old and new score and the checks that flipped between two batches."""
    from grader.outputs.diff import diff_outputs
    from grader.outputs.table import CsvError

    try:
        found = diff_outputs(Path(args.old), Path(args.new))
    except CsvError as exc:
        raise UsageError(str(exc)) from None
    for line in found.settings:
        print(f"settings: {line}")
    for change in found.changes:
        print(change.text())
    for label, keys in (("only in the old batch", found.only_old), ("only in the new batch", found.only_new)):
        if keys:
            print(f"{label}: {len(keys)}: {', '.join(keys[:20])}" + (" ..." if len(keys) > 20 else ""))
    print(f"{len(found.changes)} changed, {found.same} the same")
    return EXIT_FAIL if args.exit_code and (found.changes or found.only_old or found.only_new) else EXIT_OK


def cmd_push(args: argparse.Namespace) -> int:
    """Send each student's grade and comment to the LMS through its API (old -> new first)."""
    from grader.push.http import Client, LMSError
    from grader.push.lms import Canvas, Moodle
    from grader.outputs.table import CsvError
    from grader.push.run import push

    variable = args.token_env or ("CANVAS_TOKEN" if args.lms == "canvas" else "MOODLE_TOKEN")
    token = os.environ.get(variable, "")
    if not token:
        raise UsageError(f"set {variable} to an API token of the course (it is read from the environment only, "
                         "never written anywhere)")
    out = Path(args.out)
    if args.lms == "canvas":
        lms = Canvas(Client(args.url, {"Authorization": f"Bearer {token}"}, args.pause), args.course, args.assignment)
    else:
        lms = Moodle(Client(args.url, pause=args.pause), token, args.course, args.assignment)
    log = out / f"push-{args.lms}-{args.course}-{args.assignment}.jsonl"
    try:
        report = push(out, lms, log, args.dry_run)
    except (CsvError, LMSError) as exc:
        raise UsageError(str(exc)) from None
    finally:
        lms.client.close()
    show = [p for p in report.planned if p.action == "send"]
    for p in show:
        old = "-" if p.old is None else f"{p.old:g}"
        print(f"  {p.student}: {old} -> {p.new:g}" + (" (and the comment)" if p.comment is not None else ""))
    for action, said in (("not_in_course", "not in the course on the LMS"), ("no_grade", "no grade yet (not sent)"),
                         ("shared", "several rows claim the id (not sent)")):
        names = [p.student for p in report.planned if p.action == action]
        if names:
            print(f"{said}: {len(names)}: {', '.join(names[:20])}" + (" ..." if len(names) > 20 else ""))
    if args.dry_run:
        print(f"dry run: {len(show)} would change, {report.count('unchanged')} unchanged; nothing was sent")
        return EXIT_OK
    for p, why in report.failed:
        print(f"failed: {p.student}: {why}", file=sys.stderr)
    for p, got in report.mismatched:
        print(f"read back: {p.student} holds {got} on the LMS, not {p.new:g}", file=sys.stderr)
    print(f"sent {len(report.sent)}, unchanged {report.count('unchanged')}, failed {len(report.failed)}; "
          f"read back: {len(report.sent) - len(report.mismatched)} of {len(report.sent)} match; log: {log}")
    return EXIT_FAIL if report.failed or report.mismatched else EXIT_OK


def cmd_prairielearn_run(args: argparse.Namespace) -> int:
    """PrairieLearn's external grader: grade ROOT/student, write ROOT/results/results.json."""
    from grader.prairielearn import run

    root = Path(args.root)
    results = run(root, settings_from_args(args), args.allow_weak_sandbox)
    said = f"score {results['score']}" if results.get("gradable") else "not gradable"
    print(f"{said}: wrote {root / 'results' / 'results.json'}")
    return EXIT_OK


def cmd_classroom50(args: argparse.Namespace) -> int:
    """Write the Classroom 50 autograder (autograder.py, the student kit's wheel, the settings)."""
    from grader.classroom50 import build
    from grader.wheel import WheelError

    out = Path(args.output)
    try:
        written = build(out, settings_from_args(args))
    except WheelError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {', '.join(p.name for p in written)} in {out}: put them in your classroom repository under "
          "autograders/<assignment>/ (gh teacher autograder set <org> <classroom> <assignment> --from "
          f"{out / 'autograder.py'} uploads the script; commit the wheel and settings.toml beside it)")
    return EXIT_OK


def cmd_student_kit(args: argparse.Namespace) -> int:
    """Build the student kit: the self-check as a wheel without the reference solution."""
    from grader.kit import kit_wheel
    from grader.wheel import WheelError

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    try:
        wheel = kit_wheel(out, settings_from_args(args))
    except WheelError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {wheel}: the student kit (no forward, no BPTT; its checks use numbers computed now at public "
          "parameters, and grading uses others). Students install it with: pip install " + wheel.name)
    return EXIT_OK


def cmd_classroom50_run(args: argparse.Namespace) -> int:
    """What autograder.py runs: grade the checkout, write result.json, release-body.md and the outputs."""
    from grader.classroom50 import run
    from grader.outputs.terminal import terminal

    settings = settings_from_args(args)
    result = run(Path(args.checkout), settings)
    # the Actions log: no line may start a workflow command ("::error::", "::add-mask::" ...)
    print("\n".join(f" {line}" if line.startswith("::") else line
                    for line in terminal(result, lang=settings.lang).splitlines()))
    return EXIT_OK


EXAMPLES = {  # the end of each command's --help
    "reference": ["bptt-grader reference", "bptt-grader reference --loss mse --seed 7"],
    "check": ["bptt-grader check rnn.py --quick      # every check and one short run, in seconds",
              "bptt-grader check DLP_LAB4_0756001_Amy.zip --json result.json",
              "bptt-grader check rnn.py --lang zh-TW # the report in Traditional Chinese"],
    "batch": ["bptt-grader batch moodle-download.zip -o out --roster roster.csv",
              "bptt-grader batch class/ -o out --only 0756001 --force   # regrade one student",
              "bptt-grader batch lab4-2026.zip -o lab4-2026 --archive ~/lab4-archive   # also against earlier years"],
    "review": ["bptt-grader review out              # then open http://127.0.0.1:8765/",
               "bptt-grader review out --host 0.0.0.0   # for several TAs; share the address with the token"],
    "sheet": ["bptt-grader sheet out && libreoffice out/sheet.csv"],
    "merge": ["bptt-grader merge out/grades.csv out/manual.csv   # writes out/final.csv"],
    "export": ["bptt-grader export moodle out -o lab4-moodle.csv",
               "bptt-grader export canvas out -o lab4-canvas.csv --assignment 'Lab 4 (123456)'"],
    "gradescope": ["bptt-grader gradescope -o autograder.zip --settings lab4.toml"],
    "gradescope-run": ["bptt-grader gradescope-run --root /tmp/gs   # grades /tmp/gs/submission"],
    "classroom50": ["bptt-grader classroom50 -o autograders/lab4 --settings lab4.toml"],
    "student-kit": ["bptt-grader student-kit -o kit --settings lab4.toml   # then publish kit/*.whl to the class"],
    "replay": ["bptt-grader replay out/results/ab12.json DLP_LAB4_0756001_Amy.zip --settings out/settings.toml"],
    "diff": ["bptt-grader diff out-before out-after   # after regrading with new settings into out-after"],
    "push": ["bptt-grader push canvas out --url https://canvas.example.edu --course 42 --assignment 7 --dry-run",
             "bptt-grader push moodle out --url https://moodle.example.edu --course 5 --assignment 12  # MOODLE_TOKEN"],
    "prairielearn-run": ["bptt-grader prairielearn-run --settings /grade/serverFilesCourse/lab4.toml"],
    "classroom50-run": ["bptt-grader classroom50-run --checkout .   # what autograder.py runs"],
    "settings": ["bptt-grader settings > lab4.toml   # edit, then pass --settings lab4.toml"],
    "template": ["bptt-grader template my-lab4"],
}


def _with_examples(sub: argparse._SubParsersAction) -> None:
    for name, parser in sub.choices.items():
        parser.epilog = "examples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[name])
        parser.formatter_class = argparse.RawDescriptionHelpFormatter


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bptt-grader",
        description="Grade the vanilla-RNN / BPTT binary-addition lab.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("reference", help="train the reference RNN, print accuracy and time")
    p.add_argument("--seed", type=int, help="seed of the model and the data stream")
    p.add_argument("--loss", choices=LOSSES, help="loss (default: the settings' reference_loss)")
    add_settings_flags(p, runs=False)
    p.set_defaults(func=cmd_reference)

    p = sub.add_parser("check", help="grade one submission (.py, folder or .zip)")
    p.add_argument("path", metavar="PATH", help="the submission: a .py file, a folder or a .zip")
    p.add_argument("--json", metavar="FILE", help="write the result as JSON ('-' for stdout)")
    p.add_argument("--junit-xml", metavar="FILE", help="write one JUnit test case per check")
    p.add_argument(
        "--min-score", type=float, metavar="S",
        help="pass only with a score of at least S (and no failed check)",
    )
    p.add_argument("--quick", action="store_true",
                   help="every correctness check and one short training run, then what full grading will take here")
    add_settings_flags(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("batch", help="grade a folder (or an archive) of submissions")
    p.add_argument("submissions", metavar="SUBMISSIONS", help="folder of zips, or one zip of them")
    p.add_argument("-o", "--out", required=True, metavar="OUT", help="output folder")
    p.add_argument("-j", "--jobs", type=int, metavar="N", help="submissions graded at once (default: cores)")
    p.add_argument("--force", action="store_true",
                   help="regrade what is stored (with --only: only those), and results stored under other settings")
    p.add_argument("--only", action="append", metavar="ID",
                   help="regrade the submissions of this student id or file name part (repeatable)")
    p.add_argument("--roster", metavar="CSV", help="class list: student_id, name, email, lms_user_id, section, "
                   "extension; names students by their platform id or email and lists who submitted nothing")
    p.add_argument("--scheduler", metavar="ADDRESS", help="grade on a Dask cluster: a scheduler's address "
                   "(tcp://host:8786), or local:N for N local worker processes (pip install 'bptt-grader[dask]')")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--similar-above", type=float, metavar="S",
                   help="flag pairs of modules at least this similar (0..1, default 0.5; OUT/similarity.csv)")
    p.add_argument("--archive", metavar="DIR",
                   help="compare the class with the earlier classes kept in DIR (fingerprints, no code) and keep "
                        "this one there as DIR/<OUT's name>.json")
    p.add_argument("--allow-weak-sandbox", action="store_true",
                   help="grade even where submissions cannot be isolated from each other and from you")
    add_settings_flags(p)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("merge", help="add manual report scores to grades.csv, write totals")
    p.add_argument("grades", metavar="GRADES_CSV")
    p.add_argument("manual", metavar="MANUAL_CSV", help="student_id plus report columns")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write (default: final.csv beside GRADES_CSV)")
    p.add_argument("--settings", metavar="FILE", help="assignment settings (TOML) with the report rubric")
    p.add_argument("--keep-higher", metavar="EARLIER_FINAL_CSV",
                   help="never lower a published grade: keep a student's higher total from this earlier final.csv")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("sheet", help="write a sheet to grade the report in a spreadsheet (then: merge)")
    p.add_argument("out", metavar="OUT", help="a batch's output folder")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write (default: OUT/sheet.csv)")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--settings", metavar="FILE", help="settings with the rubric (default: the batch's)")
    p.set_defaults(func=cmd_sheet)

    p = sub.add_parser("review", help="grade the reports in a browser (writes OUT/manual.csv; then: merge)")
    p.add_argument("out", metavar="OUT", help="a batch's output folder")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: this machine only); another needs the printed token")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--settings", metavar="FILE", help="settings with the rubric (default: the batch's)")
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("export", help="write the grades as a platform's gradebook imports them")
    p.add_argument("target", choices=["moodle", "canvas", "blackboard", "csv"])
    p.add_argument("out", metavar="OUT", help="a batch's output folder (its final.csv, else grades.csv)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write")
    p.add_argument("--assignment", metavar="NAME",
                   help="the gradebook column: Canvas 'Lab 4 (<assignment id>)', Blackboard 'Lab 4 |<column id>'")
    p.add_argument("--feedback-files", action="store_true",
                   help="moodle: also write FILE-feedback.zip, each participant's feedback page, for the assignment's "
                   "'Upload multiple feedback files in a zip'")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("gradescope", help="build the Gradescope autograder zip")
    p.add_argument("-o", "--output", required=True, metavar="ZIP", help="e.g. autograder.zip")
    p.add_argument("--allow-weak-sandbox", action="store_true",
                   help="grade even in a container that cannot isolate submissions (they could then rewrite "
                   "results.json); without it such a container gives every submission 0 and says why")
    p.add_argument("--leaderboard", action="store_true",
                   help="results.json carries a leaderboard of audited figures: accuracy, ms per iteration")
    add_settings_flags(p)
    p.set_defaults(func=cmd_gradescope)

    p = sub.add_parser("gradescope-run", help="grade as Gradescope's run_autograder does (ROOT/submission)")
    p.add_argument("--root", metavar="DIR", help="instead of /autograder (or $BPTT_GRADESCOPE_ROOT)")
    p.add_argument("--allow-weak-sandbox", action="store_true",
                   help="grade even where submissions cannot be isolated (the sandbox mode is in extra_data)")
    p.add_argument("--leaderboard", action="store_true", help="add the leaderboard of audited figures")
    add_settings_flags(p)
    p.set_defaults(func=cmd_gradescope_run)

    p = sub.add_parser("replay", help="grade a submission again as a stored result says; print what differs")
    p.add_argument("result", metavar="RESULT_JSON", help="a result: check --json's, or one in OUT/results/")
    p.add_argument("submission", metavar="SUBMISSION", help="the submission it is the result of")
    p.add_argument("--settings", metavar="FILE", help="the settings it was graded with (a batch's OUT/settings.toml)")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("diff", help="what a regrade changed: each student's old and new score, checks that flipped")
    p.add_argument("old", metavar="OUT_OLD", help="the batch's output folder before")
    p.add_argument("new", metavar="OUT_NEW", help="the batch's output folder after")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when anything differs")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("push", help="send the grades and comments to Canvas or Moodle through its API")
    p.add_argument("lms", choices=["canvas", "moodle"])
    p.add_argument("out", metavar="OUT", help="a batch's output folder (its final.csv, else grades.csv)")
    p.add_argument("--url", required=True, help="the LMS's address, e.g. https://canvas.example.edu")
    p.add_argument("--course", required=True, metavar="ID", help="the course's id on the LMS")
    p.add_argument("--assignment", required=True, metavar="ID",
                   help="the assignment's id (Canvas: in its address; Moodle: the assign instance id)")
    p.add_argument("--dry-run", action="store_true", help="print what would change (old -> new); send nothing")
    p.add_argument("--token-env", metavar="NAME", help="the variable holding the token (default CANVAS_TOKEN or "
                   "MOODLE_TOKEN)")
    p.add_argument("--pause", type=float, default=0.2, metavar="S", help="seconds between calls (default 0.2)")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("prairielearn-run", help="grade as PrairieLearn's external grader (ROOT/student)")
    p.add_argument("--root", default="/grade", metavar="DIR", help="instead of /grade")
    p.add_argument("--allow-weak-sandbox", action="store_true",
                   help="grade even where submissions cannot be isolated (else: not gradable, and why)")
    add_settings_flags(p)
    p.set_defaults(func=cmd_prairielearn_run)

    p = sub.add_parser("classroom50", help="write the Classroom 50 autograder (autograder.py, wheel, settings)")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="e.g. autograders/lab4 of the classroom repository")
    add_settings_flags(p)
    p.set_defaults(func=cmd_classroom50)

    p = sub.add_parser("student-kit", help="build the students' self-check wheel, without the reference solution")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the wheel")
    add_settings_flags(p, runs=False)
    p.set_defaults(func=cmd_student_kit)

    p = sub.add_parser("classroom50-run", help="grade a checkout as Classroom 50's runner does (autograder.py runs it)")
    p.add_argument("--checkout", default=".", metavar="DIR", help="the student's checkout (default: here)")
    add_settings_flags(p)
    p.set_defaults(func=cmd_classroom50_run)

    p = sub.add_parser("settings", help="print the assignment settings as TOML")
    p.add_argument("--dump", action="store_true",
                   help="does what the command does without it (print the settings as TOML); kept for scripts")
    add_settings_flags(p)
    p.set_defaults(func=cmd_settings)

    p = sub.add_parser("template", help="copy the student template into DIR")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=cmd_template)

    _with_examples(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from grader.kit import KIT_COMMANDS, is_kit

    if is_kit() and args.command not in KIT_COMMANDS:
        print(f"bptt-grader: error: this is the student kit, which runs {', '.join(KIT_COMMANDS)}; "
              f"`{args.command}` is the instructor's (install the full bptt-grader)", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except (SettingsError, UsageError) as exc:
        print(f"bptt-grader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("bptt-grader: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
