"""The instructor's job end to end: submissions in, grades.csv, feedback and summary out."""

from __future__ import annotations

import os
import re
import shutil
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd

from grader import __version__
from grader.checks.similarity import fingerprint, similar_pairs
from grader.classroom import runner
from grader.classroom.identity import identify
from grader.classroom.lateness import assess
from grader.classroom.roster import Roster
from grader.intake.layouts import ClassDownload, Entry, read_class
from grader.intake.unzip import Budget, newest_member_time, unpack_zip
from grader.outputs.feedback import student_markdown
from grader.outputs.html_report import write_report
from grader.outputs.plots import learning_curve_png, score_histogram_png
from grader.outputs.summary import Graded, summary_markdown
from grader.outputs.table import row, write_csv, write_safe_csv
from grader.results import GradeResult, SubmissionInfo
from grader.safe_files import private_dir, write_atomic
from grader.sandbox import Isolation
from reference import rnn as reference_rnn
from reference.spec import Settings

CLASS_FILES, CLASS_BYTES = 20000, 4 << 30  # a whole class's archive, not one student's
SIMILAR_ABOVE = 0.5  # independent solutions share about 0.1 of their fingerprints, copies 0.8 and more
REFERENCE = Path(reference_rnn.__file__)
KNOWN = Path(__file__).resolve().parent / "known_solutions"  # public solutions, written out


def _display_component(name: str, fallback: str) -> str:
    """A student's file or folder name as one safe path component, keeping its letters."""
    name = unicodedata.normalize("NFC", name).replace("\0", "_")
    name = re.sub(r"[/\\:]", "_", name).lstrip(".").strip()
    while len(name.encode("utf-8")) > 200:
        name = name[:-1]
    return name or fallback


def unpack_class_archive(archive: Path, intake: Path) -> Path:
    """One archive of a class's submissions (as learning platforms export) -> a folder of them.

    Unpacked with the same checks as a student's zip, on a class-sized budget; every
    entry keeps its own name (the student's id and name are read from it).
    """
    if intake.exists():
        shutil.rmtree(intake)
    root, scratch = intake / ".unpacked", intake / ".scratch"
    scratch.mkdir(parents=True)
    unpacked = unpack_zip(archive, root, scratch, _budget=Budget(CLASS_FILES, CLASS_BYTES))
    for written in unpacked.written:
        rel = written.path.relative_to(root).parts
        shown = [p for p in re.split(r"[\\/]", written.display) if p not in ("", ".")][-len(rel):]
        # Every component under its own name (made one safe component each): a platform's
        # download nests the student's file, whose name says who the student is.
        target = intake.joinpath(*(_display_component(s, r) for s, r in zip(shown, rel)))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(written.path, target)
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(scratch, ignore_errors=True)
    return intake


def duplicate_flags(results: dict[runner.Item, GradeResult]) -> dict[runner.Item, list[str]]:
    """`duplicate`: the file or graded module is byte-identical to another's; `shared_id`:
    another row carries the same student id (a classmate's id in a file name, or two
    uploads of one student), so whose grade it is needs a person."""
    groups: dict[tuple[str, str], list[runner.Item]] = defaultdict(list)  # (flag, what they share)
    for item, result in results.items():
        groups["duplicate", "file:" + item.sha256].append(item)
        if result.submission.module_sha256:
            groups["duplicate", "module:" + result.submission.module_sha256].append(item)
        if result.submission.student_id:
            groups["shared_id", result.submission.student_id].append(item)
    flags: dict[runner.Item, list[str]] = defaultdict(list)
    for (flag, _), members in groups.items():
        if len({m.file for m in members}) > 1:
            for item in members:
                if flag not in flags[item]:
                    flags[item].append(flag)
    return flags


