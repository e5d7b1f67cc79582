"""What a check is handed: the sandbox's client, the settings, the grader's seeded test
inputs, and the facts earlier checks established (typed, in one place, not on the client)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grader.checks.oracle import Oracle
from grader.checks.session import Session
from grader.checks.training import Training
from grader.results import CheckResult
from grader.settings import Loss, Settings


@dataclass
class Facts:
    """What checks found that later checks and the result read: the loss the gradients are
    of (either gradient check), the trained model on every operand pair, the training."""

    loss_recognised: Loss | None = None
    accuracy_exhaustive: float | None = None
    training: Training = field(default_factory=Training)


@dataclass
class Grading:
    client: Session
    settings: Settings
    rng: np.random.Generator  # the grader's test inputs: seeded, so the same submission reads the same
    audit_rng: np.random.Generator  # which iterations are audited: secret, fresh every grading
    oracle: Oracle  # the reference's answers, or the kit's numbers (oracle.py)
    results: dict[str, CheckResult] = field(default_factory=dict)
    facts: Facts = field(default_factory=Facts)
    run_workers: int = 1  # training runs at once, each in a sandbox of its own (run_pool.py): `check`'s

    def passed(self, name: str) -> bool:
        result = self.results.get(name)
        return result is not None and result.status == "passed"
