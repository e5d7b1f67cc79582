"""What every escape probe shares: try one forbidden thing; if it works, say so loudly.

The test passes what to aim at in HOSTILE_TARGETS (JSON: host paths, a pid, a port) and a
marker name in HOSTILE_MARK. An attempt that succeeds raises `Escaped` (the grader then
reports a StudentError whose text starts with ESCAPED) and, where it can, leaves a marker
file that the test looks for on the host.
"""

import json
import os

from _correct import Correct

TARGETS = json.loads(os.environ.get("HOSTILE_TARGETS", "{}"))
MARK = os.environ.get("HOSTILE_MARK", "bptt-escape-marker")


class Escaped(Exception):
    pass


def attempt(what, action):
    """Run `action()`; an exception means the sandbox refused it (good)."""
    try:
        detail = action()
    except Exception:  # noqa: BLE001 - refused, whichever way
        return
    if detail is False:  # the action itself found that nothing got through
        return
    raise Escaped(f"ESCAPED {what}: {detail!r}"[:400])


def model(try_all):
    """Run `try_all` now (at import) and at every `forward` of a correct model."""
    try_all()

    class RNN(Correct):
        def forward(self, x):
            try_all()
            return super().forward(x)

    return RNN
