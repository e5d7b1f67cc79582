"""Takes more than one core: four processes (or, where none may start, threads) spin for
two seconds. Prints the cores used; more than about one is an escape of the CPU share."""

import os
import threading
import time

from _attempt import attempt
from _correct import Correct

WORKERS, SECONDS = 4, 2.0
AMBIGUOUS = (1.1, 1.3)


def _spin():
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        pass


def _cores():
    started, cpu = time.monotonic(), os.times()
    pids = []
    for _ in range(WORKERS):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            _spin()
            os._exit(0)
        pids.append(pid)
    threads = []
    if not pids:
        for _ in range(WORKERS):
            try:
                thread = threading.Thread(target=_spin)
                thread.start()
            except RuntimeError:
                break
            threads.append(thread)
    _spin()
    for pid in pids:
        os.waitpid(pid, 0)
    for thread in threads:
        thread.join()
    now = os.times()
    used = (now.user + now.system + now.children_user + now.children_system
            - cpu.user - cpu.system - cpu.children_user - cpu.children_system)
    cores = used / (time.monotonic() - started)
    print(f"CORES {cores:.2f} with {len(pids)} processes and {len(threads)} threads", flush=True)
    return cores


def _escape():
    """More than 1.3 cores is an escape; a figure just above one core (a busy shared machine
    steals time) is measured again, twice at most."""
    for _ in range(3):
        cores = _cores()
        if not AMBIGUOUS[0] < cores <= AMBIGUOUS[1]:
            break
    return cores > AMBIGUOUS[1] and f"{cores:.2f} cores"


class RNN(Correct):
    def forward(self, x):
        attempt("use more than one core", _escape)
        return super().forward(x)
