"""Typed results of grading one submission: checks, runs, score (the JSON the CLI writes).

The model is the boundary between the grader and everything that reads its output
(terminal report, JUnit XML, batch CSV, feedback files), so it is versioned and strict.
"""

from __future__ import annotations

import statistics
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from grader.checks import registry
from grader.intake.report_rule import report_note
from grader.intake.unzip import IntakeStatus
from grader.messages import Lang, Message, MessageRef, Says
from grader.safe_text import neutralise

CheckStatus = Literal["passed", "failed", "skipped", "error"]
# 7: who and when (identity, lateness) left the result for the batch's row
RESULT_SCHEMA = 10  # 2: sandbox guarantees; 3: fingerprint; 4: waiting_for; 5: forward_lengths; 6: accuracy(_window);
# 8: environment; 9: the fingerprint of the normalised tree, gradient_reference's wrong_numbers, self_check;
# 10: said (each message's template and fields, to render it in the student's language); report (not
# report_pdf: any kind the report rule takes), report_others, report_sought
STRONG_GUARANTEES = ("files", "user")  # without them a submission can reach others' grades

CHECK_NAMES = registry.CHECK_NAMES  # the order of every output

# Why a submission has the result it has: `graded` when the checks ran; the intake's
# refusals; what stopped grading; what the batch says of a row with nothing graded.
ResultStatus = Literal[
    "graded", "timeout", "import_failed", "grader_error",  # grading ran (or began)
    IntakeStatus,  # the intake refused the files
    "missing", "no_code", "interrupted",  # the batch: enrolled without a submission; online text
    # alone; stopped (Ctrl-C) before it was graded
    "version_mismatch", "weak_isolation", "worker_lost",  # a Dask worker could not grade it
]
# What an instructor should look at. A result raises the checks the registry flags and the
# four after them; the batch raises the rest, about the class (similar:<partner> names one).
Flag = Literal[registry.FLAGGED + (  # type: ignore[valid-type]
    "pretrained", "naming", "sandbox", "numeric_gradients",
    "duplicate", "shared_id", "similar", "same_wrong_numbers", "id_mismatch", "odd_id", "late?", "layout?",
    "no_report")]


def _neutralise_deep(value: object) -> object:
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict):
        return {neutralise(str(k)): _neutralise_deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_neutralise_deep(v) for v in value]
    return value


Text = Annotated[str, AfterValidator(neutralise)]  # any text that may carry the student's


class _Model(BaseModel):
    # Checked on assignment too: a message built after construction is neutralised as well.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CheckResult(_Model, Says):
    """One named check: its status, points and a message a student can act on."""

    name: str
    status: CheckStatus
    points: float = 0.0
    max_points: float = 0.0
    message: Text = ""
    waiting_for: list[str] = Field(default_factory=list, description="a skipped check's unmet prerequisites")
    details: Annotated[dict[str, object], AfterValidator(_neutralise_deep)] = Field(default_factory=dict)
    seconds: float = 0.0

    @property
    def withheld(self) -> list[str]:
        """The gates that kept this check's points (train's, where accuracy earned none)."""
        gates = self.details.get("withheld_by")
        return [str(g) for g in gates] if isinstance(gates, list) else []

    @classmethod
    def for_the_grader(cls, name: str, message: str) -> CheckResult:
        """A check the student kit does not run (it needs the reference model): `grader_only`."""
        return cls(name=name, status="skipped", message=message, details={"self_check": True})

    @property
    def grader_only(self) -> bool:
        """Not run by the student kit, which lacks the reference model: the grader decides it."""
        return self.status == "skipped" and self.details.get("self_check") is True


class RunResult(_Model, Says):
    """One training run driven by the grader."""

    seed: int
    iterations_done: int
    accuracy: float = Field(description="correct answers in the last window / window")
    accuracy_first: float = Field(0.0, description="fraction correct in the first 200 iterations")
    seconds: float
    ms_per_iteration: float | None = Field(None, description="the training loop's time per finished iteration")
    curve_block: int = Field(description="iterations per point of the curves below")
    accuracy_curve: list[float] = Field(description="fraction correct in each block")
    bit_error_curve: list[float] = Field(description="mean wrong bits per answer in each block")
    loss_curve: list[float] = Field(description="mean loss per answer in each block")
    error: Text = ""


class SubmissionInfo(_Model, Says):
    """Where the graded code came from."""

    source: Text
    module: Text = ""
    student_id: Text | None = None
    name: Text | None = None
    sha256: str = ""
    module_sha256: str = Field("", description="of the graded module's source, to spot copies")
    fingerprint: list[int] = Field(default_factory=list, description="of the module's syntax tree (similarity.py)")
    naming_ok: bool = True
    notes: list[Text] = Field(default_factory=list)
    report: Text | None = Field(None, description="the report, by the rule of intake/report_rule.py")
    report_pages: int | None = None
    report_others: list[Text] = Field(default_factory=list, description="the other files the rule could have chosen")
    report_sought: bool = Field(False, description="a zip or folder, where a report belongs (a lone module: no)")

    @model_validator(mode="before")
    @classmethod
    def _report_pdf(cls, data: object) -> object:
        """A result stored before schema 10 named its report `report_pdf` (a PDF, looked for in a
        zip or folder): read as `report`, so replay and diff still read it."""
        if isinstance(data, dict) and "report_pdf" in data:
            data = {**{k: v for k, v in data.items() if k != "report_pdf"}, "report": data["report_pdf"]}
        return data

    @property
    def report_note(self) -> Message | None:
        """What the student reads of their report, where one was looked for."""
        return report_note(self.report, self.report_pages, self.report_others) if self.report_sought else None


