"""The intake of one submission: file names, folders and single files, module choice,
source encodings, notebooks and the report PDF."""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from pathlib import Path

import pytest
import zipfactory as zf
from test_unzip import Box

from grader.intake import notebook as nb
from grader.intake.submission import (
    Submission,
    SubmissionError,
    content_hash,
    count_pdf_pages,
    decode_source,
    open_submission,
    parse_name,
)
from grader.results import SubmissionInfo


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


# --------------------------------------------------------------------------- parse_name

CONVENTION = "name does not follow DLP_LAB4_<studentID>_<name>.zip"


@pytest.mark.parametrize(
    "filename,expected",
    [
        ("DLP_LAB4_310551001_王小明.zip", ("310551001", "王小明", True, "")),
        ("DLP_LAB4_310551001_王小明 (1).zip", ("310551001", "王小明", True, "copy suffix removed")),
        ("DLP_LAB4_310551001_王小明(2).ZIP", ("310551001", "王小明", True, "copy suffix removed")),
        (
            "DLP_LAB4_310551001_王小明 - Copy.zip",
            ("310551001", "王小明", True, "copy suffix removed"),
        ),
        (
            "DLP_LAB4_310551001_王小明 - 複製 (2).zip",
            ("310551001", "王小明", True, "copy suffix removed"),
        ),
        ("DLP_LAB4_310551001_王小明.ZIP", ("310551001", "王小明", True, "")),
        ("DLP_LAB4_310551001_王小明", ("310551001", "王小明", True, "")),  # a folder
        ("DLP_LAB4_310551001_Wang Xiao-Ming.zip", ("310551001", "Wang Xiao-Ming", True, "")),
        ("lab4_310551001.zip", ("310551001", None, False, CONVENTION)),
        ("rnn.py", (None, None, False, CONVENTION)),
    ],
)
def test_parse_name(filename: str, expected: tuple) -> None:
    assert parse_name(filename) == expected


def test_parse_name_tolerates_but_flags_other_separators() -> None:
    sid, name, ok, note = parse_name("dlp-lab4-310551001-王小明.zip")
    assert (sid, name, ok) == ("310551001", "王小明", False)
    assert note.startswith(CONVENTION) and "separators" in note
    sid, name, ok, note = parse_name("DLP_LAB4_310551001.zip")
    assert (sid, name, ok) == ("310551001", None, False) and "missing <name>" in note
    sid, name, ok, note = parse_name("DLP_LAB4_王小明_310551001.zip")
    assert (sid, name, ok) == ("310551001", "王小明", False) and "swapped" in note


def test_parse_name_nfd_and_paths() -> None:
    nfd = unicodedata.normalize("NFD", "DLP_LAB4_310551001_José.zip")
    assert parse_name(nfd)[:3] == ("310551001", "José", True)
    assert parse_name("/some/where/DLP_LAB4_310551001_王小明.zip")[:2] == ("310551001", "王小明")


def test_parse_name_repairs_mojibake() -> None:
    mojibake = "DLP_LAB4_310551001_王小明.zip".encode().decode("cp437")
    sid, name, ok, note = parse_name(mojibake)
    assert (sid, name, ok) == ("310551001", "王小明", True) and "mojibake" in note


def test_parse_name_flags_other_archives() -> None:
    sid, name, ok, note = parse_name("DLP_LAB4_310551001_王小明.rar")
    assert (sid, name, ok) == ("310551001", "王小明", False) and ".rar" in note


# --------------------------------------------------------------------------- the model


def test_submission_fields(box: Box) -> None:
    path = zf.ok_zip(box.inbox)
    sub = box.open(path)
    assert isinstance(sub, Submission)
    assert sub.source == path
    assert (sub.student_id, sub.name, sub.naming_ok, sub.naming_note) == (
        "310551001",
        "王小明",
        True,
        "",
    )
    assert sub.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sub.module_display == f"{zf.TOP}/rnn.py"
    assert sub.module_path.read_text() == zf.RNN_SOURCE
    assert sub.files == [f"{zf.TOP}/rnn.py"]
    assert sub.report == f"{zf.TOP}/report.pdf" and sub.report_pages == 5 and sub.report_sought
    assert not [n for n in sub.notes if "report" in n]  # the report is a fact of its own, not a note
    assert sub.from_notebook is False
    assert Submission.model_validate_json(sub.model_dump_json()) == sub


