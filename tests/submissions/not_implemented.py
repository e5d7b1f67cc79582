"""EXPECT: api: not implemented
BUG: the unfilled template: every method raises NotImplementedError.

Lab 4: a vanilla RNN that learns 8-bit binary addition, trained with BPTT.

Fill in the methods below (see the contract for the model, the shapes and the loss).
"""

import numpy as np


class RNN:
    def __init__(self, input_dim=2, hidden_dim=16, output_dim=1, seed=None):
        """Create U (hidden, input), W (hidden, hidden), V (output, hidden), b, c as float64."""
        # TODO: initialise the parameters with np.random.default_rng(seed)
        raise NotImplementedError("RNN.__init__ is not implemented yet")

    def forward(self, x):
        """x (T, input_dim) -> yhat (T, output_dim), starting from h_{-1} = 0."""
        # TODO
        raise NotImplementedError("RNN.forward is not implemented yet")

    def backward(self, y):
        """The full BPTT gradient of the loss for the last forward, {"U", "W", "V", "b", "c"}."""
        # TODO
        raise NotImplementedError("RNN.backward is not implemented yet")

    def update(self, grads, alpha):
        """One SGD step p -= alpha * grads[name] for every parameter."""
        # TODO
        raise NotImplementedError("RNN.update is not implemented yet")


if __name__ == "__main__":
    model = RNN(seed=0)
    print(np.__version__, model)
