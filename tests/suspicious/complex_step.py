"""backward by the complex step: the loss at p + i h, whose imaginary part / h is dL/dp."""

import numpy as np

NAMES = ("U", "W", "V", "b", "c")


class RNN:
    def __init__(self, input_dim=2, hidden_dim=16, output_dim=1, seed=None):
        g = np.random.default_rng(seed)
        self.U = g.normal(0, 0.3, (hidden_dim, input_dim))
        self.W = g.normal(0, 0.05, (hidden_dim, hidden_dim))
        self.V = g.normal(0, 0.2, (output_dim, hidden_dim))
        self.b = np.zeros(hidden_dim)
        self.c = np.zeros(output_dim)

    def _predict(self, x, params):
        U, W, V, b, c = (params[n] for n in NAMES)
        h = np.zeros(len(b), dtype=W.dtype)
        out = []
        for xt in x:
            h = np.tanh(b + W @ h + U @ xt)
            out.append(1 / (1 + np.exp(-(c + V @ h))))
        return np.array(out)

    def forward(self, x):
        self.x = np.asarray(x, dtype=float)
        return self._predict(self.x, {n: getattr(self, n) for n in NAMES}).real

    def backward(self, y):
        y = np.reshape(y, (len(self.x), -1))
        base = {n: getattr(self, n).astype(complex) for n in NAMES}
        grads = {}
        for name in NAMES:
            g = np.zeros(base[name].shape)
            for i in np.ndindex(g.shape):
                params = dict(base)
                params[name] = base[name].copy()
                params[name][i] += 1e-20j
                p = self._predict(self.x, params)
                loss = -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
                g[i] = loss.imag / 1e-20
            grads[name] = g
        return grads

    def update(self, grads, alpha):
        for name in NAMES:
            g = grads[name]
            norm = np.linalg.norm(g)
            setattr(self, name, getattr(self, name) - alpha * (g * 5 / norm if norm > 5 else g))