def test_not_found(box: Box) -> None:
    err = box.fail(box.inbox / "DLP_LAB4_1_x.zip", "not_found")
    assert "does not exist" in err.message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads everything")
def test_unreadable(box: Box) -> None:
    path = zf.ok_zip(box.inbox)
    path.chmod(0)
    try:
        assert "cannot be read" in box.fail(path, "not_found").message
    finally:
        path.chmod(0o644)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
def test_fifo_is_not_opened(box: Box) -> None:
    os.mkfifo(box.inbox / "DLP_LAB4_1_x.zip")
    err = box.fail(box.inbox / "DLP_LAB4_1_x.zip", "not_found")
    assert "not a regular file" in err.message


def test_zip_found_by_magic_and_copy_suffix(box: Box) -> None:
    sub = box.open(zf.zip_without_extension(box.inbox))
    assert sub.module_display == "rnn.py"
    sub = box.open(zf.uppercase_extension(box.inbox))
    assert (sub.student_id, sub.name, sub.naming_ok, sub.naming_note) == (
        "310551001",
        "王小明",
        True,
        "copy suffix removed",
    )


def test_unknown_file_type(box: Box) -> None:
    path = box.inbox / "notes.txt"
    path.write_text("hello\n")
    assert "not a .py file" in box.fail(path, "no_module").message


# ------------------------------------------------------------------ single files and folders


def test_single_py_file(box: Box) -> None:
    (box.inbox / "utils.py").write_text("x = 1\n")  # siblings are not included
    path = box.inbox / "rnn.py"
    path.write_text(zf.RNN_SOURCE)
    sub = box.open(path)
    assert sub.module_path == sub.root / "rnn.py"
    assert sorted(p.name for p in sub.root.iterdir()) == ["rnn.py"]
    assert sub.sha256 == hashlib.sha256(zf.RNN_SOURCE.encode()).hexdigest()
    assert sub.naming_ok is True and sub.student_id is None  # the naming rule is for zips
    assert not any("report" in note for note in sub.notes)


def test_single_py_file_with_class_but_another_name(box: Box) -> None:
    path = box.inbox / "DLP_LAB4_310551001_王小明.py"
    path.write_text(zf.RNN_SOURCE)
    sub = box.open(path)
    assert sub.student_id == "310551001" and sub.module_display == path.name
    assert sub.module_path.is_file()


def make_folder(base: Path) -> Path:
    top = base / "DLP_LAB4_310551001_王小明"
    (top / "src").mkdir(parents=True)
    (top / "src" / "rnn.py").write_text(zf.RNN_WITH_HELPER)
    (top / "src" / "utils.py").write_text(zf.HELPER_SOURCE)
    (top / "report.pdf").write_bytes(zf.pdf_bytes(4))
    (top / "__pycache__").mkdir()
    (top / "__pycache__" / "rnn.cpython-311.pyc").write_bytes(b"\x00" * 16)
    (top / ".DS_Store").write_bytes(b"x")
    return top


def test_folder(box: Box) -> None:
    top = make_folder(box.inbox)
    sub = box.open(top)
    assert sub.student_id == "310551001" and sub.naming_ok
    assert sub.module_display == "src/rnn.py"
    assert sub.module_path == sub.root / "src" / "rnn.py"
    assert (sub.root / "src" / "utils.py").is_file()
    assert sub.files == ["src/rnn.py", "src/utils.py"]
    assert sub.report_pages == 4
    assert "ignored __pycache__/ and .DS_Store" in sub.notes
    again = box.open(top)
    assert again.sha256 == sub.sha256 and again.root != sub.root
    (top / "src" / "utils.py").write_text("changed = 1\n")
    assert box.open(top).sha256 != sub.sha256
    (top / "stray.pyc").write_bytes(b"junk")  # ignored files do not change the hash
    (top / "src" / "utils.py").write_text(zf.HELPER_SOURCE)
    assert box.open(top).sha256 == sub.sha256


