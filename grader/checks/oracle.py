"""What the checks compare a submission with: the model's answers at probes the grader chose.

A probe is parameters and sequences. At a probe the oracle knows the reference forward
(`yhat`) and the BPTT gradients of each loss, right or with one classic bug switched on
(diagnose.BUGS). Two oracles give them:

* the full grader's (reference_oracle.py) draws every probe from the grading's seeded
  generator and computes the answers with the reference, so the parameters are secret;
* the student kit's (`KitOracle`) reads answers computed when the kit was built, at fixed
  public probes (grader/kit.py), so a student's install holds numbers, never a forward or a
  BPTT. It proves nothing to the grader, and the grading uses other parameters.

The full oracle also carries the reference model itself (`model`), which training's audit and
`generalize` need; the kit has none, so those checks are the grader's alone.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import NamedTuple, Protocol

import numpy as np

from grader.checks.diagnose import BUGS
from grader.kit import KIT_PROBES, is_kit
from reference.loss import PARAMS, Loss
from grader.settings import LOSSES, Settings

Grads = dict[str, np.ndarray]


class ProbeRequest(NamedTuple):
    """What a check asks for: `count` sequences of `steps` steps at parameters of scale
    `scale`; `gradients`: it compares gradients too (a kit ships them only then)."""

    steps: int
    count: int
    scale: float
    gradients: bool = False

    @property
    def key(self) -> str:
        return f"{self.steps}x{self.count}@{self.scale:g}"


def grader_params(settings: Settings, rng: np.random.Generator, scale: float) -> dict[str, np.ndarray]:
    """Random parameters chosen by the grader, never by the submission."""
    return {
        name: rng.normal(0.0, scale, size=shape) for name, shape in settings.param_shapes().items()
    }


def random_sequence(settings: Settings, rng: np.random.Generator, steps: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.integers(0, 2, size=(steps, settings.input_dim)).astype(np.float64)
    y = rng.integers(0, 2, size=(steps, settings.output_dim)).astype(np.float64)
    return x, y


def answer_key(loss: Loss | None = None, bug: str | None = None) -> str:
    """The name of one answer of a probe: `yhat`, a loss's gradients, or a bug's under a loss."""
    if loss is None:
        return "yhat"
    return f"{loss}/{bug or 'right'}"


def gradient_of(key: str) -> tuple[Loss, str | None]:
    """The loss and the bug (None: none) of a gradient answer's key: answer_key undone."""
    loss, bug = key.split("/")
    return loss, None if bug == "right" else bug  # type: ignore[return-value]


class Probe:
    """Parameters and sequences, with the model's answers there (one per sequence)."""

    def __init__(self, params: dict[str, np.ndarray], sequences: list[tuple[np.ndarray, np.ndarray]],
                 answer: Callable[[str], list]) -> None:
        self.params, self.sequences, self._answer = params, sequences, answer

    def answer(self, key: str) -> list:
        """One answer (see `answer_key`) for each sequence."""
        return self._answer(key)

    def yhat(self) -> list[np.ndarray]:
        """The reference forward of each sequence."""
        return self.answer(answer_key())

    def gradients(self, loss: Loss, bug: str | None = None) -> list[Grads]:
        """The BPTT gradients of each sequence under `loss`, with the classic `bug` if named."""
        return self.answer(answer_key(loss, bug))


