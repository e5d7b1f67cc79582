"""What `pip install .` ships: every package of the source tree (a subpackage left out
works in the repository and in an editable install, and breaks every other install)."""

from __future__ import annotations

import sys
from pathlib import Path

import setuptools

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_in_the_tree_is_shipped():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = set(setuptools.find_packages(where=str(ROOT), include=include))
    in_tree = {".".join(p.parent.relative_to(ROOT).parts) for p in ROOT.glob("*/**/__init__.py")
               if p.parent.relative_to(ROOT).parts[0] in ("grader", "reference", "student_template")}
    assert in_tree and in_tree <= shipped, in_tree - shipped
    assert "grader.sandbox" in shipped
    assert not {p for p in shipped if p.startswith("tests")}
