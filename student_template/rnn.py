"""Lab 4: a vanilla RNN trained with back-propagation through time (BPTT), in NumPy.

The task: learn 8-bit binary addition. The network reads the two operands A and B one bit
at a time, least significant bit first, and at every step outputs one bit of C = A + B.
The carry is what it has to remember from one step to the next.

Fill in every function that raises NotImplementedError. Keep the names and signatures:
the grader imports this file, builds `RNN(seed=s)` and calls `forward`, `backward` and
`update` itself (see README.md). Use only NumPy and the Python standard library, and keep
all training code under `if __name__ == "__main__":` at the bottom, so importing this file
trains nothing.

Notation (one sequence of length T; in this lab T = 8, input_dim = 2, output_dim = 1):

    x_t   (input_dim,)    input at step t              h_t   (hidden_dim,)  hidden state
    a_t = b + W h_{t-1} + U x_t                        h_t = tanh(a_t)       with h_{-1} = 0
    o_t = c + V h_t                                    yhat_t = sigmoid(o_t)
"""

from __future__ import annotations

import numpy as np

BITS = 8  # bits of A, B and C
OPERAND_MAX = 128  # A and B are drawn from [0, OPERAND_MAX), so C = A + B < 256


# --------------------------------------------------------------------------- data


def int_to_bits(n: int, bits: int = BITS) -> np.ndarray:
    """The binary digits of the integer `n`, least significant bit FIRST.

    Returns a float64 array of shape (bits,) holding 0.0 and 1.0; element t is bit t of n,
    i.e. (n >> t) & 1. Example: int_to_bits(6) -> [0, 1, 1, 0, 0, 0, 0, 0].

    Least significant bit first matters: the RNN reads the sequence from t = 0 upwards,
    and the carry of an addition flows from the low bits to the high bits.
    """
    raise NotImplementedError("int_to_bits: return bit t of n at index t (LSB first), as float64")


def bits_to_int(bits: np.ndarray) -> int:
    """The inverse of int_to_bits: bits (LSB first, an entry >= 0.5 counts as 1) -> integer.

    Useful to turn a prediction yhat[:, 0] back into a number, e.g. to print A + B = C.
    """
    raise NotImplementedError("bits_to_int: sum 2**t over the positions t whose bit is >= 0.5")


def make_sample(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int, int]:
    """One training example: draw A and B uniformly from [0, OPERAND_MAX) with `rng`.

    Returns (x, y, A, B):
      x  shape (BITS, 2): x[t] = (bit t of A, bit t of B)
      y  shape (BITS, 1): y[t] = bit t of C = A + B
    all float64, least significant bit first. Hint: rng.integers(0, OPERAND_MAX).
    """
    raise NotImplementedError(
        "make_sample: draw A, B with rng.integers, build x (BITS, 2) and y (BITS, 1) LSB first"
    )


# --------------------------------------------------------------------------- model


