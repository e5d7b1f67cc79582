"""What `pip install .` ships: every package of the source tree (a subpackage left out
works in the repository and in an editable install, and breaks every other install)."""

from __future__ import annotations

import sys
from fnmatch import fnmatch
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_in_the_tree_is_shipped():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {".".join(p.parent.relative_to(ROOT).parts) for p in ROOT.glob("**/__init__.py")
                if ".venv" not in p.parts and "site-packages" not in p.parts}
    shipped = {p for p in packages if any(fnmatch(p, pattern) for pattern in include)}  # as setuptools' find
    rooms = {f"grader.{room}" for room in ("intake", "sandbox", "checks", "outputs", "batch")}
    assert {"grader", "reference", "student_template", *rooms} <= shipped
    assert all(p in shipped for p in packages if p.split(".")[0] in ("grader", "reference", "student_template"))
    assert not {p for p in shipped if p.startswith(("tests", "bench", "examples"))}