def test_one_content_hash_from_the_class_folder_to_the_result(box: Box) -> None:
    """The batch keys its store with the hash it computes before grading; the intake
    computes the same for a folder (junk and links left out), a zip and a .py."""
    from grader.intake.layouts import read_class

    top = make_folder(box.inbox)
    (top / "stray.pyc").write_bytes(b"junk")
    (top / "src" / "__pycache__").mkdir(exist_ok=True)
    (top / "src" / "__pycache__" / "rnn.cpython-311.pyc").write_bytes(b"junk")
    single = box.inbox / "DLP_LAB4_310551002_Lin.py"
    single.write_text(zf.RNN_SOURCE, encoding="utf-8")
    entries = {entry.file: entry for entry in read_class(box.inbox, None).entries}
    for path in (top, single):
        assert content_hash(entries[path.name].path) == content_hash(path) == box.open(path).sha256
    with_junk = content_hash(top)
    (top / ".DS_Store").write_bytes(b"more junk")
    assert content_hash(top) == with_junk


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_folder_symlinks_are_skipped(box: Box) -> None:
    top = box.inbox / "DLP_LAB4_310551001_x"
    top.mkdir()
    secret = box.tmp / "secret"
    secret.mkdir()
    (secret / "rnn.py").write_text("SECRET = 1\n")
    (top / "rnn.py").symlink_to(secret / "rnn.py")
    (top / "linked").symlink_to(secret)
    (top / "model.py").write_text(zf.RNN_SOURCE)
    os.mkfifo(top / "pipe")
    sub = box.open(top)
    assert sub.module_display == "model.py"  # the linked rnn.py was not followed
    (note,) = [n for n in sub.notes if n.startswith("skipped links")]
    assert "rnn.py" in note and "linked/" in note and "pipe (special file)" in note
    assert "SECRET" not in "".join(p.read_text() for p in sub.root.rglob("*.py"))


def test_folder_limits(box: Box) -> None:
    top = box.inbox / "many"
    top.mkdir()
    for k in range(1001):
        (top / f"{k}.txt").write_bytes(b"")
    assert "more than 1000 files" in box.fail(top, "unsafe_zip").message
    big = box.inbox / "big"
    big.mkdir()
    with open(big / "data.bin", "wb") as f:
        f.truncate(21 << 20)  # sparse: costs no disk
    assert "limit 20 MiB per file" in box.fail(big, "unsafe_zip").message


def test_workdir_inside_the_folder_is_not_copied(tmp_path: Path) -> None:
    top = tmp_path / "DLP_LAB4_310551001_x"
    top.mkdir()
    (top / "rnn.py").write_text(zf.RNN_SOURCE)
    sub = open_submission(top, top / "work")
    sub2 = open_submission(top, top / "work")
    assert sub2.files == ["rnn.py"] and sub2.sha256 == sub.sha256


# --------------------------------------------------------------------------- module choice


def test_several_rnn_py(box: Box) -> None:
    msg = box.fail(zf.two_rnn(box.inbox), "several_modules").message
    assert "a/rnn.py, b/rnn.py" in msg and "keep exactly one rnn.py" in msg


def test_several_classes(box: Box) -> None:
    msg = box.fail(zf.two_classes(box.inbox), "several_modules").message
    assert "model_a.py, model_b.py" in msg


def test_class_rnn_chosen_when_no_rnn_py(box: Box) -> None:
    sub = box.open(zf.class_only(box.inbox))
    assert sub.module_display == "lab4_model.py"
    assert sub.files == ["lab4_model.py", "utils.py"]
    assert any("using lab4_model.py" in n for n in sub.notes)


