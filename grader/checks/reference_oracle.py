"""The full grader's oracle: probes drawn from the grading's seeded generator, answered by
the reference (reference/rnn.py, bptt_variants.py, stepwise.py). The student kit leaves this
module out and ships some of its answers as numbers instead (oracle.KitOracle, grader/kit.py).
"""

from __future__ import annotations

import numpy as np

from grader.checks import stepwise
from grader.checks.bptt_variants import bptt
from grader.checks.oracle import (Probe, ProbeRequest, answer_key, gradient_of, grader_params, probes_file,
                                  random_sequence)
from grader.settings import Settings
from reference.rnn import forward_batch

KIT_SEED = 22  # the kit's public probes: a stream no grading draws from ([seed, 7] is the grading's)


def computed_probe(params: dict[str, np.ndarray], sequences: list[tuple[np.ndarray, np.ndarray]]) -> Probe:
    """A probe whose answers the reference computes when a check asks (each once)."""
    done: dict[str, list] = {}

    def answer(key: str) -> list:
        if key not in done:
            if key == answer_key():
                done[key] = [forward_batch(params, x[None])[0] for x, _ in sequences]
            else:
                loss, bug = gradient_of(key)
                done[key] = [bptt(params, x, y, loss, bug) for x, y in sequences]
        return done[key]

    return Probe(params, sequences, answer)


class BatchedReference:
    """The reference, batched, for the audit of training and `generalize`."""

    forward_batch = staticmethod(forward_batch)
    forward_each = staticmethod(stepwise.forward_each)
    forward_and_gradients = staticmethod(stepwise.forward_and_gradients)


class ReferenceOracle:
    """Secret probes from the grading's generator, answered by the reference."""

    model = BatchedReference()

    def for_grading(self) -> ReferenceOracle:
        return self  # it keeps nothing between probes: the grading's generator draws them

    def probe(self, settings: Settings, rng: np.random.Generator, request: ProbeRequest) -> Probe:
        params = grader_params(settings, rng, request.scale)
        return computed_probe(params, [random_sequence(settings, rng, request.steps) for _ in range(request.count)])


def kit_probes(settings: Settings, requests: list[ProbeRequest]) -> bytes:
    """The probes file of a student kit: each request answered at public parameters of its own."""
    rng = np.random.default_rng([settings.seed, KIT_SEED])
    oracle = ReferenceOracle()
    return probes_file([(r, oracle.probe(settings, rng, r)) for r in requests], settings)
