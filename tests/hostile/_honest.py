"""A minimal model the hostile fixtures build on (imported as a sibling module)."""

import numpy as np


class Honest:
    def __init__(self, input_dim=2, hidden_dim=16, output_dim=1, seed=None):
        self.U = np.zeros((hidden_dim, input_dim))
        self.W = np.zeros((hidden_dim, hidden_dim))
        self.V = np.zeros((output_dim, hidden_dim))
        self.b = np.zeros(hidden_dim)
        self.c = np.zeros(output_dim)

    def forward(self, x):
        return np.full((len(x), self.c.shape[0]), 0.25)

    def backward(self, y):
        return {k: np.zeros_like(getattr(self, k)) for k in "UWVbc"}

    def update(self, grads, alpha):
        for k in "UWVbc":
            setattr(self, k, getattr(self, k) - alpha * grads[k])
