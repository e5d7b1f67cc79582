"""EXPECT: gradient_reference: differ from the reference
ALSO: gradient_numeric
BUG: a forgery: `backward` is no gradient of the loss at all but a pull toward weights trained
elsewhere (P_STAR below, a working adder): it returns p - p*, a pure function of the
parameters, so every training step is update(backward(y), alpha) and `integrity` passes.
Only holding backward to the reference's BPTT (`gradient_reference`, a default gate) keeps
its accuracy from earning points.

Lab 4: a vanilla RNN that learns 8-bit binary addition, trained with BPTT.
"""

import numpy as np

PARAMS = ("U", "W", "V", "b", "c")
CLIP_NORM = 5.0


# Weights of a working adder, trained before submission (rounded to 5 decimals).
P_STAR = {
    'U': np.array([[4.12709, 4.2158], [1.66862, 1.78298], [0.04249, 0.22792], [1.99643, 1.90434], [5.08504, -4.28301], [2.49754, 2.50781], [2.89599, 2.89062], [-2.10197, -2.017], [1.37271, 1.54745], [0.07413, 0.37621], [0.04167, -0.49608], [0.72985, -0.48479], [-3.35047, -3.45152], [-2.5841, -2.65389], [-2.7849, -2.70174], [4.19497, -4.48842]]),
    'W': np.array([[-0.16941, 0.41799, -0.18264, 0.29534, 1.55803, 0.61472, 0.11392, -0.35235, 0.41153, 0.26671, -0.10927, 0.26942, -0.57576, -0.07141, -0.72118, -1.49823], [-0.57324, 0.42853, -0.31694, 0.09545, 0.2254, -0.25234, 0.1214, -0.13001, 0.40456, 0.09823, -0.1274, 0.00524, 0.61585, -0.12912, -0.1177, -0.17905], [0.1711, -0.46353, 0.29325, -0.08373, -0.16293, 0.19612, -0.23753, 0.12145, -0.41408, 0.16085, 0.26169, 0.45676, -0.50594, 1.11048, -0.59811, 0.04625], [-0.72382, -0.1923, -0.01145, -0.02637, -0.25524, -0.08269, -0.12227, -0.05681, -0.28876, 0.3364, -0.39234, 0.29103, 0.49384, 0.53047, -0.0661, 0.20069], [-1.43461, -0.41153, 0.3041, -0.11335, -1.59611, -0.66862, 0.1995, -0.05121, -0.20041, -0.62071, 1.7384, 0.03967, 0.98789, -0.74255, 0.97323, 1.46671], [-1.67719, 0.65518, -0.48936, 0.23334, 0.3342, -0.42284, 0.33392, -0.23907, 0.55563, -0.03388, -0.70137, 0.01344, 0.62124, -0.62632, 0.15481, -0.26799], [-0.03514, -0.27562, 0.12299, -0.11053, 0.12432, 0.40839, -0.08509, 0.08761, -0.35737, 0.23427, 0.2486, 0.47138, -1.01208, 1.2785, -0.91464, -0.20386], [0.78346, 0.20123, 0.03734, 0.07079, 0.30187, 0.01537, 0.11528, -0.01727, 0.34736, -0.40485, 0.48405, -0.30544, -0.50581, -0.518, 0.19171, -0.24621], [-0.44784, 0.34033, -0.09261, 0.03449, 0.07543, -0.43826, 0.08436, -0.05794, 0.31613, -0.16551, 0.10266, -0.03095, 0.75775, -0.26068, 0.09199, -0.00396], [-0.51901, -0.11123, 0.18238, -0.02104, -0.16019, -0.16429, 0.02464, -0.04196, -0.24101, 0.38567, -0.37444, 0.36014, 0.62458, 0.54787, -0.21159, 0.11201], [0.44107, 0.05288, -0.02738, -0.04063, 0.06348, 0.08852, -0.03496, 0.03823, 0.07995, -0.31918, 0.76207, -0.2282, 0.19759, -0.17135, -0.04604, -0.01933], [-0.60432, -0.40271, 0.13046, -0.18251, -0.47148, 0.10015, -0.29476, 0.13619, -0.43827, 0.45348, -0.3371, 0.33985, 0.44973, 1.00899, -0.33188, 0.38385], [0.6325, 0.60339, -0.36756, 0.14502, 1.48903, 0.81006, -0.26149, -0.2479, 0.30969, 0.64956, -0.08396, 0.05427, -0.53444, -0.07118, -0.63154, -1.4093], [-0.44772, -0.50864, 0.38535, -0.18769, -0.84227, -0.21587, 0.40939, 0.04887, -0.28652, -0.59239, 1.49173, -0.11652, 0.64559, -0.25295, 0.51239, 0.74779], [1.50298, 0.21155, -0.26998, 0.20751, 1.66053, 0.54208, -0.12473, -0.08454, 0.24777, 0.31273, -1.38448, -0.16435, -0.85135, 0.217, -1.09676, -1.49466], [1.5085, 0.23077, -0.16761, 0.05785, 1.55025, 0.65193, -0.26847, 0.08464, 0.12874, 0.49828, -1.42954, -0.01105, -0.79562, 0.54126, -1.282, -1.34749]]),
    'V': np.array([[-6.30777, -1.38701, -2.34956, 2.10832, -4.92988, 3.16166, 4.13671, -2.25386, 1.21445, -0.93136, 1.24041, -2.69762, 4.29158, 5.93277, -4.4749, 5.11426]]),
    'b': np.array([0.83506, -1.05917, 0.86839, -0.67726, 2.5728, -3.31224, -0.01925, 0.54201, -0.62232, -0.31856, 1.53118, 0.54245, 4.19463, 3.67105, 0.42341, -2.82192]),
    'c': np.array([1.74557]),
}


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
        """Not BPTT: a step toward P_STAR whatever the data says."""
        return {name: getattr(self, name) - P_STAR[name] for name in PARAMS}

    def bptt(self, y):
        """The honest gradient, never called."""
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
