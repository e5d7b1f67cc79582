"""The isolation layer: frames, the worker's ops, and hostile submissions.

Every hostile module in tests/hostile/ must end in the right exception within its limit,
with this (the grader's) process alive and no process of the sandbox left behind. The
tests pass whichever isolation the machine offers; assertions that need a namespace are
skipped without one.
"""

from __future__ import annotations

import io
import os
import socket
import struct
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import Sandbox, SandboxCrashed, SandboxTimeout, StudentError, describe_status, isolation
from grader.sandbox import probe as machine
from grader.sandbox.protocol import MAX_ARRAYS, MAX_HEADER, ChannelClosed, ProtocolError, read_frame, write_frame
from reference.rnn import RNN
from grader.settings import Limits

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference" / "rnn.py"
HOSTILE = Path(__file__).resolve().parents[1] / "hostile"
PARAMS = ("U", "W", "V", "b", "c")
DIMS = {"input_dim": 2, "hidden_dim": 16, "output_dim": 1}


def limits(**changes: float) -> Limits:
    base = dict(import_seconds=15.0, call_seconds=10.0, total_seconds=90.0, memory_mb=512,
                max_processes=16, max_file_mb=8, max_open_files=64, output_kb=16)
    base.update(changes)
    return Limits(**base)


def token_processes(token: str, command: bytes = b"") -> list[int]:
    """Processes (other than us) whose environment or command line carries `token` (and
    whose command line starts with `command`)."""
    needle = token.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if (needle in environ or needle in cmdline) and cmdline.startswith(command):
            found.append(int(entry))
    return found


