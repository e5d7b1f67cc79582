"""The reference vanilla RNN of the lab: forward, BPTT and SGD, exact and fast.

The model, for one sequence x_0..x_{T-1} with h_{-1} = 0:

    a_t = b + W h_{t-1} + U x_t          h_t = tanh(a_t)
    o_t = c + V h_t                      yhat_t = sigmoid(o_t)

and the loss summed over time, `bce` (dL/do_t = yhat_t - y_t) or `mse`
(dL/do_t = (yhat_t - y_t) yhat_t (1 - yhat_t)). BPTT runs the chain rule backwards:

    dh_t = W^T da_{t+1} + V^T do_t       da_t = dh_t * (1 - h_t^2)     (da_T = 0)
    dW = sum_t da_t h_{t-1}^T   dU = sum_t da_t x_t^T   db = sum_t da_t
    dV = sum_t do_t h_t^T       dc = sum_t do_t

Speed. At this size NumPy's per-call overhead, not arithmetic, is the cost, so the code
makes few calls on contiguous arrays (about 50 per training iteration instead of ~350):

* One packed parameter block P (the public U, W, V, b, c are views into it):

      P[:H] = [ W | b | U ]    so  a_t = P[:H] . z_t    with  z_t = [h_{t-1}; 1; x_t]
      P[H:] = [ V | c | 0 ]    so  o_t = P[H:] . z_{t+1}      (the zeros drop x_{t+1})

* One activation buffer Z whose row t is z_t: a forward step is one dot written straight
  into the next row, then an in-place tanh. The output layer runs once over all steps.
* One error buffer E whose row t is [da_t | do_{t-1}]. Then E[t+1] . P = [dh_t | ...], so a
  backward step is one dot and one multiply, and after the recursion one matrix product
  E^T Z = [dW | db | dU ; dV | dc | junk] gives every gradient at once.
"""

from __future__ import annotations

import operator
from typing import Literal

import numpy as np

Loss = Literal["bce", "mse"]
PARAMS = ("U", "W", "V", "b", "c")
# The initial weights are small: with alpha = 0.1 large ones make the recurrence explode
# early, and the small scales converged most often in a sweep of init scales.
INIT_STD = {"U": 0.5, "W": 0.1, "V": 0.5}


def sigmoid(o: np.ndarray) -> np.ndarray:
    """Logistic function via tanh: exact, no overflow warnings, one fewer call than exp."""
    s = np.multiply(o, 0.5)
    np.tanh(s, out=s)
    s *= 0.5
    s += 0.5
    return s


def output_delta(yhat: np.ndarray, y: np.ndarray, loss: Loss) -> np.ndarray:
    """dL/do for every step (any leading shape): the only place the two losses differ."""
    if loss == "bce":
        return yhat - y
    if loss == "mse":
        return (yhat - y) * yhat * (1.0 - yhat)
    raise ValueError(f"unknown loss {loss!r}; expected 'bce' or 'mse'")


def sequence_loss(yhat: np.ndarray, y: np.ndarray, loss: Loss) -> np.ndarray:
    """L summed over the last two axes (time, output), for any leading batch shape."""
    if loss == "bce":
        p = np.clip(yhat, 1e-12, 1.0 - 1e-12)
        return -(y * np.log(p) + (1.0 - y) * np.log1p(-p)).sum(axis=(-2, -1))
    if loss == "mse":
        return 0.5 * ((yhat - y) ** 2).sum(axis=(-2, -1))
    raise ValueError(f"unknown loss {loss!r}; expected 'bce' or 'mse'")


