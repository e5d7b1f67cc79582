"""The README's layout block names every module of the packages (it is the map a new
engineer reads first, so it must not fall behind the tree)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMED_AS_A_FOLDER = {"known_solutions"}  # solutions written out for the similarity check


def test_layout_block_names_every_module():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Layout\n\n```\n(.*?)```", readme, re.S).group(1)
    missing = []
    for package in ("grader", "reference"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT / package)
            if path.name in ("__init__.py", "__main__.py") or NAMED_AS_A_FOLDER & set(rel.parts[:-1]):
                continue
            if not re.search(rf"(?<![\w.]){re.escape(path.name)}", block):
                missing.append(str(path.relative_to(ROOT)))
    rooms = {p.parent.name for p in (ROOT / "grader").glob("*/__init__.py")} - NAMED_AS_A_FOLDER
    for folder in NAMED_AS_A_FOLDER | rooms:
        assert f"{folder}/" in block, folder
    assert not missing, f"the README's layout block does not name {missing}"
