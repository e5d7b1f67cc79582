"""EXPECT: import: No module named 'reference'
ALSO: policy
BUG: a forgery: the grader's own reference, subclassed (`from reference.rnn import RNN`).
The sandbox offers no such module, and the policy check names it.
"""

from reference.rnn import RNN as _Reference


class RNN(_Reference):
    pass
