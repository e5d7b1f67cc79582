"""Does not compile."""

import numpy as np


class RNN:
    def forward(self, x)
        return x