def similarity_flags(results: dict[runner.Item, GradeResult], csv: Path, threshold: float) -> dict[runner.Item, list[str]]:
    """Pairs of graded modules that are one program under other names (or a copy of the
    reference), written to `csv` for a person to look at; each gets `similar:<closest
    partner>` (`+N` more partners in the CSV)."""
    by_file = {item.file: item for item in results}
    prints = {item.file: r.submission.fingerprint for item, r in results.items() if r.submission.fingerprint}
    known = {"reference": fingerprint(REFERENCE.read_text(encoding="utf-8"))}
    known.update({f"known:{p.stem}": fingerprint(p.read_text(encoding="utf-8"))
                  for p in sorted(KNOWN.glob("*.py")) if p.name != "__init__.py"})
    pairs = similar_pairs(prints, threshold, known)

    def who(file: str) -> str:
        item = by_file.get(file)
        return (results[item].submission.student_id or file) if item else file

    partners: dict[runner.Item, list[str]] = defaultdict(list)  # most similar first
    for a, b, _ in pairs:
        partners[by_file[a]].append(who(b))
        if b in by_file:
            partners[by_file[b]].append(who(a))
    flags = {item: [f"similar:{names[0]}" + (f"+{len(names) - 1}" if len(names) > 1 else "")]
             for item, names in partners.items()}
    table = pd.DataFrame([{"file_a": a, "student_a": who(a), "file_b": b, "student_b": who(b), "similarity": s}
                          for a, b, s in pairs], columns=["file_a", "student_a", "file_b", "student_b", "similarity"])
    write_safe_csv(table, csv)
    return flags


def _feedback_name(result: GradeResult, item: runner.Item, taken: set[str]) -> str:
    """A file-system safe, unique base name: the student id, else the file's stem."""
    base = result.submission.student_id or Path(item.file).stem
    base = re.sub(r"[^\w.-]+", "_", base).strip("._") or "submission"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def grade_class(
    source: Path,
    out: Path,
    settings: Settings,
    jobs: int,
    force: bool = False,
    only: set[str] | None = None,
    progress: bool = True,
    isolation: Isolation | None = None,
    similar_above: float | None = None,
    roster: Roster | None = None,
    announce: Callable[[str], None] | None = None,
    scheduler: str | None = None,
    allow_weak: bool = False,
) -> str:
    """Grade every submission in `source` (a folder or a class's zip, in any platform's
    layout) into `out`; returns a short summary to print. `announce` hears the layout
    found before grading starts."""
    started = time.perf_counter()
    private_dir(out)
    if source.is_file():
        source = unpack_class_archive(source, out / "intake")
    download = read_class(source, private_dir(out / "staging"), on_time=_on_time(settings, roster))
    items = runner.items_of(download)
    unmatched = sorted(w for w in only or () if not any(item.matches(w) for item in items))
    if announce is not None:
        announce(f"layout: {download.description}, {len(download.entries)} students"
                 + (f" ({len(download.superseded)} earlier attempts in attempts.csv)" if download.superseded else ""))
    outcome = runner.run(items, settings, out, jobs, force=force, only=only, progress=progress,
                        isolation=isolation, scheduler=scheduler, allow_weak=allow_weak, announce=announce)
    results, flags = {}, {}
    for item in items:
        results[item], flags[item] = identify(outcome.results[item], item.entry, roster, download.layout)
        results[item] = _with_lateness(results[item], item, settings, roster)
    for item, more in duplicate_flags(results).items():
        flags[item] += more
    threshold = SIMILAR_ABOVE if similar_above is None else similar_above
    for item, more in similarity_flags(results, out / "similarity.csv", threshold).items():
        flags[item] += more
    fb = private_dir(out / "feedback")
    rows, graded, pages, taken = [], [], [], set()
    for item in items:
        result = results[item]
        graded.append(Graded(result, flags[item]))
        rows.append(row(result, item.file, item.sha256, settings, flags[item]))
        name = _feedback_name(result, item, taken)
        pages.append((graded[-1], name))
        png = fb / f"{name}.png"
        has_png = learning_curve_png(result, png)
        write_atomic(fb / f"{name}.md", student_markdown(result, png.name if has_png else None), 0o644)
    for result, file in _ungraded_rows(download, roster, settings, {r.submission.student_id for r in results.values()}):
        graded.append(Graded(result))
        pages.append((graded[-1], None))
        rows.append(row(result, file, "", settings, []))
    write_csv(rows, out / "grades.csv")
    _write_attempts(download, out / "attempts.csv")
    histogram = out / "scores.png"
    has_hist = score_histogram_png([g.result.score for g in graded if g.result.status != "missing"],
                                   max((g.result.max_score for g in graded), default=None), histogram)
    write_atomic(out / "summary.md", summary_markdown(graded, histogram.name if has_hist else None), 0o644)
    write_report(pages, out, histogram.name if has_hist else None)
    wall = time.perf_counter() - started
    counts = ", ".join(f"{n} {s}" for s, n in sorted(Counter(g.result.status for g in graded).items()))
    return (
        f"{len(graded)} rows ({counts}): {outcome.graded} graded now, "
        f"{outcome.reused} from earlier runs, in {wall:.1f} s\n"
        + "".join(f"--only {w}: matched no submission (by file name or student id)\n" for w in unmatched)
        + f"wrote {out / 'grades.csv'}, {out / 'summary.md'}, {fb}/ and {out / 'index.html'} (open it in a browser)"
    )


