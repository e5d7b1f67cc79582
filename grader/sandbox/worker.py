"""The sandboxed worker: the only process that runs a submission's code.

Started by grader.sandbox as

    python -I -B worker.py CMD_FD REPLY_FD MODULE CONFIG

with stdin /dev/null and stdout+stderr on the grader's capture pipe. It talks to the
grader over two inherited pipes (commands in on CMD_FD, replies out on REPLY_FD), one
frame per message (grader/protocol.py: JSON header + raw float64 bytes, never pickle).
In the portable mode (macOS, Windows: no descriptor is inherited but the standard three)
the commands come on stdin and the replies go out on stdout instead, config "stdio".

Order of events: move the pipes to high descriptor numbers, set the resource limits,
import NumPy, say hello, import the submission by path, report, then serve one reply per
command until the command pipe closes. It always ends with os._exit.

Trust. The submission shares this process, so it can do anything this file can:
read the pipes' numbers from /proc/self/fd, write its own frames, patch NumPy or json,
walk the stack to find the request id. Moving the pipes and echoing the request id only
stop accidents and lazy forgeries. The grader never trusts what arrives beyond the frame
format, dtype and shape checks: it draws the data, keeps the reference and computes every
score itself, and a reply that is out of step with its request is a ProtocolError.
"""

from __future__ import annotations

import os
import sys

PARAMS = ("U", "W", "V", "b", "c")
METHODS = ("forward", "backward", "update")
MESSAGE_CHARS = 500
TRACE_CHARS = 2000
TEXT_CHARS = 200
MAX_KEYS = 64
MAX_SNAPSHOT_FLOATS = 4 << 20  # 32 MiB of recorded parameters and gradients in one train chunk


def _move_fd(fd: int, low: int, high: int) -> int:
    """Duplicate `fd` to a free descriptor in [low, high) (random), close the original."""
    if high <= low:
        return fd
    for _ in range(64):
        target = low + int.from_bytes(os.urandom(4), "little") % (high - low)
        try:
            os.fstat(target)
        except OSError:
            try:
                os.dup2(fd, target, inheritable=False)
            except OSError:  # beyond what this system allows (Windows' C runtime): keep it
                return fd
            os.close(fd)
            return target
    return fd


def _count_tasks(uid: int) -> int | None:
    """Threads of all processes of `uid` (what RLIMIT_NPROC counts outside a user namespace)."""
    total = 0
    try:
        entries = os.listdir("/proc")
    except OSError:  # no procfs (macOS)
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as f:
                status = f.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        try:
            if int(fields["Uid"].split()[0]) == uid:
                total += int(fields["Threads"])
        except (KeyError, ValueError, IndexError):
            continue
    return total


def _set_limits(config: dict, notes: list[str]) -> None:
    import resource

    def setlimit(name: str, soft: int, hard: int | None = None) -> None:
        which = getattr(resource, name)
        hard = soft if hard is None else hard
        try:
            old_soft, old_hard = resource.getrlimit(which)
            if old_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, old_hard), min(hard, old_hard)
            resource.setrlimit(which, (soft, hard))
        except (OSError, ValueError) as exc:
            notes.append(f"{name} not set: {exc}")

    mib = 1 << 20
    setlimit("RLIMIT_CORE", 0)
    setlimit("RLIMIT_AS", int(config["memory_mb"]) * mib)
    setlimit("RLIMIT_FSIZE", int(config["max_file_mb"]) * mib)
    cpu = int(config["cpu_seconds"])
    setlimit("RLIMIT_CPU", cpu, cpu + 5)  # SIGXCPU at the soft limit, SIGKILL at the hard one
    setlimit("RLIMIT_NOFILE", int(config["max_open_files"]))
    nproc = int(config["max_processes"])
    mode = config.get("nproc", "absolute")
    if mode == "relative":  # no user namespace: the limit counts every process of this uid
        current = _count_tasks(os.getuid())
        if current is None:
            mode = "skip"
            notes.append("RLIMIT_NPROC not set: cannot count this user's processes")
        else:
            nproc += current
    if mode != "skip":
        setlimit("RLIMIT_NPROC", nproc)
    if os.geteuid() == 0 and not config.get("userns"):
        notes.append("running as root: RLIMIT_NPROC is not enforced")


