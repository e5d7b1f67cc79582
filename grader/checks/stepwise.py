"""The reference forward and BPTT at every step of a training chunk, all rows at once.

Row k of a chunk has its own parameters (the record's row k: they change every step) and
its own sequence, so the recurrence runs as stacked matrix products over the rows, in
blocks small enough to stay in cache (a whole 2000-row chunk at once is twice as slow).
It is the math of reference/rnn.py and checks/diagnose.py's `bptt`, batched: the audit
of training compares predictions with it (every one, or the secret ones) and, where
backward is the reference's BPTT (gradient_reference passed), every step's gradient, so
a single forged step is caught for certain rather than with the odds of a random audit.
"""

from __future__ import annotations

import numpy as np

from grader.checks.params import segments
from reference.rnn import PARAMS, Loss, output_delta, sigmoid
from grader.settings import Settings

BLOCK = 256  # rows per block: about 4.5 us a row at this lab's sizes; unblocked, twice that


def forward_each(rows: np.ndarray, x: np.ndarray, settings: Settings) -> np.ndarray:
    """For each k: yhat (T, O) of forward(x[k]) under the flattened parameters rows[k] (the
    contract's order U, W, V, b, c). rows (K, n), x (K, T, I). Diverged parameters give NaN,
    silently."""
    yhat = np.empty(x.shape[:2] + (settings.output_dim,))
    columns = dict(segments(settings))
    with np.errstate(all="ignore"):
        for block in _blocks(len(rows)):
            yhat[block] = _forward(_params(rows[block], columns, settings), x[block])[1]
    return yhat


def forward_and_gradients(rows: np.ndarray, x: np.ndarray, y: np.ndarray, settings: Settings,
                          loss: Loss) -> tuple[np.ndarray, np.ndarray]:
    """forward_each, and for each k the BPTT gradient of the loss against y[k], flattened like
    rows[k]. y (K, T, O)."""
    yhat = np.empty(y.shape)
    grads = np.empty(rows.shape)
    columns = dict(segments(settings))
    with np.errstate(all="ignore"):
        for block in _blocks(len(rows)):
            params = _params(rows[block], columns, settings)
            h, yhat[block] = _forward(params, x[block])
            _gradients(params, x[block], h, output_delta(yhat[block], y[block], loss), columns, grads[block])
    return yhat, grads


def _blocks(count: int) -> list[slice]:
    return [slice(start, start + BLOCK) for start in range(0, count, BLOCK)]


def _params(rows: np.ndarray, columns: dict[str, slice], settings: Settings) -> dict[str, np.ndarray]:
    """U (K, H, I), W (K, H, H), V (K, O, H), b (K, H), c (K, O): views of the rows."""
    K, H, I, O = len(rows), settings.hidden_dim, settings.input_dim, settings.output_dim
    return {"U": rows[:, columns["U"]].reshape(K, H, I), "W": rows[:, columns["W"]].reshape(K, H, H),
            "V": rows[:, columns["V"]].reshape(K, O, H), "b": rows[:, columns["b"]], "c": rows[:, columns["c"]]}


def _forward(params: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """h (K, T + 1, H), whose [:, t + 1] is h_t and [:, 0] is h_{-1} = 0, and yhat (K, T, O)."""
    U, W, V, b, c = (params[k] for k in PARAMS)
    K, T = x.shape[:2]
    inputs = np.matmul(x, U.transpose(0, 2, 1))  # row t: U x_t
    inputs += b[:, None, :]
    h = np.zeros((K, T + 1, W.shape[1]))
    W_rows = W.transpose(0, 2, 1)  # h^T W^T = (W h)^T, with h as a row
    for t in range(T):
        a = np.matmul(h[:, t, None, :], W_rows)[:, 0]
        a += inputs[:, t]
        np.tanh(a, out=h[:, t + 1])
    o = np.matmul(h[:, 1:], V.transpose(0, 2, 1))  # o_t = c + V h_t
    o += c[:, None, :]
    return h, sigmoid(o)


def _gradients(params: dict[str, np.ndarray], x: np.ndarray, h: np.ndarray, do: np.ndarray,
               columns: dict[str, slice], grads: np.ndarray) -> None:
    """BPTT from dL/do (K, T, O) back through the recurrence, written into grads (K, n)."""
    W, V = params["W"], params["V"]
    K, T = x.shape[:2]
    from_output = np.matmul(do, V)  # row t: V^T do_t
    slope = 1.0 - h[:, 1:] ** 2  # tanh'(a_t) = 1 - h_t^2
    da = np.empty((K, T, W.shape[1]))
    da_next = np.zeros((K, W.shape[1]))  # da_T = 0
    for t in reversed(range(T)):
        dh = np.matmul(da_next[:, None, :], W)[:, 0]  # W^T da_{t+1}, as a row
        dh += from_output[:, t]
        da_next = np.multiply(dh, slope[:, t], out=da[:, t])
    da_rows = da.transpose(0, 2, 1)
    grads[:, columns["U"]] = np.matmul(da_rows, x).reshape(K, -1)  # sum_t da_t x_t^T
    grads[:, columns["W"]] = np.matmul(da_rows, h[:, :-1]).reshape(K, -1)  # sum_t da_t h_{t-1}^T
    grads[:, columns["V"]] = np.matmul(do.transpose(0, 2, 1), h[:, 1:]).reshape(K, -1)  # sum_t do_t h_t^T
    grads[:, columns["b"]] = da.sum(axis=1)
    grads[:, columns["c"]] = do.sum(axis=1)
