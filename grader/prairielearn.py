"""PrairieLearn's external grader: grade `/grade/student`, write `/grade/results/results.json`.

A submission the grader could not reach (no module, a zip it cannot read, code that does not
import) is `gradable: false` with the reason in `format_errors`: PrairieLearn then charges no
attempt, as it does for a syntax error. A graded one gets `score` in [0, 1] (the automatic
score over its maximum), a test per check, the report as `output`, and the learning curves
as an image. As on Gradescope, a container that cannot isolate the submission grades nothing
unless allowed: a process the submission left behind could rewrite results.json.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

from grader.hosted import grade_submitted, write_results
from grader.outputs.plots import learning_curve_png, reference_curve
from grader.messages import Lang, say
from grader.outputs.terminal import headline, label, nothing_ran, terminal
from grader.results import GradeResult
from grader.settings import Settings

RESULTS_MAX = 1 << 20  # PrairieLearn's limit on results.json


def _curves(result: GradeResult, settings: Settings) -> list[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="bptt-pl-") as tmp:
        png = Path(tmp) / "curves.png"
        if not learning_curve_png(result, png, reference_curve(settings), settings.lang):
            return []
        data = base64.b64encode(png.read_bytes()).decode()
    return [{"label": "learning curves", "url": f"data:image/png;base64,{data}"}]


def results_json(result: GradeResult, settings: Settings) -> dict[str, object]:
    """PrairieLearn's results: gradable (and format_errors) or a score in [0, 1], tests,
    message, output and images."""
    lang = settings.lang
    lines = headline(result, width=1 << 20, lang=lang)
    if nothing_ran(result) or result.status == "import_failed":
        return {"gradable": False, "format_errors": [line.strip() for line in lines[1:]]
                or [result.in_lang(result.message, lang)]}
    results: dict[str, object] = {
        "gradable": True,
        "score": round(result.score / result.max_score, 6) if result.max_score else 0.0,
        "message": "\n".join(line.strip() for line in lines),
        "output": terminal(result, width=100, lang=lang),
        "tests": [{"name": c.name, "points": c.points, "max_points": c.max_points,
                   "message": c.in_lang(c.message, lang), "output": label(c, lang)} for c in result.checks],
        "images": _curves(result, settings),
    }
    if len(json.dumps(results)) > RESULTS_MAX:  # the picture goes first
        results["images"] = []
    return results


def refused_json(why: str, lang: Lang = "en") -> dict[str, object]:
    return {"gradable": False, "format_errors": [say(
        lang, "Not graded: this autograder cannot run submissions safely on its machine; your instructor has been "
        "told, and this attempt does not count.")], "message": why}


def run(root: Path, settings: Settings, allow_weak: bool = False) -> dict[str, object]:
    """Grade `root/student`, write `root/results/results.json`; returns what it wrote."""
    graded = grade_submitted(root / "student", settings, allow_weak, "pass --allow-weak-sandbox")
    results = refused_json(graded, settings.lang) if isinstance(graded, str) else results_json(graded, settings)
    write_results(root, results)
    return results
