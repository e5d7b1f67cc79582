"""The grader as a wheel, from whatever install is running, for the autograders that carry
it (Gradescope's zip, Classroom 50's bundle): from a clone, `pip wheel` of its
pyproject.toml; from an installed wheel, its files and metadata written back into one (the
install's own files, so no index and no name that someone else could register is needed).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

DIST = "bptt-grader"
INSTALL_ONLY = {"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"}  # pip's notes on this install


class WheelError(RuntimeError):
    """No wheel of the grader can be made here; one line saying why."""


def grader_wheel(into: Path) -> Path:
    """A wheel of the running grader in `into`."""
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file():
        return _from_source(root, into)
    return _from_install(into)


def _from_source(root: Path, into: Path) -> Path:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(into), str(root)],
                           capture_output=True, text=True, check=False)
    wheels = sorted(into.glob("bptt_grader-*.whl"))
    if built.returncode != 0 or not wheels:
        raise WheelError(f"building the grader's wheel from {root} failed: {built.stderr.strip()[-500:]}")
    return wheels[0]


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _from_install(into: Path) -> Path:
    try:
        dist = importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        raise WheelError(f"the grader is neither a clone nor an installed {DIST}") from None
    files = [f for f in dist.files or () if f.parts[0] != ".." and "__pycache__" not in f.parts
             and f.suffix != ".pyc"]
    info = next((f.parts[0] for f in files if f.parts[0].endswith(".dist-info")), None)
    if info is None or not any(f.parts[0] == "grader" for f in files):
        raise WheelError(f"the installed {DIST} lists none of its files (an editable install?); build from a "
                         "clone, or install the grader from its wheel")
    wheel = into / f"bptt_grader-{dist.version}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(files, key=lambda p: p.as_posix()):
            if f.parts[0] == info and f.name in INSTALL_ONLY:
                continue
            data = Path(str(f.locate())).read_bytes()
            z.writestr(f.as_posix(), data)
            records.append(record_line(f.as_posix(), data))
        records.append(f"{info}/RECORD,,")
        z.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return wheel
