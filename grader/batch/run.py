"""The batch command as its stages, in order: read the download, identify each row (who,
when), choose what to grade, grade it, flag what the class shows, write every output.

Invariant: every student present in the input (an entry of the download, the platform's
metadata, or the roster) has exactly one row, under the id the platform gives (else the
one their file names), whatever happened to their submission; two uploads that claim one
id are both rows, both flagged `shared_id`. A problem with one student's files is that
row's status, never the batch's: only what stops every row (an unreadable download, an
output folder that cannot be written) is a `BatchError`, raised before anything is written.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader import __version__
from grader.batch import archive, class_flags, reports
from grader.batch.identity import enrolled_without_row, identify
from grader.batch.lateness import assess, on_time
from grader.batch.local import Progress, grade_all
from grader.batch.roster import Roster
from grader.batch.rows import Identity, Row, Upload, named_in
from grader.batch.store import Store, key
from grader.batch.write import write_outputs
from grader.intake.layouts import LEFT_OUT, ClassDownload, Entry, LayoutError, read_class
from grader.intake.submission import content_hash, parse_name
from grader.intake.unzip import Budget, SubmissionError, unpack_zip
from grader.messages import Message
from grader.results import GradeResult, ResultStatus
from grader.safe_files import private_dir, write_atomic
from grader.sandbox import Isolation
from grader.settings import Settings, SettingsError, load_settings

CLASS_FILES, CLASS_BYTES = 20000, 4 << 30  # a whole class's archive, not one student's
SIMILAR_ABOVE = 0.5  # independent solutions share about 0.1 of their fingerprints, copies 0.8 and more


class BatchError(ValueError):
    """The batch cannot start (or go on) for the whole class; one line saying what to do."""


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch; everything else comes from the settings."""

    jobs: int = 1
    force: bool = False  # regrade what is stored (with `only`: only those)
    only: frozenset[str] = frozenset()  # regrade these students (an id or a part of a file name)
    progress: bool = True
    isolation: Isolation | None = None
    similar_above: float = SIMILAR_ABOVE
    roster: Roster | None = None
    scheduler: str | None = None  # a Dask scheduler's address, or local:N
    archive: Path | None = None  # earlier classes' fingerprints, compared, and this one's kept (archive.py)
    allow_weak: bool = False
    announce: Callable[[str], None] = field(default=lambda line: None)


@dataclass(frozen=True)
class BatchReport:
    """What a batch did, for the command to print."""

    rows: list[Row]
    graded_now: int
    reused: int
    seconds: float
    unmatched: list[str]
    warnings: list[str]
    interrupted: bool = False  # stopped (Ctrl-C): the outputs hold what was graded before

    def text(self, out: Path) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(Counter(r.result.status for r in self.rows).items()))
        return (f"{len(self.rows)} rows ({counts}): {self.graded_now} graded now, {self.reused} from earlier runs, "
                f"in {self.seconds:.1f} s\n"
                + "".join(f"--only {w}: matched no submission (by file name or student id)\n" for w in self.unmatched)
                + "".join(f"warning: {w}\n" for w in self.warnings)
                + ("interrupted: the rows not graded yet say so; the same command grades them (what is done is "
                   "kept)\n" if self.interrupted else "")
                + f"wrote {out / 'grades.csv'}, {out / 'summary.md'}, {out / 'feedback'}/ and "
                f"{out / 'index.html'} (open it in a browser)")


def run_batch(source: Path, out: Path, settings: Settings, options: BatchOptions = BatchOptions()) -> BatchReport:
    """Grade every submission in `source` (a folder or a class's zip, in any platform's
    layout) into `out`."""
    started = time.perf_counter()
    prepare_out(out)
    download = read(source, out, settings, options)
    rows = identified(download, settings, options.roster)
    reports.collect(rows, out)
    uploads = list(dict.fromkeys(r.upload for r in rows if r.upload is not None))
    store = Store(out / "results")
    todo, stored = choose(uploads, rows, store, settings, options, out / "settings.toml")
    results, interrupted = grade(todo, stored, store, out, settings, options)
    for row in rows:
        if row.upload in results:
            row.result = results[row.upload]
    rows += missing(rows, settings, options.roster)
    warnings = [w for w in (class_flags.layout_warning(rows),) if w]
    class_flags.flag_duplicates(rows)
    kept, problems = archive.earlier(options.archive, out.name) if options.archive else ([], [])
    warnings += problems
    class_flags.flag_similar(rows, out / "similarity.csv", options.similar_above, archive.known_fingerprints(kept))
    class_flags.flag_same_wrong_numbers(rows, archive.known_numbers(kept, settings))
    if options.archive and not interrupted:
        archive.write(options.archive, out.name, rows, settings)
    write_outputs(rows, download, out, settings, warnings)
    unmatched = sorted(w for w in options.only if not any(_matches(r, w) for r in rows))
    return BatchReport(rows, len(results) - len(stored), len(stored), time.perf_counter() - started, unmatched,
                       warnings, interrupted)


