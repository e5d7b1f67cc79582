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
from pathlib import Path

from grader.results import GradeResult
from grader.safe_files import write_atomic

FIGSIZE = (9, 6)  # inches at DPI: 900 x 600 px
DPI = 100


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


def _plain(text: str) -> str:
    """Text matplotlib draws as is (a `$` would start mathtext, which can fail to parse)."""
    return text.replace("$", r"\$")[:80]


def learning_curve_png(result: GradeResult, path: Path) -> bool:
    """Accuracy and bit errors per block for each run, so a student sees how training went;
    the accuracy window is shaded: the iterations the score comes from."""
    runs = [r for r in result.runs if r.accuracy_curve or r.bit_error_curve]
    if not runs:
        return False
    fig, (acc_ax, bit_ax) = _figure(2)
    last = max(max(r.iterations_done, r.curve_block * len(r.accuracy_curve)) for r in runs)
    for ax in (acc_ax, bit_ax):
        ax.axvspan(max(last - (result.accuracy_window or 0), 0), last, color="0.88", zorder=0)
        ax.grid(alpha=0.3)
    for k, r in enumerate(runs):
        color = f"C{k % 10}"
        label = f"seed {r.seed} (accuracy {r.accuracy:.3f})"
        _curve(acc_ax, r.accuracy_curve, r.curve_block, color, label)
        _curve(bit_ax, r.bit_error_curve, r.curve_block, color)
    acc_ax.set(ylabel=f"fraction correct\n(per {runs[0].curve_block} iterations)")
    acc_ax.set_ylim(-0.02, 1.02)
    acc_ax.plot([], [], color="0.88", linewidth=8, label=f"{result.accuracy_window_text} (scored)")
    acc_ax.legend(loc="lower right", fontsize="small")
    bit_ax.set(ylabel="wrong bits per answer", xlabel="iteration")
    bit_ax.set_ylim(bottom=0)
    who = result.submission.student_id or result.submission.module or "submission"
    fig.suptitle(_plain(f"Learning curves: {who}"))
    return _save(fig, path)


def _curve(ax, values: list[float], block: int, color: str, label: str | None = None) -> None:  # noqa: ANN001
    """One run's curve, a point at the last iteration of each block (one color in both panels)."""
    xs = [(i + 1) * block for i in range(len(values))]
    ax.plot(xs, values, linewidth=1.2, color=color, label=label)


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