def test_no_module_lists_files(box: Box) -> None:
    msg = box.fail(zf.no_candidate(box.inbox), "no_module").message
    assert "main.py" in msg
    assert "broken.py (could not be read: SyntaxError at line 1" in msg


def test_no_py_at_all(box: Box) -> None:
    path = zf.write_zip(box.inbox / "s.zip", [("report.pdf", zf.pdf_bytes(1))])
    msg = box.fail(path, "no_module").message
    assert "no .py files" in msg and "report.pdf" in msg


def test_rnn_py_that_does_not_parse_is_still_chosen(box: Box) -> None:
    path = zf.write_zip(box.inbox / "s.zip", [("rnn.py", "def (:\n"), ("other.py", zf.RNN_SOURCE)])
    assert box.open(path).module_display == "rnn.py"


def test_nested_class_does_not_count(box: Box) -> None:
    src = "def make():\n    class RNN:\n        pass\n    return RNN\n"
    path = zf.write_zip(box.inbox / "s.zip", [("model.py", src)])
    assert box.fail(path, "no_module").status == "no_module"


def test_capitalised_rnn_py(box: Box) -> None:
    path = zf.write_zip(box.inbox / "s.zip", [("RNN.py", zf.RNN_SOURCE)])
    sub = box.open(path)
    assert sub.module_display == "RNN.py"
    assert any("expected rnn.py" in n for n in sub.notes)


def test_long_listing_is_cut(box: Box) -> None:
    members = [(f"m{k:02d}.py", "x = 1\n") for k in range(30)]
    msg = box.fail(zf.write_zip(box.inbox / "s.zip", members), "no_module").message
    assert "and 15 more" in msg


def test_shadowing_names_noted(box: Box) -> None:
    path = zf.write_zip(box.inbox / "s.zip", [("rnn.py", zf.RNN_SOURCE), ("numpy.py", "x = 1\n")])
    assert any("numpy.py" in n for n in box.open(path).notes)


# --------------------------------------------------------------------------- sources


def test_utf16_source_rewritten(box: Box) -> None:
    sub = box.open(zf.utf16_source(box.inbox))
    text = sub.module_path.read_bytes().decode("utf-8")
    assert text.startswith("# 中文註解") and "class RNN" in text
    assert "source re-encoded from UTF-16 to UTF-8: rnn.py" in sub.notes
    compile(text, "rnn.py", "exec")


def test_cp950_source_rewritten(box: Box) -> None:
    sub = box.open(zf.cp950_source(box.inbox))
    text = sub.module_path.read_text(encoding="utf-8")
    assert text.startswith('"""循環神經網路"""')
    assert "source re-encoded from cp950 to UTF-8: rnn.py" in sub.notes


def test_coding_cookie_respected_or_replaced() -> None:
    big5 = "# -*- coding: big5 -*-\ns = '中文'\n".encode("cp950")
    assert decode_source(big5) == ("# -*- coding: big5 -*-\ns = '中文'\n", None)  # Python reads it
    lying = "# -*- coding: utf-8 -*-\ns = '中文'\n".encode("cp950")
    text, codec = decode_source(lying)
    assert codec == "cp950" and "中文" in text


def test_reencoded_file_drops_its_old_coding_line(box: Box) -> None:
    lying = b"# coding: ascii\n" + zf.RNN_SOURCE.encode() + "# 中文\n".encode("cp950")
    sub = box.open(zf.write_zip(box.inbox / "s.zip", [("rnn.py", lying)]))
    written = sub.module_path.read_bytes()
    assert written.splitlines()[0] == b"# -*- coding: utf-8 -*-" and "# 中文".encode() in written
    compile(written, "rnn.py", "exec")  # with the old "ascii" line kept, this would not compile


