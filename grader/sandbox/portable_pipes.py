"""The parent's ends of the child's pipes where pipes cannot be polled (Windows; the
"portable" mode everywhere): a thread per pipe does the blocking reads or writes, and
the caller waits for it until its deadline, exactly as pipes.Pipe lets it; the output
is captured as pipes.Capture does, by a thread that blocks.

Each thread owns its descriptor and closes it itself when the child's end is gone: a
descriptor closed under a blocked thread could be reused by the next sandbox's pipe, and
the thread's next read would take that sandbox's bytes.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time

from .pipes import Capture, Died, Expired

BUFFERED = 1 << 20  # what the reader holds before it stops reading (a flood waits in the pipe)
EXIT_GRACE = 2.0  # after the child ended, for its last bytes: the reading thread may wait its turn
# on a busy machine (at 50 ms a worker's hello was lost once); only a grandchild that holds the
# pipe open (no end of file) makes it wait this long
SETTLE_QUIET, SETTLE_MOST = 0.05, 2.0  # without poll: how output() knows the pipe is drained


class ThreadedReader:
    """The reply pipe, read by a thread into a bounded buffer; `readinto` takes from it."""

    def __init__(self, fd: int, proc: subprocess.Popen) -> None:
        self.fd, self.proc = fd, proc
        self.deadline = 0.0
        self.buffer = bytearray()
        self.eof = self.stopped = False
        self.ready = threading.Condition()
        threading.Thread(target=self._run, name="sandbox-replies", daemon=True).start()

    def _run(self) -> None:
        try:
            while True:
                with self.ready:
                    while len(self.buffer) >= BUFFERED and not self.stopped:
                        self.ready.wait()
                    if self.stopped:
                        return
                try:
                    data = os.read(self.fd, 1 << 16)
                except OSError:
                    data = b""
                with self.ready:
                    if data:
                        self.buffer += data
                    else:
                        self.eof = True
                    self.ready.notify_all()
                if not data:
                    return
        finally:
            os.close(self.fd)

    def readinto(self, view: memoryview) -> int:
        with self.ready:
            ended_at = None
            while not self.buffer:
                if self.eof:
                    return 0
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise Expired
                if self.proc.poll() is not None:  # ended; a grandchild may hold the pipe open
                    ended_at = ended_at or time.monotonic()
                    if time.monotonic() - ended_at > EXIT_GRACE:
                        raise Died
                self.ready.wait(min(remaining, 0.02 if ended_at else 0.1))
            n = min(len(view), len(self.buffer))
            view[:n] = self.buffer[:n]
            del self.buffer[:n]
            self.ready.notify_all()
            return n

    def pending(self) -> bytes | None:
        """Bytes already waiting (b"" at end of file), None if there are none."""
        with self.ready:
            if self.buffer:
                data = bytes(self.buffer[:4096])
                del self.buffer[:4096]
                self.ready.notify_all()
                return data
            return b"" if self.eof else None

    def close(self) -> None:
        """Stop reading; the thread closes the descriptor once the child's end is gone."""
        with self.ready:
            self.stopped = True
            self.ready.notify_all()


class ThreadedWriter:
    """The command pipe, written by a thread; `write` waits for it until the deadline."""

    def __init__(self, fd: int, proc: subprocess.Popen) -> None:
        self.fd, self.proc = fd, proc
        self.deadline = 0.0
        self.jobs: queue.Queue[memoryview | None] = queue.Queue()
        self.written = threading.Event()
        self.result: int | OSError = 0
        threading.Thread(target=self._run, name="sandbox-commands", daemon=True).start()

    def _run(self) -> None:
        try:
            while (data := self.jobs.get()) is not None:
                try:
                    self.result = os.write(self.fd, data)
                except OSError as exc:
                    self.result = exc
                self.written.set()
        finally:
            os.close(self.fd)

    def write(self, data: memoryview) -> int:
        self.written.clear()
        self.jobs.put(data)
        while not self.written.wait(min(max(self.deadline - time.monotonic(), 0.0), 0.1)):
            if time.monotonic() >= self.deadline:
                raise Expired
            if self.proc.poll() is not None:
                raise Died
        if isinstance(self.result, OSError):
            raise BrokenPipeError(str(self.result))
        return self.result

    def close(self) -> None:
        """No more commands; the thread closes the descriptor after a write in progress."""
        self.jobs.put(None)


class ThreadedCapture(Capture):
    """pipes.Capture without poll: the thread alone reads, blocking, and closes the pipe at
    its end; the caller's read_available lets it take what is already there."""

    reads = 0  # reads the thread has done: still while the pipe is drained

    def _prepare(self) -> None:
        pass  # stays blocking

    def _run(self) -> None:
        try:
            while data := os.read(self.fd, 1 << 16):
                with self.lock:
                    self._add(data)
                    self.reads += 1
        except OSError:
            pass
        finally:
            with self.lock:
                self.eof = True
                os.close(self.fd)
                self.fd = -1

    def read_available(self) -> None:
        """Wait until the thread has read nothing new for SETTLE_QUIET seconds (what the
        child printed before its last reply is then in; at most SETTLE_MOST seconds)."""
        end, seen = time.monotonic() + SETTLE_MOST, None
        while time.monotonic() < end:
            with self.lock:
                if self.eof or self.reads == seen:
                    return
                seen = self.reads
            time.sleep(SETTLE_QUIET)

    def close(self) -> None:
        """Stop waiting; the thread closes the descriptor once the child's end is gone."""
        self.stop.set()
        self.thread.join(1.0)