def _load_protocol():
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "protocol.py")
    spec = importlib.util.spec_from_file_location("_bptt_grader_protocol", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stdio_channels() -> tuple[int, int]:
    """Portable mode: commands come on stdin and replies go out on stdout, so the replies
    take a copy of stdout and the submission's prints go to stderr; stdin becomes empty."""
    cmd_fd, reply_fd = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return cmd_fd, reply_fd


def main() -> None:
    cmd_fd, reply_fd, module_path, config_text = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    import json

    config = json.loads(config_text)
    notes: list[str] = []
    if config.get("stdio"):
        cmd_fd, reply_fd = _stdio_channels()
    try:
        import resource
    except ImportError:  # Windows: no resource limits at all
        resource = None
        notes.append("no resource limits on this system")
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0] if resource else 4096
    high = 4096 if resource and soft == resource.RLIM_INFINITY else min(int(soft), 4096)
    # New numbers at random above the student's own limit (existing descriptors stay valid
    # when RLIMIT_NOFILE is lowered below them). See the module docstring: this is not a
    # security boundary, only a guard against blind writes to "fd 3".
    low = max(100, int(config["max_open_files"]) + 8)
    cmd_fd = _move_fd(cmd_fd, low, high)
    reply_fd = _move_fd(reply_fd, low, high)
    reader = os.fdopen(cmd_fd, "rb", buffering=0)
    writer = os.fdopen(reply_fd, "wb", buffering=0)
    shared = None
    if config.get("record_fd") is not None:  # the grader's sealed memory for the training record
        import mmap

        shared = mmap.mmap(int(config["record_fd"]), int(config["record_bytes"]))
        os.close(int(config["record_fd"]))

    if resource:
        _set_limits(config, notes)
    try:
        import numpy  # noqa: F401  (before the submission: a shipped numpy.py must lose)

        protocol = _load_protocol()
    except BaseException as exc:  # noqa: BLE001 - anything here is fatal and reported
        text = f"{type(exc).__name__}: {exc}"[:MESSAGE_CHARS]
        try:
            header = json.dumps({"fatal": text}).encode()
            os.write(reply_fd, len(header).to_bytes(4, "little") + header)
        finally:
            os._exit(4)
    try:
        sys.stdout.reconfigure(line_buffering=True)  # a kill loses at most one line
    except Exception:  # noqa: BLE001
        pass
    worker = Worker(protocol, reader, writer, module_path, shared)
    worker.send({"hello": True, "pid": os.getpid(), "uid": getattr(os, "getuid", lambda: -1)(), "notes": notes})
    worker.serve()


class _BadValue(Exception):
    """A value returned by the submission that cannot be sent (not a plain numeric array)."""