def assert_none_left(token: str) -> None:
    deadline = time.monotonic() + 3.0
    while token_processes(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert token_processes(token) == []


@contextmanager
def sandbox(module: str | Path, start: bool = True, construct: bool = True, **limit_changes: float):
    token = f"hostile-test-{os.urandom(6).hex()}"
    path = module if isinstance(module, Path) else HOSTILE / f"{module}.py"
    box = Sandbox(path, limits(**limit_changes), extra_env={"HOSTILE_TOKEN": token})
    box.token = token  # type: ignore[attr-defined]
    try:
        if start:
            box.start()
            if construct:
                box.call("construct", seed=0, **DIMS)
        yield box
    finally:
        box.close()
        box.close()  # idempotent
    assert_none_left(token)


def x_with(mode: int) -> np.ndarray:
    x = np.zeros((8, 2))
    x[0, 0] = mode
    return x


@pytest.fixture(params=["probed", "portable"])
def each_mode(request, monkeypatch):
    """This machine's mode, then the portable one (what macOS and Windows get: a plain child
    over its standard pipes, deadlines kept by threads), forced here on Linux."""
    if request.param == "portable":
        monkeypatch.setenv(machine.CHOOSE_VAR, "portable")
    machine._probe.cache_clear()
    yield request.param
    machine._probe.cache_clear()


# ---- frames -----------------------------------------------------------------------------


def test_frames_round_trip_and_refuse_what_is_not_plain_float64():
    buf = io.BytesIO()
    arrays = {"a": np.arange(6.0).reshape(2, 3), "i": np.arange(3), "e": np.empty((0, 4)), "s": np.array(2.5)}
    write_frame(buf, {"op": "x", "n": 1}, arrays)
    buf.seek(0)
    header, got = read_frame(buf)
    assert header == {"op": "x", "n": 1}
    assert set(got) == set(arrays)
    for k, a in arrays.items():
        assert got[k].dtype == np.dtype("<f8") and got[k].shape == a.shape and np.array_equal(got[k], a)
    with pytest.raises(ChannelClosed):
        read_frame(buf)
    for bad in (np.array([1 + 2j]), np.array(["x"]), np.array([object()]), np.zeros(3).view(np.matrix),
                np.zeros((1, 1, 1, 1, 1)), [1.0, 2.0]):
        with pytest.raises(ProtocolError):
            write_frame(io.BytesIO(), {}, {"a": bad})
    with pytest.raises(ProtocolError):
        write_frame(io.BytesIO(), {}, {f"a{i}": np.zeros(1) for i in range(MAX_ARRAYS + 1)})
    for bad_header in ({"x": float("nan")}, {"x": object()}, ["not", "a", "dict"]):
        with pytest.raises(ProtocolError):
            write_frame(io.BytesIO(), bad_header)
    buf = io.BytesIO()
    write_frame(buf, {"seed": np.int64(3), "alpha": np.float64(0.1)})  # NumPy scalars are fine
    buf.seek(0)
    assert read_frame(buf) == ({"seed": 3, "alpha": 0.1}, {})


def raw_frame(header: object, payload: bytes = b"", length: int | None = None) -> io.BytesIO:
    text = header if isinstance(header, bytes) else __import__("json").dumps(header).encode()
    return io.BytesIO(struct.pack("<I", len(text) if length is None else length) + text + payload)


@pytest.mark.parametrize(
    "frame",
    [
        raw_frame({}, length=0),
        raw_frame({}, length=MAX_HEADER + 1),
        raw_frame(b"not json"),
        raw_frame(b"[1, 2]"),
        raw_frame(b'{"x": NaN}'),
        raw_frame({"arrays": [["a", "<f4", [2]]]}, b"\0" * 8),
        raw_frame({"arrays": [["a", "|O", [1]]]}, b"\0" * 8),
        raw_frame({"arrays": [["a", "<f8", [1, 1, 1, 1, 1]]]}, b"\0" * 8),
        raw_frame({"arrays": [["a", "<f8", [-1]]]}),
        raw_frame({"arrays": [["a", "<f8", [True]]]}, b"\0" * 8),
        raw_frame({"arrays": [["a", "<f8", [2.0]]]}, b"\0" * 16),
        raw_frame({"arrays": [["a", "<f8", [1]], ["a", "<f8", [1]]]}, b"\0" * 16),
        raw_frame({"arrays": [[f"a{i}", "<f8", [1]] for i in range(MAX_ARRAYS + 1)]}),
        raw_frame({"arrays": [["a", "<f8", [1 << 40]]]}),  # refused before reading any payload
        raw_frame({"arrays": [["a", "<f8", [4]]]}, b"\0" * 8),  # end of file inside the payload
        raw_frame({"arrays": "nope"}),
        io.BytesIO(b"\x05\x00"),
    ],
)
def test_malformed_frames_are_protocol_errors(frame):
    with pytest.raises(ProtocolError):
        read_frame(frame)


def test_exit_statuses_are_decoded():
    assert describe_status(-11, False) == "killed by SIGSEGV"
    assert describe_status(3, False) == "exit code 3"
    assert describe_status(139, True).startswith("killed by SIGSEGV")
    assert describe_status(139, False) == "exit code 139"


# ---- a valid submission ---------------------------------------------------------------------


def test_isolation_probe_is_cached_and_explains_itself():
    found = isolation()
    assert found.mode in ("bwrap", "namespaces", "none")
    assert found.describe().startswith(found.mode + ": ")
    if found.mode == "none":
        assert found.note and not found.strong
    assert isolation() is found


def test_reference_round_trip_matches_in_process_exactly(each_mode):
    rng = np.random.default_rng(7)
    local = RNN(seed=3, **DIMS)
    with sandbox(REFERENCE, construct=False) as box:
        assert box.isolation == isolation().mode
        info = box.call("construct", seed=3, **DIMS).header
        assert info["methods"]["update"] == {"present": True, "params": ["grads", "alpha"]}
        assert info["attrs"]["W"] == {"type": "ndarray", "dtype": "float64", "shape": [16, 16]}

        remote = box.call("get_params")
        assert remote.header == {}
        for k in PARAMS:
            assert np.array_equal(remote.arrays[k], getattr(local, k))

        new = {k: rng.normal(size=getattr(local, k).shape) for k in PARAMS}
        box.call("set_params", arrays=new)
        for k in PARAMS:
            setattr(local, k, new[k])

        x = rng.integers(0, 2, (8, 2)).astype(float)
        y = rng.integers(0, 2, (8, 1)).astype(float)
        assert np.array_equal(box.call("forward", arrays={"x": x}).arrays["yhat"], local.forward(x))
        back = box.call("backward", arrays={"y": y})
        grads = local.backward(y)
        assert sorted(back.header["keys"]) == sorted(repr(k) for k in PARAMS)
        assert "bad" not in back.header
        for k in PARAMS:
            assert np.array_equal(back.arrays[k], grads[k])

        box.call("update", arrays=back.arrays, alpha=0.1)  # copies of the gradients
        local.update({k: grads[k].copy() for k in PARAMS}, 0.1)
        box.call("forward", arrays={"x": x})
        back = box.call("backward", arrays={"y": y})
        local.forward(x)
        box.call("update", arrays=back.arrays, alpha=0.1)
        local.update(local.backward(y), 0.1)
        remote = box.call("get_params").arrays
        for k in PARAMS:
            assert np.array_equal(remote[k], getattr(local, k))

        K = 60
        X = rng.integers(0, 2, (K, 8, 2)).astype(float)
        Y = rng.integers(0, 2, (K, 8, 1)).astype(float)
        reply = box.call("train", arrays={"X": X, "Y": Y}, alpha=0.1)
        assert reply.header["done"] == K and "error" not in reply.header
        assert reply.header["layout"] == [[k, list(getattr(local, k).shape)] for k in PARAMS]
        yhat, snaps, grads = np.empty((K, 8, 1)), [], []
        for k in range(K):
            yhat[k] = local.forward(X[k])
            snaps.append(np.concatenate([getattr(local, p).ravel() for p in PARAMS]))
            g = local.backward(Y[k])
            grads.append(np.concatenate([g[p].ravel() for p in PARAMS]))
            local.update(g, 0.1)
        snaps.append(np.concatenate([getattr(local, p).ravel() for p in PARAMS]))  # after the last update
        assert np.array_equal(reply.arrays["yhat"], yhat)
        assert np.array_equal(reply.arrays["params"], np.array(snaps))  # the record for the audit
        assert np.array_equal(reply.arrays["grads"], np.array(grads))
        at = box.call("gradients", arrays={"params": np.array(snaps[:3]), "X": X[:3], "Y": Y[:3]}).arrays["grads"]
        assert np.array_equal(at, np.array(grads[:3]))  # backward again at recorded parameters
        # Where the grader computes every step's gradient itself, the child records none.
        reply = box.call("train", arrays={"X": X[:5], "Y": Y[:5]}, alpha=0.1, record_grads=False)
        snaps = [np.concatenate([getattr(local, p).ravel() for p in PARAMS])]
        for k in range(5):
            local.forward(X[k])
            local.update(local.backward(Y[k]), 0.1)
            snaps.append(np.concatenate([getattr(local, p).ravel() for p in PARAMS]))
        assert np.array_equal(reply.arrays["params"], np.array(snaps)) and reply.arrays["grads"].shape[0] == 0
        remote = box.call("get_params").arrays
        for k in PARAMS:
            assert np.array_equal(remote[k], getattr(local, k))

        probes = np.array(snaps[:3])
        many = box.call("forward_params", arrays={"params": probes, "x": x}).arrays["yhat"]
        assert many.shape == (3, 8, 1)
        after = box.call("get_params").arrays  # put back afterwards
        for k in PARAMS:
            assert np.array_equal(after[k], getattr(local, k))

        with pytest.raises(ProtocolError):  # a grader mistake, refused; the child lives on
            box.call("gradients", arrays={"params": np.zeros((1, 3)), "X": X[:1], "Y": Y[:1]})
        modules = box.call("modules").header["modules"]
        assert "numpy" in modules and modules == sorted(modules)


def test_import_reports_modules_siblings_and_output():
    box = Sandbox(HOSTILE / "uses_helpers.py", limits())
    try:
        info = box.start().header
        assert info["has_RNN"] is True and info["module_name"] == "uses_helpers"
        assert "_honest" in info["modules"] and "numpy" not in info["modules"]
        assert 0 <= info["seconds"] < 15
        box.call("construct", seed=1, **DIMS)
        assert np.all(box.call("forward", arrays={"x": np.zeros((5, 2))}).arrays["yhat"] == 0.5)
        assert 'imported {"ok": true}' in box.output()
    finally:
        box.close()


def test_shipped_bytecode_is_never_run(tmp_path, each_mode):
    """A .pyc beside a helper (cached, unchecked: Python would not compare it with the
    source) or in place of one (a legacy sourceless module) would run code that no check
    reads. The probe prints loudly when its bytecode runs; the source must win."""
    import py_compile

    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "helper.py").write_text('print("BYTECODE RAN")\nWHO = "bytecode"\n')
    (evil / "legacy.py").write_text('print("LEGACY BYTECODE RAN")\n')
    folder = tmp_path / "submission"
    (folder / "__pycache__").mkdir(parents=True)
    py_compile.compile(str(evil / "helper.py"), cfile=str(folder / "__pycache__" / f"helper.{sys.implementation.cache_tag}.pyc"),
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    py_compile.compile(str(evil / "legacy.py"), cfile=str(folder / "legacy.pyc"))
    (folder / "helper.py").write_text('WHO = "source"\n')
    (folder / "rnn.py").write_text(
        "import helper\nprint('helper is', helper.WHO)\n"
        "try:\n    import legacy\nexcept ImportError:\n    print('no legacy module')\n")
    with sandbox(folder / "rnn.py", construct=False) as box:
        output = box.output()
    assert "helper is source" in output and "no legacy module" in output
    assert "BYTECODE RAN" not in output


def test_prints_by_every_road_land_in_the_output_not_in_the_replies(each_mode):
    """In the portable mode the replies take the child's stdout: whatever the submission
    prints, and however, goes to the captured output instead."""
    with sandbox("prints_everywhere") as box:
        for _ in range(3):
            assert np.all(box.call("forward", arrays={"x": np.zeros((8, 2))}).arrays["yhat"] == 0.25)
        output = box.output()
    for line in ("PRINTED AT IMPORT", "PRINTED IN FORWARD", "SYS.STDOUT", "SYS.__STDOUT__", "OS.WRITE(1)"):
        assert line in output


def test_syntax_error_reports_the_line(each_mode):
    box = Sandbox(HOSTILE / "syntax_error.py", limits())
    with box, pytest.raises(StudentError) as info:
        box.start()
    assert info.value.kind == "SyntaxError" and "line 7" in info.value.message
    assert "syntax_error.py:7" in info.value.trace
    assert "\n" not in str(info.value)


# ---- hostile submissions --------------------------------------------------------------------


def test_infinite_loop_in_forward_times_out_and_leaves_nothing(each_mode):
    with sandbox("loop_forward", call_seconds=1.0) as box:
        started = time.monotonic()
        with pytest.raises(SandboxTimeout) as info:
            box.call("forward", arrays={"x": np.zeros((8, 2))})
        assert time.monotonic() - started < 4.0
        assert info.value.op == "forward" and info.value.seconds == 1.0 and not info.value.total
        with pytest.raises(SandboxCrashed):  # the child is gone for good
            box.call("get_params")


def test_explicit_timeout_and_total_budget():
    with sandbox("loop_forward") as box:
        with pytest.raises(SandboxTimeout) as info:
            box.call("forward", timeout=0.3, arrays={"x": np.zeros((8, 2))})
        assert info.value.seconds == pytest.approx(0.3)
    with sandbox("loop_forward") as box:
        box._deadline_total = time.monotonic() + 0.4  # as if the budget were nearly used up
        with pytest.raises(SandboxTimeout) as info:
            box.call("forward", arrays={"x": np.zeros((8, 2))})
        assert info.value.total and info.value.seconds <= 0.4


def test_sleep_at_import_hits_the_import_limit(each_mode):
    with sandbox("sleep_import", start=False, import_seconds=1.0) as box:
        started = time.monotonic()
        with pytest.raises(SandboxTimeout) as info:
            box.start()
        assert info.value.op == "import"
        assert time.monotonic() - started < 15.0  # startup + 1 s


def test_memory_bomb_is_stopped_in_the_child(each_mode):
    with sandbox("memory_bomb", memory_mb=400) as box:
        try:
            box.call("forward", arrays={"x": np.zeros((8, 2))})
        except StudentError as exc:
            assert "MemoryError" in exc.kind
            assert set(box.call("get_params").arrays) == set(PARAMS)  # and it lives on
        except SandboxCrashed:
            pass
        else:
            pytest.fail("the memory bomb returned")


def test_fork_bomb_is_contained_and_cleaned_up():
    with sandbox("fork_bomb", max_processes=16) as box:
        try:
            box.call("forward", arrays={"x": np.zeros((8, 2))})
        except StudentError:
            pass
        forked = int(box.output().split("FORKED ")[1].split()[0])
        guarantees = box.machine.guarantees
        if "processes" in guarantees:  # a pids cgroup of 16 + the three helper processes
            assert 1 <= forked <= 16
        elif box.isolation != "none":  # no memory cgroup: no new process at all
            assert forked == 0
        else:
            assert len(token_processes(box.token)) >= 2


def test_setsid_grandchild_dies_on_close():
    with sandbox("setsid_grandchild") as box:
        box.call("forward", arrays={"x": np.zeros((8, 2))})
        assert len(token_processes(box.token, b"sleep\x00-c")) == 1  # the grandchild runs
    # the context manager asserted that no process with the token is left


def test_fifty_megabytes_of_output_are_capped_without_deadlock(each_mode):
    with sandbox("huge_output", output_kb=16) as box:
        yhat = box.call("forward", timeout=30, arrays={"x": np.zeros((8, 2))}).arrays["yhat"]
        assert np.all(yhat == 0.25)
        text = box.output()
        assert int(text.split("[... ")[1].split()[0]) + len(text) >= 50_000_000
        assert "bytes cut ...]" in text and len(text) < 16 * 1024 + 100
        assert text.startswith("spam") and text.rstrip().endswith("END OF SPAM")


@pytest.mark.parametrize("mode, expected", [(0, "sys.exit(0)"), (1, "exit code 0")])
def test_exiting_during_forward_is_a_clear_crash(mode, expected, each_mode):
    with sandbox("exits") as box:
        with pytest.raises(SandboxCrashed) as info:
            box.call("forward", arrays={"x": x_with(mode)})
        assert info.value.exit_description == f"exited during forward ({expected})"
        assert str(info.value) == f"the submission exited during forward ({expected})"


def test_keyboard_interrupt_in_update_is_a_student_error(each_mode):
    with sandbox("keyboard_interrupt") as box:
        grads = {k: np.zeros_like(v) for k, v in box.call("get_params").arrays.items()}
        with pytest.raises(StudentError) as info:
            box.call("update", arrays=grads, alpha=0.1)
        assert info.value.kind == "KeyboardInterrupt" and info.value.message == "stop"
        assert "keyboard_interrupt.py:" in info.value.trace and "in update" in info.value.trace
        assert set(box.call("get_params").arrays) == set(PARAMS)


def test_killing_the_parent_does_not_reach_the_grader():
    with sandbox("kill_parent") as box:
        try:
            box.call("forward", arrays={"x": np.zeros((8, 2))})
        except SandboxCrashed:
            pass
    assert os.getpid() > 0  # still here


def test_blind_forged_frames_are_ignored(each_mode):
    with sandbox("forge_frames") as box:
        yhat = box.call("forward", arrays={"x": x_with(0)}).arrays["yhat"]
        assert np.all(yhat == 0.25)
        assert np.all(box.call("forward", arrays={"x": x_with(0)}).arrays["yhat"] == 0.25)


def test_forged_frames_on_the_reply_pipe_are_protocol_errors(each_mode):
    with sandbox("forge_frames") as box:
        with pytest.raises(ProtocolError):
            box.call("forward", arrays={"x": x_with(1)})


def test_forged_frame_with_the_request_id_is_caught_at_the_next_call(each_mode):
    # The submission shares the worker's process, so it can find the request id and send
    # a perfect frame first; that frame says no more than forward's own return value
    # could. The real reply then arrives unasked, which the next call reports.
    with sandbox("forge_frames") as box:
        try:
            yhat = box.call("forward", arrays={"x": x_with(2)}).arrays["yhat"]
        except ProtocolError:
            return
        assert yhat.shape == (8, 1)
        time.sleep(0.2)
        with pytest.raises(ProtocolError):
            box.call("get_params")


def test_array_subclasses_are_refused_never_unpickled(tmp_path, each_mode):
    canary = tmp_path / "canary"
    box = Sandbox(HOSTILE / "subclass_return.py", limits(), extra_env={"HOSTILE_CANARY": str(canary)})
    with box:
        box.start()
        box.call("construct", seed=0, **DIMS)
        reply = box.call("forward", arrays={"x": np.zeros((8, 2))})
        assert reply.arrays == {} and "subclass" in reply.header["bad_return"]
        back = box.call("backward", arrays={"y": np.zeros((8, 1))})
        assert set(back.arrays) == {"W", "V", "b", "c"}
        assert "subclass" in back.header["bad"]["U"] and "42" in back.header["bad"]
        assert "42" in back.header["keys"] and "'U'" in back.header["keys"]
        train = box.call("train", arrays={"X": np.zeros((3, 8, 2)), "Y": np.zeros((3, 8, 1))}, alpha=0.1)
        assert train.header["done"] == 0 and train.header["stage"] == "forward"
        assert train.header["error"]["kind"] == "bad return value"
    assert not canary.exists()


@pytest.mark.parametrize("change, stage, kind, says", [
    ("self.W = np.zeros((4, 4))", "params", "bad parameter", "W is ndarray of dtype float64, shape (4, 4), was ndarray (16, 16)"),
    ("self.grads_W = np.zeros(3)", "backward", "bad return value", "backward's W is ndarray of dtype float64, shape (3,)"),
    ("self.out = [[0.5]] * 8", "forward", "bad return value", "forward returned list, expected ndarray (8, 1)"),
])
def test_a_value_that_changes_shape_or_type_mid_training_is_named(tmp_path, change, stage, kind, says):
    """The train loop tests only each value's type and leaves shapes to NumPy's copy: a
    value that goes wrong at the fourth iteration is still named, with where it happened."""
    module = tmp_path / "rnn.py"
    module.write_text(f"""import numpy as np
from _honest import Honest


class RNN(Honest):
    calls = 0
    out = None
    grads_W = None

    def forward(self, x):
        self.calls += 1
        if self.calls == 4:
            {change}
        return self.out if self.out is not None else super().forward(x)

    def backward(self, y):
        grads = super().backward(y)
        if self.grads_W is not None:
            grads["W"] = self.grads_W
        return grads
""")
    (tmp_path / "_honest.py").write_text((HOSTILE / "_honest.py").read_text())
    with sandbox(module) as box:
        train = box.call("train", arrays={"X": np.zeros((6, 8, 2)), "Y": np.zeros((6, 8, 1))}, alpha=0.1)
    header = train.header
    assert header["done"] == 3 and header["stage"] == stage, header
    assert header["error"]["kind"] == kind and says in header["error"]["message"], header["error"]


def test_exception_whose_str_never_returns_times_out(each_mode):
    with sandbox("str_loops", call_seconds=1.0) as box:
        with pytest.raises(SandboxTimeout):
            box.call("forward", arrays={"x": np.zeros((8, 2))})


def test_network_is_cut_when_isolated():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        box = Sandbox(HOSTILE / "network.py", limits(), extra_env={"HOSTILE_PORT": str(port)})
        with box:
            box.start()
            box.call("construct", seed=0, **DIMS)
            yhat = box.call("forward", arrays={"x": np.zeros((2, 2))}).arrays["yhat"]
        if box.isolation == "none":
            pytest.skip("no network namespace on this machine")
        assert np.all(yhat == 0.0)
        with pytest.raises(OSError):
            listener.accept()
    finally:
        listener.close()


# ---- the fallbacks ----------------------------------------------------------------------------


@pytest.fixture
def forced_none(monkeypatch):
    """What a machine without namespaces gets (Docker without privileges, macOS)."""
    monkeypatch.setenv(machine.CHOOSE_VAR, "none")
    machine._probe.cache_clear()
    yield
    monkeypatch.delenv(machine.CHOOSE_VAR)
    machine._probe.cache_clear()


@pytest.mark.parametrize("module, code, says", [
    (REFERENCE, 0, "score: 30 / 30"),
    (ROOT / "student_template" / "rnn.py", 1, "not implemented: RNN.__init__ raises NotImplementedError"),
])
def test_check_runs_without_what_only_linux_has(tmp_path, module, code, says):
    """`check` in the portable mode with fcntl, resource, termios, select.poll, memfd_create,
    killpg and getuid taken away, in the grader and its worker (tests/sandbox/without_linux.py):
    what macOS and Windows lack is never touched. The worker's note shows it ran there."""
    import json
    import subprocess

    report = tmp_path / "result.json"
    env = {**os.environ, machine.CHOOSE_VAR: "portable"}
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("without_linux.py")), "check", str(module),
                           "--quick", "--json", str(report)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == code, done.stdout + done.stderr
    assert says in done.stdout and "Traceback" not in done.stderr
    assert "sandbox: portable: a plain child process on Linux, weaker isolation" in done.stdout
    assert "no resource limits on this system" in json.loads(report.read_text())["sandbox_note"]