class ReferenceModel(Protocol):
    """The reference, batched: what the audit of training and `generalize` compute with."""

    def forward_batch(self, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray: ...
    def forward_each(self, rows: np.ndarray, x: np.ndarray, settings: Settings) -> np.ndarray: ...
    def forward_and_gradients(self, rows: np.ndarray, x: np.ndarray, y: np.ndarray, settings: Settings,
                              loss: Loss) -> tuple[np.ndarray, np.ndarray]: ...


class Oracle(Protocol):
    model: ReferenceModel | None  # None in the student kit

    def for_grading(self) -> Oracle:
        """The oracle one grading asks (the kit's hands out its probes in turn, from the first)."""
        ...

    def probe(self, settings: Settings, rng: np.random.Generator, request: ProbeRequest) -> Probe: ...


class KitError(RuntimeError):
    """The kit's numbers do not fit what is asked (built for other settings); says which."""


class KitOracle:
    """Answers shipped as numbers (grader/kit.py writes them): fixed probes, no model."""

    model: ReferenceModel | None = None

    def __init__(self, probes: Mapping[str, list[Probe]], shapes: dict[str, tuple[int, ...]]) -> None:
        self._probes, self._shapes = probes, shapes
        self._next: dict[str, int] = {}

    @classmethod
    def load(cls, data: bytes) -> KitOracle:
        """The oracle of a probes file's bytes (see `probes_file`)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        manifest = json.loads(str(arrays.pop("manifest")))
        probes: dict[str, list[Probe]] = {}
        for i, entry in enumerate(manifest["probes"]):
            n = entry["count"]
            params = {k: arrays[f"{i}/params/{k}"] for k in PARAMS}
            sequences = [(arrays[f"{i}/x/{j}"], arrays[f"{i}/y/{j}"]) for j in range(n)]
            answers = {key: [_answer(arrays, f"{i}/{key}/{j}", key) for j in range(n)] for key in entry["answers"]}
            probes.setdefault(entry["key"], []).append(Probe(params, sequences, _lookup(answers)))
        return cls(probes, {k: tuple(v) for k, v in manifest["shapes"].items()})

    def for_grading(self) -> KitOracle:
        return KitOracle(self._probes, self._shapes)

    def probe(self, settings: Settings, rng: np.random.Generator, request: ProbeRequest) -> Probe:
        """The next shipped probe of this request (in turn, so three requests get three)."""
        if settings.param_shapes() != self._shapes:
            raise KitError(f"this kit was built for parameters of shapes {self._shapes}, but the settings give "
                           f"{settings.param_shapes()}: build the kit with the assignment's settings")
        found = self._probes.get(request.key)
        if not found:
            raise KitError(f"this kit holds no probe of {request.count} sequence(s) of length {request.steps}: "
                           "build it with the assignment's settings")
        turn = self._next.get(request.key, 0)
        self._next[request.key] = turn + 1
        return found[turn % len(found)]


def _answer(arrays: dict[str, np.ndarray], prefix: str, key: str) -> np.ndarray | Grads:
    return arrays[prefix] if key == answer_key() else {k: arrays[f"{prefix}/{k}"] for k in PARAMS}


def _lookup(answers: dict[str, list]) -> Callable[[str], list]:
    def answer(key: str) -> list:
        if key not in answers:
            raise KitError(f"this kit holds no answer {key!r}: build it with the assignment's settings")
        return answers[key]

    return answer


def answer_keys(request: ProbeRequest) -> list[str]:
    """What a kit ships for a request: yhat, and for a gradient check each loss's gradients,
    right and with each classic bug."""
    if not request.gradients:
        return [answer_key()]
    return [answer_key(), *(answer_key(loss, bug) for loss in LOSSES for bug in (None, *BUGS))]


def probes_file(probes: list[tuple[ProbeRequest, Probe]], settings: Settings) -> bytes:
    """The bytes of a kit's probes file: every answer of every probe, as arrays (no pickle)."""
    arrays: dict[str, np.ndarray] = {}
    entries = []
    for i, (request, probe) in enumerate(probes):
        keys = answer_keys(request)
        entries.append({"key": request.key, "count": request.count, "answers": keys})
        for k in PARAMS:
            arrays[f"{i}/params/{k}"] = probe.params[k]
        for j, (x, y) in enumerate(probe.sequences):
            arrays[f"{i}/x/{j}"], arrays[f"{i}/y/{j}"] = x, y
        for key in keys:
            for j, value in enumerate(probe.answer(key)):
                if isinstance(value, dict):
                    arrays.update({f"{i}/{key}/{j}/{k}": value[k] for k in PARAMS})
                else:
                    arrays[f"{i}/{key}/{j}"] = value
    manifest = {"shapes": {k: list(v) for k, v in settings.param_shapes().items()}, "probes": entries}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, manifest=np.array(json.dumps(manifest)), **arrays)
    return buffer.getvalue()


@cache
def current_oracle() -> Oracle:
    """The kit's shipped numbers where this install is a student kit, else the reference."""
    if is_kit():
        return KitOracle.load(KIT_PROBES.read_bytes())
    from grader.checks.reference_oracle import ReferenceOracle

    return ReferenceOracle()