class Worker:
    def __init__(self, protocol, reader, writer, module_path: str, shared=None) -> None:
        import importlib.util
        import inspect
        import time
        import traceback

        import numpy as np

        self.np = np
        self.protocol = protocol
        self.reader, self.writer = reader, writer
        self.module_path = os.path.abspath(module_path)
        self.module_dir = os.path.dirname(self.module_path)
        self.importlib_util, self.inspect, self.traceback = importlib.util, inspect, traceback
        self.perf_counter = time.perf_counter
        self.ndarray = np.ndarray
        self.f8 = np.dtype("<f8")
        self.stdout, self.stderr = sys.stdout, sys.stderr  # the real ones, kept before import
        self.module = None
        self.model = None
        self.record = None  # the train loop's buffers for the record of a chunk
        self.shared = shared  # memory shared with the grader, where the record goes if it fits
        self.ops = {
            "construct": self.op_construct,
            "get_params": self.op_get_params,
            "set_params": self.op_set_params,
            "forward": self.op_forward,
            "backward": self.op_backward,
            "update": self.op_update,
            "train": self.op_train,
            "gradients": self.op_gradients,
            "forward_params": self.op_forward_params,
            "modules": self.op_modules,
        }

    # ---- plumbing -------------------------------------------------------------------

    def send(self, header: dict, arrays: dict | None = None) -> None:
        try:
            self.protocol.write_frame(self.writer, header, arrays)
        except self.protocol.ProtocolError as exc:
            fallback = {"fault": f"reply could not be encoded: {exc}"[:MESSAGE_CHARS]}
            if "id" in header:
                fallback["id"] = header["id"]
            self.protocol.write_frame(self.writer, fallback)

    def flush(self) -> None:
        for stream in (self.stdout, self.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass

    def exit_with(self, exc: SystemExit, rid: object) -> None:
        """The submission called sys.exit: say so, then end the process."""
        code = self.text(lambda: repr(exc.code), 100)
        self.flush()
        try:
            self.send({"id": rid, "exit": f"sys.exit({code})"})
        finally:
            os._exit(0)

    def serve(self) -> None:
        rid: object = None
        try:
            self.import_module()
            while True:
                try:
                    header, arrays = self.protocol.read_frame(self.reader)
                except self.protocol.ChannelClosed:
                    os._exit(0)
                except self.protocol.ProtocolError:
                    os._exit(2)
                rid = header.get("id")
                op = header.get("op")
                params = header.get("params")
                handler = self.ops.get(op) if type(op) is str else None
                if handler is None or type(params) is not dict:
                    reply: tuple[dict, dict] = ({"fault": f"unknown op {op!r:.40} or bad params"}, {})
                else:
                    try:
                        reply = handler(params, arrays)
                    except _Fault as exc:
                        reply = ({"fault": str(exc)[:MESSAGE_CHARS]}, {})
                    except SystemExit as exc:
                        self.exit_with(exc, rid)
                    except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt too
                        reply = ({"error": self.describe_exception(exc)}, {})
                self.flush()
                reply[0]["id"] = rid
                self.send(*reply)
        except SystemExit as exc:  # raised from code the submission patched into ours
            self.exit_with(exc, rid)
        except BaseException:  # noqa: BLE001 - e.g. a broken pipe: nothing left to say
            os._exit(3)
        os._exit(0)

    # ---- describing what the submission gave us ---------------------------------------

    def text(self, make, limit: int = TEXT_CHARS) -> str:
        """make() as an exact str cut to `limit`, whatever the submission's objects do."""
        try:
            value = make()
            if not isinstance(value, str):
                return f"<not a string: {type(value).__name__}>"[:limit]
            value = str.__str__(value)  # an exact str, even from a str subclass
        except Exception as exc:  # noqa: BLE001
            return f"<unprintable: {type(exc).__name__}>"
        if len(value) > limit:
            value = value[: limit - 3] + "..."
        return value

    def type_name(self, value: object) -> str:
        return self.text(lambda: type(value).__qualname__, 100)

    def describe_value(self, value: object) -> str:
        """A short description of a value we refuse (type, and dtype/shape for arrays)."""
        np = self.np
        name = self.type_name(value)
        if issubclass(type(value), np.ndarray):
            dtype = str(np.ndarray.dtype.__get__(value))[:40]
            shape = tuple(np.ndarray.shape.__get__(value))
            kind = "ndarray subclass " + name if type(value) is not np.ndarray else "ndarray"
            return f"{kind} of dtype {dtype}, shape {shape}"
        return name

    def convert(self, value: object) -> tuple[object, str]:
        """(plain float64 array, "") or (None, why not)."""
        np = self.np
        if type(value) is not np.ndarray or value.dtype.kind not in "biuf":
            return None, self.describe_value(value)
        if value.ndim > self.protocol.MAX_DIMS:
            return None, f"ndarray with {value.ndim} dimensions"
        if value.size * 8 > self.protocol.MAX_PAYLOAD:
            return None, f"ndarray too large (shape {value.shape})"
        return np.array(value, dtype=self.f8, copy=True), ""

    def describe_exception(self, exc: BaseException) -> dict:
        kind = self.text(lambda: type(exc).__name__, 100)
        message = self.text(lambda: str(exc), MESSAGE_CHARS)
        trace = self.text(lambda: self.format_trace(exc), TRACE_CHARS)
        return {"kind": kind, "message": message, "trace": trace}

    def relative(self, filename: str) -> str:
        if filename.startswith(self.module_dir + os.sep):
            return os.path.relpath(filename, self.module_dir)
        return os.path.basename(filename)

    def format_trace(self, exc: BaseException) -> str:
        if isinstance(exc, SyntaxError) and exc.filename:
            line = (exc.text or "").strip()
            return f"{self.relative(str(exc.filename))}:{exc.lineno}: {line}"
        frames = self.traceback.extract_tb(exc.__traceback__)
        here = os.path.abspath(__file__)
        mine = [f for f in frames if f.filename.startswith(self.module_dir + os.sep)]
        if not mine:
            mine = [f for f in frames if f.filename != here and not f.filename.startswith("<frozen")]
        lines = []
        for f in mine[-5:]:
            code = (f.line or "").strip()
            where = f"{self.relative(f.filename)}:{f.lineno} in {f.name}"
            lines.append(f"{where}: {code}" if code else where)
        return "\n".join(lines)

    # ---- import -------------------------------------------------------------------------

    def top_modules(self) -> set:
        modules = sys.modules
        keys = list(dict.keys(modules)) if isinstance(modules, dict) else []
        return {k.partition(".")[0] for k in keys if type(k) is str}

    def import_module(self) -> None:
        stem = os.path.splitext(os.path.basename(self.module_path))[0]
        name = stem if stem.isidentifier() and stem not in sys.modules else "_submission"
        sys.argv = [self.module_path]
        sys.path.append(self.module_dir)  # appended: a shipped numpy.py or json.py loses
        before = self.top_modules()
        start = self.perf_counter()
        try:
            util = self.importlib_util
            spec = util.spec_from_file_location(name, self.module_path)
            module = util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses and pickle-by-name look it up here
            spec.loader.exec_module(module)
        except SystemExit as exc:
            self.exit_with(exc, "import")
        except BaseException as exc:  # noqa: BLE001
            error = self.describe_exception(exc)
            self.flush()
            self.send({"id": "import", "error": error})
            os._exit(0)
        seconds = self.perf_counter() - start
        self.module = module
        modules = sorted(self.top_modules() - before - {name})
        try:
            has_rnn = isinstance(getattr(module, "RNN", None), type)
        except Exception:  # noqa: BLE001 - a module-level __getattr__ that raises
            has_rnn = False
        self.flush()
        self.send(
            {"id": "import", "seconds": seconds, "modules": modules[:200], "has_RNN": has_rnn,
             "module_name": name}
        )

    # ---- ops ------------------------------------------------------------------------------

    def need_model(self):
        if self.model is None:
            raise _Fault("no model: call construct first")
        return self.model

    @staticmethod
    def need_array(arrays: dict, name: str, ndim: int | None = None):
        a = arrays.get(name)
        if a is None or (ndim is not None and a.ndim != ndim):
            raise _Fault(f"array {name!r} missing or not {ndim}-dimensional")
        return a

    def describe_method(self, model: object, name: str) -> dict:
        try:
            method = getattr(model, name)
        except Exception:  # noqa: BLE001
            return {"present": False, "params": []}
        present = callable(method)
        params: list[str] = []
        if present:
            try:
                signature = self.inspect.signature(method)
                params = [self.text(lambda: str(p), 60) for p in list(signature.parameters)[:12]]
            except Exception:  # noqa: BLE001
                params = []
        return {"present": present, "params": params}

    def describe_attr(self, model: object, name: str) -> dict:
        np = self.np
        try:
            value = getattr(model, name)
        except AttributeError:
            return {"type": None, "dtype": None, "shape": None}
        except Exception as exc:  # noqa: BLE001
            return {"type": None, "dtype": None, "shape": None,
                    "error": self.text(lambda e=exc: f"{type(e).__name__}: {e}")}
        info: dict = {"type": self.type_name(value), "dtype": None, "shape": None}
        if issubclass(type(value), np.ndarray):
            info["dtype"] = str(np.ndarray.dtype.__get__(value))[:40]
            info["shape"] = [int(d) for d in np.ndarray.shape.__get__(value)]
        return info

    def op_construct(self, params: dict, arrays: dict):
        module = self.module
        try:
            cls = getattr(module, "RNN")
        except AttributeError:
            raise AttributeError("the module defines no RNN") from None
        kwargs = {k: params[k] for k in ("input_dim", "hidden_dim", "output_dim", "seed") if k in params}
        self.model = self.record = None
        model = cls(**kwargs)
        self.model = model
        methods = {name: self.describe_method(model, name) for name in METHODS}
        attrs = {name: self.describe_attr(model, name) for name in PARAMS}
        return {"methods": methods, "attrs": attrs}, {}

    def read_param(self, model: object, name: str) -> tuple[object, str]:
        try:
            value = getattr(model, name)
        except AttributeError:
            return None, "missing"
        except Exception as exc:  # noqa: BLE001
            return None, self.text(lambda e=exc: f"raised {type(e).__name__}: {e}")
        return self.convert(value)

    def op_get_params(self, params: dict, arrays: dict):
        model = self.need_model()
        out, bad = {}, {}
        for name in PARAMS:
            value, why = self.read_param(model, name)
            if value is None:
                bad[name] = why
            else:
                out[name] = value
        return ({"bad": bad} if bad else {}), out

    def op_set_params(self, params: dict, arrays: dict):
        model = self.need_model()
        unknown = [k for k in arrays if k not in PARAMS]
        if unknown:
            raise _Fault(f"not parameters: {unknown}")
        for name in PARAMS:
            if name in arrays:
                setattr(model, name, arrays[name].copy())
        return {}, {}

    def op_forward(self, params: dict, arrays: dict):
        model = self.need_model()
        x = self.need_array(arrays, "x")
        out = model.forward(x)
        value, why = self.convert(out)
        if value is None:
            return {"bad_return": why}, {}
        return {}, {"yhat": value}

    def op_backward(self, params: dict, arrays: dict):
        model = self.need_model()
        y = self.need_array(arrays, "y")
        grads = model.backward(y)
        if not issubclass(type(grads), dict):
            return {"bad_return": self.describe_value(grads)}, {}
        items = list(dict.items(grads))  # the stored entries, whatever the subclass overrides
        keys = [self.text(lambda k=k: repr(k), 60) for k, _ in items[:MAX_KEYS]]
        out, bad, total = {}, {}, 0
        for key, value in items[:MAX_KEYS]:
            if type(key) is not str or not 0 < len(key) <= self.protocol.MAX_NAME:
                bad[self.text(lambda k=key: repr(k), 60)] = "key is not a short string"
                continue
            if len(out) >= self.protocol.MAX_ARRAYS:
                bad[key] = "too many entries"
                continue
            array, why = self.convert(value)
            if array is not None:
                total += array.nbytes
                if total > self.protocol.MAX_PAYLOAD:
                    array, why = None, "too large"
            if array is None:
                bad[key] = why
            else:
                out[key] = array
        header = {"keys": keys, "n_keys": len(items)}
        if bad:
            header["bad"] = bad
        return header, out

    def op_update(self, params: dict, arrays: dict):
        model = self.need_model()
        alpha = params.get("alpha")
        if type(alpha) not in (int, float):
            raise _Fault("update needs a numeric alpha")
        model.update(dict(arrays), float(alpha))
        return {}, {}

    def op_train(self, params: dict, arrays: dict):
        np = self.np
        model = self.need_model()
        X = self.need_array(arrays, "X", 3)
        Y = self.need_array(arrays, "Y", 3)
        alpha, with_grads = params.get("alpha"), params.get("record_grads", True)
        if type(alpha) not in (int, float) or X.shape[:2] != Y.shape[:2] or type(with_grads) is not bool:
            raise _Fault("train needs X (K,T,I), Y (K,T,O), a numeric alpha and a bool record_grads")
        alpha = float(alpha)
        K, T, O = Y.shape
        tshape = (T, O)
        layout, bad = self.layout(model)
        n = sum(size for _, _, size in layout)
        if bad:
            message = "; ".join(f"{k} is {v}" for k, v in bad.items())
            return {"done": 0, "stage": "params", "bad_params": bad,
                    "error": {"kind": "bad parameter", "message": message, "trace": "", "op": "params"}}, {}
        if (2 * K + 1) * n > MAX_SNAPSHOT_FLOATS:
            raise _Fault(f"train chunk too large for its record ({K} x {n})")
        at = params.get("record_at", 0)  # where in the shared memory (floats): the grader alternates
        if type(at) is not int or at < 0:
            raise _Fault("train needs a whole, non-negative record_at")
        in_shared = self.shared is not None and (at + (2 * K + 1) * n) * 8 <= len(self.shared)
        if in_shared:  # written where the grader reads it: no copy through the pipe
            flat = np.frombuffer(self.shared, dtype=self.f8, count=(2 * K + 1) * n, offset=at * 8)
            self.record = (flat[: (K + 1) * n].reshape(K + 1, n), flat[(K + 1) * n :].reshape(K, n))
        elif self.record is None or self.record[0].shape != (K + 1, n):  # reused: fresh ones cost page faults
            self.record = (np.empty((K + 1, n)), np.empty((K, n)))
        snaps, gsnaps = self.record  # row k: after forward k (+ the end), and what backward returned
        yhat = np.empty((K, T, O))
        pviews, gviews, offset = [], [], 0
        for name, shape, size in layout:
            pviews.append((name, snaps[:, offset : offset + size].reshape((K + 1,) + shape)))
            gviews.append((name, gsnaps[:, offset : offset + size].reshape((K,) + shape)))
            offset += size
        # Without record_grads the grader judges every step by the reference's gradient
        # (backward is known to be the reference's BPTT), so the gradients are not copied.
        pviews, gviews = tuple(pviews), tuple(gviews) if with_grads else ()
        shapes = {name: shape for name, shape, _ in layout}
        dict_get = dict.get
        header: dict = {"layout": [[name, list(shape)] for name, shape, _ in layout]}
        stage = "methods"
        done = 0
        ndarray = self.ndarray
        # The loop's own cost per iteration (beyond the submission's three calls) is a few
        # microseconds, nearly all of it eleven small copies: keep it lean. It is no security
        # boundary (the submission could write any record; the grader audits what it reads),
        # so it tests each value's type and lets NumPy's copy refuse a shape or dtype it cannot
        # take (a try costs nothing until it catches).
        started = self.perf_counter()
        try:
            forward, backward, update = model.forward, model.backward, model.update
            for k, x, y in zip(range(K), X, Y):  # row views of this chunk's arrays
                stage = "forward"
                out = forward(x)
                try:
                    if type(out) is not ndarray:
                        raise TypeError
                    yhat[k] = out
                except (TypeError, ValueError):
                    raise _BadValue("yhat", f"forward returned {self.describe_value(out)}, expected ndarray {tshape}") from None
                stage = "params"
                for name, view in pviews:
                    value = getattr(model, name)
                    try:
                        if type(value) is not ndarray:
                            raise TypeError
                        view[k] = value
                    except (TypeError, ValueError):
                        raise _BadValue(name, f"{self.describe_value(value)}, was ndarray {shapes[name]}") from None
                stage = "backward"
                grads = backward(y)
                if not issubclass(type(grads), dict):
                    raise _BadValue("grads", f"backward returned {self.describe_value(grads)}, expected a dict")
                for name, view in gviews:
                    value = dict_get(grads, name)
                    try:
                        if type(value) is not ndarray:
                            raise TypeError
                        view[k] = value
                    except (TypeError, ValueError):
                        raise _BadValue("grads", f"backward's {name} is {self.describe_value(value)}, "
                                                 f"expected ndarray {shapes[name]}") from None
                stage = "update"
                update(grads, alpha)
                done = k + 1
        except _BadValue as exc:
            header["stage"] = stage
            if stage == "params":
                header["bad_params"] = {exc.args[0]: exc.args[1]}
                kind, message = "bad parameter", f"{exc.args[0]} is {exc.args[1]}"
            else:
                header["bad_return"] = exc.args[1]
                kind, message = "bad return value", exc.args[1]
            header["error"] = {"kind": kind, "message": message, "trace": "", "op": stage}
        except SystemExit:
            raise
        except BaseException as exc:  # noqa: BLE001
            header["stage"] = stage
            header["error"] = self.describe_exception(exc)
            header["error"]["op"] = stage
        header["seconds"] = self.perf_counter() - started  # the loop, without the transfers
        end = 0
        for name, view in pviews:  # the parameters the last update left (for its audit)
            value = getattr(model, name, None)
            if type(value) is not ndarray or value.shape != shapes[name] or value.dtype.kind not in "biuf":
                break
            view[done] = value
            end += 1
        # The record for the audit of every step: parameters before each backward (and after
        # the last update, when they are still readable), and what backward returned.
        header["done"] = done
        rows, grad_rows = done + (end == len(pviews)), done if with_grads else 0
        if in_shared:
            header["record"] = {"params": rows, "grads": grad_rows}
            return header, {"yhat": yhat[:done]}
        return header, {"yhat": yhat[:done], "params": snaps[:rows], "grads": gsnaps[:grad_rows]}

    def layout(self, model: object) -> tuple[list, dict]:
        """[(name, shape, size)] of the current parameters, and {name: why} for bad ones."""
        np = self.np
        layout, bad = [], {}
        for name in PARAMS:
            try:
                value = getattr(model, name)
            except Exception as exc:  # noqa: BLE001
                bad[name] = self.text(lambda e=exc: f"raised {type(e).__name__}")
                continue
            if type(value) is not np.ndarray or value.dtype.kind not in "biuf":
                bad[name] = self.describe_value(value)
            else:
                layout.append((name, tuple(value.shape), int(value.size)))
        return layout, bad

    def kept_params(self, model: object, layout: list) -> dict:
        """Copies of the model's parameters (views of a packed block too), for put_back."""
        return {name: self.np.array(getattr(model, name), copy=True) for name, _, _ in layout}

    @staticmethod
    def put_back(model: object, kept: dict) -> None:
        for name, value in kept.items():
            setattr(model, name, value.copy())

    @staticmethod
    def set_flat(model: object, row: object, layout: list) -> None:
        """The model's parameters from one flattened row, in the order and shapes of `layout`."""
        offset = 0
        for name, shape, size in layout:
            setattr(model, name, row[offset : offset + size].reshape(shape).copy())
            offset += size

    def flat_layout(self, model: object, rows: object) -> tuple[list, dict]:
        """The model's layout, and a fault unless `rows` hold flattened parameters of it."""
        layout, bad = self.layout(model)
        if not bad and rows.shape[1] != sum(size for _, _, size in layout):
            raise _Fault(f"params rows have {rows.shape[1]} values, the model has {layout}")
        return layout, bad

    def op_forward_params(self, params: dict, arrays: dict):
        """forward(x) under each row of flattened parameters (U, W, V, b, c order, the
        current shapes); the model's own parameters are put back afterwards."""
        np = self.np
        model = self.need_model()
        rows = self.need_array(arrays, "params", 2)
        x = self.need_array(arrays, "x")
        layout, bad = self.flat_layout(model, rows)
        if bad:
            return {"bad_params": bad}, {}
        kept = self.kept_params(model, layout)
        out = None
        try:
            for i in range(len(rows)):
                self.set_flat(model, rows[i], layout)
                value = model.forward(x.copy())
                if (type(value) is not np.ndarray or value.dtype.kind not in "biuf"
                        or (out is not None and value.shape != out.shape[1:])
                        or value.ndim > self.protocol.MAX_DIMS - 1):
                    return {"bad_return": f"forward returned {self.describe_value(value)}", "done": i}, {}
                if out is None:
                    out = np.empty((len(rows),) + value.shape)
                out[i] = value
        finally:
            self.put_back(model, kept)
        return {}, {"yhat": out if out is not None else np.empty((0,))}

    def op_gradients(self, params: dict, arrays: dict):
        """backward's gradient at given parameters, for the audit of training (run in a fresh
        worker that never trained): for each k, the parameters from rows[k] (flattened as
        forward_params takes them), forward(X[k]), backward(Y[k]); gradients come back as rows."""
        np = self.np
        model = self.need_model()
        rows = self.need_array(arrays, "params", 2)
        X, Y = self.need_array(arrays, "X", 3), self.need_array(arrays, "Y", 3)
        layout, bad = self.flat_layout(model, rows)
        if bad:
            return {"done": 0, "bad": bad}, {}
        if len(rows) != len(X) or len(Y) != len(X):
            raise _Fault("gradients needs params (K, n), X (K, T, I) and Y (K, T, O)")
        out = np.empty(rows.shape)
        kept = self.kept_params(model, layout)
        try:
            for k in range(len(X)):
                self.set_flat(model, rows[k], layout)
                model.forward(X[k])
                grads = model.backward(Y[k])
                offset = 0
                for name, shape, size in layout:
                    value = dict.get(grads, name) if issubclass(type(grads), dict) else None
                    array, why = self.convert(value)
                    if array is None or array.shape != shape:
                        got = why or f"shape {array.shape}"
                        return {"done": k, "bad_return": f"gradient {name} is {got}"}, {}
                    out[k, offset : offset + size] = array.ravel()
                    offset += size
        finally:
            self.put_back(model, kept)
        return {"done": len(X)}, {"grads": out}

    def op_modules(self, params: dict, arrays: dict):
        return {"modules": sorted(self.top_modules())[:1000]}, {}


class _Fault(Exception):
    """A request the worker cannot serve (a grader bug, not the submission's fault)."""


if __name__ == "__main__":
    try:
        main()
    except BaseException:  # noqa: BLE001 - a worker bug: show it in the captured output
        import traceback

        traceback.print_exc()
    finally:
        os._exit(5)
