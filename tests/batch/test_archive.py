"""`batch --archive DIR`: a class is compared with the earlier classes kept there (numbers,
no code), so last year's solution handed down is flagged like a classmate's."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd

from batching import batch
from grader.batch import run as batch_run
from grader.checks.similarity import fingerprint
from grader.intake.submission import open_submission, parse_name
from grader.results import CheckResult, GradeResult, SubmissionInfo
from grader.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BCE = (ROOT / "tests" / "submissions" / "correct_bce.py").read_text(encoding="utf-8")
VECTORISED = (ROOT / "tests" / "hostile" / "escape" / "_correct.py").read_text(encoding="utf-8") + "\nRNN = Correct\n"
PER_STEP = (ROOT / "bench" / "naive_rnn.py").read_text(encoding="utf-8")


def fingerprinted(todo, settings, jobs, isolation, logs, save, progress) -> None:  # noqa: ANN001
    """Grading replaced by what the archive reads: the module's fingerprint, and a
    wrong-numbers digest where the module says `# wrong numbers: <digest>`."""
    for upload in todo:
        found = open_submission(upload.path, logs)
        text = found.module_path.read_text(encoding="utf-8")
        marker = text.partition("# wrong numbers: ")[2].split("\n")[0] or None
        checks = [CheckResult(name="gradient_reference", status="failed" if marker else "passed",
                              details={"wrong_numbers": marker} if marker else {})]
        sid, name, ok, _ = parse_name(upload.path.name)
        save(upload, GradeResult(grader_version="t", settings_hash=settings.digest(), status="graded", checks=checks,
                                 submission=SubmissionInfo(source=str(upload.path), sha256=found.sha256, student_id=sid,
                                                           name=name, fingerprint=fingerprint(text))))


def klass(folder: Path, sources: dict[str, str]) -> Path:
    folder.mkdir()
    for sid, source in sources.items():
        with zipfile.ZipFile(folder / f"DLP_LAB4_{sid}_S.zip", "w") as z:
            z.writestr(f"DLP_LAB4_{sid}_S/rnn.py", source)
    return folder


def flags(out: Path) -> dict[str, str]:
    table = pd.read_csv(out / "grades.csv", dtype={"student_id": str}, keep_default_na=False)
    return dict(zip(table["student_id"], table["flags"]))


def test_a_solution_handed_down_from_an_earlier_class_is_flagged(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(batch_run, "grade_all", fingerprinted)
    settings = Settings()
    kept = tmp_path / "archive"
    last = klass(tmp_path / "2025", {"0756001": BCE, "0756002": PER_STEP + "\n# wrong numbers: abc123\n"})
    batch(last, tmp_path / "lab4-2025", settings, archive=kept)
    record = json.loads((kept / "lab4-2025.json").read_text(encoding="utf-8"))
    assert [s["student"] for s in record["students"]] == ["0756001", "0756002"]
    assert "def forward" not in (kept / "lab4-2025.json").read_text(encoding="utf-8")  # no code kept

    now = klass(tmp_path / "2026", {"1156001": BCE.replace("grads", "gradients") + "\n# mine\n",
                                    "1156002": VECTORISED + "\n# wrong numbers: abc123\n",
                                    "1156003": VECTORISED})
    batch(now, tmp_path / "lab4-2026", settings, archive=kept)
    found = flags(tmp_path / "lab4-2026")
    assert "similar:earlier:lab4-2025:0756001" in found["1156001"]
    assert "same_wrong_numbers:earlier:lab4-2025:0756002" in found["1156002"]
    assert "earlier" not in found["1156003"]
    pairs = pd.read_csv(tmp_path / "lab4-2026" / "similarity.csv", dtype=str)
    assert ("1156001", "earlier:lab4-2025:0756001") in set(zip(pairs["student_a"], pairs["student_b"]))
    assert sorted(p.name for p in kept.iterdir()) == ["lab4-2025.json", "lab4-2026.json"]

    again = batch(now, tmp_path / "lab4-2026", settings, archive=kept)  # a rerun replaces its own file,
    assert "earlier:lab4-2026" not in " ".join(flags(tmp_path / "lab4-2026").values())  # never meets itself
    assert again


def test_an_unreadable_archive_file_is_named_and_the_class_still_graded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(batch_run, "grade_all", fingerprinted)
    kept = tmp_path / "archive"
    kept.mkdir()
    (kept / "notes.json").write_text('{"hello": 1}', encoding="utf-8")
    printed = batch(klass(tmp_path / "c", {"0756001": BCE}), tmp_path / "out", Settings(), archive=kept)
    assert "archive notes.json is not a class archive" in printed
    assert (tmp_path / "out" / "grades.csv").is_file() and (kept / "out.json").is_file()
