"""Helpers of the tests of the qualification suite: tokens to qualify, `tokenport qualify`
runs in subprocesses (several at once), and a parser of the console report.

Every subprocess gets an explicit environment whose TOKENPORT_HOME (and SOFTHSM2_CONF) point
into a temporary directory: no test touches the user's store.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SO_PIN = "so-pin-87654321"
USER_PIN = "user-pin-1234"
TIMEOUT = 300.0
#: concurrent `tokenport qualify` runs (each waits on PBKDF2 and its token store a lot)
PARALLEL = max(2, min(6, (os.cpu_count() or 2) * 2))
SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)
_SCRUBBED = ("TOKENPORT_HOME", "TOKENPORT_CONF", "TOKENPORT_PIN", "TOKENPORT_SO_PIN", "SOFTHSM2_CONF",
             "QUALIFY_BROKEN_MODE", "QUALIFY_BROKEN_TARGET")

TEST_LINE = re.compile(
    r"^TEST\((?P<group>\w+), (?P<name>\w+)\)"
    r"(?: PASS|(?P<file>[\w./-]+\.py):(?P<line>\d+)::(?P<status>FAIL|IGNORE): (?P<message>.+))$"
)
SUMMARY = re.compile(r"^(\d+) Tests (\d+) Failures (\d+) Ignored $")
BREAKER = "-----------------------"


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """This environment without any store, PIN or module settings, with the store in ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    home.mkdir(parents=True, exist_ok=True)
    env["TOKENPORT_HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home.parent / "xdg-config")
    env["XDG_DATA_HOME"] = str(home.parent / "xdg-data")
    env.update(extra)
    return env


def softhsm_module() -> str | None:
    return next((m for m in SOFTHSM_MODULES if Path(m).is_file()), None)


def have_softhsm() -> bool:
    return softhsm_module() is not None and shutil.which("softhsm2-util") is not None


def needs_softhsm() -> pytest.MarkDecorator:
    return pytest.mark.skipif(not have_softhsm(),
                              reason="SoftHSMv2 is not installed (apt softhsm2; CI installs it)")


def needs_gcc() -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed (CI installs it)")


def tokenport(*args: str) -> list[str]:
    return [sys.executable, "-m", "tokenport", *args]


def run(args: Sequence[str], env: Mapping[str, str], timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), env=dict(env), capture_output=True, text=True, timeout=timeout,
                          check=False)


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return f"[exit {proc.returncode}]\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


# -- tokens -------------------------------------------------------------------------------------


def tokenport_token(home: Path, label: str = "qualify") -> dict[str, str]:
    """A fresh tokenport store in ``home`` with one initialized token; its environment."""
    env = isolated_env(home)
    proc = run(tokenport("token", "init", "--label", label),
               {**env, "TOKENPORT_SO_PIN": SO_PIN, "TOKENPORT_PIN": USER_PIN})
    assert proc.returncode == 0, output(proc)
    return env


def softhsm_token(directory: Path, label: str = "qualify") -> dict[str, str]:
    """A fresh SoftHSMv2 token store in ``directory`` (softhsm2-util --init-token); its environment."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n", encoding="utf-8")
    env = isolated_env(directory / "tokenport-home", SOFTHSM2_CONF=str(conf))
    proc = run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN,
                "--pin", USER_PIN], env)
    assert proc.returncode == 0, output(proc)
    return env


# -- runs ---------------------------------------------------------------------------------------


@dataclass
class Run:
    """One `tokenport qualify` run and its parsed console report."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    statuses: dict[str, str] = field(default_factory=dict)  # "Group.Name" -> PASS/FAIL/IGNORE
    messages: dict[str, str] = field(default_factory=dict)
    summary: tuple[int, int, int] | None = None
    verdict: str | None = None

    def names(self, status: str) -> set[str]:
        """The test names (without group) with this status."""
        return {key.split(".", 1)[1] for key, value in self.statuses.items() if value == status}

    @property
    def failed(self) -> set[str]:
        return self.names("FAIL")

    @property
    def ignored(self) -> set[str]:
        return self.names("IGNORE")

    @property
    def passed(self) -> set[str]:
        return self.names("PASS")

    def __str__(self) -> str:
        return f"[exit {self.returncode}] {' '.join(self.args)}\n{self.stdout}\n--- stderr\n{self.stderr}"


