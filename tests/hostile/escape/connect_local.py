"""Connects to a TCP listener of the test's on 127.0.0.1."""

import socket

from _attempt import TARGETS, attempt, model


def _connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"LEAK")
    return f"connected to port {port}"


def _try():
    if "port" in TARGETS:
        attempt("connect to 127.0.0.1", lambda: _connect(TARGETS["port"]))


RNN = model(_try)
