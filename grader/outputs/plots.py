"""Pictures: a student's learning curves and the class's score histogram, as PNG files.

matplotlib is imported inside the plotting functions only, so grading never pays for it;
figures are pyplot-free (no global state) and written atomically.
"""

from __future__ import annotations

import functools
import io
import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from grader.checks.training import CURVE_BLOCK, per_block
from grader.messages import Lang, say
from grader.outputs.terminal import performance_text, wrap
from grader.results import GradeResult
from grader.safe_files import write_atomic
from grader.settings import Settings
from reference.train import train_reference

FIGSIZE = (10, 6)  # inches at DPI: 1000 x 600 px (the legend takes the right)
DPI = 100


@dataclass(frozen=True)
class ReferenceCurve:
    """The reference's fraction correct per block, trained as run 1 is (same seed, data)."""

    block: int
    accuracy: list[float]


# Fonts with the CJK glyphs of students' names, most common first (Linux, Windows, macOS).
CJK_FAMILIES = ("Noto Sans CJK TC", "Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans TC",
                "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft JhengHei", "Microsoft YaHei",
                "PingFang TC", "Heiti TC", "AR PL UMing TW", "Droid Sans Fallback")


CJK_FILE = re.compile(r"cjk|wqy|sourcehan|droidsansfallback|uming|ukai|msjh|msyh|pingfang|stheiti", re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The first installed font of CJK_FAMILIES, which text falls back to for the glyphs the
    default font lacks (a name in a title is boxes without one)."""
    from matplotlib import font_manager

    manager = font_manager.fontManager

    def first_known() -> str | None:
        known = {f.name for f in manager.ttflist}
        return next((family for family in CJK_FAMILIES if family in known), None)

    if first_known() is None:  # installed after matplotlib cached its font list: add the files themselves
        for path in font_manager.findSystemFonts():
            if CJK_FILE.search(Path(path).name):
                manager.addfont(path)
    return first_known()


def _figure(rows: int = 1):  # noqa: ANN202 - matplotlib types stay lazy
    """A pyplot-free Agg figure: no global state, nothing left open, safe in batch runs."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fallback = cjk_font()
    if fallback is not None:  # the default font first, its missing glyphs from the CJK one
        matplotlib.rcParams["font.family"] = ["DejaVu Sans", fallback]

    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    return fig, fig.subplots(rows, 1, sharex=rows > 1, squeeze=False)[:, 0]


def _plain(text: str, limit: int = 80) -> str:
    """Text matplotlib draws as is (a `$` would start mathtext, which can fail to parse)."""
    return text.replace("$", r"\$")[:limit]


def reference_curve(settings: Settings) -> ReferenceCurve:
    """The reference trained as each submission's run 1 is (its seed, its data), for the
    learning curves to compare with."""
    run = train_reference(settings, settings.run_seeds[0])
    return ReferenceCurve(CURVE_BLOCK, per_block(run.curves.correct, CURVE_BLOCK))


def learning_curve_png(result: GradeResult, path: Path, reference: ReferenceCurve | None = None,
                       lang: Lang = "en") -> bool:
    """The learning curves as a PNG at `path`, in `lang`; False (and no file) where no run has any."""
    fig = learning_curve_figure(result, reference, lang)
    return fig is not None and _save(fig, path)


def learning_curve_figure(result: GradeResult, reference: ReferenceCurve | None = None,  # noqa: ANN201
                          lang: Lang = "en"):
    """Accuracy and bit errors per block for each run, so a student sees how training went:
    the runs named as the reports name them, the reference's accuracy in grey to compare
    with, the accuracy window shaded (the iterations the score comes from), the score and
    any gate that held the points written on the figure, the legend beside the data."""
    runs = [r for r in result.runs if r.accuracy_curve or r.bit_error_curve]
    if not runs:
        return None
    fig, (acc_ax, bit_ax) = _figure(2)
    last = max(max(r.iterations_done, r.curve_block * len(r.accuracy_curve)) for r in runs)
    for ax in (acc_ax, bit_ax):
        ax.axvspan(max(last - (result.accuracy_window or 0), 0), last, color="0.88", zorder=0)
        ax.grid(alpha=0.3)
    if reference is not None and reference.accuracy:
        _curve(acc_ax, reference.accuracy, reference.block, "0.55", say(lang, "the reference"), linestyle="--")
    for k, r in enumerate(result.runs):
        if r.accuracy_curve or r.bit_error_curve:
            color = f"C{k % 10}"
            label = (say(lang, "run {i}: accuracy {accuracy:.3f}, stopped", i=k + 1, accuracy=r.accuracy) if r.error
                     else say(lang, "run {i}: accuracy {accuracy:.3f}", i=k + 1, accuracy=r.accuracy))
            _curve(acc_ax, r.accuracy_curve, r.curve_block, color, label)
            _curve(bit_ax, r.bit_error_curve, r.curve_block, color)
    acc_ax.set(ylabel=say(lang, "fraction correct\n(per {n} iterations)", n=runs[0].curve_block))
    acc_ax.set_ylim(-0.02, 1.02)
    acc_ax.plot([], [], color="0.88", linewidth=8, label=say(lang, "{window}\n(scored)",
                                                               window=result.accuracy_window_text))
    fig.legend(loc="outside right upper", fontsize="small")
    bit_ax.set(ylabel=say(lang, "wrong bits per answer"), xlabel=say(lang, "iteration"))
    bit_ax.set_ylim(bottom=0)
    who = result.submission.student_id or result.submission.module or say(lang, "submission")
    fig.suptitle(_plain(say(lang, "Learning curves: {who}", who=who)))
    performance = performance_text(result)
    score = (say(lang, "score {score:g}/{max:g}; {performance}", score=result.score, max=result.max_score,
                 performance=performance) if performance else
             say(lang, "score {score:g}/{max:g}", score=result.score, max=result.max_score))
    held = any(c.withheld for c in result.checks)
    acc_ax.set_title("\n".join(wrap(_plain(score, limit=200), 100)), fontsize="medium",
                     color="tab:red" if held else "black")
    return fig


def _curve(ax, values: list[float], block: int, color: str, label: str | None = None,  # noqa: ANN001
           linestyle: str = "-") -> None:
    """One run's curve, a point at the last iteration of each block (one color in both panels)."""
    xs = [(i + 1) * block for i in range(len(values))]
    ax.plot(xs, values, linewidth=1.2, color=color, label=label, linestyle=linestyle)


def _save(fig, path: Path) -> bool:  # noqa: ANN001
    """Write the PNG atomically (safe_files), so a crash never leaves half an image."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=DPI)
    write_atomic(path, image.getvalue(), 0o644)
    return True


def score_histogram_png(scores: list[float], top: float | None, path: Path) -> bool:
    """The class's score distribution, to see at a glance where the grades fall."""
    scores = [s for s in scores if not math.isnan(s)]
    if not scores:
        return False
    top = top if top and top > 0 else max(max(scores), 1.0)
    fig, (ax,) = _figure(1)
    ax.hist(scores, bins=20, range=(0, top), color="tab:blue", edgecolor="white")
    median = statistics.median(scores)
    ax.axvline(median, color="tab:red", linestyle="--", label=f"median {median:.3g}")
    ax.set(xlabel=f"score (of {top:g})", ylabel="submissions")
    ax.set_title(f"Scores of {len(scores)} submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    return _save(fig, path)