def test_without_namespaces_the_process_layer_still_contains_the_child(forced_none):
    """A shell-less child, killpg plus a sweep for the sandbox's token."""
    with sandbox("setsid_grandchild") as box:
        assert box.isolation == "none" and not box.machine.strong
        box.call("forward", arrays={"x": np.zeros((8, 2))})
        assert len(token_processes(box.token, b"sleep\x00-c")) == 1
    with sandbox("kill_parent") as box:
        try:  # it kills its parent: the grader survives
            box.call("forward", arrays={"x": np.zeros((8, 2))})
        except SandboxCrashed:
            pass
    with sandbox("exits") as box, pytest.raises(SandboxCrashed, match=r"sys\.exit\(0\)"):
        box.call("forward", arrays={"x": x_with(0)})


GRADER_THAT_DIES = """
import sys
import numpy as np
from pathlib import Path
from grader.sandbox import Sandbox
from grader.settings import Limits
box = Sandbox(Path(sys.argv[1]), Limits(call_seconds=60, total_seconds=120), extra_env={"HOSTILE_TOKEN": sys.argv[2]})
box.start()
box.call("construct", input_dim=2, hidden_dim=16, output_dim=1, seed=0)
print("ready", flush=True)
box.call("forward", arrays={"x": np.zeros((8, 2))})  # loops until the grader is killed
"""