def _submitted(item: runner.Item) -> tuple[datetime | None, str]:
    """When the platform says it came in, else the newest member time of the student's zip."""
    if item.entry is not None and item.entry.submitted_at is not None:
        return item.entry.submitted_at, "lms"
    if item.path.is_file() and item.path.suffix.lower() == ".zip":
        newest = newest_member_time(item.path)
        if newest is not None:
            return newest, "zip_members"
    return None, ""


def _with_lateness(result: GradeResult, item: runner.Item, settings: Settings, roster: Roster | None) -> GradeResult:
    student = roster.find(student_id=result.submission.student_id) if roster else None
    when, source = _submitted(item)
    found = assess(settings.late, student, when, source, bool(item.entry and item.entry.late))
    update = {"submitted_at": found.submitted_at.isoformat() if found.submitted_at else None,
              "time_source": found.time_source, "late_days": found.days_late, "late_factor": found.factor,
              "late": None if found.days_late is None else found.days_late != 0}
    return result.model_copy(update={"submission": result.submission.model_copy(update=update)})


def _on_time(settings: Settings, roster: Roster | None) -> Callable[[Entry], bool] | None:
    """For `late.attempt = latest_on_time`: whether an attempt came in by its student's due date."""
    if settings.late.attempt != "latest_on_time" or settings.late.due is None:
        return None

    def on_time(entry: Entry) -> bool:
        student = roster.find(lms_id=entry.lms_id, email=entry.email, student_id=entry.student_id) if roster else None
        found = assess(settings.late, student, entry.submitted_at, "lms", entry.late)
        return found.days_late == 0

    return on_time


def _ungraded_rows(download: ClassDownload, roster: Roster | None, settings: Settings,
                   graded_ids: set[str | None]) -> list[tuple[GradeResult, str]]:
    """Rows for students with nothing to grade: online text alone (`no_code`), and enrolled
    students without any submission (`missing`)."""
    rows = []
    for entry in download.entries:
        if entry.path is None:
            blank = _blank(settings, "no_code", "nothing but online text was submitted: there is no file to grade",
                           SubmissionInfo(source=entry.file))
            result, _ = identify(blank, entry, roster, download.layout)
            rows.append((result, entry.file))
            graded_ids.add(result.submission.student_id)
    for student in roster.students if roster is not None else []:
        if student.student_id not in graded_ids:
            info = SubmissionInfo(source="", student_id=student.student_id, name=student.name,
                                  email=student.email, lms_id=student.lms_user_id, identity_source="roster")
            rows.append((_blank(settings, "missing", "enrolled, but no submission was found", info), ""))
    return rows


def _blank(settings: Settings, status: str, message: str, info: SubmissionInfo) -> GradeResult:
    return GradeResult(grader_version=__version__, settings_hash=settings.digest(), submission=info,
                       status=status, message=message)


def _write_attempts(download: ClassDownload, path: Path) -> None:
    """Each student's attempts that were not graded, next to the one that was."""
    table = pd.DataFrame(
        [{"student": e.lms_name or e.student_id or e.lms_id or "", "lms_id": e.lms_id or "", "not_graded": e.file,
          "submitted_at": e.submitted_at.isoformat() if e.submitted_at else "", "graded": kept.file}
         for e, kept in download.superseded],
        columns=["student", "lms_id", "not_graded", "submitted_at", "graded"])
    write_safe_csv(table, path)
