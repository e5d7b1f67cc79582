"""The reference RNN: exact gradients, batched forward, training, update and parameters."""

from __future__ import annotations

import numpy as np
import pytest

from reference.data import all_pairs, sample_stream
from reference import loss as contract_loss
from reference.loss import sequence_loss
from reference.rnn import PARAMS, RNN, Loss, forward_batch, output_delta
from grader.settings import Settings
from reference.train import reference_model, run_loop, train, train_reference

LOSSES = ("bce", "mse")


def randomized(loss: str, dims: tuple[int, int, int] = (2, 16, 1), seed: int = 0) -> RNN:
    """A reference RNN whose five parameters are all N(0, 0.5^2), biases included."""
    rng = np.random.default_rng([seed, 99])
    model = RNN(*dims, seed=seed, loss=loss)
    for name in PARAMS:
        setattr(model, name, rng.normal(0.0, 0.5, getattr(model, name).shape))
    return model


def losses_of(thetas: np.ndarray, shapes: dict, x: np.ndarray, y: np.ndarray, loss: str):
    """The contract's loss for K parameter vectors at once (thetas (K, n)): shape (K,).

    Written independently of the reference: explicit einsums, bce from the logits.
    """
    k = len(thetas)
    p, at = {}, 0
    for name in PARAMS:
        size = int(np.prod(shapes[name]))
        p[name] = thetas[:, at : at + size].reshape(k, *shapes[name])
        at += size
    h = np.zeros((k, shapes["W"][0]))
    hs = []
    for t in range(len(x)):
        h = np.tanh(p["b"] + np.einsum("kij,kj->ki", p["W"], h) + p["U"] @ x[t])
        hs.append(h)
    o = np.einsum("koh,kth->kto", p["V"], np.stack(hs, axis=1)) + p["c"][:, None, :]
    if loss == "bce":  # -[y log s(o) + (1-y) log(1-s(o))] = log(1 + e^o) - y o
        return (np.logaddexp(0.0, o) - y * o).sum(axis=(1, 2))
    return 0.5 * ((1.0 / (1.0 + np.exp(-o)) - y) ** 2).sum(axis=(1, 2))


def numeric_gradient(model: RNN, x: np.ndarray, y: np.ndarray, eps: float = 1e-5) -> dict:
    """Centred finite differences of every parameter, all 2n perturbed losses in one batch."""
    shapes = {k: getattr(model, k).shape for k in PARAMS}
    theta = np.concatenate([getattr(model, k).ravel() for k in PARAMS])
    n = theta.size
    thetas = np.tile(theta, (2 * n, 1))
    thetas[np.arange(n), np.arange(n)] += eps
    thetas[n + np.arange(n), np.arange(n)] -= eps
    values = losses_of(thetas, shapes, x, y, model.loss)
    flat = (values[:n] - values[n:]) / (2 * eps)
    out, at = {}, 0
    for name in PARAMS:
        size = int(np.prod(shapes[name]))
        out[name] = flat[at : at + size].reshape(shapes[name])
        at += size
    return out


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(np.linalg.norm(a), np.linalg.norm(b), 1e-12)
    return float(np.linalg.norm(a - b) / scale)


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("steps", [1, 3, 8, 12])
def test_gradients_match_centred_finite_differences(loss: str, steps: int) -> None:
    rng = np.random.default_rng([steps, 7])
    model = randomized(loss, seed=steps)
    x = rng.random((steps, 2))
    y = rng.integers(0, 2, (steps, 1)).astype(float)
    model.forward(x)
    grads = model.backward(y)
    numeric = numeric_gradient(model, x, y)
    errors = {k: relative_error(grads[k], numeric[k]) for k in PARAMS}
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("loss", LOSSES)
def test_gradients_exact_for_other_sizes(loss: str) -> None:
    """input 3, hidden 5, output 2: the packed layout with more than one output."""
    rng = np.random.default_rng(5)
    model = randomized(loss, dims=(3, 5, 2), seed=5)
    x = rng.normal(size=(6, 3))
    y = rng.integers(0, 2, (6, 2)).astype(float)
    model.forward(x)
    grads = model.backward(y)
    assert {k: v.shape for k, v in grads.items()} == {k: getattr(model, k).shape for k in PARAMS}
    numeric = numeric_gradient(model, x, y)
    errors = {k: relative_error(grads[k], numeric[k]) for k in PARAMS}
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("loss", LOSSES)
def test_loss_and_output_delta_helpers(loss: str) -> None:
    rng = np.random.default_rng(3)
    model = randomized(loss)
    x, y = rng.random((8, 2)), rng.integers(0, 2, (8, 1)).astype(float)
    yhat = model.forward(x)
    theta = np.concatenate([getattr(model, k).ravel() for k in PARAMS])[None]
    shapes = {k: getattr(model, k).shape for k in PARAMS}
    assert sequence_loss(yhat, y, loss) == pytest.approx(losses_of(theta, shapes, x, y, loss)[0])
    expected = yhat - y if loss == "bce" else (yhat - y) * yhat * (1 - yhat)
    np.testing.assert_allclose(output_delta(yhat, y, loss), expected, rtol=1e-15)
    with pytest.raises(ValueError):
        output_delta(yhat, y, "l1")


