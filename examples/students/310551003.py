"""Lab 4 (BPTT) by 310551003.

I keep a cache of every step of the forward pass in lists and go through it backwards
in `backward`. Loss: binary cross-entropy summed over the 8 output bits.
"""

import numpy as np

HIDDEN = 16


class RNN:
    def __init__(self, input_dim=2, hidden_dim=HIDDEN, output_dim=1, seed=None):
        r = np.random.default_rng(seed)
        self.U = 0.3 * r.standard_normal((hidden_dim, input_dim))
        self.W = 0.03 * r.standard_normal((hidden_dim, hidden_dim))
        self.V = 0.1 * r.standard_normal((output_dim, hidden_dim))
        self.b = np.zeros(hidden_dim)
        self.c = np.zeros(output_dim)

    def _step(self, x_t, h_prev):
        h = np.tanh(self.U @ x_t + self.W @ h_prev + self.b)
        p = 1.0 / (1.0 + np.exp(-(self.V @ h + self.c)))
        return h, p

    def forward(self, x):
        self.cache_x, self.cache_h, self.cache_p = [], [np.zeros(self.b.shape)], []
        for x_t in np.asarray(x, dtype=float):
            h, p = self._step(x_t, self.cache_h[-1])
            self.cache_x.append(x_t)
            self.cache_h.append(h)
            self.cache_p.append(p)
        return np.array(self.cache_p)

    def backward(self, y):
        y = np.asarray(y, dtype=float).reshape(len(self.cache_p), -1)
        dU, dW, dV = np.zeros_like(self.U), np.zeros_like(self.W), np.zeros_like(self.V)
        db, dc = np.zeros_like(self.b), np.zeros_like(self.c)
        for t in reversed(range(len(self.cache_p))):
            delta_out = self.cache_p[t] - y[t]
            h, h_before = self.cache_h[t + 1], self.cache_h[t]
            dV += np.outer(delta_out, h)
            dc += delta_out
            delta_h = self.V.T @ delta_out  # what comes back from the output at this step
            delta_a = delta_h * (1 - h * h)
            dW += np.outer(delta_a, h_before)
            dU += np.outer(delta_a, self.cache_x[t])
            db += delta_a
        return {"U": dU, "W": dW, "V": dV, "b": db, "c": dc}

    def update(self, grads, alpha):
        for key in ("U", "W", "V", "b", "c"):
            g = grads[key]
            n = np.linalg.norm(g)
            if n > 5:
                g = g * 5 / n
            setattr(self, key, getattr(self, key) - alpha * g)


if __name__ == "__main__":
    r = np.random.default_rng(3)
    model = RNN(seed=3)
    for i in range(20000):
        A, B = r.integers(0, 128, 2)
        bits = np.arange(8)
        x = np.column_stack([(A >> bits) & 1, (B >> bits) & 1]).astype(float)
        y = (((A + B) >> bits) & 1).astype(float).reshape(8, 1)
        model.forward(x)
        model.update(model.backward(y), 0.1)