class RNN:
    """A vanilla RNN: tanh hidden layer, sigmoid output, trained one sequence at a time."""

    def __init__(
        self, input_dim: int = 2, hidden_dim: int = 16, output_dim: int = 1, seed: int | None = None
    ) -> None:
        """Create the parameters as PUBLIC attributes (the grader reads and overwrites them):

            self.U  shape (hidden_dim, input_dim)    input  -> hidden
            self.W  shape (hidden_dim, hidden_dim)   hidden -> hidden
            self.V  shape (output_dim, hidden_dim)   hidden -> output
            self.b  shape (hidden_dim,)              hidden bias
            self.c  shape (output_dim,)              output bias

        Mind the orientation: U is (16, 2), not (2, 16), so that U @ x_t is a column of
        the hidden layer. All five must be float64 NumPy arrays.

        Seeding: draw every random number from `rng = np.random.default_rng(seed)`, so the
        same seed gives the same network (seed None gives a different one each time).

        Initialisation: small random weights train best here. Something like
        N(0, (0.5 / sqrt(fan_in))^2) for U and V and a smaller scale, such as
        N(0, (0.1 / sqrt(hidden_dim))^2), for W; b and c can start at zero. With large
        weights the recurrence saturates tanh or explodes early in training.

        Also remember input_dim, hidden_dim and output_dim if you need them later.
        """
        raise NotImplementedError(
            "__init__: create self.U, self.W, self.V, self.b, self.c (float64, shapes above) "
            "from np.random.default_rng(seed)"
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Run the network over one sequence and return yhat.

        x has shape (T, input_dim); row t is the input x_t (here bit t of A and of B,
        least significant bit first). T is any length >= 1: do not hard-code 8.
        Returns yhat, shape (T, output_dim), every value in (0, 1):

            h_{-1} = 0                         (EVERY call starts from zero: no state is
                                                carried over from the previous sequence)
            a_t = b + W h_{t-1} + U x_t        h_t = tanh(a_t)
            o_t = c + V h_t                    yhat_t = sigmoid(o_t) = 1 / (1 + exp(-o_t))

        Save on `self` what backward needs: the inputs x_t, every hidden state h_t
        (including h_{-1} = 0) and every yhat_t. Return a new array each call.
        """
        raise NotImplementedError(
            "forward: loop t = 0..T-1 from h = 0, compute h_t and yhat_t, cache them, return yhat"
        )

    def backward(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """BPTT: the gradient of the loss of the LAST forward's sequence.

        y has shape (T, output_dim): the 0/1 targets (bit t of C at row t). Return a dict
        with exactly the keys "U", "W", "V", "b", "c", each array the shape of its
        parameter. Do not change the parameters here.

        The loss L is summed over the time steps. Pick ONE of the two losses the grader
        accepts; both lead to the same recursion, only dL/do_t differs:

            "bce"  L = -sum_t [ y_t log yhat_t + (1 - y_t) log(1 - yhat_t) ]
                   dL/do_t = yhat_t - y_t
            "mse"  L = sum_t 1/2 (yhat_t - y_t)^2
                   dL/do_t = (yhat_t - y_t) * yhat_t * (1 - yhat_t)

        In words, going backwards from t = T-1 down to 0:
          * do_t = dL/do_t (above). It reaches V and c directly:
            dV += do_t h_t^T (an outer product), dc += do_t.
          * The hidden state h_t influences the loss twice: through o_t now and through
            a_{t+1} at the next step. So dL/dh_t = V^T do_t + W^T da_{t+1}, where da_T = 0
            (nothing comes after the last step).
          * Through the tanh: da_t = dL/dh_t * (1 - h_t^2), elementwise.
          * da_t reaches the parameters of a_t: dW += da_t h_{t-1}^T, dU += da_t x_t^T,
            db += da_t. At t = 0, h_{-1} = 0, so that step adds nothing to dW.

        Return the FULL gradient, UNCLIPPED: gradient clipping, if you use it, belongs in
        `update`. The grader compares these numbers with finite differences of L.
        """
        raise NotImplementedError(
            "backward: compute do_t, then da_t from t = T-1 down to 0, and return the unclipped "
            'gradients {"U", "W", "V", "b", "c"}'
        )

    def update(self, grads: dict[str, np.ndarray], alpha: float) -> None:
        """One step of stochastic gradient descent: p -= alpha * grads[name] for every
        parameter p in U, W, V, b, c.

        `grads` has the keys and shapes that backward returns, but it need not come from
        your backward (the grader also passes gradients of its own). Change the parameters
        in place or assign new arrays, as long as the shapes stay the same.

        Gradient clipping goes here, not in backward. With the bce loss and alpha = 0.1 the
        gradients occasionally explode and a run can diverge; rescaling each gradient whose
        norm is above a threshold, g <- g * (threshold / ||g||), keeps training stable (the
        reference uses a threshold of 5). Clipping may only shrink a gradient whose norm is
        above 1: a small gradient must give exactly p - alpha * g.
        """
        raise NotImplementedError("update: p -= alpha * grads[name] for U, W, V, b, c (clip here)")


# --------------------------------------------------------------------------- training

if __name__ == "__main__":
    # Runs only with `python rnn.py`, never when the grader imports this file.
    rng = np.random.default_rng(0)
    model = RNN(input_dim=2, hidden_dim=16, output_dim=1, seed=0)
    alpha = 0.1
    correct = 0
    for iteration in range(1, 20001):
        x, y, a, b = make_sample(rng)
        yhat = model.forward(x)
        if np.array_equal(yhat >= 0.5, y >= 0.5):  # all 8 bits of C right
            correct += 1
        grads = model.backward(y)
        model.update(grads, alpha)
        if iteration % 1000 == 0:
            guess = bits_to_int(yhat[:, 0])
            print(
                f"iteration {iteration:5d}  accuracy of the last 1000: {correct / 1000:.3f}  "
                f"e.g. {a} + {b} = {guess}"
            )
            correct = 0