def test_undecodable_source_listed(box: Box) -> None:
    path = zf.write_zip(box.inbox / "s.zip", [("model.py", b"\xff\xff\x81\x00 garbage")])
    msg = box.fail(path, "no_module").message
    assert "model.py (could not be read:" in msg


# --------------------------------------------------------------------------- notebooks


def test_notebook_converted(box: Box) -> None:
    sub = box.open(zf.notebook_only(box.inbox))
    assert sub.from_notebook
    assert sub.module_display == f"{zf.TOP}/lab4.ipynb"
    assert sub.module_path == sub.root / "rnn.py"
    (note,) = [n for n in sub.notes if n.startswith("converted from notebook")]
    assert "kept code cells 2, 3" in note
    assert "4 (calls RNN(); runs a loop)" in note
    assert "5 (plots: plt.plot(), plt.show())" in note
    assert "7 (does not parse (line 1))" in note
    assert "6 (prints)" in note  # def accuracy kept, print left out
    text = sub.module_path.read_text(encoding="utf-8")
    for gone in ("%matplotlib", "!pip", "plt.", "range(20000)", "print("):
        assert gone not in text
    namespace: dict = {"__name__": "converted"}
    exec(compile(text, "rnn.py", "exec"), namespace)  # our own test notebook: safe to run
    assert {"RNN", "accuracy", "BITS", "largest"} <= set(namespace)
    assert namespace["RNN"](seed=0).W.shape == (16, 16)


def test_malformed_notebook(box: Box) -> None:
    msg = box.fail(zf.notebook_malformed(box.inbox), "no_module").message
    assert "lab4.ipynb" in msg and "not valid JSON" in msg and "save it again" in msg


def test_notebook_without_rnn(box: Box) -> None:
    nb_text = zf.notebook_json([("code", "x = 1\n")])
    path = zf.write_zip(box.inbox / "s.zip", [("a.ipynb", nb_text), ("main.py", "y = 2\n")])
    msg = box.fail(path, "no_module").message
    assert "a.ipynb" in msg and "main.py" in msg


def test_notebook_given_directly(box: Box) -> None:
    path = box.inbox / "DLP_LAB4_310551001_王小明.ipynb"
    path.write_text(zf.notebook_json(zf.NOTEBOOK_CELLS), encoding="utf-8")
    sub = box.open(path)
    assert sub.from_notebook and sub.student_id == "310551001"


def test_notebook_trask_style_cell() -> None:
    cells = [
        ("code", "import copy, numpy as np\nnp.random.seed(0)\n"),
        (
            "code",
            "int2binary = {}\nbinary_dim = 8\nlargest_number = pow(2, binary_dim)\n"
            "binary = np.unpackbits(np.array([range(largest_number)], dtype=np.uint8).T, axis=1)\n"
            "for i in range(largest_number):\n    int2binary[i] = binary[i]\n",
        ),
        ("code", "class RNN:\n    hidden = binary_dim * 2\n"),
        ("code", "data = np.load('x.npy')\nshape = data.shape\nwith open('f') as f:\n    pass\n"),
        ("code", "if __name__ == '__main__':\n    train()\n"),
        ("code", "try:\n    import torch\nexcept ImportError:\n    torch = None\n"),
    ]
    conv = nb.convert(zf.notebook_json(cells), "t.ipynb")
    assert conv.defines_rnn
    reports = {c.number: c for c in conv.cells}
    assert reports[1].status == "partly kept" and "calls np.random.seed()" in reports[1].left_out
    assert reports[2].status == "partly kept" and reports[2].left_out == ["runs a loop"]
    assert reports[3].status == "kept"
    assert reports[4].status == "left out"
    assert "reads files: np.load()" in reports[4].left_out
    assert any(r.startswith("uses data") for r in reports[4].left_out)
    assert reports[5].status == "kept" and reports[6].status == "kept"
    ns: dict = {"__name__": "converted"}
    exec(compile(conv.source, "rnn.py", "exec"), ns)
    assert ns["RNN"].hidden == 16 and "import torch" in conv.source  # policy scan still sees it


