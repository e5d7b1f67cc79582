"""The sandbox's guarantees, shown by attacks that fail.

Each probe in tests/hostile/escape/ is a correct model that, at import and in `forward`,
tries one forbidden thing and raises "ESCAPED ..." if it works. They run in every mode
this machine offers (the jail and bubblewrap; as root and as an ordinary user, created
here when the suite runs as root). Every target is made reachable for the user the
sandbox would run as on the host (world-readable, owned by that user where it writes), so
that the sandbox is the only barrier. Then the host is searched for what a success would
leave: marker files, changed files, a signalled victim, a connection, a process.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.sandbox import probe as machine

ROOT = Path(__file__).resolve().parents[2]
ESCAPE = ROOT / "tests" / "hostile" / "escape"
RUNNER = ROOT / "tests" / "sandbox" / "isolation_runner.py"
PROBES = sorted(p.name for p in ESCAPE.glob("[!_]*.py"))
PROBE_USER = "bptt-probe"
USER_VENV = Path("/var/tmp/bptt-probe-venv")
MEMORY_MB = 256
LIMITS = {"import_seconds": 30.0, "call_seconds": 40.0, "total_seconds": 90.0, "memory_mb": MEMORY_MB,
          "max_processes": 16, "max_file_mb": 8, "max_open_files": 64, "output_kb": 16}


@dataclass
class Runner:
    """Who runs the grader: uid, gid, an interpreter with NumPy and pydantic, a home."""

    uid: int
    gid: int
    python: str
    home: str

    def command(self, *args: str) -> list[str]:
        if self.uid == os.geteuid():
            return [self.python, *args]
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", self.python, *args]


def _run_as_root() -> Runner:
    return Runner(0, 0, sys.executable, "/root")


def _ordinary_user() -> Runner:
    """The current user if not root; else a user made for this, with a venv it can read."""
    if os.geteuid() != 0:
        return Runner(os.getuid(), os.getgid(), sys.executable, os.path.expanduser("~"))
    if shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("cannot create an ordinary user here (useradd or setpriv missing)")
    try:
        pwd.getpwnam(PROBE_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--user-group", PROBE_USER], check=True, capture_output=True)
    user = pwd.getpwnam(PROBE_USER)
    base = shutil.which("python3", path="/usr/bin:/bin")  # a Python every user can read
    if base is None:
        pytest.skip("no system Python (/usr/bin/python3) an ordinary user could run")
    python = USER_VENV / "bin" / "python"
    runner = Runner(user.pw_uid, user.pw_gid, str(python), user.pw_dir)
    check = subprocess.run(runner.command("-c", "import numpy, pydantic"), capture_output=True) \
        if python.exists() else None
    if check is None or check.returncode != 0:
        shutil.rmtree(USER_VENV, ignore_errors=True)
        USER_VENV.mkdir(parents=True)
        os.chown(USER_VENV, user.pw_uid, user.pw_gid)
        with_base = Runner(user.pw_uid, user.pw_gid, base, user.pw_dir)  # as the user, both steps
        for step in (with_base.command("-m", "venv", str(USER_VENV)),
                     runner.command("-m", "pip", "install", "--quiet", "numpy", "pydantic>=2.5")):
            done = subprocess.run(step, capture_output=True, timeout=600,
                                  env={"PATH": "/usr/bin:/bin", "HOME": user.pw_dir})
            if done.returncode != 0:
                pytest.skip(f"could not make a venv for {PROBE_USER}: {done.stderr.decode()[-300:]}")
    return runner


@dataclass
class Host:
    """What the probes aim at, laid out so that only the sandbox stands in the way."""

    runner: Runner
    base: Path
    mark: str = field(default_factory=lambda: f"bptt-escape-{os.urandom(6).hex()}")
    token: str = field(default_factory=lambda: f"bptt-probe-{os.urandom(6).hex()}")
    targets: dict = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    victim: subprocess.Popen | None = None
    listener: socket.socket | None = None

    def lay_out(self) -> None:
        deploy = self.base / "deploy"
        for package in ("grader", "reference"):
            shutil.copytree(ROOT / package, deploy / package, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ESCAPE, self.base / "probes")
        shutil.copy(RUNNER, self.base / RUNNER.name)  # the clone itself may sit in a folder only its owner reads
        (self.base / "classmate").mkdir()
        (self.base / "classmate" / "rnn.py").write_text("# CLASSMATE'S SECRET SOLUTION\n")
        out = self.base / "out"
        for sub in ("results", "logs", "feedback"):
            (out / sub).mkdir(parents=True)
        (out / "results" / "0123abcd.json").write_text('{"score": 30}')
        (out / "logs" / "0123abcd.log").write_text("a classmate's log")
        (out / "settings.toml").write_text("seed = 1\n")
        home_file = Path(self.runner.home) / ".bashrc"
        for path in [self.base, *self.base.rglob("*")]:
            os.chown(path, self.runner.uid, self.runner.gid)
            path.chmod(0o755 if path.is_dir() else 0o644)
        site = sysconfig.get_paths()["purelib"] if self.runner.uid == os.geteuid() else \
            str(next(USER_VENV.glob("lib/python3*/site-packages")))
        interpreter_dir = os.path.dirname(self.runner.python)
        reference_copies = [str(deploy / "reference" / "rnn.py"), str(ROOT / "reference" / "rnn.py")]
        self.targets = {
            "reference": reference_copies,
            "site_dirs": [site, sysconfig.get_paths()["purelib"], "/usr/lib/python3/dist-packages"],
            "private": [str(self.base / "classmate" / "rnn.py"), str(out / "results" / "0123abcd.json"),
                        str(out / "logs" / "0123abcd.log"), str(out / "settings.toml"), str(home_file)],
            "writable": [site, interpreter_dir, self.runner.home, str(deploy / "grader"), str(out / "logs"),
                         str(out), str(self.base / "probes")],
            "appendable": [str(deploy / "grader" / "sandbox" / "process.py"), str(deploy / "grader" / "__init__.py")],
            "out_dirs": [str(out / "logs"), str(out / "results")],
            "memory_mb": MEMORY_MB,
        }
        self.hashes = {p: _digest(p) for p in self.targets["appendable"]}
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(0.2)
        self.targets["port"] = self.listener.getsockname()[1]
        victim = [sys.executable if self.runner.uid == os.geteuid() else self.runner.python,
                  "-c", "import time; time.sleep(600)"]
        self.victim = subprocess.Popen(self.runner.command(*victim[1:]) if self.runner.uid != os.geteuid()
                                       else victim)
        self.targets["pids"] = [self.victim.pid]

    def run(self, mode: str) -> dict:
        job = {"probes": [str(self.base / "probes" / name) for name in PROBES], "targets": self.targets,
               "mark": self.mark, "token": self.token, "limits": LIMITS}
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": self.runner.home,
               "PYTHONPATH": str(self.base / "deploy"), machine.CHOOSE_VAR: mode,
               **{k: v for k, v in os.environ.items() if k in machine.BLAS_MACHINE_VARS}}
        done = subprocess.run(self.runner.command(str(self.base / RUNNER.name)), input=json.dumps(job).encode(),
                              capture_output=True, env=env, cwd=self.base, timeout=600)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        return json.loads(done.stdout)

    def traces(self) -> list[str]:
        """Everything on the host that a successful attempt would have left."""
        found = []
        places = [Path("/tmp"), Path("/dev/shm"), Path("/etc"), *map(Path, self.targets["writable"])]
        found += [str(p / self.mark) for p in places if os.path.lexists(p / self.mark)]
        for folder in self.targets["out_dirs"]:
            found += [f"{folder}/{n}" for n in os.listdir(folder) if self.mark in n]
        found += [f"{p} changed" for p, h in self.hashes.items() if _digest(p) != h]
        if self.victim.poll() is not None:
            found.append(f"victim pid {self.victim.pid} ended ({self.victim.returncode})")
        try:
            self.listener.accept()
            found.append("a connection reached 127.0.0.1")
        except OSError:
            pass
        deadline = time.monotonic() + 3
        while (left := _processes_with(self.token)) and time.monotonic() < deadline:
            time.sleep(0.1)
        found += [f"process {pid} outlived its sandbox" for pid in left]
        return found

    def clean(self) -> None:
        if self.victim is not None:
            self.victim.kill()
            self.victim.wait()
        if self.listener is not None:
            self.listener.close()
        for place in [Path("/tmp"), Path("/dev/shm"), *map(Path, self.targets.get("writable", []))]:
            if os.path.lexists(place / self.mark):
                (place / self.mark).unlink()
        shutil.rmtree(self.base, ignore_errors=True)


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _processes_with(token: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if token.encode() in f.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def _available(mode: str) -> None:
    if mode == "bwrap" and shutil.which("bwrap", path=machine.PATH) is None:
        pytest.skip("bubblewrap is not installed (apt install bubblewrap)")


@pytest.mark.slow
@pytest.mark.parametrize("user", ["root", "ordinary"])
@pytest.mark.parametrize("mode", ["namespaces", "bwrap"])
def test_every_escape_attempt_fails(mode, user):
    _available(mode)
    if user == "root" and os.geteuid() != 0:
        pytest.skip("the suite does not run as root")
    runner = _run_as_root() if user == "root" else _ordinary_user()
    host = Host(runner, Path(tempfile.mkdtemp(prefix="bptt-isolation-", dir="/tmp")))
    try:
        host.lay_out()
        outcome = host.run(mode)
        print(f"{mode} as {user}: {outcome['isolation']} ({outcome['note']})")
        assert outcome["isolation"].startswith(f"{mode}: "), outcome["note"]
        assert {"files", "network", "pids", "ipc"} <= set(outcome["guarantees"])
        assert ("user" in outcome["guarantees"]) == (mode == "namespaces" or user == "ordinary")
        report = {p["probe"]: p for p in outcome["probes"]}
        assert sorted(report) == sorted(Path(n).stem for n in PROBES)
        escaped = {name: p["error"] + p["output"] for name, p in report.items()
                   if "ESCAPED" in p["error"] + p["output"]}
        assert not escaped
        for name, probe in report.items():
            if name == "fork_memory" and probe["stage"] != "done":  # the OOM killer took the worker
                assert "SIGKILL" in probe["error"], probe
                continue
            assert probe["stage"] == "done", probe  # refused, and the model still works
        held = [int(line.split()[1]) for line in report["fork_memory"]["output"].splitlines()
                if line.startswith("HELD ")]
        print(f"fork_memory: held {held or 'nothing (killed)'} MB under a {MEMORY_MB} MB limit")
        assert all(h <= MEMORY_MB for h in held)
        cores = [line for line in report["use_cores"]["output"].splitlines() if line.startswith("CORES ")]
        print(f"use_cores: {cores}")
        assert host.traces() == []
    finally:
        host.clean()


@pytest.mark.slow
def test_the_probes_escape_where_nothing_isolates():
    """The control: without a sandbox the same probes get through, so their silence above
    is the sandbox's doing (leave_behind's process is still swept by the grader)."""
    if os.geteuid() != 0:
        pytest.skip("the control run writes into the test's own venv; run it as root in a scratch venv")
    host = Host(_run_as_root(), Path(tempfile.mkdtemp(prefix="bptt-isolation-", dir="/tmp")))
    try:
        host.lay_out()
        outcome = host.run("none")
        assert outcome["isolation"] == "none: process limits only"
        escaped = {p["probe"] for p in outcome["probes"] if "ESCAPED" in p["error"] + p["output"]}
        expected = {Path(n).stem for n in PROBES} - {"leave_behind"}
        busy = os.getloadavg()[0] >= (os.cpu_count() or 1) - 0.5
        if "use_cores" not in escaped and busy:  # no process shows it takes two cores that others hold
            print(f"use_cores: not shown, the machine is busy (load {os.getloadavg()[0]:.1f})")
            expected.discard("use_cores")
        assert escaped == expected
        assert host.traces()  # and they leave their marks on the host
    finally:
        host.clean()


def test_concurrent_sandboxes_cannot_see_or_signal_each_other(tmp_path):
    """-j N: a probe aims at a running neighbour's processes and its copy of the submission."""
    import numpy as np

    from grader.sandbox import Sandbox
    from grader.settings import Limits

    if machine.isolation().mode == "none":
        pytest.skip(f"no isolation on this machine: {machine.isolation().note}")
    token = f"bptt-neighbour-{os.urandom(6).hex()}"
    neighbour = Sandbox(ROOT / "tests" / "hostile" / "loop_forward.py", Limits(**LIMITS),
                        extra_env={"HOSTILE_TOKEN": token})
    try:
        neighbour.start()
        copies = [str(p) for p in Path(neighbour._tmp).rglob("*.py")]
        pids = _processes_with(token)
        assert copies and pids
        targets = {"pids": pids, "private": copies}
        for probe in ("signal_host.py", "read_private.py"):
            box = Sandbox(ESCAPE / probe, Limits(**LIMITS), extra_env={"HOSTILE_TARGETS": json.dumps(targets)})
            with box:
                box.start()  # raises StudentError("ESCAPED ...") if it got through
                box.call("construct", seed=0, input_dim=2, hidden_dim=16, output_dim=1)
                assert box.call("forward", arrays={"x": np.zeros((8, 2))}).arrays["yhat"].shape == (8, 1)
        assert _processes_with(token) == pids  # the neighbour lives on, untouched
    finally:
        neighbour.close()