def parse(args: list[str], proc: subprocess.CompletedProcess[str]) -> Run:
    """Parse the report; every TEST line must have the porting guide's format."""
    result = Run(args, proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stdout.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("TEST("):
            match = TEST_LINE.match(line)
            assert match, f"malformed result line {line!r}\n{result}"
            key = f"{match['group']}.{match['name']}"
            assert key not in result.statuses, f"{key} reported twice\n{result}"
            result.statuses[key] = match["status"] or "PASS"
            result.messages[key] = match["message"] or ""
        elif line == BREAKER:
            summary = SUMMARY.match(lines[number + 1])
            assert summary, f"no summary after the dashes\n{result}"
            result.summary = (int(summary[1]), int(summary[2]), int(summary[3]))
            result.verdict = lines[number + 2]
            assert lines[number - 1] == "", f"no blank line before the dashes\n{result}"
    return result


def qualify_args(module: str, *extra: str, pins: bool = True) -> list[str]:
    args = tokenport("qualify", "--module", module, *extra)
    if pins:
        args += ["--pin-env", "QUALIFY_TEST_PIN", "--so-pin-env", "QUALIFY_TEST_SO_PIN"]
    return args


def run_qualify(args: list[str], env: Mapping[str, str]) -> Run:
    full_env = {**env, "QUALIFY_TEST_PIN": USER_PIN, "QUALIFY_TEST_SO_PIN": SO_PIN}
    return parse(args, run(args, full_env))


def run_many(jobs: Mapping[str, tuple[list[str], Mapping[str, str]]]) -> dict[str, Run]:
    """Several runs at once (each on its own token); results by job name."""
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = {name: pool.submit(run_qualify, args, env) for name, (args, env) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def expect_clean(run_: Run, ignored: frozenset[str] | set[str] = frozenset()) -> None:
    """0 Failures, OK, exit 0, and exactly ``ignored`` ignored."""
    assert run_.returncode == 0, str(run_)
    assert run_.failed == set(), str(run_)
    assert run_.summary is not None and run_.summary[1] == 0, str(run_)
    assert run_.verdict == "OK", str(run_)
    assert run_.ignored == set(ignored), f"ignored {sorted(run_.ignored)}\n{run_}"
    assert run_.summary == (len(run_.statuses), 0, len(ignored)), str(run_)


# -- scripts that prepare or inspect a token through the suite's own client ---------------------

PROVISION = r"""
import json, sys
from tokenport.ck import CKA, CKF, CKM, CKU
from tokenport.qualify.credentials import Credentials
from tokenport.qualify.p11 import Client
from tokenport.qualify.templates import (certificate_template, ec_generation_templates,
    ec_public_key_from_point)

spec = json.loads(sys.argv[1])
client = Client(spec["module"])
assert client.initialize() == 0
rv, slots = client.get_slot_list(True)
slot = next(s for s in slots if client.get_token_info(s)[1].flags & CKF.TOKEN_INITIALIZED)
rv, session = client.open_session(slot)
assert client.login(session, CKU.USER, spec["pin"].encode()) == 0
creds = Credentials()
if spec.get("ec"):
    labels = spec["ec"]
    public, private = ec_generation_templates(labels["public"], labels["private"])
    rv, pub, priv = client.generate_key_pair(session, CKM.EC_KEY_PAIR_GEN, public, private)
    assert rv == 0, rv
    rv, point = client.get_attribute(session, pub, CKA.EC_POINT)
    cert = creds.issue("pre-provisioned device", ec_public_key_from_point(point))
    assert client.create_object(session, certificate_template(cert, labels["certificate"]))[0] == 0
for label in spec.get("sentinels", []):
    assert client.create_object(session, certificate_template(creds.root.certificate, label))[0] == 0
client.close_session(session)
client.finalize()
"""

LIST = r"""
import json, sys
from tokenport.ck import CKA, CKF, CKO, CKU
from tokenport.qualify.p11 import Client

spec = json.loads(sys.argv[1])
client = Client(spec["module"])
assert client.initialize() == 0
rv, slots = client.get_slot_list(True)
slot = next(s for s in slots if client.get_token_info(s)[1].flags & CKF.TOKEN_INITIALIZED)
rv, session = client.open_session(slot)
assert client.login(session, CKU.USER, spec["pin"].encode()) == 0
rv, handles = client.find(session, [])
objects = []
for handle in handles:
    label = client.get_attribute(session, handle, CKA.LABEL)[1] or b""
    cls = client.get_ulong(session, handle, CKA.CLASS)[1]
    objects.append([label.decode(), CKO(cls).name])
print(json.dumps(sorted(objects)))
client.finalize()
"""


def provision(module: str, env: Mapping[str, str], **spec: object) -> None:
    proc = run([sys.executable, "-c", PROVISION, json.dumps({"module": module, "pin": USER_PIN, **spec})], env)
    assert proc.returncode == 0, output(proc)


def token_objects(module: str, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(label, class) of every object on the token."""
    proc = run([sys.executable, "-c", LIST, json.dumps({"module": module, "pin": USER_PIN})], env)
    assert proc.returncode == 0, output(proc)
    return [(label, cls) for label, cls in json.loads(proc.stdout)]