def forward_batch(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """yhat for N sequences at once: x (N, T, I) -> (N, T, O). Used on all 16384 pairs."""
    U, W, V, b, c = (np.asarray(params[k], dtype=np.float64) for k in PARAMS)
    n, steps, _ = x.shape
    inputs = x @ U.T + b  # U x_t + b for every sequence and step at once
    h = np.zeros((n, W.shape[0]))
    hs = np.empty((n, steps, W.shape[0]))
    for t in range(steps):
        h = np.tanh(inputs[:, t] + h @ W.T)
        hs[:, t] = h
    return sigmoid(hs @ V.T + c)


class _Workspace:
    """Buffers and prebound calls for sequences of one length T (reused every iteration)."""

    def __init__(self, P: np.ndarray, hidden: int, steps: int) -> None:
        H, T = hidden, steps
        width = P.shape[1]  # H + 1 + I
        self.Z = np.zeros((T + 1, width))  # row t = [h_{t-1} | 1 | x_t]; row 0 keeps h_{-1} = 0
        self.Z[:, H] = 1.0  # the bias column; row T's x part stays 0 (P[H:] ignores it anyway)
        self.E = np.zeros((T + 1, P.shape[0]))  # row t = [da_t | do_{t-1}]; da_T = do_{-1} = 0
        self.F = np.empty(width)  # E[t+1] . P = [dh_t | junk]
        self.D = np.empty((T, H))  # 1 - h_t^2
        self.o = np.empty((T, P.shape[0] - H))
        self.x = self.Z[:T, H + 1 :]
        self.hs = self.Z[1:, :H]
        self.do = self.E[1:, H:]
        self.output_dot = self.Z[1:].dot
        self.gradient_dot = self.E.T.dot
        Ph_dot = P[:H].dot
        # (function, its argument, where its result goes) for every step, built once
        self.forward_steps = [(Ph_dot, self.Z[t], self.Z[t + 1, :H]) for t in range(T)]
        self.backward_steps = [
            (self.E[t + 1].dot, self.F[:H], self.D[t], self.E[t, :H]) for t in reversed(range(T))
        ]


def _param_property(name: str) -> property:
    """A public parameter: reads give the view into P, assignments copy into it."""

    def get(self: RNN) -> np.ndarray:
        return self._views[name]

    def set(self: RNN, value: np.ndarray) -> None:
        view = self._views[name]
        value = np.asarray(value, dtype=np.float64)
        if value.shape != view.shape:
            raise ValueError(f"{name} must have shape {view.shape}, got {value.shape}")
        view[...] = value

    return property(get, set, doc=f"parameter {name}, a view into the packed block P")


class RNN:
    """The lab's RNN, following the student contract (see STUDENT_API.md).

    Differences a student may rely on: `loss` picks the loss ("bce" or "mse"), and
    `update` clips each gradient to norm `clip_norm` (the contract allows it there).
    """

    def __init__(
        self,
        input_dim: int = 2,
        hidden_dim: int = 16,
        output_dim: int = 1,
        seed: int | None = None,
        loss: Loss = "bce",
        clip_norm: float | None = 5.0,
    ) -> None:
        if loss not in ("bce", "mse"):
            raise ValueError(f"unknown loss {loss!r}; expected 'bce' or 'mse'")
        H, I, O = hidden_dim, input_dim, output_dim
        self.input_dim, self.hidden_dim, self.output_dim = I, H, O
        self.loss: Loss = loss
        self.clip_norm = clip_norm
        self._P = np.zeros((H + O, H + 1 + I))
        self._views = self._param_views(self._P)
        rng = np.random.default_rng(None if seed is None else [seed, 1])
        for name, std in INIT_STD.items():
            shape = self._views[name].shape
            self._views[name][...] = rng.normal(0.0, std / np.sqrt(shape[1]), size=shape)
        self._step = np.zeros_like(self._P)  # alpha * gradient, before P -= step
        self._step_junk = self._step[H:, H + 1 :]
        self._output_weights = self._P[H:].T  # [V | c | 0]^T, for all steps' outputs at once
        self._squares = np.zeros_like(self._P)
        # Block sums of squares for the per-parameter norms, as two small products:
        # columns [W | b | U] -> 3 sums per row, then rows [H | O] -> the 2x3 table
        # [[|dW|^2, |db|^2, |dU|^2], [|dV|^2, |dc|^2, 0]].
        self._col_blocks = np.zeros((H + 1 + I, 3))
        self._col_blocks[:H, 0] = self._col_blocks[H, 1] = self._col_blocks[H + 1 :, 2] = 1.0
        self._row_blocks = np.zeros((2, H + O))
        self._row_blocks[0, :H] = self._row_blocks[1, H:] = 1.0
        self._workspaces: dict[int, _Workspace] = {}
        self._ws: _Workspace | None = None
        self._yhat: np.ndarray | None = None
        self._grad_block = np.zeros_like(self._P)
        self._returned: dict[str, np.ndarray] = {}
        self._grad_values: tuple[np.ndarray, ...] = ()

    def _param_views(self, block: np.ndarray) -> dict[str, np.ndarray]:
        """U, W, V, b, c as views into a packed block laid out like P."""
        H = self.hidden_dim
        return {
            "U": block[:H, H + 1 :],
            "W": block[:H, :H],
            "V": block[H:, :H],
            "b": block[:H, H],
            "c": block[H:, H],
        }

    U = _param_property("U")
    W = _param_property("W")
    V = _param_property("V")
    b = _param_property("b")
    c = _param_property("c")

    def _workspace(self, steps: int) -> _Workspace:
        ws = self._workspaces.get(steps)
        if ws is None:
            ws = self._workspaces[steps] = _Workspace(self._P, self.hidden_dim, steps)
        return ws

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (T, input_dim) -> yhat (T, output_dim); starts from h_{-1} = 0 every call."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.input_dim or x.shape[0] < 1:
            raise ValueError(f"x must have shape (T, {self.input_dim}), got {x.shape}")
        ws = self._workspace(x.shape[0])
        np.copyto(ws.x, x)
        tanh = np.tanh
        for dot, z, h in ws.forward_steps:
            dot(z, h)  # a_t = [W | b | U] . [h_{t-1}; 1; x_t], written where h_t lives
            tanh(h, h)
        ws.output_dot(self._output_weights, ws.o)  # o_t = [V | c | 0] . z_{t+1}
        self._ws, self._yhat = ws, sigmoid(ws.o)
        return self._yhat

    def backward(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Full, unclipped BPTT gradient of the summed loss for the last forward."""
        ws, yhat = self._ws, self._yhat
        if ws is None or yhat is None:
            raise RuntimeError("backward called before forward")
        y = np.asarray(y, dtype=np.float64)
        if y.shape != yhat.shape:
            raise ValueError(f"y must have shape {yhat.shape}, got {y.shape}")
        np.subtract(yhat, y, out=ws.do)  # dL/do_t for bce
        if self.loss == "mse":
            ws.do *= yhat * (1.0 - yhat)
        np.multiply(ws.hs, ws.hs, out=ws.D)
        np.subtract(1.0, ws.D, out=ws.D)  # tanh'(a_t) = 1 - h_t^2
        P, multiply = self._P, np.multiply
        for dot, dh, d, da in ws.backward_steps:  # t = T-1 .. 0
            dot(P, ws.F)  # [da_{t+1} | do_t] . P = [W^T da_{t+1} + V^T do_t | junk]
            multiply(dh, d, da)
        G = ws.gradient_dot(ws.Z)  # sum_t [da_t ; do_{t-1}] z_t^T = [dW|db|dU ; dV|dc|junk]
        # A fresh block each call, so gradients a caller keeps are never overwritten.
        self._grad_block, self._returned = G, self._param_views(G)
        self._grad_values = tuple(self._returned[k] for k in PARAMS)
        return self._returned

    def update(self, grads: dict[str, np.ndarray], alpha: float) -> None:
        """One SGD step p -= alpha * g, each gradient first clipped to norm clip_norm."""
        G = self._packed(grads)
        step = self._step
        np.multiply(G, alpha, out=step)
        self._step_junk.fill(0.0)  # G's [V|c|0] row block carries do x^T there: not a parameter
        if self.clip_norm is not None:
            limit2 = (alpha * self.clip_norm) ** 2  # the norms of alpha * g
            # The norm of everything bounds each block's norm: only compute the five
            # block norms on the rare steps where that bound is above the limit.
            if np.vdot(step, step) > limit2:
                self._clip(step, limit2)
        np.subtract(self._P, step, out=self._P)

    def _clip(self, step: np.ndarray, limit2: float) -> None:
        """Rescale each parameter's block of `step` whose squared norm is above limit2."""
        np.multiply(step, step, out=self._squares)
        table = self._row_blocks.dot(self._squares.dot(self._col_blocks)).ravel().tolist()
        blocks = self._param_views(step)
        for name, n2 in zip(PARAMS, (table[2], table[0], table[3], table[1], table[4])):
            if n2 > limit2:
                blocks[name] *= np.sqrt(limit2 / n2)

    def _packed(self, grads: dict[str, np.ndarray]) -> np.ndarray:
        """The gradients as one block laid out like P (no copy if they came from backward)."""
        if grads is self._returned and all(map(operator.is_, map(grads.get, PARAMS), self._grad_values)):
            return self._grad_block
        missing = [k for k in PARAMS if k not in grads]
        if missing:
            raise KeyError(f"gradients missing for {missing}")
        G = np.zeros_like(self._P)
        for name, view in self._param_views(G).items():
            g = np.asarray(grads[name], dtype=np.float64)
            if g.shape != view.shape:
                raise ValueError(f"gradient {name} must have shape {view.shape}, got {g.shape}")
            view[...] = g
        return G

    def params(self) -> dict[str, np.ndarray]:
        """Copies of the parameters, by contract name."""
        return {k: v.copy() for k, v in self._views.items()}
