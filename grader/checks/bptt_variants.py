"""BPTT by the textbook loops, right or with one classic bug switched on (diagnose.BUGS).

The full grader's source of every gradient a check compares with (reference_oracle.py);
the student kit leaves it out and carries its numbers instead (grader/kit.py).
"""

from __future__ import annotations

import numpy as np

from reference.rnn import PARAMS, Loss, output_delta, sigmoid


def bptt(
    params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, loss: Loss, bug: str | None = None
) -> dict[str, np.ndarray]:
    """Gradients of one sequence by the textbook loops, optionally with one classic bug."""
    U, W, V, b, c = (params[k] for k in PARAMS)
    steps = len(x)
    h = np.zeros((steps + 1, W.shape[0]))  # h[t + 1] is h_t; h[0] is h_{-1} = 0
    a = np.zeros((steps, W.shape[0]))
    for t in range(steps):
        a[t] = b + W @ h[t] + U @ x[t]
        h[t + 1] = np.tanh(a[t])
    yhat = sigmoid(h[1:] @ V.T + c)
    do = output_delta(yhat, y, loss)
    grads = {k: np.zeros_like(params[k]) for k in PARAMS}
    da_next = np.zeros(W.shape[0])
    for t in reversed(range(steps)):
        if bug == "no_recurrent":
            dh = V.T @ do[t]
        elif bug == "w_not_transposed":
            dh = V.T @ do[t] + W @ da_next
        else:
            dh = V.T @ do[t] + W.T @ da_next
        slope = 1.0 - a[t] ** 2 if bug == "tanh_on_preactivation" else 1.0 - h[t + 1] ** 2
        da = dh * slope
        grads["V"] += np.outer(do[t], h[t + 1])
        grads["c"] += do[t]
        grads["W"] += np.outer(da, h[t + 1] if bug == "dw_from_h_t" else h[t])
        grads["U"] += np.outer(da, x[t])
        grads["b"] += da
        da_next = da
    return grads
