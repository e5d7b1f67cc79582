"""Hostile and ordinary submissions, built on the fly in a test's temporary folder.

Every builder takes a folder and returns the path it wrote (a zip, or a folder / file
for the non-zip cases). Nothing is stored in the repository, and every file is small:
the bombs are built from zeros (60 MiB compresses to about 60 KiB) or from declared sizes
patched into the headers. `CASES` maps a case name to its builder and the status
`open_submission` must give (None: accepted); other tests can reuse it.

Byte-level helpers (`patch_headers`, `patch_declared_size`, `RawNameInfo`) make what
`zipfile` refuses to write: encrypted flags, unknown methods, lying sizes, names in a
legacy code page without the UTF-8 flag.
"""

from __future__ import annotations

import io
import json
import stat
import struct
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

RNN_SOURCE = """import numpy as np


class RNN:
    def __init__(self, input_dim=2, hidden_dim=16, output_dim=1, seed=None):
        rng = np.random.default_rng(seed)
        self.U = rng.normal(0, 0.1, (hidden_dim, input_dim))
        self.W = rng.normal(0, 0.1, (hidden_dim, hidden_dim))
        self.V = rng.normal(0, 0.1, (output_dim, hidden_dim))
        self.b = np.zeros(hidden_dim)
        self.c = np.zeros(output_dim)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, y):
        raise NotImplementedError

    def update(self, grads, alpha):
        for k in ("U", "W", "V", "b", "c"):
            setattr(self, k, getattr(self, k) - alpha * grads[k])


if __name__ == "__main__":
    RNN(seed=0)
"""

HELPER_SOURCE = "def sigmoid(x):\n    return 1 / (1 + __import__('math').exp(-x))\n"
RNN_WITH_HELPER = "from utils import sigmoid\n\n" + RNN_SOURCE
PLAIN_SOURCE = "def main():\n    return 42\n"


def pdf_bytes(pages: int = 5) -> bytes:
    """A tiny PDF with `pages` page objects (enough for the page counter, not for a viewer)."""
    kids = " ".join(f"{3 + k} 0 R" for k in range(pages))
    objs = [
        "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj",
        f"2 0 obj << /Type /Pages /Kids [{kids}] /Count {pages} >> endobj",
    ] + [f"{3 + k} 0 obj << /Type /Page /Parent 2 0 R >> endobj" for k in range(pages)]
    return ("%PDF-1.4\n" + "\n".join(objs) + "\n%%EOF\n").encode("ascii")


