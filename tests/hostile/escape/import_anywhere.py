"""Puts every package folder it can find (the base interpreter's site-packages, the
distribution's dist-packages, the venv's) on sys.path and imports what it lists there."""

import glob
import importlib
import os
import sys

from _attempt import TARGETS, attempt, model

ALLOWED = {"numpy", "numpy.libs", "__pycache__"}


def _folders():
    found = list(TARGETS.get("site_dirs", []))
    for pattern in ("/usr/lib/python3*/*-packages", "/usr/local/lib/python3*/*-packages",
                    "/usr/lib/python3/dist-packages", sys.prefix + "/lib/python3*/site-packages",
                    sys.base_prefix + "/lib/python3*/site-packages"):
        found += glob.glob(pattern)
    return found


def _import_from(folder):
    names = [n.split(".")[0] for n in os.listdir(folder)
             if n not in ALLOWED and not n.endswith((".dist-info", ".pth", ".egg-info", ".libs"))]
    sys.path.insert(0, folder)
    try:
        for name in names:
            try:
                module = importlib.import_module(name)
            except Exception:  # noqa: BLE001
                continue
            if not getattr(module, "__file__", "") or "numpy" in name:
                continue
            return f"{name} from {folder}"
        return False
    finally:
        sys.path.remove(folder)


def _try():
    for folder in _folders():
        attempt(f"import from {folder}", lambda folder=folder: _import_from(folder))


RNN = model(_try)
