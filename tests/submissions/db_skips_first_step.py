"""EXPECT: gradient_reference: b
ALSO: gradient_numeric
BUG: an off-by-one of its own: db leaves out the first step (t = 0), so b's gradient is wrong
by da_0 and nothing else is. No classic bug explains it, so two submissions giving these
same wrong numbers are flagged for the instructor (same_wrong_numbers).
"""

import numpy as np

PARAMS = ("U", "W", "V", "b", "c")
CLIP_NORM = 5.0


def sigmoid(o):
    return 1.0 / (1.0 + np.exp(-o))


class RNN:
    def __init__(self, input_dim=2, hidden_dim=16, output_dim=1, seed=None):
        rng = np.random.default_rng(seed)
        # Small initial weights: large ones make the recurrence explode early on.
        self.U = rng.normal(0.0, 0.35, (hidden_dim, input_dim))
        self.W = rng.normal(0.0, 0.025, (hidden_dim, hidden_dim))
        self.V = rng.normal(0.0, 0.125, (output_dim, hidden_dim))
        self.b = np.zeros(hidden_dim)
        self.c = np.zeros(output_dim)

    def forward(self, x):
        """x (T, input_dim) -> yhat (T, output_dim), starting from h_{-1} = 0."""
        x = np.asarray(x, dtype=np.float64)
        T, H = len(x), self.W.shape[0]
        self.x = x
        self.h = np.zeros((T + 1, H))  # self.h[t + 1] is h_t; self.h[0] is h_{-1} = 0
        self.yhat = np.zeros((T, self.V.shape[0]))
        for t in range(T):
            a = self.b + self.W @ self.h[t] + self.U @ x[t]
            self.h[t + 1] = np.tanh(a)
            o = self.c + self.V @ self.h[t + 1]
            self.yhat[t] = sigmoid(o)
        return self.yhat.copy()

    def output_delta(self, y):
        """dL/do_t for every step (bce)."""
        return self.yhat - y

    def backward(self, y):
        """The full BPTT gradient of L for the last forward, as {name: array}."""
        y = np.asarray(y, dtype=np.float64).reshape(self.yhat.shape)
        do = self.output_delta(y)
        grads = {name: np.zeros_like(getattr(self, name)) for name in PARAMS}
        da_next = np.zeros(self.W.shape[0])  # da_T = 0
        for t in reversed(range(len(self.x))):
            h_t, h_prev = self.h[t + 1], self.h[t]
            grads["V"] += np.outer(do[t], h_t)
            grads["c"] += do[t]
            dh = self.W.T @ da_next + self.V.T @ do[t]
            da = dh * (1.0 - h_t**2)
            grads["W"] += np.outer(da, h_prev)
            grads["U"] += np.outer(da, self.x[t])
            if t > 0:
                grads["b"] += da
            da_next = da
        return grads

    def update(self, grads, alpha):
        """One SGD step; each gradient is first rescaled to norm at most CLIP_NORM."""
        for name in PARAMS:
            g = grads[name]
            norm = np.linalg.norm(g)
            if norm > CLIP_NORM:
                g = g * (CLIP_NORM / norm)
            setattr(self, name, getattr(self, name) - alpha * g)


def make_sample(rng, bits=8):
    """A random pair A, B < 128 as LSB-first bit sequences: x (bits, 2), y (bits, 1)."""
    a, b = rng.integers(0, 128, size=2)
    shifts = np.arange(bits)
    x = np.stack([(a >> shifts) & 1, (b >> shifts) & 1], axis=1).astype(np.float64)
    y = (((a + b) >> shifts) & 1).astype(np.float64)[:, None]
    return x, y


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = RNN(seed=0)
    correct = []
    for it in range(20000):
        x, y = make_sample(rng)
        yhat = model.forward(x)
        correct.append(bool(np.all((yhat >= 0.5) == (y >= 0.5))))
        model.update(model.backward(y), 0.1)
        if (it + 1) % 1000 == 0:
            print(f"iteration {it + 1}: accuracy of the last 1000 = {np.mean(correct[-1000:]):.3f}")
