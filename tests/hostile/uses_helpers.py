"""A valid submission that imports a sibling module and uses a dataclass (needs
sys.modules registration) and the json module, and prints at import."""

import json
from dataclasses import dataclass

import numpy as np

from _honest import Honest

print("imported", json.dumps({"ok": True}))


@dataclass
class Config:
    scale: float = 0.5


class RNN(Honest):
    def forward(self, x):
        return np.full((len(x), 1), Config().scale)
