"""Each student's report comes out of their submission into OUT/reports/<id>.<ext>, by the
documented rule, through the intake's zip rules; nothing a student names lands elsewhere.

Grading is replaced by the intake alone (batching.intake_only): these tests are about the
class's files, not scores."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from batching import intake_only
from downloads import CORRECT, put
from zipfactory import zip_bytes

from grader.batch import run as batch_run
from grader.batch.run import BatchOptions, run_batch
from grader.settings import Settings

PDF = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n2 0 obj << /Type /Page >> endobj\n%%EOF\n"


def graded(klass: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    monkeypatch.setattr(batch_run, "grade_all", intake_only)
    run_batch(klass, out, Settings(), BatchOptions(progress=False, isolation=object()))
    with open(out / "grades.csv", encoding="utf-8-sig", newline="") as f:
        return {r["file"]: r for r in csv.DictReader(f)}


def test_reports_come_out_of_zips_and_loose_uploads_by_the_rule(tmp_path, monkeypatch):
    klass = tmp_path / "class"
    # a zip with the report, another PDF and the template's README: the report's name wins
    put(klass / "DLP_LAB4_0756001_王小明.zip", zip_bytes({
        "DLP_LAB4_0756001_王小明/rnn.py": CORRECT, "DLP_LAB4_0756001_王小明/README.md": "# template",
        "DLP_LAB4_0756001_王小明/figures.pdf": PDF, "DLP_LAB4_0756001_王小明/DLP_LAB4_報告.pdf": PDF}.items()))
    # a folder with code and a Word report only
    put(klass / "DLP_LAB4_0756002_Amy" / "rnn.py", CORRECT)
    put(klass / "DLP_LAB4_0756002_Amy" / "lab4.docx", b"PK\x03\x04 not really")
    # code only
    put(klass / "DLP_LAB4_0756003_Bob" / "rnn.py", CORRECT)
    out = tmp_path / "out"
    rows = graded(klass, out, monkeypatch)
    first = rows["DLP_LAB4_0756001_王小明.zip"]
    assert first["report"] == "reports/0756001.pdf" and first["report_pages"] == "2"
    assert (out / "reports" / "0756001.pdf").read_bytes() == PDF
    assert "report: DLP_LAB4_0756001_王小明.zip/DLP_LAB4_0756001_王小明/DLP_LAB4_報告.pdf (2 pages)" in first["notes"]
    assert first["notes"].count("report") == 1  # the batch's copy and the intake's choice, said once
    assert "also found, not used: DLP_LAB4_0756001_王小明.zip/DLP_LAB4_0756001_王小明/figures.pdf" in first["notes"]
    assert "README" not in first["notes"]
    assert rows["DLP_LAB4_0756002_Amy"]["report"] == "reports/0756002.docx"
    bob = rows["DLP_LAB4_0756003_Bob"]
    assert bob["report"] == "" and "no_report" in bob["flags"].split(";")
    assert sorted(p.name for p in (out / "reports").iterdir()) == ["0756001.pdf", "0756002.docx"]


def test_a_report_uploaded_beside_the_code_zip_is_found(tmp_path, monkeypatch):
    """Canvas keeps each upload as a file of its own: the zip is graded, the PDF beside it is
    the report (it used to be lost: the row pointed into the zip only)."""
    klass = tmp_path / "class"
    put(klass / "wangxiaoming_501_9001_code.zip", zip_bytes({"rnn.py": CORRECT}.items()))
    put(klass / "wangxiaoming_501_9002_DLP_LAB4_0756001_report.pdf", PDF)
    out = tmp_path / "out"
    (row,) = graded(klass, out, monkeypatch).values()
    assert row["report"].startswith("reports/") and (out / row["report"]).read_bytes() == PDF


def test_hostile_names_and_zips_never_write_outside_the_reports_folder(tmp_path, monkeypatch):
    klass = tmp_path / "class"
    put(klass / "DLP_LAB4_0756001_Eve.zip", zip_bytes({"rnn.py": CORRECT, "../../../escaped.pdf": PDF}.items()))
    put(klass / "DLP_LAB4_0756002_Mal" / "rnn.py", CORRECT)
    put(klass / "DLP_LAB4_0756002_Mal" / "=cmd|' /C calc'!A0\u202egpj.pdf", PDF)
    # two uploads claim one id: each keeps a report of its own
    put(klass / "DLP_LAB4_0756003_A.zip", zip_bytes({"rnn.py": CORRECT, "report.pdf": PDF + b"A"}.items()))
    put(klass / "DLP_LAB4_0756003_B.zip", zip_bytes({"rnn.py": CORRECT, "report.pdf": PDF + b"B"}.items()))
    out = tmp_path / "out"
    rows = graded(klass, out, monkeypatch)
    assert not list(tmp_path.rglob("escaped.pdf"))  # the traversing member was refused by the zip rules
    assert rows["DLP_LAB4_0756001_Eve.zip"]["report"] == ""
    assert "\u202e" not in (out / "grades.csv").read_text(encoding="utf-8-sig")
    inside = sorted(p.relative_to(out).as_posix() for p in (out / "reports").rglob("*"))
    assert inside == ["reports/0756002.pdf", "reports/0756003-2.pdf", "reports/0756003.pdf"]
    shared = sorted((out / rows[f"DLP_LAB4_0756003_{x}.zip"]["report"]).read_bytes()[-1:] for x in "AB")
    assert shared == [b"A", b"B"]


def test_a_rerun_rebuilds_the_reports_folder(tmp_path, monkeypatch):
    klass = tmp_path / "class"
    put(klass / "DLP_LAB4_0756001_A" / "rnn.py", CORRECT)
    put(klass / "DLP_LAB4_0756001_A" / "report.pdf", PDF)
    out = tmp_path / "out"
    graded(klass, out, monkeypatch)
    (klass / "DLP_LAB4_0756001_A" / "report.pdf").unlink()
    (row,) = graded(klass, out, monkeypatch).values()
    assert row["report"] == "" and not list((out / "reports").iterdir())
