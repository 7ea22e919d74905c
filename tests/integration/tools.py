"""Helpers for the interoperability tests: run real PKCS #11 clients against the real module.

Every client runs in a subprocess (a crash of the module or the client never kills pytest)
with an explicit environment whose TOKENPORT_HOME is a temporary directory. python-pkcs11 is
driven by short scripts run with ``sys.executable -c``: ``run_python_pkcs11`` prepends a
preamble that loads the module, finds the token by label and defines ``emit(**values)``,
which hands JSON back to the test (bytes travel as hex).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

TIMEOUT = 120.0
SO_PIN = "so-pin-87654321"
USER_PIN = "user-pin-1234"

#: Environment variables that would point a client at a store or config outside the test.
_SCRUBBED = ("TOKENPORT_HOME", "TOKENPORT_CONF", "TOKENPORT_PIN", "TOKENPORT_SO_PIN")


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment with the store, config and XDG directories under ``home``'s
    parent: nothing a client does can reach the user's store or config."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["TOKENPORT_HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home.parent / "xdg-config")
    env["XDG_DATA_HOME"] = str(home.parent / "xdg-data")
    env.update(extra)
    return env


def have_tool(name: str) -> bool:
    return shutil.which(name) is not None


def skip_without(*tools: str) -> pytest.MarkDecorator:
    """Skip a test (or module) when one of the command-line ``tools`` is not installed."""
    missing = [t for t in tools if not have_tool(t)]
    return pytest.mark.skipif(
        bool(missing), reason=f"not installed: {', '.join(missing)} (CI installs it)"
    )


def have_python_pkcs11() -> bool:
    import importlib.util

    return importlib.util.find_spec("pkcs11") is not None


needs_python_pkcs11 = pytest.mark.skipif(
    not have_python_pkcs11(), reason="python-pkcs11 is not installed (pip install '.[test]')"
)


def run(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    cwd: Path | None = None,
    timeout: float = TIMEOUT,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion and capture its text output (never raises on exit code)."""
    return subprocess.run(
        list(args),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=input,
    )


def output(proc: subprocess.CompletedProcess[str]) -> str:
    """Everything a process printed (for assertion messages and greps)."""
    return f"[exit {proc.returncode}]\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


# -- python-pkcs11 scripts ---------------------------------------------------------------------

