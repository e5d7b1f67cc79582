"""Copied bugs, not only copied text: the same wrong gradients at the grader's probe flag the
pair (same_wrong_numbers), whatever was renamed or reordered; right answers and the classic
bugs many students make alike never count."""

from __future__ import annotations

import re
from pathlib import Path

from batching import row_of
from corpus import CORPUS
from grader.batch.class_flags import flag_same_wrong_numbers
from grader.checks.pipeline import grade
from grader.settings import Settings

TINY = Settings().with_overrides(runs=1, iterations=200, accuracy_window=100)
RENAMES = {"grads": "found", "da_next": "carry", "h_prev": "before", "h_t": "now", "dh": "delta_h", "do": "d_out",
           "PARAMS": "NAMES", "output_delta": "out_err", "sigmoid": "squash"}


def disguised(source: str) -> str:
    """The file as a copier hides it: every name renamed, backward moved below update, and an
    identity call around every assignment's value."""
    for old, new in RENAMES.items():
        source = re.sub(rf"\b{old}\b", new, source)
    backward = re.search(r"\n    def backward\(self, y\):.*?(?=\n    def )", source, re.S).group(0)
    source = source.replace(backward, "")
    source = source.replace("\n\ndef make_sample", backward + "\n\n\ndef make_sample", 1)
    source = re.sub(r"^(\s+[\w\[\]\"]+ [+-]?= )([^#\n]+)$", r"\1same(\2)", source, flags=re.M)
    return source.replace("import numpy as np\n", "import numpy as np\n\n\ndef same(v):\n    return v\n", 1)


def test_a_renamed_reordered_copy_of_a_bug_of_its_own_is_flagged_by_its_numbers(tmp_path: Path):
    original = (CORPUS / "db_skips_first_step.py").read_text(encoding="utf-8")
    copy = tmp_path / "copy.py"
    copy.write_text(disguised(original), encoding="utf-8")
    classic = tmp_path / "classic.py"  # another student's own no_recurrent: a classic bug
    classic.write_text(disguised((CORPUS / "bptt_no_recurrent.py").read_text(encoding="utf-8")), encoding="utf-8")
    files = {"S1": CORPUS / "db_skips_first_step.py", "S2": copy, "S3": CORPUS / "bptt_no_recurrent.py",
             "S4": classic, "S5": CORPUS / "correct_bce.py", "S6": CORPUS / "correct_mse.py"}
    results = {sid: grade(path, TINY) for sid, path in files.items()}
    reference = results["S2"].check("gradient_reference")
    assert reference.status == "failed" and reference.details["bug_name"] is None  # really wrong, not classic
    assert results["S3"].check("gradient_reference").details["bug_name"] == "no_recurrent"
    rows = []
    for sid, result in results.items():
        result.submission.student_id = sid
        rows.append(row_of(result, file=f"{sid}.zip"))
    flag_same_wrong_numbers(rows)
    flags = {row.who.student_id: [f for f in row.flag_labels if f.startswith("same_wrong")] for row in rows}
    assert flags == {"S1": ["same_wrong_numbers:S2"], "S2": ["same_wrong_numbers:S1"], "S3": [], "S4": [],
                     "S5": [], "S6": []}
