"""Frames between the grader and its sandboxed worker, without pickle.

A frame is

    4 bytes   little-endian unsigned length n of the header (1 <= n <= MAX_HEADER)
    n bytes   a JSON object (UTF-8); its "arrays" entry lists the payload:
              [[name, "<f8", [d0, d1, ...]], ...]
    payload   the raw little-endian float64 bytes of each listed array, in order

Only "<f8" is accepted, at most MAX_ARRAYS arrays of at most MAX_DIMS dimensions and
MAX_PAYLOAD bytes in total. `read_frame` checks all of that *before* it reads a byte of
payload, so a hostile writer can make it fail (ProtocolError) but not allocate, unpickle
or execute anything. Nothing here ever calls pickle, marshal or np.load.

This file is also loaded by path inside the worker (which runs with `python -I`, so the
`grader` package is not importable there); it must depend on nothing but the standard
library and NumPy.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

MAX_HEADER = 64 * 1024  # bytes of JSON
MAX_ARRAYS = 16
MAX_DIMS = 4
MAX_PAYLOAD = 64 << 20  # bytes of array data in one frame
MAX_NAME = 64  # characters of an array name
DTYPE = "<f8"

_LENGTH = struct.Struct("<I")
_F8 = np.dtype(DTYPE)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a frame header")


def _plain_scalar(value: object) -> object:
    """NumPy scalars in a header (np.int64 is no int to json) become Python ones."""
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    raise TypeError(f"{type(value).__name__} cannot go in a frame header")


# Bound once, so code that later rebinds `json.dumps` / `json.loads` (a submission shares
# the worker's interpreter) does not change how frames are written or read.
_ENCODER = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"), default=_plain_scalar)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


class ProtocolError(Exception):
    """A frame that is malformed, too large, or not what the other side should send."""


class ChannelClosed(ProtocolError):
    """End of file where a frame should start: the other side closed the pipe (or died)."""


def _is_index(value: object) -> bool:
    return type(value) is int and value >= 0


def _write_all(fileobj: Any, data: bytes | memoryview) -> None:
    view = memoryview(data).cast("B")
    while view.nbytes:
        written = fileobj.write(view)
        if written is None:  # a non-blocking raw file that is full: the caller's problem
            raise BlockingIOError("pipe is full")
        view = view[written:]


def encode_header(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[bytes, list[np.ndarray]]:
    """The length prefix + JSON header bytes, and the arrays to send after it, validated."""
    if not isinstance(header, dict):
        raise ProtocolError("a frame header must be a dict")
    if len(arrays) > MAX_ARRAYS:
        raise ProtocolError(f"{len(arrays)} arrays in one frame (at most {MAX_ARRAYS})")
    specs, payload, total = [], [], 0
    for name, a in arrays.items():
        if type(name) is not str or not 0 < len(name) <= MAX_NAME:
            raise ProtocolError(f"bad array name {name!r:.80}")
        if type(a) is not np.ndarray or a.dtype.kind not in "biuf":
            raise ProtocolError(f"array {name!r} is not a plain numeric ndarray")
        if a.ndim > MAX_DIMS:
            raise ProtocolError(f"array {name!r} has {a.ndim} dimensions (at most {MAX_DIMS})")
        a = np.asarray(a, dtype=_F8, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        total += a.nbytes
        if total > MAX_PAYLOAD:
            raise ProtocolError(f"frame payload above {MAX_PAYLOAD} bytes")
        specs.append([name, DTYPE, list(a.shape)])
        payload.append(a)
    body = dict(header)
    body["arrays"] = specs
    try:
        text = _ENCODER.encode(body).encode("ascii")
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"header cannot be encoded: {exc}") from None
    if len(text) > MAX_HEADER:
        raise ProtocolError(f"header of {len(text)} bytes (at most {MAX_HEADER})")
    return _LENGTH.pack(len(text)) + text, payload


def write_frame(
    fileobj: Any, header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None
) -> None:
    """Write one frame to a binary file object (raw or buffered; flushed if it can be)."""
    head, payload = encode_header(header, arrays or {})
    _write_all(fileobj, head)
    for a in payload:
        if a.nbytes:
            _write_all(fileobj, a.data)
    flush = getattr(fileobj, "flush", None)
    if flush is not None:
        flush()


def _read_exact(fileobj: Any, n: int, what: str, at_start: bool = False) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    readinto = getattr(fileobj, "readinto", None)
    while got < n:
        if readinto is not None:
            k = readinto(view[got:])
        else:
            chunk = fileobj.read(n - got)
            k = len(chunk) if chunk is not None else None
            if k:
                view[got : got + k] = chunk
        if k is None:
            raise ProtocolError(f"no data available while reading the {what}")
        if k == 0:
            if at_start and got == 0:
                raise ChannelClosed("the channel was closed")
            raise ProtocolError(f"end of file inside the {what} ({got} of {n} bytes)")
        got += k
    return buf


def parse_header(text: bytes | bytearray) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...]]], int]:
    """Decode and validate a header: (header without "arrays", [(name, shape)], payload bytes)."""
    try:
        header = _DECODER.decode(bytes(text).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"header is not valid JSON: {str(exc)[:120]}") from None
    if type(header) is not dict:
        raise ProtocolError("header is not a JSON object")
    specs = header.pop("arrays", [])
    if type(specs) is not list or len(specs) > MAX_ARRAYS:
        raise ProtocolError(f'"arrays" must be a list of at most {MAX_ARRAYS} entries')
    layout: list[tuple[str, tuple[int, ...]]] = []
    names: set[str] = set()
    total = 0
    for spec in specs:
        if type(spec) is not list or len(spec) != 3:
            raise ProtocolError("an array entry must be [name, dtype, shape]")
        name, dtype, shape = spec
        if type(name) is not str or not 0 < len(name) <= MAX_NAME or name in names:
            raise ProtocolError(f"bad or repeated array name {name!r:.80}")
        if dtype != DTYPE:
            raise ProtocolError(f"array {name!r}: dtype {dtype!r:.20} is not allowed (only {DTYPE})")
        if type(shape) is not list or len(shape) > MAX_DIMS or not all(map(_is_index, shape)):
            raise ProtocolError(f"array {name!r}: bad shape {shape!r:.80}")
        size = 8
        for d in shape:
            size *= d
            if size > MAX_PAYLOAD:
                break
        total += size
        if total > MAX_PAYLOAD:
            raise ProtocolError(f"frame payload above {MAX_PAYLOAD} bytes")
        names.add(name)
        layout.append((name, tuple(shape)))
    return header, layout, total


def read_frame(fileobj: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read one frame: (header without its "arrays" entry, {name: float64 array}).

    Raises ChannelClosed (a ProtocolError) on end of file before the frame, ProtocolError
    on anything else that is not a well-formed frame within the caps.
    """
    (length,) = _LENGTH.unpack(_read_exact(fileobj, 4, "frame length", at_start=True))
    if not 0 < length <= MAX_HEADER:
        raise ProtocolError(f"header length {length} outside 1..{MAX_HEADER}")
    header, layout, total = parse_header(_read_exact(fileobj, length, "header"))
    arrays: dict[str, np.ndarray] = {}
    if layout:
        buf = _read_exact(fileobj, total, "payload") if total else bytearray()
        offset = 0
        for name, shape in layout:
            count = 1
            for d in shape:
                count *= d
            if count:
                arrays[name] = np.frombuffer(buf, _F8, count, offset).reshape(shape)
            else:
                arrays[name] = np.empty(shape, dtype=_F8)
            offset += 8 * count
    return header, arrays
