"""The bug-naming logic recognises each classic BPTT mistake from its gradients alone."""

import numpy as np
import pytest

from grader.checks.bptt_variants import bptt
from grader.checks.diagnose import BUGS, name_the_bug, relative_errors
from grader.checks.reference_oracle import computed_probe
from reference.rnn import PARAMS, RNN

SHAPES = {"U": (16, 2), "W": (16, 16), "V": (1, 16), "b": (16,), "c": (1,)}


def setup(scale=0.3, seed=0):
    rng = np.random.default_rng(seed)
    params = {k: rng.normal(0, scale, s) for k, s in SHAPES.items()}
    seqs = [
        (rng.integers(0, 2, (t, 2)).astype(float), rng.integers(0, 2, (t, 1)).astype(float))
        for t in (8, 5, 12)
    ]
    return params, seqs


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_textbook_bptt_equals_the_reference(loss):
    params, seqs = setup()
    model = RNN(loss=loss, clip_norm=None)
    for k, v in params.items():
        setattr(model, k, v)
    for x, y in seqs:
        model.forward(x)
        errors = relative_errors(model.backward(y), bptt(params, x, y, loss))
        assert max(errors.values()) < 1e-12


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_classic_bug_is_named(bug):
    params, seqs = setup()
    student = [bptt(params, x, y, "bce", bug) for x, y in seqs]
    assert name_the_bug(student, computed_probe(params, seqs), ("bce", "mse"), 1e-6) == (bug, BUGS[bug])


def test_bug_is_named_under_the_other_loss_too():
    params, seqs = setup()
    student = [bptt(params, x, y, "mse", "no_recurrent") for x, y in seqs]
    assert name_the_bug(student, computed_probe(params, seqs), ("bce", "mse"), 1e-6) == ("no_recurrent", BUGS["no_recurrent"])


def test_elementwise_clipping_in_backward_is_recognised():
    params, seqs = setup()
    student = [{k: np.clip(v, -0.05, 0.05) for k, v in bptt(params, x, y, "bce").items()} for x, y in seqs]
    found = name_the_bug(student, computed_probe(params, seqs), ("bce", "mse"), 1e-6)
    assert found is not None and found.name == "clipped_in_backward" and "update" in found.sentence


def test_norm_clipping_in_backward_is_recognised():
    params, seqs = setup()
    student = []
    for x, y in seqs:
        grads = bptt(params, x, y, "bce")
        student.append({k: g * min(1.0, 0.1 / np.linalg.norm(g)) for k, g in grads.items()})
    found = name_the_bug(student, computed_probe(params, seqs), ("bce", "mse"), 1e-6)
    assert found is not None and found.name == "clipped_in_backward" and "clipped inside backward" in found.sentence


def test_scaled_output_term_is_recognised():
    params, seqs = setup()
    student = [{k: 2 * g for k, g in bptt(params, x, y, "bce").items()} for x, y in seqs]
    found = name_the_bug(student, computed_probe(params, seqs), ("bce", "mse"), 1e-6)
    assert found is not None and found.name == "scaled_output_term" and "2 x the bce gradient" in found.sentence


def test_random_garbage_names_no_bug():
    params, seqs = setup()
    rng = np.random.default_rng(5)
    student = [{k: rng.normal(size=s) for k, s in SHAPES.items()} for _ in seqs]
    assert name_the_bug(student, computed_probe(params, seqs), ("bce", "mse"), 1e-6) is None
    assert set(PARAMS) == set(SHAPES)