@pytest.mark.parametrize("mode", ["", "none"], ids=["as-probed", "forced-none"])
def test_a_killed_grader_takes_its_sandbox_along(tmp_path, mode):
    """A batch runner may SIGKILL a grader whose child is busy in an endless loop: the
    child must not live on (until its CPU limit) as an orphan."""
    import subprocess
    import sys
    import tempfile

    from grader.sandbox import cgroups
    from grader.sandbox.process import remove_stale_scratch

    found = isolation()
    if (mode == "none" or found.mode != "namespaces") and not found.pdeathsig:
        pytest.skip("setpriv --pdeathsig is not available")
    token = f"hostile-test-{os.urandom(6).hex()}"
    script = tmp_path / "dying_grader.py"
    script.write_text(GRADER_THAT_DIES)
    env = {**os.environ, "PYTHONPATH": str(ROOT), machine.CHOOSE_VAR: mode}
    grader = subprocess.Popen([sys.executable, str(script), str(HOSTILE / "loop_forward.py"), token],
                              stdout=subprocess.PIPE, cwd=ROOT, env=env)
    try:
        assert grader.stdout.readline().strip() == b"ready"
        time.sleep(0.3)
        assert token_processes(token)  # the worker is looping
    finally:
        grader.kill()
        grader.wait()
        grader.stdout.close()
    assert_none_left(token)
    # What it leaves (scratch folder, empty cgroups) goes at the next grader's start.
    remove_stale_scratch.cache_clear()
    remove_stale_scratch()
    bases = cgroups.available()
    tag = f"-{grader.pid}-"
    assert not [n for n in os.listdir(tempfile.gettempdir()) if n.startswith("bptt-sandbox" + tag)]
    for base in bases.values():
        assert not [n for n in os.listdir(base) if n.startswith("bptt-grader" + tag)]


