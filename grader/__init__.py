"""bptt-grader: sandboxed checks and batch grading for the vanilla-RNN / BPTT lab."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bptt-grader")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
