"""Write examples/class/: five submissions, zipped the way a learning platform exports them.

    python examples/make_class.py

The output is deterministic: every member has a fixed date and fixed attributes and is
stored uncompressed (deflate output differs between zlib builds), so running this again
gives byte-identical zips. The student code comes from examples/rnn_correct.py and from
the students' own solutions in examples/students/, written apart from one another.

- DLP_LAB4_310551001_王小明.zip: correct (bce). One top folder; rnn.py imports a helper
  module; report.pdf; __MACOSX/ junk; UTF-8 names with the UTF-8 flag.
- DLP_LAB4_310551002_陳美玲.zip: correct (bce). Member names in GBK without the UTF-8
  flag (old Windows zip tools); rnn.py in 程式/, the report as 報告.pdf.
- DLP_LAB4_310551003_Lee.zip: BPTT without the W^T da_{t+1} term (the gradients of W, U
  and b are wrong); rnn.py at the root of the zip.
- DLP_LAB4_310551004_Wang.zip: correct (mse loss), plain .py files only.
- lab4-310551005.zip: file name not in the DLP_LAB4_<id>_<name>.zip form; no rnn.py (the
  module is lab4_rnn.py, the one file with class RNN); 310551001's code with its names
  changed, whose forward carries the hidden state from one call to the next.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "class"
DATE = (2025, 11, 3, 23, 58, 42)  # every member's timestamp (zip times have 2 s resolution)
UTF8_FLAG = 0x800  # general purpose flag bit 11: the name is UTF-8


def student(sid: str) -> str:
    """A student's own solution, written independently of the others (examples/students/)."""
    return (HERE / "students" / f"{sid}.py").read_text(encoding="utf-8")


RENAMED = {"PARAMS": "NAMES", "CLIP_NORM": "LIMIT", "sigmoid": "squash", "da_next": "later", "do": "d_out",
           "grads": "g", "rng": "gen", "model": "net", "correct": "hits", "output_delta": "out_error"}


def copied_with_state_kept(correct: str) -> str:
    """310551001's code with its names changed, and a forward that starts from the hidden state
    its last call ended in instead of h_{-1} = 0 (what forward_stateless catches)."""
    text = re.sub(r"\b(" + "|".join(RENAMED) + r")\b", lambda m: RENAMED[m.group(1)], correct)
    text = replace_once(text, "        self.h = np.zeros((T + 1, H))  # self.h[t + 1] is h_t; self.h[0] is h_{-1} = 0\n",
                        "        start = getattr(self, \"h\", np.zeros((1, H)))[-1]  # carry on from the last call\n"
                        "        self.h = np.zeros((T + 1, H))\n        self.h[0] = start\n")
    return text


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def with_header(source: str, comment: str) -> str:
    """The source with a comment line on top, the way students sign their files."""
    return f"# {comment}\n{source}"


def pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF: one page per list of text lines (Helvetica, ASCII only)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    page_ids = [4 + 2 * i for i in range(len(pages))]
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for number, lines in enumerate(pages, start=1):
        ops = ["BT /F1 12 Tf 72 770 Td 16 TL"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append(f"ET BT /F1 9 Tf 290 40 Td (page {number}) Tj ET")
        stream = "\n".join(ops).encode("ascii")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {page_ids[number - 1] + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def appledouble() -> bytes:
    """The AppleDouble file macOS puts in __MACOSX/ for every member (a header, no data)."""
    header = bytes.fromhex("00051607 00020000") + b"Mac OS X        "
    entry = bytes.fromhex("0001 00000009 00000032 00000020")  # Finder info
    return header + entry + bytes(0x32 - len(header) - len(entry)) + bytes(32)


class LegacyName(zipfile.ZipInfo):
    """A member whose name is stored as bytes of a legacy code page, without the UTF-8 flag.

    zipfile always writes non-ASCII names as UTF-8 with the flag; old Windows zip tools
    write the system code page (GBK on a Simplified Chinese Windows) and leave it clear.
    """

    def __init__(self, name: str, encoding: str, date_time: tuple[int, ...]) -> None:
        super().__init__(name, date_time)
        self.raw_name = name.encode(encoding)

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 (zipfile's name)
        return self.raw_name, self.flag_bits & ~UTF8_FLAG


def write_zip(
    path: Path, members: list[tuple[str, bytes | None]], encoding: str | None = None
) -> None:
    """Members are (name, data); data None is a folder entry. encoding: legacy names."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members:
            if encoding is None:
                info = zipfile.ZipInfo(name, DATE)
                info.create_system = 3  # Unix
                mode = 0o040755 if data is None else 0o100644
                info.external_attr = (mode << 16) | (0x10 if data is None else 0)
            else:
                info = LegacyName(name, encoding, DATE)
                info.create_system = 0  # MS-DOS / Windows: only DOS attributes
                info.external_attr = 0x10 if data is None else 0x20  # directory / archive
            zf.writestr(info, b"" if data is None else data)


def check_legacy_names(path: Path, encoding: str, expected: list[str]) -> None:
    """Read the zip back: no member may carry the UTF-8 flag, and the raw names decode."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    assert all(not i.flag_bits & UTF8_FLAG for i in infos), path
    assert [i.filename.encode("cp437").decode(encoding) for i in infos] == expected, path


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.zip"):
        old.unlink()
    correct = (HERE / "rnn_correct.py").read_text(encoding="utf-8")

    # 1. Correct, one top folder, a helper module, a report, macOS junk.
    top = "DLP_LAB4_310551001_王小明/"
    helpers_start = correct.index("def sigmoid(o):")
    helpers_end = correct.index("class RNN:")
    sample_start = correct.index("def make_sample(")
    main_start = correct.index('if __name__ == "__main__":')
    helpers = (
        '"""Helpers for rnn.py: the logistic function and the training data."""\n\n'
        "import numpy as np\n\n\n"
        + correct[helpers_start:helpers_end].rstrip()
        + "\n\n\n"
        + correct[sample_start:main_start].rstrip()
        + "\n"
    )
    rnn = correct[:helpers_start] + correct[helpers_end:sample_start] + correct[main_start:]
    helper_import = "import numpy as np\n\nfrom rnn_utils import make_sample, sigmoid\n"
    rnn = replace_once(rnn, "import numpy as np\n", helper_import)
    report = pdf(
        [
            ["DLP Lab 4: Back-propagation through time", "310551001 Wang Hsiao-Ming", "",
             "1. Data generation: 8-bit A + B, least significant bit first.",
             "2. Forward: a_t = b + W h_(t-1) + U x_t, h_t = tanh(a_t),",
             "   yhat_t = sigmoid(c + V h_t).",
             "3. BPTT: dh_t = W^T da_(t+1) + V^T do_t, da_t = dh_t * (1 - h_t^2)."],
            ["4. Results", "Accuracy of the last 1000 iterations: 1.000 (seed 0).",
             "The accuracy curve rises from 0 to 1 between iterations 3000 and 6000."],
        ]
    )
    junk = appledouble()
    write_zip(
        OUT / "DLP_LAB4_310551001_王小明.zip",
        [
            (top, None),
            (top + "rnn.py", with_header(rnn, "DLP Lab 4, 310551001 王小明").encode()),
            (top + "rnn_utils.py", helpers.encode()),
            (top + "report.pdf", report),
            ("__MACOSX/", None),
            ("__MACOSX/" + top, None),
            ("__MACOSX/" + top + "._rnn.py", junk),
            ("__MACOSX/" + top + "._rnn_utils.py", junk),
            ("__MACOSX/" + top + "._report.pdf", junk),
        ],
    )

    # 2. Correct, names in GBK without the UTF-8 flag.
    top = "DLP_LAB4_310551002_陳美玲/"
    names = [top, top + "程式/", top + "程式/rnn.py", top + "報告.pdf"]
    source = with_header(student("310551002"), "DLP Lab 4, 310551002 陳美玲（程式碼以 UTF-8 儲存）")
    report = pdf([["DLP Lab 4", "310551002 Chen Mei-Ling"], ["Accuracy: 1.000"]])
    path = OUT / "DLP_LAB4_310551002_陳美玲.zip"
    write_zip(path, list(zip(names, [None, None, source.encode(), report])), encoding="gbk")
    check_legacy_names(path, "gbk", names)

    # 3. The BPTT bug, rnn.py at the root of the zip.
    source = student("310551003")
    write_zip(OUT / "DLP_LAB4_310551003_Lee.zip", [("rnn.py", source.encode())])

    # 4. Correct with the mse loss, plain .py files.
    top = "DLP_LAB4_310551004_Wang/"
    source = student("310551004")
    readme = b"Run `python rnn.py` to train for 20000 iterations (mse loss, no clipping).\n"
    write_zip(
        OUT / "DLP_LAB4_310551004_Wang.zip",
        [(top, None), (top + "rnn.py", source.encode()), (top + "README.txt", readme)],
    )

    # 5. Badly named zip, module not called rnn.py, hidden state carried between calls: 310551001's
    # code with its names changed (the batch flags the pair `similar`).
    source = with_header(copied_with_state_kept(correct), "lab4 310551005")
    write_zip(OUT / "lab4-310551005.zip", [("lab4/", None), ("lab4/lab4_rnn.py", source.encode())])

    for path in sorted(OUT.glob("*.zip")):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
