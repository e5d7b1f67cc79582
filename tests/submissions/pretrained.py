"""EXPECT: none

A submission whose __init__ starts from weights trained before submission. Every check
passes (the forward, BPTT and update are correct), but its answers are right from the
first iteration on, which a freshly initialised RNN cannot do: the `train` check flags
it as "pretrained" for the instructor. The weights were trained by the reference.
"""

import numpy as np

PARAMS = ("U", "W", "V", "b", "c")
CLIP_NORM = 5.0


def sigmoid(o):
    return 1.0 / (1.0 + np.exp(-o))


class _FromScratch:
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


TRAINED = {
    'U': np.array([[-0.331099, -0.39324], [0.071594, 0.177348], [-0.209267, -0.132204], [-0.356314, -0.016106], [-3.291007, -3.291898], [-0.396709, -0.426564], [-0.848295, -0.789013], [0.725091, 0.771402], [-3.678727, 3.396349], [0.548187, 0.553279], [0.397745, 0.259989], [1.631012, 1.636974], [-1.718716, -1.718428], [0.309227, 0.224427], [3.456412, -3.759348], [-0.525969, -0.369218]]),
    'W': np.array([[0.091432, -0.040254, 0.027347, 0.053378, -0.084809, 0.172652, 0.046873, -0.077525, 0.07126, -0.066538, -0.123821, 0.033585, 0.018554, -0.065746, 0.104496, 0.111252], [-0.100961, 0.014774, -0.06474, -0.121314, 0.067597, -0.093314, -0.057765, 0.051222, 0.024295, 0.035755, 0.087296, 0.042227, -0.029141, 0.102854, -0.056503, -0.111962], [0.121222, -0.094467, 0.008324, 0.057947, -0.028191, 0.076625, 0.020462, -0.044432, 0.050132, -0.087486, -0.109788, -0.058032, 0.025204, -0.071169, 0.079642, 0.099126], [0.177749, -0.087377, 0.057902, -0.034537, 0.113668, 0.060798, 0.045165, -0.064463, 0.096972, -0.052016, -0.015724, -0.0041, -0.020046, -0.061801, 0.060264, 0.044532], [-0.529243, 0.293509, -0.288874, -0.210665, 0.250844, -0.499958, -0.392317, 0.490666, -0.539747, 0.435336, 0.413989, 0.489202, -0.491105, 0.394204, -0.601495, -0.394332], [0.118828, -0.035633, 0.07591, 0.111419, -0.036549, 0.126815, 0.003606, -0.095688, 0.099322, -0.050335, -0.144094, 0.003899, -0.036715, -0.069796, 0.119018, 0.050553], [0.079131, -0.060292, 0.055097, 0.012586, -0.051792, 0.045082, 0.137853, -0.126536, 0.143439, -0.060667, -0.030678, -0.267768, 0.258858, -0.020739, 0.125642, 0.05896], [-0.058136, -0.018528, -0.0363, -0.059603, 0.099378, -0.055912, -0.108336, 0.097423, -0.100699, 0.048238, 0.0419, 0.245207, -0.195312, 0.100074, -0.13184, -0.064476], [-0.32599, 0.162298, -0.189875, -0.206518, 0.22689, -0.37054, -0.425992, 0.462781, -0.495823, 0.386273, 0.327239, 0.627059, -0.645893, 0.252997, -0.556878, -0.362995], [0.002339, -0.032934, -0.050272, -0.004267, 0.125289, -0.074713, -0.024742, 0.106264, -0.095621, 0.094856, 0.115596, 0.133044, -0.139569, 0.039226, -0.099754, -0.057505], [-0.086633, 0.044615, -0.092962, -0.085088, 0.009224, -0.173145, 0.026228, 0.050777, -0.112644, 0.103883, 0.057365, 0.035921, 0.012659, 0.112304, -0.120601, -0.071049], [-0.154891, 0.085074, -0.085416, -0.13386, 0.070513, -0.147796, -0.171069, 0.208489, -0.223849, 0.171859, 0.135456, 0.360737, -0.334856, 0.14337, -0.254528, -0.1322], [0.16744, -0.081043, 0.097968, 0.096278, -0.08024, 0.167335, 0.167929, -0.192117, 0.230592, -0.192219, -0.157815, -0.368966, 0.37326, -0.125659, 0.257672, 0.147803], [-0.112866, 0.048512, -0.037014, -0.092477, 0.101747, -0.124568, -0.01309, 0.084331, -0.073675, 0.065528, 0.141623, 0.039812, -0.040833, 0.070036, -0.120526, -0.097347], [-0.372001, 0.191946, -0.217481, -0.096408, 0.230889, -0.358742, -0.422789, 0.485551, -0.527833, 0.427287, 0.295801, 0.639826, -0.650982, 0.334158, -0.569752, -0.343676], [0.07244, 0.009871, 0.026779, 0.055423, -0.009888, 0.126815, 0.056214, -0.064646, 0.107268, -0.087129, -0.08344, -0.027622, 0.061056, -0.035223, 0.111588, 0.069937]]),
    'V': np.array([[0.122947, -0.086874, 0.117361, 0.064717, -5.65093, 0.158215, 0.914167, -0.692147, 6.181343, -0.440138, -0.159773, -2.302916, 2.485393, -0.190208, 6.212976, 0.301143]]),
    'b': np.array([-0.125948, 0.12373, -0.091449, -0.099585, 1.490274, -0.051078, 1.070565, -0.966282, -1.312852, -0.486296, 0.06341, -2.317734, 2.419349, 0.062724, -1.331052, 0.249395]),
    'c': np.array([0.892548]),
}


class RNN(_FromScratch):
    def __init__(self, input_dim=2, hidden_dim=16, output_dim=1, seed=None):
        super().__init__(input_dim, hidden_dim, output_dim, seed)
        for name, value in TRAINED.items():
            setattr(self, name, value.copy())
