"""update raises KeyboardInterrupt (a BaseException, not an Exception)."""

from _honest import Honest


class RNN(Honest):
    def update(self, grads, alpha):
        raise KeyboardInterrupt("stop")
