"""The grader's wheel can be made from any install: a clone, or an installed wheel (the
autograders carry it, so an instructor who installed with pip can build them)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.wheel import grader_wheel

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_wheel_rebuilt_from_an_installed_wheel_holds_the_same_files(tmp_path: Path) -> None:
    first = grader_wheel(tmp_path)  # from this clone
    site = tmp_path / "site"
    with zipfile.ZipFile(first) as z:
        z.extractall(site)  # what pip puts in site-packages, without a clone beside it
        original = {n: z.read(n) for n in z.namelist() if not n.endswith("/RECORD")}
    (site / next(n for n in original if n.endswith(".dist-info/METADATA")).split("/")[0] / "INSTALLER").write_text("pip\n")
    again = tmp_path / "again"
    again.mkdir()
    done = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(site)!r}); "
                           "from pathlib import Path; import grader.wheel as w; "
                           f"assert not w.__file__.startswith({str(ROOT)!r}), w.__file__; "
                           f"print(w.grader_wheel(Path({str(again)!r}))); "
                           "from grader.kit import kit_wheel; from grader.settings import Settings; "
                           f"print(kit_wheel(Path({str(again)!r}), Settings()))"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rebuilt, kit = map(Path, done.stdout.split())
    assert rebuilt.name == first.name
    with zipfile.ZipFile(rebuilt) as z:
        assert z.testzip() is None
        copy = {n: z.read(n) for n in z.namelist() if not n.endswith("/RECORD")}
        record = z.read(next(n for n in z.namelist() if n.endswith("/RECORD"))).decode()
    assert copy == original  # every module, the static files and the metadata; not pip's INSTALLER
    assert all(name in record for name in original)
    with zipfile.ZipFile(kit) as z:  # the student kit, from the installed wheel too
        names = set(z.namelist())
    assert "grader/checks/kit_probes.npz" in names and "grader/checks/contract.py" in names
    assert "reference/rnn.py" not in names and "reference/rnn.py" in original
