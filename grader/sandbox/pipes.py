"""The parent's ends of the child's pipes: reads and writes with deadlines, and a capped
capture of everything the child prints (a child printing gigabytes neither deadlocks nor
fills the grader's memory)."""

from __future__ import annotations

import os
import select
import subprocess
import threading
import time


class Expired(Exception):
    pass


class Died(Exception):
    pass


class Pipe:
    """A non-blocking pipe end whose reads and writes give up at `deadline`, and notice
    when the child process has ended (a grandchild may still hold the other end)."""

    def __init__(self, fd: int, events: int, proc: subprocess.Popen) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self.poller = select.poll()
        self.poller.register(fd, events)
        self.proc = proc
        self.deadline = 0.0

    def _wait(self) -> None:
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise Expired
            if self.poller.poll(min(remaining, 0.1) * 1000 + 1):
                return
            if self.proc.poll() is not None:
                # Ended; a last look at what it may have written just before.
                if not self.poller.poll(0):
                    raise Died

    def readinto(self, view: memoryview) -> int:
        while True:
            try:
                return os.readv(self.fd, [view])
            except BlockingIOError:
                self._wait()

    def write(self, data: memoryview) -> int:
        while True:
            try:
                return os.write(self.fd, data)
            except BlockingIOError:
                self._wait()

    def close(self) -> None:
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1

    def pending(self) -> bytes | None:
        """Bytes already waiting (b"" at end of file), None if there are none."""
        if not self.poller.poll(0):
            return None
        try:
            return os.read(self.fd, 4096)
        except BlockingIOError:
            return None
        except OSError:
            return b""


class Capture:
    """Drains the child's stdout+stderr: keeps the first and last `cap/2` bytes. A thread
    polls and reads what is there, and so may the caller (portable_pipes.ThreadedCapture
    where pipes cannot be polled)."""

    def __init__(self, fd: int, cap: int) -> None:
        self.fd = fd
        self._prepare()
        self.head_cap = cap // 2
        self.tail_cap = cap - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.eof = False
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sandbox-output", daemon=True)
        self.thread.start()

    def _prepare(self) -> None:
        os.set_blocking(self.fd, False)

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while not self.stop.is_set() and not self.eof:
            if poller.poll(100):
                self.read_available()

    def read_available(self) -> None:
        with self.lock:
            for _ in range(256):
                if self.eof or self.fd < 0:
                    return
                try:
                    data = os.read(self.fd, 1 << 16)
                except BlockingIOError:
                    return
                except OSError:
                    self.eof = True
                    return
                if not data:
                    self.eof = True
                    return
                self._add(data)

    def _add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.tail_cap:
                del self.tail[: -self.tail_cap]

    def text(self) -> str:
        with self.lock:
            head, tail = bytes(self.head), bytes(self.tail[-self.tail_cap :] if self.tail_cap else b"")
            cut = self.total - len(head) - len(tail)
        marker = f"\n[... {cut} bytes cut ...]\n".encode() if cut > 0 else b""
        return (head + marker + tail).decode("utf-8", "replace")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(1.0)
        self.read_available()
        with self.lock:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1


