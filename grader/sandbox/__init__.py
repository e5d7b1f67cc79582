"""Untrusted processes: where a submission's code runs, and the only place it runs.

probe.py finds out what this machine can isolate, view.py lists what the child may see,
jail.py (or bubblewrap) builds that world, cgroups.py limits it as a whole, process.py
runs and talks to the worker (worker.py) over the frames of protocol.py, pipes.py
carries them.
"""

from .probe import Isolation, isolation
from .process import (
           Pending,
           Reply,
           Sandbox,
           SandboxCrashed,
           SandboxTimeout,
           StudentError,
           describe_status,
)
from .protocol import ProtocolError

__all__ = ["Isolation", "Pending", "ProtocolError", "Reply", "Sandbox", "SandboxCrashed", "SandboxTimeout",
           "StudentError", "describe_status", "isolation"]
