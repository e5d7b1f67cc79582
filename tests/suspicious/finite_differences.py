"""backward by centred finite differences of the loss: two forwards per parameter."""

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

    def _predict(self, x):
        h = np.zeros(len(self.b))
        out = []
        for xt in x:
            h = np.tanh(self.b + self.W @ h + self.U @ xt)
            out.append(1 / (1 + np.exp(-(self.c + self.V @ h))))
        return np.array(out)

    def forward(self, x):
        self.x = np.asarray(x, dtype=float)
        return self._predict(self.x)

    def _loss(self, y):
        p = self._predict(self.x)
        return -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))

    def backward(self, y):
        y = np.reshape(y, (len(self.x), -1))
        grads = {}
        for name in NAMES:
            p = getattr(self, name)
            g = np.zeros_like(p)
            for i in np.ndindex(p.shape):
                keep = p[i]
                p[i] = keep + 1e-5
                up = self._loss(y)
                p[i] = keep - 1e-5
                down = self._loss(y)
                p[i] = keep
                g[i] = (up - down) / 2e-5
            grads[name] = g
        return grads

    def update(self, grads, alpha):
        for name in NAMES:
            g = grads[name]
            norm = np.linalg.norm(g)
            setattr(self, name, getattr(self, name) - alpha * (g * 5 / norm if norm > 5 else g))
