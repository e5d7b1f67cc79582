"""Every number of the assignment, in one validated, hashable settings model.

The grader, the reference and the report all read their numbers from here, so an
instructor changes the assignment in one TOML file (`bptt-grader settings --dump`
prints the defaults) and the result cache knows when it did (`Settings.digest`).
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model, model_validator

from grader.checks.registry import GATES, POINT_FIELDS
from grader.messages import Lang, normal_lang

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

Loss = Literal["bce", "mse"]  # here, not beside the loss in reference/loss.py: that one needs NumPy
LOSSES: tuple[Loss, ...] = ("bce", "mse")


class _Strict(BaseModel):
    """Unknown keys are typos, not extensions: reject them."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Tolerances(_Strict):
    """How close a submission's numbers must be to count as right."""

    forward_atol: float = Field(1e-8, gt=0, description="max |yhat - reference yhat|")
    gradient_rtol: float = Field(
        1e-5, gt=0, description="max relative error of a gradient against the reference"
    )
    numeric_rtol: float = Field(
        1e-5, gt=0, description="max relative error against centred finite differences"
    )
    numeric_eps: float = Field(1e-6, gt=0, description="step of the centred finite differences")
    update_atol: float = Field(1e-12, gt=0, description="max |p_new - (p - alpha g)|")


class Limits(_Strict):
    """Resources one submission may use; the grader enforces them on the child process."""

    import_seconds: float = Field(20.0, gt=0, description="wall time to import the module")
    call_seconds: float = Field(10.0, gt=0, description="wall time of one method call")
    total_seconds: float = Field(600.0, gt=0, description="wall time for the whole submission")
    iteration_ms: float = Field(
        8.0, gt=0, description="average wall time of one training iteration (forward, backward, update); "
        "a run may take iterations x this"
    )
    memory_mb: int = Field(2048, ge=256, description="address space of the child (MiB)")
    max_processes: int = Field(64, ge=1, description="processes the child may have")
    max_file_mb: int = Field(64, ge=1, description="largest file the child may write (MiB)")
    max_open_files: int = Field(256, ge=16, description="open file descriptors in the child")
    output_kb: int = Field(64, ge=1, description="captured stdout+stderr kept (head + tail)")


Points = create_model(
    "Points",
    __base__=_Strict,
    __doc__="""Points of each automatic check (its field is named in grader/checks/registry.py).

    The lab's automatic part is performance only (30 x accuracy, the `train` check); the
    correctness checks default to 0 points: they gate the performance points and tell the
    student what to fix. Give them points here to weigh them into the score.
    """,
    **{field: (float, Field(30.0 if field == "performance" else 0.0, ge=0,
                            description="the `train` check: accuracy x this" if field == "performance" else None))
       for field in POINT_FIELDS},
)


class Criterion(_Strict):
    """One line of the report's rubric: what a person gives points for, and up to how many."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="its column: report_<name>")
    points: float = Field(ge=0, description="the most a report can earn for it")
    describes: str = Field("", max_length=300, description="what earns the points, shown to the grader")
    words: tuple[str, ...] = Field(
        (), description="words whose presence in the report's text hints the subject is covered (a hint only)")

    def refuses(self, points: float) -> str | None:
        """Why these points cannot be given (outside 0..points; NaN and infinities too), or None."""
        return None if 0 <= points <= self.points else f"{points:g} is outside 0..{self.points:g}"


HANDOUT_RUBRIC = (
    Criterion(name="plot", points=10, describes="a plot of the learning curve over at least 10000 training iterations",
              words=("plot", "curve", "iteration", "accuracy")),
    Criterion(name="data_generation", points=10, describes="how the binary-addition data is generated",
              words=("binary", "random", "bit", "generate", "generation")),
    Criterion(name="forward", points=20, describes="forward propagation, with its equations",
              words=("forward", "tanh", "sigmoid", "hidden")),
    Criterion(name="bptt", points=20, describes="back-propagation through time, with its equations",
              words=("backprop", "bptt", "gradient", "through time")),
    Criterion(name="code", points=10, describes="how the code works", words=("code", "function", "class")),
)


RESERVED_COLUMNS = {"total", "comments", "file"}  # report_total, report_comments: merge's own columns


class Report(_Strict):
    """The report's rubric, scored by a person (`bptt-grader review`, or a sheet) and
    totalled with the automatic score by `bptt-grader merge`. Another course edits the
    table of criteria; the old form (`[report]` with `name = points`) still reads."""

    criteria: tuple[Criterion, ...] = Field(HANDOUT_RUBRIC, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _from_points(cls, data: object) -> object:
        """The form before criteria had descriptors (`plot = 5` under `[report]`): the
        handout's criteria with those points."""
        if isinstance(data, dict) and "criteria" not in data and data:
            known = {c.name: c for c in HANDOUT_RUBRIC}
            if unknown := [name for name in data if name not in known]:
                raise ValueError(f"{', '.join(map(str, unknown))}: not a criterion of the handout; add criteria "
                                 "of your own as [[report.criteria]] tables (see `bptt-grader settings --dump`)")
            # as dicts, so the points are validated as a criterion's (a model_copy would take "ten" or -5)
            return {"criteria": [{**c.model_dump(), "points": data.get(c.name, c.points)} for c in HANDOUT_RUBRIC]}
        return data

    @model_validator(mode="after")
    def _unique(self) -> Report:
        names = [c.name for c in self.criteria]
        if taken := set(names) & RESERVED_COLUMNS:
            raise ValueError(f"report.criteria: {', '.join(sorted(taken))} names a column of its own (report_<name>)")
        if len(set(names)) != len(names):
            raise ValueError(f"report.criteria names a criterion twice: {', '.join(names)}")
        return self

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.criteria)