def notebook_json(cells: list[tuple[str, str]]) -> str:
    """An nbformat-4 notebook from (cell_type, source) pairs."""
    return json.dumps(
        {
            "cells": [
                {
                    "cell_type": kind,
                    "metadata": {},
                    "source": source.splitlines(keepends=True),
                    **({"outputs": [], "execution_count": None} if kind == "code" else {}),
                }
                for kind, source in cells
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        ensure_ascii=False,
    )


NOTEBOOK_CELLS = [
    ("markdown", "# Lab 4"),
    ("code", "%matplotlib inline\nimport numpy as np\nimport matplotlib.pyplot as plt\n"),
    ("code", "BITS = 8\nLR = 0.1\nlargest = pow(2, BITS)\n"),
    ("code", RNN_SOURCE.split("\n\nif __name__")[0]),
    ("code", "model = RNN(seed=0)\nfor i in range(20000):\n    pass\n"),
    ("code", "plt.plot([1, 2, 3])\nplt.show()\n"),
    ("code", "def accuracy(p, y):\n    return (p == y).mean()\n\nprint(accuracy(1, 1))\n"),
    ("code", "this is not python (\n"),
    ("code", "!pip install numpy\n"),
]


# --------------------------------------------------------------------------- writing zips


class RawNameInfo(zipfile.ZipInfo):
    """A member whose name is written as these exact bytes, without the UTF-8 flag.

    `zipfile` would encode a non-ASCII str name as UTF-8 and set flag 0x800, which is not
    what old Windows tools do; this writes the legacy code-page bytes instead.
    """

    def __init__(self, raw: bytes) -> None:
        super().__init__(raw.decode("cp437"))
        self.raw_name = raw

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 - zipfile's name
        return self.raw_name, self.flag_bits & ~0x800


Member = tuple["str | zipfile.ZipInfo", "str | bytes"]


def zip_bytes(members: Iterable[Member], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip in memory; names may be str (UTF-8 flag when needed) or ZipInfo objects."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name" is the point of some cases
        with zipfile.ZipFile(buf, "w", compression) as z:
            for name, data in members:
                if isinstance(name, zipfile.ZipInfo):
                    if (
                        name.compress_type == zipfile.ZIP_STORED
                        and compression != zipfile.ZIP_STORED
                    ):
                        name.compress_type = compression
                    z.writestr(name, data)
                else:
                    z.writestr(name, data)
    return buf.getvalue()


def write_zip(path: Path, members: Iterable[Member], **kw: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zip_bytes(members, **kw))
    return path


def _entries(data: bytes) -> list[tuple[int, int, bytes]]:
    """(central header offset, local header offset, raw name) of every member."""
    eocd = data.rfind(b"PK\x05\x06")
    (offset,) = struct.unpack("<I", data[eocd + 16 : eocd + 20])
    out, pos = [], offset
    while data[pos : pos + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack("<HHH", data[pos + 28 : pos + 34])
        (local,) = struct.unpack("<I", data[pos + 42 : pos + 46])
        out.append((pos, local, data[pos + 46 : pos + 46 + n]))
        pos += 46 + n + m + k
    return out


def patch_headers(
    data: bytes, *, flag_or: int = 0, method: int | None = None, only: bytes | None = None
) -> bytes:
    """Set flag bits and/or the method id in both the local and the central headers."""
    buf = bytearray(data)
    for central, local, name in _entries(data):
        if only is not None and name != only:
            continue
        for flags_at, method_at in ((central + 8, central + 10), (local + 6, local + 8)):
            (flags,) = struct.unpack("<H", buf[flags_at : flags_at + 2])
            buf[flags_at : flags_at + 2] = struct.pack("<H", flags | flag_or)
            if method is not None:
                buf[method_at : method_at + 2] = struct.pack("<H", method)
    return bytes(buf)


def patch_declared_size(
    data: bytes, name: bytes, file_size: int, compress_size: int | None = None
) -> bytes:
    """Make member `name` declare other sizes (local and central headers)."""
    buf = bytearray(data)
    for central, local, raw in _entries(data):
        if raw == name:
            buf[central + 24 : central + 28] = struct.pack("<I", file_size)
            buf[local + 22 : local + 26] = struct.pack("<I", file_size)
            if compress_size is not None:
                buf[central + 20 : central + 24] = struct.pack("<I", compress_size)
                buf[local + 18 : local + 22] = struct.pack("<I", compress_size)
    return bytes(buf)


def _unix(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


# --------------------------------------------------------------------------- the cases

TOP = "DLP_LAB4_310551001_王小明"


def ok_zip(d: Path) -> Path:
    return write_zip(
        d / f"{TOP}.zip", [(f"{TOP}/rnn.py", RNN_SOURCE), (f"{TOP}/report.pdf", pdf_bytes(5))]
    )


def traversal_dotdot(d: Path) -> Path:
    return write_zip(
        d / "DLP_LAB4_310551001_x.zip", [("rnn.py", RNN_SOURCE), ("../../evil.py", "x = 1\n")]
    )


def traversal_backslash(d: Path) -> Path:
    return write_zip(
        d / "DLP_LAB4_310551001_x.zip", [("rnn.py", RNN_SOURCE), ("src\\..\\..\\evil.py", "x\n")]
    )


def traversal_absolute(d: Path) -> Path:
    target = (d / "outside" / "evil.py").resolve()
    return write_zip(
        d / "DLP_LAB4_310551001_x.zip", [("rnn.py", RNN_SOURCE), (str(target), "x = 1\n")]
    )


def traversal_drive(d: Path) -> Path:
    return write_zip(
        d / "DLP_LAB4_310551001_x.zip", [("rnn.py", RNN_SOURCE), ("C:\\evil.py", "x\n")]
    )


def symlink_member(d: Path) -> Path:
    return write_zip(
        d / "DLP_LAB4_310551001_x.zip", [(_unix("rnn.py", stat.S_IFLNK | 0o777), b"/etc/passwd")]
    )


def device_member(d: Path) -> Path:
    members = [("rnn.py", RNN_SOURCE), (_unix("dev", stat.S_IFCHR | 0o666), b"")]
    return write_zip(d / "DLP_LAB4_310551001_x.zip", members)


def ratio_bomb(d: Path) -> Path:
    """A 4 MiB member of zeros: under the per-member cap, far above the ratio limit."""
    return write_zip(
        d / "DLP_LAB4_310551001_x.zip", [("rnn.py", RNN_SOURCE), ("weights.npy", bytes(4 << 20))]
    )


def big_member(d: Path) -> Path:
    """A real 60 MiB member (zeros; the zip is about 60 KiB)."""
    return write_zip(
        d / "DLP_LAB4_310551001_x.zip", [("rnn.py", RNN_SOURCE), ("data.bin", bytes(60 << 20))]
    )


def declared_total(d: Path) -> Path:
    """Six members that each declare 10 MiB, stored (patched; the content is a few bytes)."""
    members = [("rnn.py", RNN_SOURCE)] + [(f"part{k}.txt", b"tiny") for k in range(6)]
    data = zip_bytes(members, compression=zipfile.ZIP_STORED)
    for k in range(6):
        data = patch_declared_size(data, f"part{k}.txt".encode(), 10 << 20, 10 << 20)
    (d / "DLP_LAB4_310551001_x.zip").write_bytes(data)
    return d / "DLP_LAB4_310551001_x.zip"


def lying_size(d: Path) -> Path:
    """A member that declares 100 bytes but inflates to 1 MiB."""
    data = zip_bytes([("rnn.py", RNN_SOURCE), ("data.bin", bytes(1 << 20))])
    data = patch_declared_size(data, b"data.bin", 100)
    (d / "DLP_LAB4_310551001_x.zip").write_bytes(data)
    return d / "DLP_LAB4_310551001_x.zip"


def many_members(d: Path) -> Path:
    members = [("rnn.py", RNN_SOURCE)] + [(f"f/{k}.txt", b"") for k in range(1000)]
    return write_zip(d / "DLP_LAB4_310551001_x.zip", members, compression=zipfile.ZIP_STORED)


def nested_one_level(d: Path) -> Path:
    inner = zip_bytes([(f"{TOP}/rnn.py", RNN_SOURCE)])
    return write_zip(d / f"{TOP}.zip", [(f"{TOP}.zip", inner)])


def nested_two_levels(d: Path) -> Path:
    inner = zip_bytes([("rnn.py", RNN_SOURCE)])
    middle = zip_bytes([("inner.zip", inner)])
    return write_zip(d / "DLP_LAB4_310551001_x.zip", [("middle.zip", middle)])


def encrypted(d: Path) -> Path:
    data = patch_headers(zip_bytes([("rnn.py", RNN_SOURCE)]), flag_or=0x1)
    (d / "DLP_LAB4_310551001_x.zip").write_bytes(data)
    return d / "DLP_LAB4_310551001_x.zip"


def deflate64(d: Path) -> Path:
    data = patch_headers(zip_bytes([("rnn.py", RNN_SOURCE)]), method=9)
    (d / "DLP_LAB4_310551001_x.zip").write_bytes(data)
    return d / "DLP_LAB4_310551001_x.zip"


def rar_named_zip(d: Path) -> Path:
    (d / "DLP_LAB4_310551001_x.zip").write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(64))
    return d / "DLP_LAB4_310551001_x.zip"


def sevenzip_named_zip(d: Path) -> Path:
    (d / "DLP_LAB4_310551001_x.zip").write_bytes(b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(64))
    return d / "DLP_LAB4_310551001_x.zip"


def empty_file(d: Path) -> Path:
    (d / "DLP_LAB4_310551001_x.zip").write_bytes(b"")
    return d / "DLP_LAB4_310551001_x.zip"


def empty_archive(d: Path) -> Path:
    return write_zip(d / "DLP_LAB4_310551001_x.zip", [])


def truncated(d: Path) -> Path:
    data = zip_bytes([("rnn.py", RNN_SOURCE), ("notes.txt", "x" * 5000)])
    (d / "DLP_LAB4_310551001_x.zip").write_bytes(data[: len(data) // 2])
    return d / "DLP_LAB4_310551001_x.zip"


def corrupt_member(d: Path) -> Path:
    """Central directory intact, compressed bytes of rnn.py scrambled."""
    data = bytearray(zip_bytes([("rnn.py", RNN_SOURCE * 3)]))
    for k in range(40, 200):
        data[k] ^= 0x5A
    (d / "DLP_LAB4_310551001_x.zip").write_bytes(bytes(data))
    return d / "DLP_LAB4_310551001_x.zip"


def duplicates(d: Path) -> Path:
    members = [("rnn.py", RNN_SOURCE), ("rnn.py", "import os\nos.system('echo hostile')\n")]
    return write_zip(d / "DLP_LAB4_310551001_x.zip", members)


def case_duplicates(d: Path) -> Path:
    return write_zip(
        d / "DLP_LAB4_310551001_x.zip", [("rnn.py", RNN_SOURCE), ("RNN.py", "x = 1\n")]
    )


def nfc_duplicates(d: Path) -> Path:
    nfc, nfd = unicodedata.normalize("NFC", "é.py"), unicodedata.normalize("NFD", "é.py")
    return write_zip(
        d / "DLP_LAB4_310551001_x.zip", [("rnn.py", RNN_SOURCE), (nfc, "a\n"), (nfd, "b\n")]
    )


def file_and_folder(d: Path) -> Path:
    return write_zip(
        d / "DLP_LAB4_310551001_x.zip", [("rnn.py", RNN_SOURCE), ("src", "x"), ("src/a.py", "y\n")]
    )


def _legacy_names(d: Path, codec: str, student: str, extra: list[tuple[str, bytes]] = ()) -> Path:
    top = f"DLP_LAB4_310551001_{student}"
    members = [
        (RawNameInfo(f"{top}/程式/rnn.py".encode(codec)), RNN_SOURCE.encode()),
        (RawNameInfo(f"{top}/程式/工具.py".encode(codec)), b"X = 1\n"),
        (RawNameInfo(f"{top}/報告.pdf".encode(codec)), pdf_bytes(3)),
    ] + [(RawNameInfo(n.encode(codec)), b) for n, b in extra]
    return write_zip(d / f"{top}.zip", members)


def names_cp950(d: Path) -> Path:
    return _legacy_names(d, "cp950", "王小明")


def names_gbk(d: Path) -> Path:
    return _legacy_names(d, "gbk", "王小明")


def names_cp950_backslash_byte(d: Path) -> Path:
    """許 is B3 5C in Big5: its second byte is a backslash, which must not split the name."""
    top = "DLP_LAB4_310551001_許功蓋"
    members = [
        (RawNameInfo(f"{top}/rnn.py".encode("cp950")), RNN_SOURCE.encode()),
        (RawNameInfo(f"{top}/許.py".encode("cp950")), b"X = 1\n"),
    ]
    return write_zip(d / f"{top}.zip", members)


def macosx_junk(d: Path) -> Path:
    members = [
        (f"{TOP}/rnn.py", RNN_SOURCE),
        (f"__MACOSX/{TOP}/._rnn.py", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "),
        (f"{TOP}/._rnn.py", b"\x00\x05\x16\x07\x00\x02\x00\x00"),
        (f"{TOP}/.DS_Store", b"\x00\x00\x00\x01Bud1"),
        (f"{TOP}/__pycache__/rnn.cpython-311.pyc", b"\xa7\r\r\n" + bytes(12)),
        (f"{TOP}/helper.cpython-311-x86_64-linux-gnu.so", b"\x7fELF"),
    ]
    return write_zip(d / f"{TOP}.zip", members)


def helper_subfolder(d: Path) -> Path:
    """rnn.py and the helper it imports live in src/, under a single top folder."""
    members = [
        (f"{TOP}/src/rnn.py", RNN_WITH_HELPER),
        (f"{TOP}/src/utils.py", HELPER_SOURCE),
        (f"{TOP}/README.md", "hi\n"),
    ]
    return write_zip(d / f"{TOP}.zip", members)


def two_rnn(d: Path) -> Path:
    return write_zip(d / f"{TOP}.zip", [("a/rnn.py", RNN_SOURCE), ("b/rnn.py", RNN_SOURCE)])


def two_classes(d: Path) -> Path:
    return write_zip(d / f"{TOP}.zip", [("model_a.py", RNN_SOURCE), ("model_b.py", RNN_SOURCE)])


def class_only(d: Path) -> Path:
    return write_zip(d / f"{TOP}.zip", [("lab4_model.py", RNN_SOURCE), ("utils.py", HELPER_SOURCE)])


def no_candidate(d: Path) -> Path:
    members = [("main.py", PLAIN_SOURCE), ("broken.py", "def (:\n"), ("report.pdf", pdf_bytes(2))]
    return write_zip(d / f"{TOP}.zip", members)


def notebook_only(d: Path) -> Path:
    return write_zip(d / f"{TOP}.zip", [(f"{TOP}/lab4.ipynb", notebook_json(NOTEBOOK_CELLS))])


def notebook_malformed(d: Path) -> Path:
    return write_zip(d / f"{TOP}.zip", [("lab4.ipynb", '{"cells": [ {"cell_type": "code", ')])


def utf16_source(d: Path) -> Path:
    text = "# 中文註解\n" + RNN_SOURCE.replace("import numpy", "import numpy  # 數值")
    return write_zip(d / f"{TOP}.zip", [("rnn.py", text.encode("utf-16"))])


def cp950_source(d: Path) -> Path:
    text = '"""循環神經網路"""\n' + RNN_SOURCE
    return write_zip(d / f"{TOP}.zip", [("rnn.py", text.encode("cp950"))])


def uppercase_extension(d: Path) -> Path:
    return write_zip(d / f"{TOP} (1).ZIP", [("rnn.py", RNN_SOURCE)])


def zip_without_extension(d: Path) -> Path:
    return write_zip(d / f"{TOP}.bin", [("rnn.py", RNN_SOURCE)])


Builder = Callable[[Path], Path]

CASES: dict[str, tuple[Builder, str | None]] = {
    "ok": (ok_zip, None),
    "traversal_dotdot": (traversal_dotdot, "unsafe_zip"),
    "traversal_backslash": (traversal_backslash, "unsafe_zip"),
    "traversal_absolute": (traversal_absolute, "unsafe_zip"),
    "traversal_drive": (traversal_drive, "unsafe_zip"),
    "symlink_member": (symlink_member, "unsafe_zip"),
    "device_member": (device_member, "unsafe_zip"),
    "ratio_bomb": (ratio_bomb, "unsafe_zip"),
    "big_member": (big_member, "unsafe_zip"),
    "declared_total": (declared_total, "unsafe_zip"),
    "lying_size": (lying_size, "bad_zip"),
    "many_members": (many_members, "unsafe_zip"),
    "nested_one_level": (nested_one_level, None),
    "nested_two_levels": (nested_two_levels, "unsafe_zip"),
    "encrypted": (encrypted, "bad_zip"),
    "deflate64": (deflate64, "bad_zip"),
    "rar_named_zip": (rar_named_zip, "bad_zip"),
    "sevenzip_named_zip": (sevenzip_named_zip, "bad_zip"),
    "empty_file": (empty_file, "bad_zip"),
    "empty_archive": (empty_archive, "bad_zip"),
    "truncated": (truncated, "bad_zip"),
    "corrupt_member": (corrupt_member, "bad_zip"),
    "duplicates": (duplicates, "unsafe_zip"),
    "case_duplicates": (case_duplicates, "unsafe_zip"),
    "nfc_duplicates": (nfc_duplicates, "unsafe_zip"),
    "file_and_folder": (file_and_folder, "unsafe_zip"),
    "names_cp950": (names_cp950, None),
    "names_gbk": (names_gbk, None),
    "names_cp950_backslash_byte": (names_cp950_backslash_byte, None),
    "macosx_junk": (macosx_junk, None),
    "helper_subfolder": (helper_subfolder, None),
    "two_rnn": (two_rnn, "several_modules"),
    "two_classes": (two_classes, "several_modules"),
    "class_only": (class_only, None),
    "no_candidate": (no_candidate, "no_module"),
    "notebook_only": (notebook_only, None),
    "notebook_malformed": (notebook_malformed, "no_module"),
    "utf16_source": (utf16_source, None),
    "cp950_source": (cp950_source, None),
    "uppercase_extension": (uppercase_extension, None),
    "zip_without_extension": (zip_without_extension, None),
}