def test_notebook_json_shapes() -> None:
    with pytest.raises(nb.NotebookError):
        nb.convert("[1, 2]")
    cell = {"cell_type": "code", "input": ["class RNN:\n", "    pass\n"]}
    v3 = json.dumps({"worksheets": [{"cells": [cell]}]})
    assert nb.convert(v3).defines_rnn


# --------------------------------------------------------------------------- reports


def test_pdf_pages(tmp_path: Path) -> None:
    p = tmp_path / "r.pdf"
    p.write_bytes(zf.pdf_bytes(7))
    assert count_pdf_pages(p) == 7
    p.write_bytes(b"%PDF-1.5 compressed object streams only")
    assert count_pdf_pages(p) is None


def test_several_pdfs_prefer_the_report(box: Box) -> None:
    members = [
        ("rnn.py", zf.RNN_SOURCE),
        ("figure.pdf", zf.pdf_bytes(1)),
        ("DLP_LAB4_report.pdf", zf.pdf_bytes(6)),
    ]
    sub = box.open(zf.write_zip(box.inbox / "s.zip", members))
    assert sub.report == "DLP_LAB4_report.pdf" and sub.report_pages == 6 and sub.report_others == ["figure.pdf"]


def test_the_report_is_chosen_by_the_batchs_rule_and_said_once(box: Box) -> None:
    """No PDF but a Word file: the intake takes it, as the batch's copy does (one rule,
    intake/report_rule.py); `check` says it in one note; a README is never the report, and
    a lone module looks for none."""
    members = [("rnn.py", zf.RNN_SOURCE), ("README.md", "# run me"), ("report.docx", b"PK")]
    sub = box.open(zf.write_zip(box.inbox / "s.zip", members))
    assert (sub.report, sub.report_pages, sub.report_others) == ("report.docx", None, [])
    info = SubmissionInfo(source="s.zip", report=sub.report, report_sought=True)
    assert info.report_note == "report: report.docx"
    alone = box.open(zf.write_zip(box.inbox / "t.zip", [("rnn.py", zf.RNN_SOURCE), ("README.md", "# run me")]))
    assert alone.report is None and alone.report_sought
    assert SubmissionInfo(source="t.zip", report_sought=True).report_note.startswith("no report found")
    (box.inbox / "rnn.py").write_text(zf.RNN_SOURCE, encoding="utf-8")
    assert not box.open(box.inbox / "rnn.py").report_sought and SubmissionInfo(source="rnn.py").report_note is None


def test_error_has_status_and_message() -> None:
    err = SubmissionError("bad_zip", "x is encrypted")
    assert (err.status, err.message, str(err)) == (
        "bad_zip",
        "x is encrypted",
        "bad_zip: x is encrypted",
    )
    with pytest.raises(ValueError):
        SubmissionError("weird", "x")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs another account to read as: run as root")
def test_the_copy_being_graded_is_private_from_other_accounts(tmp_path: Path) -> None:
    """The intake's copy of a submission (under TMPDIR while it is graded) is 0700 folders
    and 0600 files: another local account cannot read it, as it could before (0755/0644)."""
    import subprocess
    import sys

    source = tmp_path / "DLP_LAB4_310551001_Chen.zip"
    source.write_bytes(zf.zip_bytes([("DLP_LAB4_310551001_Chen/rnn.py", zf.RNN_SOURCE)]))
    work = tmp_path / "work"
    work.mkdir()
    work.chmod(0o755)  # TMPDIR is open to everyone
    sub = open_submission(source, work)
    assert sub.root.stat().st_mode & 0o777 == 0o700 and sub.module_path.stat().st_mode & 0o777 == 0o600
    nobody = subprocess.run(
        [sys.executable, "-c", f"import os; os.setgid(65534); os.setuid(65534); open({str(sub.module_path)!r}).read()"],
        capture_output=True, text=True)
    assert nobody.returncode != 0 and "PermissionError" in nobody.stderr, nobody.stderr