class Late(_Strict):
    """When the assignment is due and what lateness costs; applied to the class's rows
    (never to grading, so changing it regrades nothing)."""

    due: datetime | None = Field(None, description="ISO 8601 with a time zone, e.g. 2026-12-01T23:59:00+08:00")
    policy: Literal["none", "percent_per_day", "zero_after"] = Field(
        "none", description="percent_per_day: percent_per_day off per started day late; zero_after: 0 once late")
    percent_per_day: float = Field(10.0, ge=0, le=100)
    grace_minutes: float = Field(0.0, ge=0, description="lateness below this is not late")
    attempt: Literal["latest", "latest_on_time"] = Field(
        "latest", description="which attempt of a student is graded: the latest, or the latest before due")
    trust_file_times: bool = Field(
        False, description="apply the policy where the only time is a file's (the newest member of a student's "
        "zip, which the student can set); off: such a row is flagged late? for a person and keeps its grade")

    @model_validator(mode="after")
    def _zoned(self) -> Late:
        if self.due is not None and self.due.utcoffset() is None:
            raise ValueError("late.due needs a time zone (e.g. +08:00): a bare time is read differently on each machine")
        return self


# What a person applies to the class's rows (lateness, the report's rubric) and the language
# feedback is written in: changing it regrades nothing, so it is not part of a result's settings hash.
NOT_GRADING = {"late", "report", "lang"}

# The checks that may gate the performance points: from the registry, every check but
# `discover`, `import` and `train` itself.
Gate = Literal[GATES]  # type: ignore[valid-type]


