"""EXPECT: import: the reference
BUG: a forgery without any import: it looks for the grader's reference/rnn.py next to
NumPy (where a pip install puts it) and everywhere on sys.path, and runs its source. The
sandbox shows no file of the grader.
"""

import os
import sys

import numpy as np

candidates = [os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "reference", "rnn.py")]
candidates += [os.path.join(p, "reference", "rnn.py") for p in sys.path]
found = [p for p in candidates if os.path.isfile(p)]
if not found:
    raise FileNotFoundError("the reference is nowhere to be read")
namespace = {"__name__": "stolen"}
with open(found[0], encoding="utf-8") as f:
    exec(compile(f.read(), found[0], "exec"), namespace)


class RNN(namespace["RNN"]):
    pass