def prepare_out(out: Path) -> None:
    """OUT as a private folder the grader can write, or a BatchError saying why not."""
    if out.exists() and not out.is_dir():
        raise BatchError(f"{out} is a file; give -o a folder (new or one a batch wrote)")
    try:
        private_dir(out)
        probe = out / ".write-test"
        write_atomic(probe, "")
        probe.unlink()
    except OSError as exc:
        raise BatchError(f"{out}: cannot write there ({exc.strerror or exc}); give -o a folder you can write") from None


def read(source: Path, out: Path, settings: Settings, options: BatchOptions) -> ClassDownload:
    """The download's entries, one per student, and the layout line announced."""
    if source.is_file():
        try:
            source = unpack_class_archive(source, out / "intake")
        except SubmissionError as exc:
            raise BatchError(f"{source}: {exc.message}") from None
    try:
        download = read_class(source, private_dir(out / "staging"), on_time=_on_time(settings, options.roster))
    except LayoutError as exc:
        raise BatchError(str(exc)) from None
    if not download.entries:
        raise BatchError(f"{source}: no submissions in it (nothing but hidden files, junk or platform files); "
                         "give batch the folder or zip the platform's download button gave")
    options.announce(f"layout: {download.description}, {len(download.entries)} students"
                     + (f" ({len(download.superseded)} earlier attempts in attempts.csv)" if download.superseded else ""))
    return download


def _upload(entry: Entry) -> Upload | None:
    return Upload(entry.path, entry.file, content_hash(entry.path)) if entry.path is not None else None


def _matches(row: Row, wanted: str) -> bool:
    """`--only`: a part of the file's name, or the student id its name or platform states."""
    named = parse_name(Path(row.file).name)[0]
    ids = {named, row.who.student_id, row.entry.student_id if row.entry else None}
    return bool(row.file) and wanted in row.file or wanted in ids


def choose(uploads: list[Upload], rows: list[Row], store: Store, settings: Settings,
           options: BatchOptions, last_settings: Path) -> tuple[list[Upload], dict[Upload, GradeResult]]:
    """What to grade now (what is not stored, and what `--force` or `--only` asks for again),
    and the stored results of the rest, each read once. Results stored under other settings
    (or another grader) are regraded only with --force; what changed is read from the
    settings the last batch wrote (`last_settings`)."""
    selected = {r.upload for r in rows if r.upload is not None and any(_matches(r, w) for w in options.only)}
    forced = (selected if options.only else set(uploads)) if options.force else set()
    stale = [s for s in store.stale(uploads, settings) if s.upload not in selected]
    if stale:
        changed = sorted({f"settings {s.settings_hash}" if s.grader_version == __version__ else
                          f"grader {s.grader_version}" for s in stale})
        try:
            changed += settings.changes_from(load_settings(last_settings))[:6]
        except SettingsError:  # no readable record of the last batch's settings: the hashes say it
            pass
        if not options.force:
            raise BatchError(f"{len(stale)} stored results were made with other settings or another grader "
                             f"({', '.join(changed)}; now settings {settings.digest()}, grader {__version__}): "
                             "regrading would change those grades. Rerun with --force to regrade them, or with the "
                             "settings they were made with (OUT/settings.toml)")
        options.announce(f"regrading {len(stale)} results stored under {', '.join(changed)} (--force)")
        forced |= {s.upload for s in stale}
    again = selected | forced
    stored = {u: r for u in uploads if u not in again and (r := store.load(key(u, settings))) is not None}
    return [u for u in uploads if u not in stored], stored


def grade(todo: list[Upload], stored: dict[Upload, GradeResult], store: Store, out: Path, settings: Settings,
          options: BatchOptions) -> tuple[dict[Upload, GradeResult], bool]:
    """Every upload's result: the stored ones, and the rest graded (here or on Dask) and
    stored the moment each is known; and whether Ctrl-C stopped it first (then the results
    are what was finished, and the outputs are still written)."""
    write_atomic(out / "settings.toml", settings.to_toml())  # what these grades were made with
    results = dict(stored)
    progress = Progress(len(todo) + len(stored), len(stored), options.progress)

    def save(upload: Upload, result: GradeResult) -> None:
        store.save(key(upload, settings), result)
        results[upload] = result
        progress.done(upload, result)

    interrupted = False
    try:
        if todo and options.scheduler is not None:
            from grader.batch.on_dask import grade_all as grade_on_dask

            grade_on_dask(todo, settings, options.scheduler, options.allow_weak, save, options.announce)
        elif todo:
            from grader.sandbox import isolation

            grade_all(todo, settings, options.jobs, options.isolation or isolation(), private_dir(out / "logs"),
                      save, progress)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
    return results, interrupted


