"""The student kit: the grader's self-check as a wheel that holds no forward and no BPTT.

Installing the full grader puts the reference solution one `cat` away. The kit is the same
`grader` package without the modules that implement the model (LEFT_OUT), with the answers
the checks need at fixed public probes shipped as numbers instead (`kit_probes.npz`, computed
here from the reference, see checks/oracle.py). It checks forward and BPTT against those
numbers, names the classic bugs by their shipped gradients, compares backward with finite
differences of the student's own forward, and trains on the grader's data; it audits
nothing and proves nothing to the grader, whose probes are secret and other.

Built from whatever install runs this (a clone or an installed wheel): its own files.
"""

from __future__ import annotations

import importlib.metadata
import io
import re
import zipfile
from pathlib import Path

from grader.settings import Settings
from grader.wheel import DIST, WheelError, record_line

PACKAGES = ("grader", "reference", "student_template")
# The modules that compute the model (and what only runs beside them): never in a kit.
LEFT_OUT = (
    "reference/rnn.py",  # the reference RNN: forward, BPTT, update
    "reference/train.py",  # trains the reference
    "grader/checks/bptt_variants.py",  # BPTT by loops, with the classic bugs
    "grader/checks/stepwise.py",  # forward and BPTT batched over training steps
    "grader/checks/reference_oracle.py",  # answers probes with the three above
    "grader/checks/known_solutions/",  # public solutions the similarity check compares with
    "grader/outputs/plots.py",  # draws the reference's learning curve beside the class's
    "grader/batch/class_flags.py",  # compares a class with the reference's code
)
KIT_COMMANDS = ("check", "template", "settings", "classroom50-run")  # what a student runs
# Installed for the instructor's commands only (the review app, LMS push, report hints).
INSTRUCTOR_ONLY = ("starlette", "uvicorn", "pypdf", "httpx")


# Present only in a student kit: the shipped numbers (checks/oracle.py reads them) and the
# settings it was built for. Here, in a module without NumPy, since every command asks is_kit.
KIT_PROBES = Path(__file__).parent / "checks" / "kit_probes.npz"
KIT_SETTINGS = KIT_PROBES.with_name("kit_settings.toml")


def is_kit() -> bool:
    """Whether this install is a student kit (it carries the shipped numbers)."""
    return KIT_PROBES.is_file()


def kit_settings() -> Path | None:
    """The settings a student kit was built with: its commands' default, so students check
    against the assignment's settings without being given the file."""
    return KIT_SETTINGS if is_kit() and KIT_SETTINGS.is_file() else None


def left_out(path: str) -> bool:
    return any(path == item or (item.endswith("/") and path.startswith(item)) for item in LEFT_OUT)


def _package_files() -> dict[str, bytes]:
    """Every file of the packages, by its path in a wheel, except caches and LEFT_OUT."""
    import grader
    import reference
    import student_template

    files = {}
    for package in (grader, reference, student_template):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*")):
            name = f"{root.name}/{path.relative_to(root).as_posix()}"
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc" and not left_out(name):
                files[name] = path.read_bytes()
    return files


def _metadata(version: str) -> str:
    """The kit's METADATA: the grader's own requirements, without the instructor-only ones."""
    try:
        dist = importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        raise WheelError(f"{DIST} is not installed here, so its requirements are unknown: pip install -e .") from None
    requires = [r for r in dist.requires or () if "extra ==" not in r
                and re.split(r"[\s;\[<>=!~]", r.strip(), maxsplit=1)[0].lower() not in INSTRUCTOR_ONLY]
    lines = ["Metadata-Version: 2.1", f"Name: {DIST}", f"Version: {version}",
             "Summary: bptt-grader's student kit: the self-check, without the reference solution",
             f"Requires-Python: {dist.metadata.get('Requires-Python') or '>=3.10'}",
             *(f"Requires-Dist: {r}" for r in requires)]
    return "\n".join(lines) + "\n"


def kit_wheel(into: Path, settings: Settings) -> Path:
    """Build the student kit for these settings (its probes are of their shapes) in `into`."""
    from grader import __version__
    from grader.checks.contract import probe_requests
    from grader.checks.reference_oracle import kit_probes

    if is_kit():
        raise WheelError("this install is itself a student kit: build the kit from the instructor's install")
    version = f"{__version__.split('+')[0]}+kit"
    info = f"bptt_grader-{version}.dist-info"
    files = _package_files()
    root = Path(__file__).parents[1]  # the wheel's paths start with the package's name
    files[KIT_PROBES.relative_to(root).as_posix()] = kit_probes(settings, probe_requests(settings))
    files[KIT_SETTINGS.relative_to(root).as_posix()] = settings.to_toml().encode()
    files[f"{info}/METADATA"] = _metadata(version).encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: bptt-grader student-kit\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = b"[console_scripts]\nbptt-grader = grader.cli:main\n"
    files[f"{info}/top_level.txt"] = "".join(f"{p}\n" for p in PACKAGES).encode()
    wheel = into / f"bptt_grader-{version}-py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in sorted(files.items()):
            z.writestr(name, data)
        z.writestr(f"{info}/RECORD", "".join(f"{record_line(n, d)}\n" for n, d in sorted(files.items()))
                   + f"{info}/RECORD,,\n")
    wheel.write_bytes(buffer.getvalue())
    return wheel
