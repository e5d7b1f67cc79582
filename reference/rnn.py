"""The reference vanilla RNN of the lab: forward, BPTT and SGD, exact and fast.

The model, for one sequence x_0..x_{T-1} with h_{-1} = 0:

    a_t = b + W h_{t-1} + U x_t          h_t = tanh(a_t)
    o_t = c + V h_t                      yhat_t = sigmoid(o_t)

and the loss summed over time, `bce` (dL/do_t = yhat_t - y_t) or `mse`
(dL/do_t = (yhat_t - y_t) yhat_t (1 - yhat_t)). BPTT runs the chain rule backwards:

    dh_t = W^T da_{t+1} + V^T do_t       da_t = dh_t * (1 - h_t^2)     (da_T = 0)
    dW = sum_t da_t h_{t-1}^T   dU = sum_t da_t x_t^T   db = sum_t da_t
    dV = sum_t do_t h_t^T       dc = sum_t do_t

Speed. At this size NumPy's per-call overhead, not arithmetic, is the cost (about half a
microsecond a call, up to twice that for a strided or broadcast operand or a Python-float
argument; tanh adds ~25 ns an element), so the code makes few calls, all on contiguous
operands -- about 40 NumPy calls and a few cheap copies per training iteration:

* One packed parameter block P (the public U, W, V, b, c are views into it):

      P[:H] = [ W | b | U ]    so  a_t = P[:H] . z_t    with  z_t = [h_{t-1}; 1; x_t]
      P[H:] = [ V | c | 0 ]    so  o_t = P[H:] . z_{t+1}      (the zeros drop x_{t+1})

* One activation buffer Z whose row t is z_t: a forward step is one dot written straight
  into the next row, then an in-place tanh. The output layer runs once over all steps.
* One error buffer E whose row t is [da_t | do_{t-1}]. Then E[t+1] . P = [dh_t | junk],
  because P[:, :H] stacks W over V; a backward step is that dot and one multiply by
  1 - h_t^2, which is computed for all steps at once (as 1 - Z*Z, row t+1 holds h_t).
  After the recursion one product E^T Z = [dW | db | dU ; dV | dc | junk] gives every
  gradient at once (junk = sum_t do_{t-1} x_t^T, which `update` masks out).
* Constants are 0-d arrays and the update's alpha is a mask array, so no ufunc converts
  a Python float; each sequence length T gets its buffers and bound calls once.

Measured and not used: a backward step of ONE dot, with the factors (1 - h_t^2) folded
into per-step matrices P[:, :H] * (1 - h_t^2) (one broadcast multiply, or one stacked
matmul, for all t) -- building them costs as much as the eight multiplies they replace;
closures that hold every buffer as a local variable -- no measurable gain.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

# As reference/loss.py defines them (a test holds them equal): this file is also graded as a
# submission (benchmarks, sandbox tests), and a submission may import NumPy only.
Loss = Literal["bce", "mse"]
PARAMS = ("U", "W", "V", "b", "c")
# The initial weights are small: with alpha = 0.1 large ones make the recurrence explode
# early, and the small scales converged most often in a sweep of init scales.
INIT_STD = {"U": 0.5, "W": 0.1, "V": 0.5}

# Ufunc operands as 0-d arrays: a Python float argument costs a conversion every call.
_HALF = np.array(0.5)
_ONE = np.array(1.0)
_HALF.flags.writeable = _ONE.flags.writeable = False


def sigmoid(o: np.ndarray) -> np.ndarray:
    """Logistic function via tanh, 1/2 + tanh(o/2)/2: exact, no overflow, a new array."""
    s = np.multiply(o, _HALF)
    np.tanh(s, s)
    np.multiply(s, _HALF, s)
    np.add(s, _HALF, s)
    return s


def output_delta(yhat: np.ndarray, y: np.ndarray, loss: Loss) -> np.ndarray:
    """dL/do for every step (any leading shape): the only place the two losses differ."""
    if loss == "bce":
        return yhat - y
    if loss == "mse":
        return (yhat - y) * yhat * (1.0 - yhat)
    raise ValueError(f"unknown loss {loss!r}; expected 'bce' or 'mse'")


# Sequences per block in forward_batch: a block's arrays stay in cache, and its products
# stay below the size at which OpenBLAS starts threads (which spin on a busy machine).
_BATCH_BLOCK = 512


def forward_batch(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """yhat for N sequences at once: x (N, T, I) -> (N, T, O). Used on all 16384 pairs."""
    U, W, V, b, c = (np.asarray(params[k], dtype=np.float64) for k in PARAMS)
    x = np.asarray(x, dtype=np.float64)
    yhat = np.empty(x.shape[:2] + (V.shape[0],))
    for start in range(0, len(x), _BATCH_BLOCK):
        block = slice(start, start + _BATCH_BLOCK)
        yhat[block] = _forward_block(U, W, V, b, c, x[block])
    return yhat


def _forward_block(U, W, V, b, c, x: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """forward_batch for one block: time-major, with plain 2-D products (a stacked
    (N, T, I) @ (I, H) matmul would loop over N tiny matrices)."""
    n, steps, _ = x.shape
    hidden = W.shape[0]
    xs = np.ascontiguousarray(x.transpose(1, 0, 2))  # xs[t] = x_t of every sequence
    Wt, Ut = W.T.copy(), U.T.copy()
    hs = np.empty((steps, n, hidden))
    h = np.zeros((n, hidden))  # h_{-1} = 0
    for t in range(steps):
        a = h @ Wt  # W h_{t-1}
        a += xs[t] @ Ut  # + U x_t
        a += b
        h = np.tanh(a, out=hs[t])
    o = hs.reshape(steps * n, hidden) @ V.T + c  # o_t = c + V h_t, all steps at once
    return sigmoid(o).reshape(steps, n, -1).transpose(1, 0, 2)


class _Workspace:
    """Buffers and prebound calls for sequences of one length T (reused every iteration)."""

    def __init__(self, P: np.ndarray, hidden: int, steps: int) -> None:
        H, T = hidden, steps
        width = P.shape[1]  # H + 1 + I
        out_dim = P.shape[0] - H
        self.Z = np.zeros((T + 1, width))  # row t = [h_{t-1} | 1 | x_t]; row 0 keeps h_{-1} = 0
        self.Z[:, H] = 1.0  # the bias column; row T's x part stays 0 (P[H:] ignores it anyway)
        self.E = np.zeros((T + 1, P.shape[0]))  # row t = [da_t | do_{t-1}]; da_T = do_{-1} = 0
        self.D = np.empty_like(self.Z)  # 1 - Z*Z: row t+1 starts with 1 - h_t^2
        self.F = np.empty(width)  # E[t+1] . P = [dh_t | junk]
        self.o = np.empty((T, out_dim))
        self.yhat = np.empty((T, out_dim))
        self.do = np.empty((T, out_dim))  # dL/do_t, contiguous; then copied into E's column
        self.tmp = np.empty((T, out_dim))
        self.x = self.Z[:T, H + 1 :]
        self.E_do = self.E[1:, H:]
        self.output_dot = self.Z[1:].dot
        self.gradient_dot = self.E.T.dot
        Ph_dot = P[:H].dot
        # (function, its argument, where its result goes) for every step, built once
        self.forward_steps = [(Ph_dot, self.Z[t], self.Z[t + 1, :H]) for t in range(T)]
        self.backward_steps = [
            (self.E[t + 1].dot, self.F[:H], self.D[t + 1, :H], self.E[t, :H])
            for t in reversed(range(T))
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
        self._output_weights = self._P[H:].T  # [V | c | 0]^T, for all steps' outputs at once
        # update: step = G * mask with mask = alpha on the parameters and 0 on the junk
        # block of G's [V | c | 0] rows, so scaling and masking are one call.
        self._step = np.zeros_like(self._P)
        self._step_flat = self._step.ravel()  # a view: the block is contiguous
        self._step_norm2 = self._step_flat.dot  # |step|^2 = step_flat . step_flat
        self._mask = np.zeros_like(self._P)
        self._mask_alpha: float | None = None
        self._squares = np.zeros_like(self._P)
        # Block sums of squares for the per-parameter norms, as two small products:
        # columns [W | b | U] -> 3 sums per row, then rows [H | O] -> the 2x3 table
        # [[|dW|^2, |db|^2, |dU|^2], [|dV|^2, |dc|^2, 0]].
        self._col_blocks = np.zeros((H + 1 + I, 3))
        self._col_blocks[:H, 0] = self._col_blocks[H, 1] = self._col_blocks[H + 1 :, 2] = 1.0
        self._row_blocks = np.zeros((2, H + O))
        self._row_blocks[0, :H] = self._row_blocks[1, H:] = 1.0
        self._workspaces: dict[tuple[int, ...], _Workspace] = {}
        self._ws: _Workspace | None = None
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

    def _workspace(self, shape: tuple[int, ...]) -> _Workspace:
        """The buffers for inputs of this shape, checked and built on first use."""
        if len(shape) != 2 or shape[1] != self.input_dim or shape[0] < 1:
            raise ValueError(f"x must have shape (T, {self.input_dim}), got {shape}")
        ws = self._workspaces[shape] = _Workspace(self._P, self.hidden_dim, shape[0])
        return ws

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (T, input_dim) -> yhat (T, output_dim); starts from h_{-1} = 0 every call."""
        if type(x) is not np.ndarray:
            x = np.asarray(x, dtype=np.float64)
        ws = self._workspaces.get(x.shape) or self._workspace(x.shape)
        self._ws = None  # until this forward has finished
        ws.x[...] = x  # z_t = [h_{t-1} | 1 | x_t]  (assignment casts to float64)
        tanh = np.tanh
        for dot, z, h in ws.forward_steps:
            dot(z, h)  # a_t = [W | b | U] . [h_{t-1}; 1; x_t], written where h_t lives
            tanh(h, h)
        ws.output_dot(self._output_weights, ws.o)  # o_t = [V | c | 0] . z_{t+1}
        yhat = ws.yhat  # sigmoid(o) = 1/2 + tanh(o/2)/2, in place
        np.multiply(ws.o, _HALF, yhat)
        tanh(yhat, yhat)
        np.multiply(yhat, _HALF, yhat)
        np.add(yhat, _HALF, yhat)
        self._ws = ws
        return yhat.copy()  # the caller's own array: backward reads ws.yhat

    def backward(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Full, unclipped BPTT gradient of the summed loss for the last forward."""
        ws = self._ws
        if ws is None:
            raise RuntimeError("backward called before forward")
        if type(y) is not np.ndarray:
            y = np.asarray(y, dtype=np.float64)
        yhat, do = ws.yhat, ws.do
        if y.shape != yhat.shape:
            raise ValueError(f"y must have shape {yhat.shape}, got {y.shape}")
        np.subtract(yhat, y, do)  # dL/do_t = yhat_t - y_t for bce
        if self.loss == "mse":  # ... times sigmoid'(o_t) = yhat_t (1 - yhat_t) for mse
            np.multiply(do, yhat, do)
            np.subtract(_ONE, yhat, ws.tmp)
            np.multiply(do, ws.tmp, do)
        ws.E_do[...] = do  # E row t+1 = [da_{t+1} | do_t]
        D, P, multiply = ws.D, self._P, np.multiply
        multiply(ws.Z, ws.Z, D)
        np.subtract(_ONE, D, D)  # row t+1 of D starts with tanh'(a_t) = 1 - h_t^2
        for dot, dh, d, da in ws.backward_steps:  # t = T-1 .. 0
            dot(P, ws.F)  # [da_{t+1} | do_t] . [W | . ; V | .] = [W^T da_{t+1} + V^T do_t | junk]
            multiply(dh, d, da)  # da_t = dh_t * (1 - h_t^2)
        G = ws.gradient_dot(ws.Z)  # sum_t [da_t ; do_{t-1}] z_t^T = [dW|db|dU ; dV|dc|junk]
        # A fresh block each call, so gradients a caller keeps are never overwritten.
        H = self.hidden_dim
        self._grad_block = G
        self._returned = grads = {
            "U": G[:H, H + 1 :],
            "W": G[:H, :H],
            "V": G[H:, :H],
            "b": G[:H, H],
            "c": G[H:, H],
        }
        self._grad_values = (grads["U"], grads["W"], grads["V"], grads["b"], grads["c"])
        return grads

    def update(self, grads: dict[str, np.ndarray], alpha: float) -> None:
        """One SGD step p -= alpha * g, each gradient first clipped to norm clip_norm."""
        G = self._packed(grads)
        if alpha != self._mask_alpha:
            self._set_mask(alpha)
        step = self._step
        np.multiply(G, self._mask, step)  # alpha * g, and 0 where G holds no parameter
        if self.clip_norm is not None:
            limit2 = (alpha * self.clip_norm) ** 2  # the squared clip norm of alpha * g
            # The norm of everything bounds each block's norm: only compute the five
            # block norms on the rare steps where that bound is above the limit.
            if self._step_norm2(self._step_flat) > limit2:
                self._clip(step, limit2)
        np.subtract(self._P, step, self._P)

    def _set_mask(self, alpha: float) -> None:
        """mask = alpha where G holds a parameter, 0 on the junk block (rebuilt when alpha changes)."""
        H = self.hidden_dim
        self._mask.fill(alpha)
        self._mask[H:, H + 1 :] = 0.0
        self._mask_alpha = alpha

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
        if grads is self._returned:
            U, W, V, b, c = self._grad_values
            get = grads.get
            if get("U") is U and get("W") is W and get("V") is V and get("b") is b and get("c") is c:
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