class Settings(_Strict):
    """The assignment: model sizes, data, training, scoring and grading limits."""

    bits: int = Field(8, ge=1, le=62, description="bits of A, B and C = A + B")
    input_dim: int = Field(2, ge=1)
    hidden_dim: int = Field(16, ge=1)
    output_dim: int = Field(1, ge=1)
    operand_max: int = Field(128, ge=1, description="A and B are drawn from [0, operand_max)")
    iterations: int = Field(20000, ge=1)
    alpha: float = Field(0.1, gt=0)
    accuracy_window: int = Field(1000, ge=1, description="accuracy over the last N iterations")
    accepted_losses: tuple[Loss, ...] = Field(LOSSES, min_length=1)
    reference_loss: Loss = "bce"
    clip_norm: float = Field(5.0, gt=0, description="the reference's per-parameter norm clip")
    runs: int = Field(3, ge=1, le=100, description="independent training runs; median scored")
    straddle: float = Field(
        0.1, ge=0, le=1, description="runs whose accuracies span more than this straddle (a rerun could give "
        "another grade): more seeds are trained, up to max_runs, where the performance points count")
    max_runs: int = Field(7, ge=1, le=100, description="the most runs a straddling submission gets")
    stop_when_decided: bool = Field(
        True, description="stop training runs once a majority give one accuracy: the median cannot move (run 3 "
        "is not needed when runs 1 and 2 agree); false: every run is trained")
    seed: int = Field(2026, ge=0, description="run i uses seed + i unless `seeds` is given")
    seeds: tuple[Annotated[int, Field(ge=0)], ...] | None = Field(
        None, description="explicit seed of each run"
    )
    audits_per_run: int = Field(
        100, ge=20, description="training iterations per run whose prediction and step are audited (secret)"
    )
    gates: tuple[Gate, ...] = Field(
        ("forward_values", "gradient_reference", "integrity"),
        description="checks that must pass for accuracy to earn the performance points. Without "
        "gradient_reference, a backward that is not BPTT (truncated, or a pull toward weights trained "
        "elsewhere) earns full points for the accuracy it reaches",
    )
    tolerances: Tolerances = Tolerances()
    limits: Limits = Limits()
    points: Points = Points()
    report: Report = Report()
    late: Late = Late()
    lang: Annotated[Lang, BeforeValidator(normal_lang)] = Field(
        "en", description="the language of what students read (reports, feedback, Gradescope): en or zh-TW; "
        "the instructor's pages stay in English")

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.accuracy_window > self.iterations:
            raise ValueError(
                f"accuracy_window ({self.accuracy_window}) is larger than iterations "
                f"({self.iterations})"
            )
        if 2 * (self.operand_max - 1) >= 2**self.bits:
            raise ValueError(
                f"operand_max {self.operand_max}: A + B would not fit in {self.bits} bits"
            )
        if self.seeds is not None and len(self.seeds) != self.runs:
            raise ValueError(f"seeds has {len(self.seeds)} entries but runs is {self.runs}")
        if len(set(self.accepted_losses)) != len(self.accepted_losses):
            raise ValueError("accepted_losses lists a loss twice")
        if self.reference_loss not in self.accepted_losses:
            raise ValueError(f"reference_loss {self.reference_loss!r} is not in accepted_losses")
        if (self.input_dim, self.output_dim) != (2, 1):
            raise ValueError(
                "binary addition has input_dim 2 (a bit of A and of B) and output_dim 1 "
                f"(a bit of C), not {self.input_dim} and {self.output_dim}"
            )
        return self

    @property
    def run_seeds(self) -> tuple[int, ...]:
        """The seed of each training run (model init and data stream)."""
        return self.seeds if self.seeds is not None else tuple(self.seed + i for i in range(self.runs))

    def extra_seed(self, k: int) -> int:
        """The seed of the k-th run added to a straddling submission (after every planned one)."""
        return max(self.run_seeds) + 1 + k

    @property
    def run_seconds(self) -> float:
        """Each training run's own time limit, so one slow run cannot use up the others'."""
        return self.iterations * self.limits.iteration_ms / 1000.0

    def time_budget(self) -> str:
        """What the limits allow, in words (`settings --dump` and the train check say it)."""
        return (f"a training run may take {self.run_seconds:g} s ({self.iterations} iterations x "
                f"{self.limits.iteration_ms:g} ms, limits.iteration_ms), the whole submission "
                f"{self.limits.total_seconds:g} s (limits.total_seconds)")

    @property
    def n_params(self) -> int:
        h, i, o = self.hidden_dim, self.input_dim, self.output_dim
        return h * i + h * h + o * h + h + o

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """The contract's parameter shapes, in the contract's order."""
        h, i, o = self.hidden_dim, self.input_dim, self.output_dim
        return {"U": (h, i), "W": (h, h), "V": (o, h), "b": (h,), "c": (o,)}

    def digest(self) -> str:
        """A stable hash of every setting, for caching results across runs."""
        graded = self.model_dump(mode="json", exclude=NOT_GRADING)
        canonical = json.dumps(graded, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def changes_from(self, other: Settings) -> list[str]:
        """What grades differently from `other`, as `name: old -> new` (lateness and the
        report's rubric left out)."""
        def flat(settings: Settings) -> dict[str, object]:
            out: dict[str, object] = {}
            for key, value in settings.model_dump(mode="json", exclude=NOT_GRADING).items():
                items = value.items() if isinstance(value, dict) else [("", value)]
                out.update({f"{key}.{k}" if k else key: v for k, v in items})
            return out

        old, new = flat(other), flat(self)
        return [f"{k}: {old.get(k)} -> {new.get(k)}" for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]

    def with_overrides(self, **changes: object) -> Settings:
        """A validated copy with some fields replaced (None means: keep)."""
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        if "runs" in changes and changes["runs"] is not None and self.seeds is not None:
            data["seeds"] = None  # the explicit list no longer fits; derive from `seed`
        return validated(data, source="overrides")

    def to_toml(self) -> str:
        """The settings as TOML, the format `load_settings` reads."""
        import tomli_w

        data = self.model_dump(mode="json", exclude_none=True)
        return tomli_w.dumps(data)


class SettingsError(ValueError):
    """A settings file that cannot be used; the message is one line naming the field."""


def validated(data: dict[str, object], source: str) -> Settings:
    """Build Settings from a mapping, turning pydantic's report into one clear line."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{source}: {field}: {message}{extra}") from None


def load_settings(path: str | Path | None) -> Settings:
    """Read a settings TOML file; None gives the defaults."""
    if path is None:
        return Settings()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    return validated(data, source=str(path))


def batch_settings(out: Path, settings_file: Path | None = None) -> Settings:
    """The settings a batch graded with (OUT/settings.toml: its rubric, its students' language),
    or the file given; the handout's where the batch wrote none. A file that cannot be read is
    refused, never replaced by the handout's behind the TA's back."""
    if settings_file is not None:
        return load_settings(settings_file)
    kept = out / "settings.toml"
    if not kept.is_file():
        return Settings()
    try:
        return load_settings(kept)
    except SettingsError as exc:
        raise SettingsError(f"{exc}. The batch's settings give the rubric to grade by and the students' language: "
                            f"mend {kept}, or give the assignment's with --settings FILE") from None
