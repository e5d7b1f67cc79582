"""The shape of the well-known minimal character-level RNN (its loss function's forward and
backward passes over dictionaries keyed by time) as students adapt it to this lab's
contract: the model's matrices renamed to U, W, V, b, c, the forward keeping xs, hs and ps
per step with hs[-1] the previous state, the backward carrying dhnext and clipping every
gradient to [-5, 5] inside backward, as the original does before its update. Written out
for the similarity check."""

import numpy as np


class RNN:
    def __init__(self, input_dim=2, hidden_dim=16, output_dim=1, seed=None):
        rng = np.random.default_rng(seed)
        self.U = rng.standard_normal((hidden_dim, input_dim)) * 0.01
        self.W = rng.standard_normal((hidden_dim, hidden_dim)) * 0.01
        self.V = rng.standard_normal((output_dim, hidden_dim)) * 0.01
        self.b = np.zeros(hidden_dim)
        self.c = np.zeros(output_dim)

    def forward(self, inputs):
        xs, hs, ps = {}, {}, {}
        hs[-1] = np.zeros((self.W.shape[0], 1))
        for t in range(len(inputs)):
            xs[t] = np.reshape(inputs[t], (-1, 1))
            hs[t] = np.tanh(np.dot(self.U, xs[t]) + np.dot(self.W, hs[t - 1]) + self.b[:, None])
            ys = np.dot(self.V, hs[t]) + self.c[:, None]
            ps[t] = 1.0 / (1.0 + np.exp(-ys))
        self.xs, self.hs, self.ps = xs, hs, ps
        return np.array([ps[t].ravel() for t in range(len(inputs))])

    def backward(self, targets):
        xs, hs, ps = self.xs, self.hs, self.ps
        dU, dW, dV = np.zeros_like(self.U), np.zeros_like(self.W), np.zeros_like(self.V)
        db, dc = np.zeros_like(self.b)[:, None], np.zeros_like(self.c)[:, None]
        dhnext = np.zeros_like(hs[0])
        for t in reversed(range(len(xs))):
            dy = np.copy(ps[t])
            dy -= np.reshape(targets[t], (-1, 1))
            dV += np.dot(dy, hs[t].T)
            dc += dy
            dh = np.dot(self.V.T, dy) + dhnext
            dhraw = (1 - hs[t] * hs[t]) * dh
            db += dhraw
            dU += np.dot(dhraw, xs[t].T)
            dW += np.dot(dhraw, hs[t - 1].T)
            dhnext = np.dot(self.W.T, dhraw)
        for dparam in [dU, dW, dV, db, dc]:
            np.clip(dparam, -5, 5, out=dparam)
        return {"U": dU, "W": dW, "V": dV, "b": db.ravel(), "c": dc.ravel()}

    def update(self, grads, alpha):
        for name in ("U", "W", "V", "b", "c"):
            setattr(self, name, getattr(self, name) - alpha * grads[name])
