"""310551004 Wang: vanilla RNN for 8-bit addition, squared-error loss.

L = sum over t of (yhat_t - y_t)^2 / 2, so dL/do_t = (yhat_t - y_t) * yhat_t * (1 - yhat_t).
No gradient clipping: with the squared error the gradients stay small.
"""

import numpy as np


def sig(v):
    return 1 / (1 + np.exp(-v))


def dsig_from_output(p):
    return p * (1 - p)


class RNN:
    def __init__(self, input_dim=2, hidden_dim=16, output_dim=1, seed=None):
        rs = np.random.default_rng(seed)
        self.U = rs.normal(scale=0.5, size=(hidden_dim, input_dim))
        self.W = rs.normal(scale=0.05, size=(hidden_dim, hidden_dim))
        self.V = rs.normal(scale=0.3, size=(output_dim, hidden_dim))
        self.b = np.zeros((hidden_dim,))
        self.c = np.zeros((output_dim,))

    def forward(self, x):
        x = np.asarray(x, dtype=np.float64)
        n_steps = x.shape[0]
        H = np.zeros((n_steps, self.b.size))
        P = np.zeros((n_steps, self.c.size))
        prev = np.zeros(self.b.size)
        for k in range(n_steps):
            prev = np.tanh(self.W.dot(prev) + self.U.dot(x[k]) + self.b)
            H[k] = prev
            P[k] = sig(self.V.dot(prev) + self.c)
        self.memory = (x, H, P)
        return P

    def backward(self, y):
        x, H, P = self.memory
        y = np.asarray(y, dtype=np.float64).reshape(P.shape)
        grads = dict(U=0 * self.U, W=0 * self.W, V=0 * self.V, b=0 * self.b, c=0 * self.c)
        future = np.zeros(self.b.size)  # dL/da of the step after this one
        for k in range(x.shape[0] - 1, -1, -1):
            d_o = (P[k] - y[k]) * dsig_from_output(P[k])
            grads["V"] += np.outer(d_o, H[k])
            grads["c"] += d_o
            d_a = (1 - H[k] ** 2) * (self.V.T.dot(d_o) + self.W.T.dot(future))
            before = H[k - 1] if k > 0 else np.zeros(self.b.size)
            grads["W"] += np.outer(d_a, before)
            grads["U"] += np.outer(d_a, x[k])
            grads["b"] += d_a
            future = d_a
        return grads

    def update(self, grads, alpha):
        self.U -= alpha * grads["U"]
        self.W -= alpha * grads["W"]
        self.V -= alpha * grads["V"]
        self.b -= alpha * grads["b"]
        self.c -= alpha * grads["c"]


if __name__ == "__main__":
    rs = np.random.default_rng(4)
    net = RNN(seed=4)
    for it in range(20000):
        a, b = (int(v) for v in rs.integers(0, 128, 2))
        x = np.array([[(a >> k) & 1, (b >> k) & 1] for k in range(8)], dtype=float)
        y = np.array([[((a + b) >> k) & 1] for k in range(8)], dtype=float)
        net.forward(x)
        net.update(net.backward(y), 0.1)