# ----------------------------------------------------------------------------- forward


def test_batched_forward_equals_single_forward() -> None:
    model = randomized("bce", seed=11)
    _, x, _ = all_pairs(Settings())
    pick = np.random.default_rng(11).choice(len(x), size=64, replace=False)
    batched = forward_batch(model.params(), x[pick])
    single = np.stack([model.forward(x[i]) for i in pick])
    np.testing.assert_allclose(batched, single, rtol=0, atol=1e-12)


def test_forward_is_stateless_and_returns_fresh_arrays() -> None:
    model = randomized("bce", seed=2)
    rng = np.random.default_rng(2)
    x1, x2 = rng.random((8, 2)), rng.random((5, 2))
    first = model.forward(x1)
    model.forward(x2)
    again = model.forward(x1)
    assert again is not first
    np.testing.assert_array_equal(first, again)
    assert first.shape == (8, 1) and np.all((first > 0) & (first < 1))


def test_backward_uses_its_own_copy_of_yhat() -> None:
    model = randomized("bce", seed=4)
    x, y = np.random.default_rng(4).random((8, 2)), np.ones((8, 1))
    expected = model.forward(x) - y
    yhat = model.forward(x)
    yhat[...] = 0.0  # a caller scribbling on the returned array
    np.testing.assert_allclose(model.backward(y)["c"], expected.sum(axis=0), rtol=1e-15)


def test_forward_rejects_wrong_input_shape() -> None:
    model = RNN(seed=0)
    for bad in (np.zeros((8, 3)), np.zeros(8), np.zeros((0, 2)), np.zeros((2, 8, 2))):
        with pytest.raises(ValueError):
            model.forward(bad)
    with pytest.raises(RuntimeError):
        RNN(seed=0).backward(np.zeros((8, 1)))


# ----------------------------------------------------------------------------- backward


def test_backward_returns_fresh_gradients_and_keeps_parameters() -> None:
    model = randomized("bce", seed=6)
    rng = np.random.default_rng(6)
    before = model.params()
    model.forward(rng.random((8, 2)))
    kept = model.backward(np.ones((8, 1)))
    snapshot = {k: v.copy() for k, v in kept.items()}
    model.forward(rng.random((8, 2)))
    other = model.backward(np.zeros((8, 1)))
    for k in PARAMS:
        np.testing.assert_array_equal(kept[k], snapshot[k])  # not overwritten
        assert not np.shares_memory(kept[k], other[k])
        np.testing.assert_array_equal(getattr(model, k), before[k])  # backward is pure
    assert sorted(kept) == sorted(PARAMS)


# ----------------------------------------------------------------------------- update


def small_gradients(model: RNN, scale: float, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.normal(0.0, scale, getattr(model, k).shape) for k in PARAMS}


def test_update_is_exactly_p_minus_alpha_g_below_the_clip() -> None:
    model = randomized("bce", seed=8)
    grads = small_gradients(model, 0.05)
    grads["W"] *= 4.99 / np.linalg.norm(grads["W"])  # just below clip_norm = 5
    before = model.params()
    model.update(grads, 0.1)
    for k in PARAMS:
        np.testing.assert_array_equal(getattr(model, k), before[k] - 0.1 * grads[k])


def test_update_clips_each_gradient_above_the_norm() -> None:
    model = randomized("bce", seed=9)
    grads = small_gradients(model, 0.05)
    grads["W"] *= 50.0 / np.linalg.norm(grads["W"])
    grads["c"] = np.array([-12.0])
    before = model.params()
    model.update(grads, 0.1)
    np.testing.assert_allclose(model.W, before["W"] - 0.1 * grads["W"] * (5.0 / 50.0), rtol=1e-14)
    np.testing.assert_allclose(model.c, before["c"] + 0.1 * 5.0, rtol=1e-14)
    for k in ("U", "V", "b"):  # the others are untouched by the clip
        np.testing.assert_array_equal(getattr(model, k), before[k] - 0.1 * grads[k])


def test_update_from_backward_equals_update_from_copies() -> None:
    """The fast path (gradients straight from backward) and a plain dict give the same step."""
    a, b = randomized("bce", seed=10), randomized("bce", seed=10)
    rng = np.random.default_rng(10)
    x, y = rng.random((8, 2)), rng.integers(0, 2, (8, 1)).astype(float)
    a.forward(x)
    b.forward(x)
    grads = a.backward(y)
    a.update(grads, 0.1)
    b.update({k: v.copy() for k, v in b.backward(y).items()}, 0.1)
    for k in PARAMS:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))


