"""The reference forward and BPTT at every step of a training chunk, all rows at once.

Row k of a chunk has its own parameters (the record's row k: they change every step) and
its own sequence, so the recurrence runs as stacked matrix products over the rows, in
blocks small enough to stay in cache (a whole 2000-row chunk at once is twice as slow).
It is the math of reference/rnn.py and checks/diagnose.py's `bptt`, batched: the audit
of training compares every prediction with it and, where backward is the reference's
BPTT (gradient_reference passed), every step's gradient, so a single forged step is
caught for certain rather than with the odds of a random audit.
"""

from __future__ import annotations

import numpy as np

from grader.checks.params import segments
from reference.rnn import Loss, output_delta, sigmoid
from reference.spec import Settings

BLOCK = 256  # rows per block: about 4.5 us a row at this lab's sizes; unblocked, twice that


def forward_and_gradients(rows: np.ndarray, x: np.ndarray, y: np.ndarray, settings: Settings,
                          loss: Loss) -> tuple[np.ndarray, np.ndarray]:
    """For each k: yhat (T, O) of forward(x[k]) under the flattened parameters rows[k] (the
    contract's order U, W, V, b, c), and the BPTT gradient of the loss against y[k],
    flattened like rows[k]. rows (K, n), x (K, T, I), y (K, T, O). Diverged parameters give
    NaN, silently."""
    yhat = np.empty(y.shape)
    grads = np.empty(rows.shape)
    columns = dict(segments(settings))
    with np.errstate(all="ignore"):
        for start in range(0, len(rows), BLOCK):
            block = slice(start, start + BLOCK)
            yhat[block] = _block(rows[block], x[block], y[block], columns, settings, loss, grads[block])
    return yhat, grads


def _block(rows: np.ndarray, x: np.ndarray, y: np.ndarray, columns: dict[str, slice], settings: Settings,
           loss: Loss, grads: np.ndarray) -> np.ndarray:
    """forward_and_gradients for one block; writes the gradients into `grads`, returns yhat."""
    K, T = x.shape[:2]
    H, I, O = settings.hidden_dim, settings.input_dim, settings.output_dim
    U = rows[:, columns["U"]].reshape(K, H, I)
    W = rows[:, columns["W"]].reshape(K, H, H)
    V = rows[:, columns["V"]].reshape(K, O, H)
    b, c = rows[:, columns["b"]], rows[:, columns["c"]]
    inputs = np.matmul(x, U.transpose(0, 2, 1))  # row t: U x_t
    inputs += b[:, None, :]
    h = np.zeros((K, T + 1, H))  # h[:, t + 1] is h_t; h[:, 0] is h_{-1} = 0
    W_rows = W.transpose(0, 2, 1)  # h^T W^T = (W h)^T, with h as a row
    for t in range(T):
        a = np.matmul(h[:, t, None, :], W_rows)[:, 0]
        a += inputs[:, t]
        np.tanh(a, out=h[:, t + 1])
    o = np.matmul(h[:, 1:], V.transpose(0, 2, 1))  # o_t = c + V h_t
    o += c[:, None, :]
    yhat = sigmoid(o)
    do = output_delta(yhat, y, loss)
    from_output = np.matmul(do, V)  # row t: V^T do_t
    slope = 1.0 - h[:, 1:] ** 2  # tanh'(a_t) = 1 - h_t^2
    da = np.empty((K, T, H))
    da_next = np.zeros((K, H))  # da_T = 0
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
    return yhat
