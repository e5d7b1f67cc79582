"""Unpacking hostile and damaged zips: the exact status, a message a student can act on,
and nothing written outside the grader's work folder."""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import zipfactory as zf

from grader.intake.submission import SubmissionError, open_submission
from grader.intake.unzip import (
    MAX_MEMBERS,
    Budget,
    SafeNames,
    copy_capped,
    decode_names,
    describe_ignored,
    ignore_reason,
    safe_component,
    sniff,
    unpack_zip,
)


def snapshot(folder: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every path under `folder` (except `skip`) with its size and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        if skip is not None:
            dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return out


class Box:
    """A test's folders: `inbox` for submissions, `work` for the grader, and a check
    that nothing outside `work` changed."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.inbox = tmp / "in"
        self.inbox.mkdir(parents=True)
        self.work = tmp / "work"

    def open(self, path: Path):
        before = snapshot(self.tmp, skip=self.work)
        try:
            return open_submission(path, self.work)
        finally:
            assert snapshot(self.tmp, skip=self.work) == before, "wrote outside the work folder"

    def fail(self, path: Path, status: str) -> SubmissionError:
        with pytest.raises(SubmissionError) as info:
            self.open(path)
        err = info.value
        assert err.status == status, err.message
        assert err.message and "\n" not in err.message
        # a refused submission leaves nothing behind in the work folder
        assert not self.work.exists() or list(self.work.iterdir()) == []
        return err


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


# --------------------------------------------------------------------------- every case


@pytest.mark.parametrize("case", sorted(zf.CASES))
def test_case_status_and_confinement(box: Box, case: str) -> None:
    build, status = zf.CASES[case]
    path = build(box.inbox)
    if status is None:
        sub = box.open(path)
        root = sub.root.resolve()
        assert root.parent == box.work.resolve()
        assert sub.module_path.resolve().is_relative_to(root)
        assert sub.module_path.is_file()
        for p in root.rglob("*"):
            assert not p.is_symlink()
        assert sorted(x.name for x in box.work.iterdir()) == [root.name]  # scratch removed
    else:
        box.fail(path, status)


# --------------------------------------------------------------------------- messages


def message(box: Box, builder, status: str) -> str:
    return box.fail(builder(box.inbox), status).message


def test_traversal_names_the_member(box: Box) -> None:
    assert "outside the folder" in message(box, zf.traversal_dotdot, "unsafe_zip")
    assert "../../evil.py" in message(Box(box.tmp / "b"), zf.traversal_dotdot, "unsafe_zip")


def test_backslash_is_a_separator(box: Box) -> None:
    assert "src/../../evil.py" in message(box, zf.traversal_backslash, "unsafe_zip")


def test_absolute_and_drive_paths(box: Box) -> None:
    assert "absolute path" in message(box, zf.traversal_absolute, "unsafe_zip")
    assert not (box.inbox / "outside").exists()
    assert "absolute path" in message(Box(box.tmp / "b"), zf.traversal_drive, "unsafe_zip")


def test_symlink_and_device(box: Box) -> None:
    assert "symbolic link ('rnn.py')" in message(box, zf.symlink_member, "unsafe_zip")
    assert "device or special file" in message(Box(box.tmp / "b"), zf.device_member, "unsafe_zip")


def test_bombs(box: Box) -> None:
    msg = message(box, zf.ratio_bomb, "unsafe_zip")
    assert "weights.npy" in msg and "zip bomb" in msg and "limit 200" in msg
    msg = message(Box(box.tmp / "b"), zf.big_member, "unsafe_zip")
    assert "data.bin" in msg and "60 MiB" in msg and "20 MiB per file" in msg
    msg = message(Box(box.tmp / "c"), zf.declared_total, "unsafe_zip")
    assert "60 MiB" in msg and "limit 50 MiB" in msg
    msg = message(Box(box.tmp / "d"), zf.many_members, "unsafe_zip")
    assert f"{MAX_MEMBERS + 1} members" in msg and "limit 1000" in msg


def test_lying_size_stops_at_the_declared_size(box: Box) -> None:
    msg = message(box, zf.lying_size, "bad_zip")
    assert "data.bin" in msg


def test_nesting(box: Box) -> None:
    sub = box.open(zf.nested_one_level(box.inbox))
    assert sub.module_display == f"{zf.TOP}/rnn.py"
    assert any("zip inside the zip" in n for n in sub.notes)
    msg = message(Box(box.tmp / "b"), zf.nested_two_levels, "unsafe_zip")
    assert "zip inside a zip inside a zip" in msg


def test_encrypted_and_methods(box: Box) -> None:
    assert "encrypted" in message(box, zf.encrypted, "bad_zip")
    msg = message(Box(box.tmp / "b"), zf.deflate64, "bad_zip")
    assert "Deflate64" in msg and "re-zip it with another tool" in msg


@pytest.mark.parametrize(
    "builder,words",
    [
        (zf.rar_named_zip, "RAR archive"),
        (zf.sevenzip_named_zip, "7-Zip archive"),
        (zf.empty_file, "empty file"),
        (zf.empty_archive, "empty zip"),
        (zf.truncated, "damaged or truncated"),
        (zf.corrupt_member, "rnn.py"),
    ],
)
def test_not_a_usable_zip(box: Box, builder, words: str) -> None:
    assert words in message(box, builder, "bad_zip")


def test_duplicates(box: Box) -> None:
    assert "two files named 'rnn.py'" in message(box, zf.duplicates, "unsafe_zip")
    msg = message(Box(box.tmp / "b"), zf.case_duplicates, "unsafe_zip")
    assert "'rnn.py' and 'RNN.py'" in msg
    assert "é.py" in message(Box(box.tmp / "c"), zf.nfc_duplicates, "unsafe_zip")
    assert "both as a file and as a folder" in message(
        Box(box.tmp / "d"), zf.file_and_folder, "unsafe_zip"
    )


def test_other_magic_is_named(box: Box) -> None:
    gz = box.inbox / "DLP_LAB4_310551001_x.zip"
    gz.write_bytes(b"\x1f\x8b\x08\x00" + bytes(40))
    assert "gzip" in box.fail(gz, "bad_zip").message
    pdf = box.inbox / "DLP_LAB4_310551001_y.zip"
    pdf.write_bytes(zf.pdf_bytes(1))
    assert "PDF" in box.fail(pdf, "bad_zip").message


def test_flag_says_utf8_but_names_are_not(box: Box) -> None:
    class Lying(zf.RawNameInfo):
        def _encodeFilenameFlags(self):  # noqa: N802
            return self.raw_name, self.flag_bits | 0x800

    path = zf.write_zip(box.inbox / "x.zip", [(Lying("王.py".encode("cp950")), b"x")])
    assert "marks its file names as UTF-8" in box.fail(path, "bad_zip").message


def test_unknown_method_is_named(box: Box) -> None:
    path = box.inbox / "x.zip"
    path.write_bytes(zf.patch_headers(zf.zip_bytes([("rnn.py", zf.RNN_SOURCE)]), method=98))
    assert "PPMd" in box.fail(path, "bad_zip").message


def test_junk_in_an_ignored_member_does_not_matter(box: Box) -> None:
    # a Deflate64 .pyc is never read, so it cannot make the zip unreadable
    data = zf.zip_bytes(
        [("rnn.py", zf.RNN_SOURCE), ("__pycache__/rnn.cpython-311.pyc", b"x" * 100)]
    )
    path = box.inbox / "x.zip"
    path.write_bytes(zf.patch_headers(data, method=9, only=b"__pycache__/rnn.cpython-311.pyc"))
    sub = box.open(path)
    assert "ignored __pycache__/" in sub.notes


# --------------------------------------------------------------------------- names and layout


def test_cp950_and_gbk_names(box: Box) -> None:
    for builder, codec in ((zf.names_cp950, "cp950"), (zf.names_gbk, "GBK")):
        b = Box(box.tmp / codec)
        sub = b.open(builder(b.inbox))
        top = "DLP_LAB4_310551001_王小明"
        assert sub.module_display == f"{top}/程式/rnn.py"
        assert sub.files == [f"{top}/程式/rnn.py", f"{top}/程式/工具.py"]
        assert any(f"decoded as {codec}" in n for n in sub.notes)
        assert sub.report == f"{top}/報告.pdf" and sub.report_pages == 3
        # a Chinese module name is a Python identifier: kept importable, in its folder
        assert (sub.module_path.parent / "工具.py").is_file()
        assert sub.module_path.parent.parent == sub.root


def test_gbk_is_told_from_cp950_without_a_hint() -> None:
    # names GBK-encoded also decode (wrongly) as cp950; the frequency test picks GBK
    raw = "王小明/报告.pdf".encode("gbk")
    info = zipfile.ZipInfo(raw.decode("cp437"))
    names, note = decode_names([info], None)
    assert names == ["王小明/报告.pdf"] and "GBK" in note


def test_name_hint_settles_the_codec() -> None:
    # 陈美玲 in GBK is three frequent Big5 characters too (麻藝鍍): a true tie, which the
    # byte ranges leave to cp950; the student's name from the outer file name settles it
    raw = "陈美玲/a.py".encode("gbk")
    info = zipfile.ZipInfo(raw.decode("cp437"))
    assert decode_names([info], None)[0] == ["麻藝鍍/a.py"]
    names, note = decode_names([info], "陈美玲")
    assert names == ["陈美玲/a.py"] and "GBK" in note


def test_cp950_wins_when_gbk_reading_is_symbols() -> None:
    raw = "志瑋/rnn.py".encode("cp950")  # as GBK: 'в蕹' (a Cyrillic letter)
    info = zipfile.ZipInfo(raw.decode("cp437"))
    assert decode_names([info], None)[0] == ["志瑋/rnn.py"]


def test_utf8_without_flag_and_nfd() -> None:
    raw = "re\u0301sume\u0301/rnn.py".encode("utf-8")  # macOS: NFD, no flag
    info = zipfile.ZipInfo(raw.decode("cp437"))
    names, note = decode_names([info], None)
    assert names == ["résumé/rnn.py"] and "UTF-8" in note


def test_big5_backslash_byte_does_not_split(box: Box) -> None:
    sub = box.open(zf.names_cp950_backslash_byte(box.inbox))
    assert "DLP_LAB4_310551001_許功蓋/許.py" in sub.files
    assert (sub.root / "許.py").is_file()


def test_junk_is_ignored_and_noted(box: Box) -> None:
    sub = box.open(zf.macosx_junk(box.inbox))
    assert sub.files == [f"{zf.TOP}/rnn.py"]
    (note,) = [n for n in sub.notes if n.startswith("ignored")]
    for part in ("__MACOSX/", "__pycache__/", ".DS_Store", "._*", ".so"):
        assert part in note
    assert sorted(p.name for p in sub.root.rglob("*")) == ["rnn.py"]


def test_single_top_folder_is_looked_through_and_helpers_stay_put(box: Box) -> None:
    sub = box.open(zf.helper_subfolder(box.inbox))
    assert sub.module_display == f"{zf.TOP}/src/rnn.py"
    assert sub.module_path == sub.root / "src" / "rnn.py"
    assert (sub.root / "src" / "utils.py").read_text() == zf.HELPER_SOURCE


def test_helper_imports_resolve(box: Box) -> None:
    # the layout is right if `from utils import sigmoid` works from the module's folder;
    # checked by resolving the import with importlib's path finder, not by running it
    import importlib.machinery

    sub = box.open(zf.helper_subfolder(box.inbox))
    spec = importlib.machinery.PathFinder.find_spec("utils", [str(sub.module_path.parent)])
    assert spec is not None and Path(spec.origin) == sub.module_path.parent / "utils.py"


def test_other_zips_inside_are_not_opened(box: Box) -> None:
    inner = zf.zip_bytes([("x.py", "x = 1\n")])
    path = zf.write_zip(box.inbox / "s.zip", [("rnn.py", zf.RNN_SOURCE), ("old.zip", inner)])
    sub = box.open(path)
    assert any("not opened: old.zip" in n for n in sub.notes)


def test_directory_entries_and_dot_components(box: Box) -> None:
    path = zf.write_zip(box.inbox / "s.zip", [("a/", b""), ("./a/./rnn.py", zf.RNN_SOURCE)])
    sub = box.open(path)
    assert sub.module_display == "a/rnn.py"


def test_windows_directory_entries(box: Box) -> None:
    # old Windows tools: "src\\" as a folder entry, or a DOS directory attribute
    dos_dir = zipfile.ZipInfo("lib")
    dos_dir.external_attr = 0x10
    members = [
        ("src\\", b""),
        ("src\\rnn.py", zf.RNN_SOURCE),
        (dos_dir, b""),
        ("lib/u.py", "x = 1\n"),
    ]
    sub = box.open(zf.write_zip(box.inbox / "s.zip", members))
    assert sub.module_display == "src/rnn.py" and sub.files == ["src/rnn.py", "lib/u.py"]
    assert (sub.root / "src" / "rnn.py").is_file() and (sub.root / "lib" / "u.py").is_file()


def test_oversized_zip_file(box: Box) -> None:
    path = zf.ok_zip(box.inbox)
    with open(path, "ab") as f:
        f.truncate(path.stat().st_size + (101 << 20))  # sparse padding after the end record
    assert "limit 100 MiB" in box.fail(path, "unsafe_zip").message


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    "name,is_file,expected",
    [
        ("rnn.py", True, "rnn.py"),
        ("utils_v2.py", True, "utils_v2.py"),
        ("工具.py", True, "工具.py"),
        ("ｕｔｉｌｓ.py", True, "utils.py"),  # NFKC: what `import ｕｔｉｌｓ` looks up
        ("程式", False, "程式"),
    ],
)
def test_safe_component_keeps_importable_names(name: str, is_file: bool, expected: str) -> None:
    assert safe_component(name, is_file) == expected


@pytest.mark.parametrize(
    "name", ["my file.py", "報告 final.pdf", "CON.py", "a:b.txt", "x" * 300, "..."]
)
def test_safe_component_sanitizes(name: str) -> None:
    out = safe_component(name, True)
    assert out.isascii() and "/" not in out and "\\" not in out and ":" not in out
    assert len(out) <= 100 and out not in (".", "..") and not out.lower().startswith("con.")


def test_safe_names_are_unique_even_when_folded() -> None:
    names = SafeNames()
    a = names.file(("a b.py",))
    b = names.file(("a_b.py",))
    c = names.file(("A_B.py",))
    assert len({x[-1].casefold() for x in (a, b, c)}) == 3


def test_ignore_rules() -> None:
    assert ignore_reason(["__MACOSX", "x", "._rnn.py"]) == "__MACOSX/"
    assert ignore_reason(["src", "._rnn.py"]) == "._*"
    assert ignore_reason(["a", "__pycache__", "rnn.cpython-311.pyc"]) == "__pycache__/"
    assert ignore_reason(["rnn.cpython-311-x86_64-linux-gnu.so"]) == ".so"
    assert ignore_reason(["Thumbs.db"]) == "Thumbs.db"
    assert ignore_reason(["src", "rnn.py"]) is None
    text = describe_ignored(Counter({"__MACOSX/": 4, ".pyc": 3}))
    assert text == "ignored __MACOSX/ and 3 .pyc files"


def test_sniff() -> None:
    assert sniff(b"") == "an empty file (0 bytes)"
    assert sniff(b"Rar!\x1a\x07\x00") == "a RAR archive"
    assert sniff(b"PK\x03\x04") is None


def test_copy_capped_counts_bytes(tmp_path: Path) -> None:
    import io

    with pytest.raises(SubmissionError) as info:
        copy_capped(io.BytesIO(b"x" * 1000), tmp_path / "f", 999, Budget(), "too big")
    assert info.value.status == "unsafe_zip" and info.value.message == "too big"
    budget = Budget(total=10)
    with pytest.raises(SubmissionError):
        copy_capped(io.BytesIO(b"x" * 11), tmp_path / "g", 100, budget, "x")
    n, digest = copy_capped(io.BytesIO(b"abc"), tmp_path / "h", 100, Budget(), "x")
    assert n == 3 and (tmp_path / "h").read_bytes() == b"abc"
    with pytest.raises(FileExistsError):  # never replaces what is there
        copy_capped(io.BytesIO(b"abc"), tmp_path / "h", 100, Budget(), "x")


def test_every_check_runs_before_the_first_write(tmp_path: Path) -> None:
    data = zf.zip_bytes([("a.py", "x = 1\n"), ("rnn.py", zf.RNN_SOURCE)])
    path = tmp_path / "s.zip"
    path.write_bytes(zf.patch_headers(data, flag_or=0x1, only=b"rnn.py"))
    root, scratch = tmp_path / "root", tmp_path / "scratch"
    root.mkdir(), scratch.mkdir()
    with pytest.raises(SubmissionError) as info:
        unpack_zip(path, root, scratch)
    assert info.value.status == "bad_zip" and "encrypted" in info.value.message
    assert list(root.iterdir()) == []  # a.py, which comes first, was not written


def test_unpack_zip_directly(tmp_path: Path) -> None:
    path = zf.ok_zip(tmp_path)
    root, scratch = tmp_path / "root", tmp_path / "scratch"
    root.mkdir(), scratch.mkdir()
    out = unpack_zip(path, root, scratch)
    assert [w.display for w in out.written] == [f"{zf.TOP}/rnn.py", f"{zf.TOP}/report.pdf"]
    assert [w.path for w in out.written] == [root / "rnn.py", root / "report.pdf"]


def test_a_zip_of_many_members_is_refused_from_its_end_record_before_it_is_parsed(tmp_path):
    """70000 empty members (past the 65535 of a plain end record: a ZIP64 one): refused from
    the count the end record declares, without building an object per member (the batch
    process peeks into students' zips to choose among them and to read their times)."""
    import tracemalloc

    from grader.intake.unzip import declared_members, holds_module, newest_member_time

    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(70000):
            z.writestr(f"f{i}", b"")
    assert declared_members(path) == 70000
    tracemalloc.start()
    try:
        assert holds_module(path) is False and newest_member_time(path) is None
        with pytest.raises(SubmissionError, match="declares 70000 members"):
            unpack_zip(path, tmp_path / "out", tmp_path / "scratch")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"{peak >> 20} MiB: the central directory was parsed"
