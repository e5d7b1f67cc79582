"""Plants a FIFO and a symlink where the batch writes its logs and results, under the names
later submissions' files get, so that the grader would hang or write through the link."""

import os

from _attempt import MARK, TARGETS, attempt, model


def _plant(folder, name):
    os.mkfifo(os.path.join(folder, name + ".log"))
    os.symlink(f"/etc/{MARK}", os.path.join(folder, name + ".json"))
    return f"planted in {folder}"


def _try():
    for folder in TARGETS.get("out_dirs", []):
        attempt(f"plant in {folder}", lambda folder=folder: _plant(folder, MARK))


RNN = model(_try)
