"""forward allocates until the address-space limit stops it."""

from _honest import Honest


class RNN(Honest):
    def forward(self, x):
        hoard = []
        while True:
            hoard.append(bytearray(16 << 20))
