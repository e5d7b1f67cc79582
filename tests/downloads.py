"""Class downloads shaped as each platform writes them, built in a test's folder: the
builders the layout, identity and round-trip tests share."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

CORRECT = (Path(__file__).parent / "submissions" / "correct_bce.py").read_text(encoding="utf-8")


def handout_zip(sid: str, name: str, source: str = CORRECT) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(f"DLP_LAB4_{sid}_{name}/rnn.py", source)
        z.writestr(f"DLP_LAB4_{sid}_{name}/report.pdf", b"%PDF-1.4\n")
    return buffer.getvalue()


def put(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def moodle_folders(root: Path, trailing: str = "_") -> Path:
    """Moodle 3.x (`..._file_/`) or 4.1+ (`..._file/`): a folder per participant and plugin."""
    put(root / f"王小明_1001_assignsubmission_file{trailing}" / "DLP_LAB4_0756001_王小明.zip",
        handout_zip("0756001", "王小明"))
    put(root / f"王小明_1001_assignsubmission_onlinetext{trailing}" / "onlinetext.html", "<p>see my zip</p>")
    put(root / f"Amy Lin_1002_assignsubmission_file{trailing}" / "rnn.py", CORRECT)  # a loose rnn.py
    put(root / f"Bob Chen_1003_assignsubmission_onlinetext{trailing}" / "onlinetext.html", "<p>no code</p>")
    return root


def moodle_flat_class(root: Path) -> Path:
    put(root / "王小明_1001_assignsubmission_file_DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明"))
    put(root / "Amy Lin_1002_assignsubmission_file_rnn.py", CORRECT)
    put(root / "Amy Lin_1002_assignsubmission_file_utils.py", "X = 1\n")
    put(root / "Amy Lin_1002_assignsubmission_onlinetext_onlinetext.html", "<p>hi</p>")
    return root


def canvas_class(root: Path) -> Path:
    put(root / "wangxiaoming_LATE_501_9001_DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明"))
    put(root / "linamy_502_9002_rnn.py", "# first upload\n" + CORRECT)
    put(root / "linamy_502_9010_rnn-1.py", CORRECT)  # uploaded again: the newer one
    return root


def gradescope_class(root: Path) -> Path:
    put(root / "submission_111" / "DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明"))
    put(root / "submission_112" / "rnn.py", CORRECT)
    put(root / "submission_metadata.yml", """submission_111:
  :submitters:
  - :name: 王小明
    :sid: '0756001'
    :email: wang@example.edu
  :created_at: 2026-11-30 23:10:00.000000000 +08:00
submission_112:
  :submitters:
  - :name: Amy Lin
    :sid: 0810002
    :email: amy@example.edu
  :created_at: 2026-12-01 09:00:00.000000000 +08:00
  :tags: !ruby/object:Unknown
    a: 1
""")
    return root


def blackboard_class(root: Path) -> Path:
    put(root / "Lab4_s0756001_attempt_2026-11-29-10-00-00_DLP_LAB4_0756001_王小明.zip",
        handout_zip("0756001", "王小明", "# old\n" + CORRECT))
    put(root / "Lab4_s0756001_attempt_2026-11-29-10-00-00.txt", "Name: 王小明\n")
    put(root / "Lab4_s0756001_attempt_2026-11-30-22-00-00_DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明"))
    put(root / "Lab4_s0756001_attempt_2026-11-30-22-00-00.txt", "Name: 王小明\n")
    return root


def classroom_class(root: Path) -> Path:
    put(root / "DLP_LAB4_0756001_王小明.zip", handout_zip("0756001", "王小明", "# old\n" + CORRECT))
    put(root / "DLP_LAB4_0756001_王小明 (1).zip", handout_zip("0756001", "王小明"))
    put(root / "rnn.py", CORRECT)  # two students who both uploaded rnn.py: two submissions
    put(root / "rnn (1).py", CORRECT)
    return root
