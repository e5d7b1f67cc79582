"""Points: what each check is worth under the settings, and the score they add up to.

Performance (the `train` check) is `points.performance x median accuracy`, and only
counts when the settings' gates pass (by default forward_values: the forward is the
contract's; gradient_reference: backward is the reference's BPTT; integrity: training was
the submission's own gradient steps, and its predictions come from its parameters);
otherwise an exact adder that ignores its weights, a backward that steers toward weights
trained elsewhere, or a model that swaps in weights mid-training, would collect it. There
is no partial credit by default: an instructor who wants accuracy to count for a wrong
BPTT removes gradient_reference from the gates.
"""

from __future__ import annotations

from grader.checks.registry import SPECS
from grader.messages import Message
from grader.results import CheckResult
from grader.settings import Settings


def max_points(name: str, settings: Settings) -> float:
    """What the settings price the check at (the registry names its Points field)."""
    spec = SPECS.get(name)
    return float(getattr(settings.points, spec.points)) if spec is not None and spec.points else 0.0


def award(results: dict[str, CheckResult], settings: Settings, accuracy: float | None) -> None:
    """Fill in points (and max points) of every check, in place."""
    for name, result in results.items():
        result.max_points = max_points(name, settings)
        result.points = result.max_points if result.status == "passed" else 0.0
    train = results.get("train")
    if train is None or train.status != "passed" or accuracy is None:
        return
    blocked = [g for g in settings.gates if g in results and results[g].status != "passed"
               and not results[g].grader_only]  # the student kit cannot run it: the grader decides
    if blocked:
        train.points = 0.0
        train.details = {**train.details, "withheld_by": blocked}
        train.message = train.message_of(train.message) + Message(
            ". Performance points: 0, because {gates} did not pass (accuracy only counts when the gates of the "
            "settings pass)", gates=Message.join(" and ", blocked))
    else:
        train.points = round(settings.points.performance * accuracy, 4)


def total(results: dict[str, CheckResult]) -> tuple[float, float]:
    score = round(sum(r.points for r in results.values()), 4)
    return score, round(sum(r.max_points for r in results.values()), 4)