def identified(download: ClassDownload, settings: Settings, roster: Roster | None) -> list[Row]:
    """A row per entry, with who it is and when it came in: facts of the download and the
    roster, known before (and whatever) grading finds. Its result is set once graded."""
    rows = []
    for entry in download.entries:
        try:
            upload = _upload(entry)
            result = _before_grading(entry, upload, settings)
        except (SubmissionError, OSError, ValueError, RecursionError) as exc:  # that student's row says so
            upload = None
            error = str(exc)[:200]
            result = _ungraded(entry, settings, *((exc.status, exc.message) if isinstance(exc, SubmissionError) else
                                                  ("not_found", Message("{file} cannot be read: {error}",
                                                                        file=entry.file, error=error))))
        who, flags = identify(entry, roster, download.layout)
        student = roster.find(student_id=who.student_id) if roster and who.student_id else None
        row = Row(result, who, entry=entry, upload=upload,
                  late=assess(settings.late, student, entry, upload.path if upload else None))
        for flag in flags + (["late?"] if row.late.unsure else []):
            row.flag(flag)  # type: ignore[arg-type]
        rows.append(row)
    return rows


def _before_grading(entry: Entry, upload: Upload | None, settings: Settings) -> GradeResult:
    """A row's result until its upload is graded: `interrupted` unless grading gives it one
    (Ctrl-C stopped the batch first), else why there is nothing to grade."""
    if upload is not None:
        return GradeResult.ungraded("interrupted", Message("the batch was stopped before this submission was graded: "
                                                           "run the same command again to grade it"),
                                    settings.digest(), upload.file)
    if entry.refused is not None:  # the class's archive could not take this student's files
        return _ungraded(entry, settings, *entry.refused)
    return GradeResult.ungraded("no_code", Message("nothing but online text was submitted: there is no file to grade"),
                                settings.digest(), entry.file)


def _ungraded(entry: Entry, settings: Settings, status: ResultStatus, message: str) -> GradeResult:
    """Not graded, but named as the student's own file names it (as a graded result is)."""
    student_id, name, naming_ok = named_in(entry)
    return GradeResult.ungraded(status, message, settings.digest(), entry.file, student_id=student_id, name=name,
                                naming_ok=naming_ok)


def missing(rows: list[Row], settings: Settings, roster: Roster | None) -> list[Row]:
    """A `missing` row for each enrolled student no row names."""
    return [Row(GradeResult.ungraded("missing", Message("enrolled, but no submission was found"), settings.digest()),
                Identity(s.student_id, s.name, "roster", lms_id=s.lms_user_id, email=s.email, section=s.section))
            for s in (enrolled_without_row(roster, [r.who for r in rows]) if roster else [])]


def _on_time(settings: Settings, roster: Roster | None) -> Callable[[Entry], bool] | None:
    """For `late.attempt = latest_on_time`: whether an attempt came in by its student's due date."""
    if settings.late.attempt != "latest_on_time" or settings.late.due is None:
        return None

    def timely(entry: Entry) -> bool:
        student = roster.find(lms_id=entry.lms_id, email=entry.email, student_id=entry.student_id) if roster else None
        return on_time(settings.late, student, entry)

    return timely


def _display_component(name: str, fallback: str) -> str:
    """A platform's file or folder name as one safe path component, keeping its letters."""
    name = unicodedata.normalize("NFC", name).replace("\0", "_")
    name = re.sub(r"[/\\:]", "_", name).lstrip(".").strip()
    while len(name.encode("utf-8")) > 200:
        name = name[:-1]
    return name or fallback


def unpack_class_archive(archive: Path, intake: Path) -> Path:
    """One archive of a class's submissions (as learning platforms export) -> a folder of them.

    Unpacked with the same checks as a student's zip, on a class-sized budget; every entry
    keeps its own name (the student's id and name are read from it) and the time the
    platform's archive records for it (which picks among a student's several zips).
    """
    if intake.exists():
        shutil.rmtree(intake)
    root, scratch = intake / ".unpacked", intake / ".scratch"
    scratch.mkdir(parents=True)
    unpacked = unpack_zip(archive, root, scratch, _budget=Budget(CLASS_FILES, CLASS_BYTES), lenient=True)
    for written in unpacked.written:
        rel = written.path.relative_to(root).parts
        shown = [p for p in re.split(r"[\\/]", written.display) if p not in ("", ".")][-len(rel):]
        # Every component under its own name (made one safe component each): a platform's
        # download nests the student's file, whose name says who the student is.
        target = intake.joinpath(*(_display_component(s, r) for s, r in zip(shown, rel)))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(written.path, target)
        if written.modified is not None:
            stamp = written.modified.timestamp()
            os.utime(target, (stamp, stamp))
    for display, (status, why) in unpacked.skipped.items():  # one student's problem, on that student's row
        shown = [p for p in re.split(r"[\\/]", display) if p not in ("", ".", "..")][unpacked.strip:] or ["member"]
        target = intake.joinpath(*(_display_component(s, "member") for s in shown))
        placeholder = target.with_name(target.name + LEFT_OUT)
        if intake.resolve() in placeholder.resolve().parents and not placeholder.exists():
            placeholder.parent.mkdir(parents=True, exist_ok=True)
            placeholder.write_text(f"{status}: {why}"[:500], encoding="utf-8")
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(scratch, ignore_errors=True)
    return intake

