"""A correct model for the escape probes: the contract's RNN, vectorised where it can be,
with the mse loss and no clipping. Each probe adds one forbidden attempt to it."""

import numpy as np


class Correct:
    def __init__(self, input_dim=2, hidden_dim=16, output_dim=1, seed=None):
        g = np.random.default_rng(seed)
        self.U = g.uniform(-0.5, 0.5, (hidden_dim, input_dim))
        self.W = g.uniform(-0.1, 0.1, (hidden_dim, hidden_dim))
        self.V = g.uniform(-0.5, 0.5, (output_dim, hidden_dim))
        self.b = np.zeros(hidden_dim)
        self.c = np.zeros(output_dim)

    def forward(self, x):
        self.xs = np.asarray(x, dtype=float)
        hs = [np.zeros(len(self.b))]
        for xt in self.xs:
            hs.append(np.tanh(self.b + self.W @ hs[-1] + self.U @ xt))
        self.hs = np.array(hs)
        self.out = 1 / (1 + np.exp(-(self.hs[1:] @ self.V.T + self.c)))
        return self.out

    def backward(self, y):
        d_o = (self.out - np.reshape(y, self.out.shape)) * self.out * (1 - self.out)
        g = {"V": d_o.T @ self.hs[1:], "c": d_o.sum(0)}
        d_a = np.zeros((len(self.xs), len(self.b)))
        carry = np.zeros(len(self.b))
        for t in range(len(self.xs) - 1, -1, -1):
            carry = (self.V.T @ d_o[t] + self.W.T @ carry) * (1 - self.hs[t + 1] ** 2)
            d_a[t] = carry
        g.update(U=d_a.T @ self.xs, W=d_a.T @ self.hs[:-1], b=d_a.sum(0))
        return g

    def update(self, grads, alpha):
        for k, v in grads.items():
            setattr(self, k, getattr(self, k) - alpha * v)