def test_update_accepts_gradients_not_from_backward() -> None:
    model = randomized("mse", seed=12)
    rng = np.random.default_rng(12)
    model.forward(rng.random((8, 2)))
    fresh = model.backward(np.ones((8, 1)))  # the fast path must not be taken for others
    foreign = {k: np.asarray(v).tolist() for k, v in small_gradients(model, 0.01, 3).items()}
    before = model.params()
    model.update(foreign, 0.3)
    for k in PARAMS:
        np.testing.assert_array_equal(getattr(model, k), before[k] - 0.3 * np.asarray(foreign[k]))
    mixed = dict(fresh, W=np.zeros_like(fresh["W"]))  # backward's dict with one entry replaced
    before = model.params()
    model.update(mixed, 0.1)
    np.testing.assert_array_equal(model.W, before["W"])
    np.testing.assert_array_equal(model.U, before["U"] - 0.1 * fresh["U"])
    fresh["V"] = np.zeros_like(fresh["V"])  # backward's own dict, an entry replaced in it
    before = model.params()
    model.update(fresh, 0.1)
    np.testing.assert_array_equal(model.V, before["V"])
    with pytest.raises(KeyError):
        model.update({k: v for k, v in fresh.items() if k != "b"}, 0.1)
    with pytest.raises(ValueError):
        model.update(dict(fresh, U=np.zeros((2, 16))), 0.1)


# ----------------------------------------------------------------------------- parameters


def test_parameters_are_settable_copies_with_a_shape_check() -> None:
    model = RNN(seed=1)
    shapes = {"U": (16, 2), "W": (16, 16), "V": (1, 16), "b": (16,), "c": (1,)}
    assert {k: getattr(model, k).shape for k in PARAMS} == shapes
    assert all(getattr(model, k).dtype == np.float64 for k in PARAMS)
    value = np.full((16, 2), 0.25)
    model.U = value
    value[0, 0] = 9.0  # assignment copied: the model does not alias the caller's array
    assert model.U[0, 0] == 0.25
    model.b = [0.5] * 16
    np.testing.assert_array_equal(model.b, np.full(16, 0.5))
    for name, bad in (("U", np.zeros((2, 16))), ("W", np.zeros(16)), ("c", np.zeros((1, 1)))):
        with pytest.raises(ValueError, match=name):
            setattr(model, name, bad)
    x = np.random.default_rng(1).random((8, 2))
    np.testing.assert_allclose(model.forward(x), forward_batch(model.params(), x[None])[0], atol=1e-12)


def test_same_seed_same_initial_parameters() -> None:
    a, b, c = RNN(seed=5), RNN(seed=5), RNN(seed=6)
    assert all(np.array_equal(getattr(a, k), getattr(b, k)) for k in PARAMS)
    assert not np.array_equal(a.W, c.W)


# ----------------------------------------------------------------------------- training


@pytest.mark.parametrize("loss", LOSSES)
def test_reference_trains_on_nine_of_ten_seeds(loss: str) -> None:
    settings = Settings()
    accuracies = [train_reference(settings, settings.seed + i, loss).accuracy for i in range(10)]
    assert sum(a >= 0.99 for a in accuracies) >= 9, accuracies


def test_same_seed_gives_bit_identical_training() -> None:
    settings = Settings(iterations=1500, accuracy_window=500)
    results, params = [], []
    for _ in range(2):
        model = reference_model(settings, 77)
        results.append(train(model, settings, 77))
        params.append(model.params())
    first, second = results
    assert first.accuracy == second.accuracy
    np.testing.assert_array_equal(first.curves.loss, second.curves.loss)
    np.testing.assert_array_equal(first.curves.correct, second.curves.correct)
    for k in PARAMS:
        np.testing.assert_array_equal(params[0][k], params[1][k])


def test_run_loop_records_predictions_before_each_update() -> None:
    settings = Settings(iterations=50, accuracy_window=10)
    x, y = sample_stream(3, 50, settings)
    model, replay = reference_model(settings, 3), reference_model(settings, 3)
    yhat = run_loop(model, x, y, settings.alpha)
    for i in range(50):
        np.testing.assert_array_equal(yhat[i], replay.forward(x[i]))
        replay.update(replay.backward(y[i]), settings.alpha)


def test_the_reference_names_the_parameters_and_losses_as_the_contract_does():
    """rnn.py keeps its own copy (it is graded as a submission too, which may import NumPy only)."""
    assert PARAMS == contract_loss.PARAMS
    assert Loss.__args__ == contract_loss.Loss.__args__