def test_bubblewrap_command_shows_only_the_view(tmp_path):
    from grader.sandbox.view import SUBMISSION_DIR, bwrap_args, python_view, sandbox_mounts, scratch_dir, worker_files

    args = bwrap_args("bwrap", sandbox_mounts(python_view(), tmp_path / "sub", 16, 1000), True)
    scratch = scratch_dir(python_view())  # /tmp, or elsewhere when the venv itself is under /tmp
    joined = " ".join(args)
    worker = worker_files()
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--cap-drop ALL",
                 f"--ro-bind {tmp_path / 'sub'} {SUBMISSION_DIR}",
                 f"--ro-bind {worker['worker.py']} /sandbox/worker/worker.py",
                 f"--size {16 << 20} --perms 0700 --tmpfs {scratch}", "--remount-ro /dev", "--remount-ro /"):
        assert flag in joined
    assert "--ro-bind / /" not in joined and "--bind / /" not in joined
    assert "--ro-bind /usr /usr" not in joined
    site = [a for a in args if a.endswith("site-packages")]
    assert site and all(args[args.index(a) - 1] == "--tmpfs" for a in site)  # masked, not bound
    assert args[-2:] == ["--chdir", scratch]
    assert args.index("--remount-ro") > args.index(f"{tmp_path / 'sub'}")  # after the binds


def test_the_shared_record_cannot_be_resized_by_the_child():
    """The memory the worker writes a chunk's record to is sealed: a hostile child finds it
    but can neither shrink it (the grader would die of SIGBUS reading it) nor grow it."""
    n = 321
    box = Sandbox(HOSTILE / "shrink_record.py", limits(), record_bytes=(2 * 10 + 1) * n * 8)
    with box:
        box.start()
        box.call("construct", seed=0, **DIMS)
        assert "FOUND /memfd:bptt-record" in box.output() and "RESIZED" not in box.output()
        reply = box.call("train", arrays={"X": np.zeros((10, 8, 2)), "Y": np.zeros((10, 8, 1))}, alpha=0.1)
        assert reply.header["record"] == {"params": 11, "grads": 10} and "params" not in reply.arrays
        assert box.shared_floats(0, 11 * n).shape == (11 * n,)
        assert box.shared_floats(0, 10**9) is None  # reads stay inside the mapping
