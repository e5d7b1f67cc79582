"""The shape of the classic blog-post binary-addition RNN this lab grew from, as students
adapt it to the contract: a global int-to-bits lookup, synapse matrices, a loop that walks
the bits from the least significant one while storing every hidden layer, then a backward
loop that carries the future hidden delta. Written out for the similarity check."""

import copy

import numpy as np

np.random.seed(0)

int2binary = {}
binary_dim = 8
largest_number = pow(2, binary_dim)
binary = np.unpackbits(np.array([range(largest_number)], dtype=np.uint8).T, axis=1)
for i in range(largest_number):
    int2binary[i] = binary[i]

alpha = 0.1
input_dim = 2
hidden_dim = 16
output_dim = 1


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_output_to_derivative(output):
    return output * (1 - output)


def tanh_output_to_derivative(output):
    return 1 - output ** 2


class RNN:
    def __init__(self, input_dim=2, hidden_dim=16, output_dim=1, seed=None):
        rng = np.random.default_rng(seed)
        self.U = 2 * rng.random((hidden_dim, input_dim)) - 1
        self.W = 2 * rng.random((hidden_dim, hidden_dim)) - 1
        self.V = 2 * rng.random((output_dim, hidden_dim)) - 1
        self.b = np.zeros(hidden_dim)
        self.c = np.zeros(output_dim)

    def forward(self, x):
        self.layer_0_values = []
        self.layer_1_values = [np.zeros(self.W.shape[0])]
        self.layer_2_values = []
        for position in range(len(x)):
            layer_0 = x[position]
            layer_1 = np.tanh(np.dot(self.U, layer_0) + np.dot(self.W, self.layer_1_values[-1]) + self.b)
            layer_2 = sigmoid(np.dot(self.V, layer_1) + self.c)
            self.layer_0_values.append(layer_0)
            self.layer_1_values.append(copy.deepcopy(layer_1))
            self.layer_2_values.append(layer_2)
        return np.array(self.layer_2_values)

    def backward(self, y):
        U_update = np.zeros_like(self.U)
        W_update = np.zeros_like(self.W)
        V_update = np.zeros_like(self.V)
        b_update = np.zeros_like(self.b)
        c_update = np.zeros_like(self.c)
        future_layer_1_delta = np.zeros(self.W.shape[0])
        for position in range(len(self.layer_2_values)):
            t = len(self.layer_2_values) - position - 1
            layer_0 = self.layer_0_values[t]
            layer_1 = self.layer_1_values[t + 1]
            prev_layer_1 = self.layer_1_values[t]
            layer_2_delta = self.layer_2_values[t] - y[t]
            layer_1_delta = (np.dot(self.W.T, future_layer_1_delta) + np.dot(self.V.T, layer_2_delta)) \
                * tanh_output_to_derivative(layer_1)
            V_update += np.outer(layer_2_delta, layer_1)
            c_update += layer_2_delta
            W_update += np.outer(layer_1_delta, prev_layer_1)
            U_update += np.outer(layer_1_delta, layer_0)
            b_update += layer_1_delta
            future_layer_1_delta = layer_1_delta
        return {"U": U_update, "W": W_update, "V": V_update, "b": b_update, "c": c_update}

    def update(self, grads, alpha):
        for name in ("U", "W", "V", "b", "c"):
            g = grads[name]
            norm = np.linalg.norm(g)
            if norm > 5:
                g = g * 5 / norm
            setattr(self, name, getattr(self, name) - alpha * g)


if __name__ == "__main__":
    model = RNN(seed=0)
    overall_error = 0
    for j in range(20000):
        a_int = np.random.randint(largest_number / 2)
        b_int = np.random.randint(largest_number / 2)
        a, b = int2binary[a_int][::-1], int2binary[b_int][::-1]
        c = int2binary[a_int + b_int][::-1]
        x = np.stack([a, b], axis=1).astype(float)
        d = model.forward(x)
        model.update(model.backward(c[:, None]), alpha)
        if j % 1000 == 0:
            print("pred:", np.round(d[:, 0][::-1]).astype(int), "true:", c[::-1])
