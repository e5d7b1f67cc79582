"""The parent's ends of the child's pipes: reads and writes with deadlines, and a capped
capture of everything the child prints (a child printing gigabytes neither deadlocks nor
fills the grader's memory)."""

from __future__ import annotations

import os
import select
import subprocess
import threading
import time


SETTLE_QUIET, SETTLE_MOST = 0.05, 2.0  # without poll: how output() knows the pipe is drained


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
            os.close(self.fd)
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
    """Drains the child's stdout+stderr: keeps the first and last `cap/2` bytes. `polled`:
    a thread polls and reads what is there (and so may the caller); otherwise (pipes that
    cannot be polled) the thread alone reads, blocking, and closes the pipe at its end."""

    def __init__(self, fd: int, cap: int, polled: bool = True) -> None:
        self.fd = fd
        self.polled = polled
        if polled:
            os.set_blocking(fd, False)
        self.head_cap = cap // 2
        self.tail_cap = cap - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = self.reads = 0
        self.eof = False
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sandbox-output", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        if not self.polled:
            self._read_blocking()
            return
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while not self.stop.is_set() and not self.eof:
            if poller.poll(100):
                self.read_available()

    def _read_blocking(self) -> None:
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
        if not self.polled:  # the thread reads as bytes come: let it take what is there
            self._settle()
            return
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

    def _settle(self) -> None:
        """Wait until the reading thread has read nothing new for SETTLE_QUIET seconds (what
        the child printed before its last reply is then in; at most SETTLE_MOST seconds)."""
        end, seen = time.monotonic() + SETTLE_MOST, None
        while time.monotonic() < end:
            with self.lock:
                if self.eof or self.reads == seen:
                    return
                seen = self.reads
            time.sleep(SETTLE_QUIET)

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
            if self.fd >= 0 and self.polled:
                os.close(self.fd)
                self.fd = -1