class GradeResult(_Model, Says):
    """Everything the grader concluded about one submission."""

    schema_version: int = RESULT_SCHEMA
    grader_version: str
    settings_hash: str
    environment: dict[str, str] = Field(default_factory=dict, description="python, numpy, blas, cpu, platform: "
                                        "what a replay elsewhere compares (grader/environment.py)")
    submission: SubmissionInfo
    status: ResultStatus = Field(description="'graded' when the checks ran, else what stopped grading")
    self_check: bool = Field(False, description="graded by the student kit (shipped numbers, no audit): "
                             "proves nothing to the grader")
    message: Text = ""
    sandbox: str = Field("", description="isolation used for the student's code: 'mode: guarantee, ...'")
    sandbox_note: Text = ""
    checks: list[CheckResult] = Field(default_factory=list)
    runs: list[RunResult] = Field(default_factory=list)
    accuracy: float | None = Field(None, description="median over the runs of each run's accuracy_window")
    accuracy_window: int | None = Field(None, description="the last iterations a run's accuracy counts")
    accuracy_runs: list[float] = Field(default_factory=list)
    accuracy_exhaustive: float | None = None
    loss_recognised: str | None = None
    score: float = 0.0
    max_score: float = 0.0
    timings: dict[str, float] = Field(default_factory=dict)
    output: Text = Field("", description="the submission's captured stdout/stderr (head + tail)")
    suspicions: list[Text] = Field(default_factory=list, description="signs of gradients not from BPTT")

    @classmethod
    def ungraded(cls, status: ResultStatus, message: str, settings_hash: str, source: str = "",
                 sha256: str = "", student_id: str | None = None, name: str | None = None,
                 naming_ok: bool = True) -> GradeResult:
        """A result with no check run: what stopped it, and whatever is known of the files
        (one constructor for every place a submission is not graded)."""
        from grader import __version__

        return cls(grader_version=__version__, settings_hash=settings_hash, status=status, message=message,
                   submission=SubmissionInfo(source=source, sha256=sha256, student_id=student_id, name=name,
                                             naming_ok=naming_ok))

    def check(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)

    @property
    def wrong_numbers(self) -> str | None:
        """The digest of gradients that are wrong in a way no classic bug explains (what
        gradient_reference recorded; similarity.numbers_digest), else None."""
        check = self.check("gradient_reference")
        digest = check.details.get("wrong_numbers") if check is not None and check.status == "failed" else None
        return digest if isinstance(digest, str) else None

    @property
    def accuracy_window_text(self) -> Message:
        """What a run's accuracy counts, in words."""
        return (Message("last {n} iterations", n=self.accuracy_window) if self.accuracy_window
                else Message("last iterations"))

    @property
    def runs_text(self) -> Message:
        """Which runs the accuracy is the median of, in words (runs the grader did not need,
        because a majority already agreed, are said so)."""
        made = len(self.accuracy_runs)
        train = self.check("train")
        details = train.details if train is not None else {}
        if skipped := int(details.get("runs_not_needed", 0)):
            return Message("{made} of {runs} runs agree; the median cannot move, so the rest were not needed",
                           made=made, runs=made + skipped)
        if added := int(details.get("runs_added", 0)):
            return Message("median of {made} runs: the first {planned} straddled, so {added} more were trained; the "
                           "runs span {spread:.3f}", made=made, planned=made - added, added=added,
                           spread=float(details.get("spread", 0)))
        return Message("median of {made} runs", made=made) if made != 1 else Message("one run")

    def fix_first(self) -> CheckResult | None:
        """The failed check to work on first: the earliest that names its bug (gradient_reference
        often does, after gradient_numeric failed vaguely), else the earliest."""
        failed = [c for c in self.checks if c.status == "failed"]
        return min(failed, key=lambda c: not c.details.get("bug"), default=None)

    @property
    def explanation(self) -> str:
        """Why this submission got what it got, in one message: what stopped grading, else
        the failed check to fix first (the CSV's `message`)."""
        if self.message or self.status != "graded":
            return self.message
        first = self.fix_first()
        return f"{first.name}: {first.message}" if first is not None else ""

    @property
    def flags(self) -> list[Flag]:
        """Short labels for what an instructor should look at."""
        found: list[Flag] = []
        for name in registry.FLAGGED:
            c = self.check(name)
            if c is not None and c.status == "failed":
                found.append(name)
        train = self.check("train")
        if train is not None and train.details.get("learned_before_training"):
            found.append("pretrained")
        if not self.submission.naming_ok:
            found.append("naming")
        if self.sandbox and not self.sandbox_strong:
            found.append("sandbox")
        if self.suspicions:
            found.append("numeric_gradients")
        return found

    @property
    def sandbox_strong(self) -> bool:
        """Graded where the submission saw only its own files and had none of the grader's rights."""
        held = self.sandbox.partition(": ")[2].split(", ")
        return all(g in held for g in STRONG_GUARANTEES)


SKIPPED = "skipped: {reason}"  # the template of a skipped check's message


def skipped(reason: Message) -> Message:
    """A skipped check's message: `skipped: <reason>` (skip_reason reads the reason back)."""
    return Message("skipped: {reason}", reason=reason)


def skip_reason(check: CheckResult, lang: Lang) -> str:
    """Why a check was skipped, in `lang`, without the `skipped:` in front ("" when unknown)."""
    ref = check.said.get(check.message)
    if ref is not None and ref.template == SKIPPED and isinstance(ref.fields["reason"], MessageRef):
        return ref.fields["reason"].render(lang)
    return check.in_lang(check.message, lang).removeprefix("skipped:").strip()


def median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
