"""Stress: threads on separate sessions of one loaded module, and processes on one store.

The driver (tests/stress/stress.c, a C host with pthreads) runs THREADS threads, each on a
session of its own, doing ECDSA sign/verify, finds, token object creation and destruction
for a fixed time, checking every CK_RV (PKCS #11 v2.40 s5.6 sessions, s5.7 objects,
s5.11/s5.13 sign and verify). The tests then check, from fresh processes, that the store
holds exactly the objects created minus those destroyed, each once and intact, that
``tokenport store check`` finds nothing damaged, and that SQLite's ``PRAGMA
integrity_check`` says ok. Nothing here asserts timing.

Short in CI (5 s per run). The long run (tests/stress/README.md)::

    TOKENPORT_STRESS_SECONDS=600 python3 -m pytest tests/stress
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SECONDS = float(os.environ.get("TOKENPORT_STRESS_SECONDS", "5"))
THREADS = int(os.environ.get("TOKENPORT_STRESS_THREADS", "8"))
PROCESSES = int(os.environ.get("TOKENPORT_STRESS_PROCESSES", "4"))
LABEL = "stress"
SO_PIN = "stress-so-pin"
PIN = "stress-user-pin"
STORE_FILE = "tokenport.sqlite3"  # the default (SQLite) store in TOKENPORT_HOME


@pytest.fixture(scope="session")
def module_path() -> str:
    from tokenport.abi import module_path as find

    return find()


@pytest.fixture(scope="session")
def driver(tmp_path_factory: pytest.TempPathFactory) -> str:
    """tests/stress/stress.c compiled against the package's PKCS #11 header."""
    from tokenport.abi import header_path

    if shutil.which("gcc") is None:
        pytest.fail("gcc is required for the stress test")
    out = tmp_path_factory.mktemp("stress") / "stress"
    subprocess.run(
        ["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-pthread"]
        + ["-I", str(Path(header_path()).parent), "-o", str(out), str(HERE / "stress.c"), "-ldl"],
        check=True,
    )
    return str(out)


@dataclass
class Store:
    """A fresh TOKENPORT_HOME with one initialized token, and the environment naming it."""

    home: Path
    env: dict[str, str]


@pytest.fixture
def store(tmp_path: Path, driver: str, module_path: str) -> Iterator[Store]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENPORT_")}
    home = tmp_path / "home"
    env["TOKENPORT_HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")  # no user config file
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and Path(p).is_dir())
    proc = subprocess.run(
        [driver, module_path, "init", LABEL, SO_PIN, PIN],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    yield Store(home, env)


@dataclass
class Ledger:
    """What driver runs say they left: live and destroyed labels, operation counts."""

    alive: list[str] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)
    ops: dict[str, int] = field(default_factory=dict)

    def add(self, stdout: str) -> None:
        for line in stdout.splitlines():
            word, _, rest = line.partition(" ")
            if word == "alive":
                self.alive.append(rest)
            elif word == "destroyed":
                self.destroyed.append(rest)
            elif word == "ops":
                for item in rest.split():
                    name, _, count = item.partition("=")
                    self.ops[name] = self.ops.get(name, 0) + int(count)


def start(
    driver: str,
    module: str,
    store: Store,
    tag: str,
    threads: int = THREADS,
    seconds: float = SECONDS,
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [driver, module, "run", LABEL, PIN, tag, str(threads), str(seconds)],
        env=store.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], ledger: Ledger) -> None:
    """Wait for a driver run; it must exit 0 having seen no CK_RV but the expected one."""
    stdout, stderr = proc.communicate(timeout=SECONDS + 600)
    assert proc.returncode == 0, f"driver exit {proc.returncode}:\n{stderr[-4000:]}"
    before = ledger.ops.get("errors", 0)
    ledger.add(stdout)
    assert ledger.ops.get("errors", 0) == before == 0, stderr[-4000:]


def check_store(driver: str, module: str, store: Store, ledger: Ledger) -> None:
    """The store, seen by fresh processes, holds exactly created minus destroyed: each once."""
    created = ledger.alive + ledger.destroyed
    assert len(created) == len(set(created)), "the driver made a label twice"
    expected = set(ledger.alive)

    proc = subprocess.run(
        [driver, module, "list", LABEL, PIN],
        env=store.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    bad = [line for line in proc.stdout.splitlines() if line.startswith("bad ")]
    assert bad == [], bad
    assert proc.returncode == 0, proc.stderr
    listed = [line[len("object ") :] for line in proc.stdout.splitlines()]
    duplicated = sorted(k for k, n in collections.Counter(listed).items() if n > 1)
    assert duplicated == [], f"objects found more than once: {duplicated[:10]}"
    assert set(listed) == expected, (
        f"lost: {sorted(expected - set(listed))[:10]}, "
        f"not destroyed or unknown: {sorted(set(listed) - expected)[:10]}"
    )

    cli_env = dict(store.env, TOKENPORT_PIN=PIN)
    cli = [sys.executable, "-m", "tokenport"]
    listing = subprocess.run(
        [*cli, "object", "list", "--token", LABEL, "--login", "--json"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    labels = [o["label"] for o in json.loads(listing.stdout) if o["label"].startswith("stress-")]
    assert sorted(labels) == sorted(expected)

    checked = subprocess.run(
        [*cli, "store", "check", "--token", LABEL, "--json"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert (report["ok"], report["problems"]) == (True, [])

    connection = sqlite3.connect(f"file:{store.home / STORE_FILE}?mode=ro", uri=True)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        connection.close()


def assert_every_operation_ran(ledger: Ledger) -> None:
    for name in ("sign", "verify", "find", "create", "destroy"):
        assert ledger.ops.get(name, 0) > 0, f"no {name} was made: {ledger.ops}"


def test_threads_on_separate_sessions_of_one_module(
    driver: str, module_path: str, store: Store
) -> None:
    ledger = Ledger()
    finish(start(driver, module_path, store, "one"), ledger)
    assert_every_operation_ran(ledger)
    check_store(driver, module_path, store, ledger)


def test_processes_on_one_store(driver: str, module_path: str, store: Store) -> None:
    ledger = Ledger()
    procs = [start(driver, module_path, store, f"p{i}") for i in range(PROCESSES)]
    try:
        for proc in procs:
            finish(proc, ledger)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert_every_operation_ran(ledger)
    check_store(driver, module_path, store, ledger)


def test_the_check_notices_lost_and_duplicated_objects(
    driver: str, module_path: str, store: Store
) -> None:
    """check_store fails when the store lacks a live object or holds one twice."""
    ledger = Ledger()
    finish(start(driver, module_path, store, "same", threads=2, seconds=1), ledger)
    check_store(driver, module_path, store, ledger)

    lost = Ledger(alive=[*ledger.alive, "stress-never-made"], destroyed=ledger.destroyed)
    with pytest.raises(AssertionError, match="lost: \\['stress-never-made'\\]"):
        check_store(driver, module_path, store, lost)

    twice = ledger.alive[0]
    made = subprocess.run(
        [driver, module_path, "add", LABEL, PIN, twice],
        env=store.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    with pytest.raises(AssertionError, match=f"found more than once: \\['{twice}'\\]"):
        check_store(driver, module_path, store, ledger)
