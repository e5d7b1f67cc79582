"""EXPECT: import: No module named 'reference'
BUG: a forgery: the grader's reference imported under a name built at run time, which no
scan of the source can see; the sandbox offers no such module.
"""

import importlib

_Stolen = importlib.import_module("".join(["ref", "er", "ence", ".rnn"])).RNN


class RNN(_Stolen):
    pass