PREAMBLE = r'''
import json, os, sys
import pkcs11
import pkcs11.exceptions as p11x
from pkcs11 import Attribute, KDF, KeyType, MGF, Mechanism, ObjectClass, TokenFlag
from pkcs11.mechanisms import GCMParams

lib = pkcs11.lib(os.environ["TP_MODULE"])
LABEL = os.environ.get("TP_TOKEN", "")
PIN = os.environ.get("TP_PIN", "")
SO_PIN = os.environ.get("TP_SO_PIN", "")
token = lib.get_token(token_label=LABEL) if LABEL else None


def _plain(value):
    if isinstance(value, (bytes, bytearray)):
        return {"hex": bytes(value).hex()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "value") and isinstance(getattr(value, "value"), int):  # IntEnum/IntFlag
        return int(value)
    return value


def emit(**values):
    print("RESULT " + json.dumps(_plain(values)), flush=True)


def raised(call, *args, **kwargs):
    """The class name of the exception ``call`` raises, or "no exception"."""
    try:
        call(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the name is the result
        return type(exc).__name__
    return "no exception"
'''


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"hex"}:
            return bytes.fromhex(value["hex"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def parse_results(stdout: str) -> dict[str, Any]:
    """Merge every ``RESULT {json}`` line a script printed."""
    results: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            results.update(_decode(json.loads(line[len("RESULT ") :])))
    return results


@dataclass
class Token:
    """One initialized token in its own store directory, and how to reach it."""

    module: str
    home: Path
    label: str
    so_pin: str = SO_PIN
    pin: str = USER_PIN
    workdir: Path = field(default_factory=Path)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return isolated_env(
            self.home,
            TP_MODULE=self.module,
            TP_TOKEN=self.label,
            TP_PIN=self.pin,
            TP_SO_PIN=self.so_pin,
            **self.extra_env,
        )

    # -- pkcs11-tool -----------------------------------------------------------------------

    def tool(
        self, *args: str, login: bool = False, by_label: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run pkcs11-tool on this token (``login``: as the user with the right PIN)."""
        command = ["pkcs11-tool", "--module", self.module]
        if by_label:
            command += ["--token-label", self.label]
        if login:
            command += ["--login", "--pin", self.pin]
        return run([*command, *args], self.env, cwd=self.workdir)

    def tool_ok(self, *args: str, login: bool = False) -> subprocess.CompletedProcess[str]:
        proc = self.tool(*args, login=login)
        assert proc.returncode == 0, output(proc)
        return proc

    # -- python-pkcs11 ---------------------------------------------------------------------

    def python(
        self, body: str, *, env: Mapping[str, str] | None = None, input: str | None = None
    ) -> dict[str, Any]:
        """Run a python-pkcs11 script (``PREAMBLE`` + ``body``) that must exit 0; its results."""
        proc = self.python_proc(body, env=env, input=input)
        assert proc.returncode == 0, output(proc)
        return parse_results(proc.stdout)

    def python_proc(
        self, body: str, *, env: Mapping[str, str] | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        environment = self.env
        environment.update(env or {})
        return run(
            [sys.executable, "-c", PREAMBLE + body], environment, cwd=self.workdir, input=input
        )

    def worker(self, body: str, *, env: Mapping[str, str] | None = None) -> Worker:
        """Start a long-running python-pkcs11 process (see ``Worker``)."""
        environment = self.env
        environment.update(env or {})
        return Worker([sys.executable, "-u", "-c", PREAMBLE + body], environment, self.workdir)

    # -- the store -------------------------------------------------------------------------

    def store_bytes(self) -> bytes:
        """The raw bytes of the SQLite store and its -wal/-shm files."""
        files = sorted(self.home.glob("tokenport.sqlite3*"))
        assert any(f.name == "tokenport.sqlite3" for f in files), list(self.home.iterdir())
        return b"".join(f.read_bytes() for f in files)


class Worker:
    """A long-running client process speaking a line protocol: the test writes one command
    line, the process answers with one ``RESULT {json}`` line."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            list(args),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def read(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next RESULT line (fails with the process's stderr if it exits or times out)."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise AssertionError(f"worker gave no answer in {timeout}s")
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if not ready:
                continue
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait(timeout=10)
                stderr = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{stderr}")
            if line.startswith("RESULT "):
                return parse_results(line)

    def send(self, line: str) -> None:
        """Write one line to the worker's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def ask(self, command: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Send a command line and return the answer."""
        self.send(command)
        return self.read(timeout)

    def close(self, timeout: float = 30) -> int:
        """Close stdin (the worker's loop ends) and wait for it; returns the exit code."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.kill()

    def stderr(self) -> str:
        return self.proc.stderr.read() if self.proc.stderr else ""

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


# -- provisioning -------------------------------------------------------------------------------


def init_with_cli(token: Token, *extra: str) -> subprocess.CompletedProcess[str]:
    """Initialize ``token`` with the tokenport command (label, SO PIN and user PIN)."""
    proc = run(
        [
            sys.executable,
            "-m",
            "tokenport",
            "token",
            "init",
            "--label",
            token.label,
            "--so-pin-env",
            "TP_SO_PIN",
            "--pin-env",
            "TP_PIN",
            *extra,
        ],
        token.env,
        cwd=token.workdir,
    )
    assert proc.returncode == 0, output(proc)
    return proc


def init_with_pkcs11_tool(token: Token) -> tuple[subprocess.CompletedProcess[str], ...]:
    """Initialize ``token`` with pkcs11-tool: --init-token, then --init-pin as the SO."""
    init = token.tool(
        "--init-token", "--label", token.label, "--so-pin", token.so_pin, by_label=False
    )
    assert init.returncode == 0, output(init)
    pin = token.tool("--init-pin", "--login", "--so-pin", token.so_pin, "--pin", token.pin)
    assert pin.returncode == 0, output(pin)
    return init, pin


def new_token(module: str, base: Path, label: str) -> Token:
    """A Token value with an empty store directory ``base/home`` (nothing initialized yet)."""
    home = base / "home"
    home.mkdir(parents=True)
    work = base / "work"
    work.mkdir()
    return Token(module=module, home=home, label=label, workdir=work)


# -- decoding public keys (independent of the module and the clients) -------------------------


def unwrap_ec_point(value: bytes) -> bytes:
    """The point inside CKA_EC_POINT, which v2.40 encodes as a DER OCTET STRING."""
    if len(value) >= 2 and value[0] == 0x04 and value[1] == len(value) - 2 and value[1] < 0x80:
        return value[2:]
    if len(value) >= 3 and value[:2] == b"\x04\x81" and value[2] == len(value) - 3:
        return value[3:]
    raise AssertionError(f"CKA_EC_POINT is not a DER OCTET STRING: {value.hex()}")
