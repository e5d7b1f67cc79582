"""DLP Lab 4: binary addition with a recurrent network (bce loss), by 310551002.

Shapes: inputs are (T, 2) bit pairs, outputs (T, 1) bits of the sum, least significant first.
The hidden layer has 16 tanh units. Each gradient is rescaled to norm at most 4 in `update`.
"""

import numpy as np


def logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


class RNN:
    def __init__(self, input_dim=2, hidden_dim=16, output_dim=1, seed=None):
        gen = np.random.default_rng(seed)
        scale_in = 1.0 / np.sqrt(input_dim)
        self.U = gen.uniform(-scale_in, scale_in, size=(hidden_dim, input_dim)) * 0.5
        self.W = gen.uniform(-0.05, 0.05, size=(hidden_dim, hidden_dim))
        self.V = gen.uniform(-0.25, 0.25, size=(output_dim, hidden_dim))
        self.b = np.zeros(hidden_dim, dtype=np.float64)
        self.c = np.zeros(output_dim, dtype=np.float64)
        self.max_norm = 4.0

    def forward(self, x):
        inputs = np.asarray(x, dtype=np.float64)
        projected = inputs @ self.U.T + self.b  # U x_t + b for every t at once
        states = [np.zeros(self.W.shape[0])]
        for row in projected:
            states.append(np.tanh(row + self.W @ states[-1]))
        self._inputs = inputs
        self._states = np.array(states)  # row 0 is the zero state before t = 0
        self._probs = logistic(self._states[1:] @ self.V.T + self.c)
        return self._probs.copy()

    def backward(self, y):
        target = np.asarray(y, dtype=np.float64).reshape(self._probs.shape)
        err = self._probs - target  # dL/do for the cross-entropy of a sigmoid
        hs = self._states
        gV = err.T @ hs[1:]
        gc = err.sum(axis=0)
        gU = np.zeros_like(self.U)
        gW = np.zeros_like(self.W)
        gb = np.zeros_like(self.b)
        carry = np.zeros(self.W.shape[0])
        for t in range(len(err) - 1, -1, -1):
            grad_h = self.V.T @ err[t] + self.W.T @ carry
            grad_a = (1.0 - hs[t + 1] ** 2) * grad_h
            gW += np.outer(grad_a, hs[t])
            gU += np.outer(grad_a, self._inputs[t])
            gb += grad_a
            carry = grad_a
        return {"U": gU, "W": gW, "V": gV, "b": gb, "c": gc}

    def update(self, grads, alpha):
        limited = {}
        for name, g in grads.items():
            size = np.sqrt(np.sum(g * g))
            limited[name] = g if size <= self.max_norm else g * (self.max_norm / size)
        self.U = self.U - alpha * limited["U"]
        self.W = self.W - alpha * limited["W"]
        self.V = self.V - alpha * limited["V"]
        self.b = self.b - alpha * limited["b"]
        self.c = self.c - alpha * limited["c"]


def to_bits(n, width=8):
    return np.array([(n >> i) & 1 for i in range(width)], dtype=np.float64)


if __name__ == "__main__":
    gen = np.random.default_rng(1)
    net = RNN(seed=1)
    hits = 0
    for step in range(1, 20001):
        a, b = gen.integers(0, 128, size=2)
        x = np.stack([to_bits(a), to_bits(b)], axis=1)
        y = to_bits(a + b)[:, None]
        guess = net.forward(x)
        hits += int(np.array_equal(guess >= 0.5, y >= 0.5))
        net.update(net.backward(y), 0.1)
        if step % 2000 == 0:
            print(step, hits / 2000)
            hits = 0
