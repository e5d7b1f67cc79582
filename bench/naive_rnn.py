"""A student-speed RNN: the per-step NumPy style of min-char-rnn and the blog posts.

It is correct (same math as the reference, bce loss, norm clipping at 5 in `update`) but
makes ~350 small NumPy calls per iteration: column vectors, one dot per term and step,
dicts of per-step caches. The benchmarks use it as the baseline a student would write,
and `bench/check.py` grades it as a submission.
"""

import numpy as np


class RNN:
    def __init__(self, input_dim=2, hidden_dim=16, output_dim=1, seed=None):
        rng = np.random.default_rng(seed)
        self.U = rng.normal(0.0, 0.5 / np.sqrt(input_dim), (hidden_dim, input_dim))
        self.W = rng.normal(0.0, 0.1 / np.sqrt(hidden_dim), (hidden_dim, hidden_dim))
        self.V = rng.normal(0.0, 0.5 / np.sqrt(hidden_dim), (output_dim, hidden_dim))
        self.b = np.zeros(hidden_dim)
        self.c = np.zeros(output_dim)

    def forward(self, x):
        self.xs, self.hs, self.ps = {}, {}, {}
        self.hs[-1] = np.zeros((self.W.shape[0], 1))
        out = []
        for t in range(len(x)):
            self.xs[t] = np.reshape(x[t], (-1, 1))
            a = np.dot(self.U, self.xs[t]) + np.dot(self.W, self.hs[t - 1]) + self.b.reshape(-1, 1)
            self.hs[t] = np.tanh(a)
            o = np.dot(self.V, self.hs[t]) + self.c.reshape(-1, 1)
            self.ps[t] = 1.0 / (1.0 + np.exp(-o))
            out.append(self.ps[t].ravel())
        return np.array(out)

    def backward(self, y):
        dU, dW, dV = np.zeros_like(self.U), np.zeros_like(self.W), np.zeros_like(self.V)
        db, dc = np.zeros((len(self.b), 1)), np.zeros((len(self.c), 1))
        dhnext = np.zeros_like(self.hs[0])
        for t in reversed(range(len(self.xs))):
            do = self.ps[t] - np.reshape(y[t], (-1, 1))
            dV += np.dot(do, self.hs[t].T)
            dc += do
            dh = np.dot(self.V.T, do) + dhnext
            da = (1 - self.hs[t] * self.hs[t]) * dh
            db += da
            dU += np.dot(da, self.xs[t].T)
            dW += np.dot(da, self.hs[t - 1].T)
            dhnext = np.dot(self.W.T, da)
        return {"U": dU, "W": dW, "V": dV, "b": db.ravel(), "c": dc.ravel()}

    def update(self, grads, alpha):
        for name in ("U", "W", "V", "b", "c"):
            g = grads[name]
            norm = np.linalg.norm(g)
            if norm > 5.0:
                g = g * (5.0 / norm)
            setattr(self, name, getattr(self, name) - alpha * g)
