"""Fixtures for the C ABI tests (tokenport.abi): they run against the compiled module.

How the module under test is found: always through ``tokenport.abi.module_path()``, i.e.
the ``_pkcs11*.so`` inside whichever ``tokenport`` package Python imports.

* CI / the lead: ``pip install .`` then ``pytest tests/abi`` (the installed package is used;
  nothing here puts ``src`` on sys.path).
* Development (what the ABI engineer used): build in place and point Python at ``src``::

      python setup.py build_ext --inplace --force   # writes src/tokenport/_pkcs11*.so
      PYTHONPATH=src pytest tests/abi

  The C hosts find the package next to the .so (the module adds its own site directory,
  here ``src``, to the embedded interpreter's sys.path), so both modes test the same tree.

Every test gets its own TOKENPORT_HOME (a temp dir); no test touches the user's store.
Tests that load the module into a host process other than pytest (C client, forks,
startup failures, bad lengths) run it in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenport.ck import CKU

from .helpers import SO_PIN, USER_PIN, first_slot, open_session
from .p11ctypes import P11

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


@pytest.fixture(scope="session")
def module_path() -> str:
    """The compiled module under test (fails clearly when the package is not built)."""
    from tokenport.abi import module_path as find

    return find()


@pytest.fixture(scope="session")
def header_dir() -> str:
    """The directory of the PKCS #11 header shipped with the package."""
    from tokenport.abi import header_path

    return str(Path(header_path()).parent)


@pytest.fixture(scope="session")
def client(tmp_path_factory: pytest.TempPathFactory, header_dir: str) -> str:
    """tests/abi/client.c compiled with gcc against the package's header."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is required for the C ABI tests")
    out = tmp_path_factory.mktemp("client") / "client"
    subprocess.run(
        [
            "gcc",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O1",
            "-I",
            header_dir,
            "-o",
            str(out),
            str(HERE / "client.c"),
            "-ldl",
            "-lpthread",
        ],
        check=True,
    )
    return str(out)


@pytest.fixture(autouse=True)
def token_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh TOKENPORT_HOME for every test (inherited by subprocesses): no test ever
    touches the user's store."""
    home = tmp_path / "tokenport-home"
    home.mkdir()
    monkeypatch.setenv("TOKENPORT_HOME", str(home))
    monkeypatch.delenv("TOKENPORT_CONF", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))  # no user config file
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return home


def run_client(
    client: str,
    module: str,
    mode: str,
    *extra: str,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run the C client; returns the process and its ``key=value`` output (first token per line)."""
    proc = subprocess.run(
        [client, module, mode, *extra],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else dict(os.environ),
    )
    values: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        for token in line.split(" "):
            key, sep, value = token.partition("=")
            if sep and key not in values:
                values[key] = value
    return proc, values


def run_python(
    code: str, *, timeout: float = 120, env: dict[str, str] | None = None, cwd: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (same sys.path setup as this one)."""
    environment = dict(os.environ if env is None else env)
    pythonpath = [p for p in sys.path if p and Path(p).is_dir()]
    environment["PYTHONPATH"] = os.pathsep.join([str(REPO), *pythonpath])
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=cwd,
    )


@pytest.fixture(scope="session")
def p11(module_path: str) -> P11:
    """The module loaded into this (Python) process through ctypes: it shares pytest's
    interpreter. Only used for calls the module validates itself (no crash possible)."""
    return P11(module_path)


@pytest.fixture
def lib(p11: P11, token_home: Path) -> Iterator[P11]:
    """The module, initialized on a fresh TOKENPORT_HOME; finalized afterwards."""
    assert p11.C_Initialize(None) == 0
    try:
        yield p11
    finally:
        p11.C_Finalize(None)


@pytest.fixture
def session(lib: P11) -> int:
    """A read-write session logged in as the user, on a freshly initialized token."""
    slot = first_slot(lib)
    label = b"abi".ljust(32)
    assert lib.C_InitToken(slot, SO_PIN, len(SO_PIN), label) == 0
    handle = open_session(lib, slot)
    assert lib.C_Login(handle, int(CKU.SO), SO_PIN, len(SO_PIN)) == 0
    assert lib.C_InitPIN(handle, USER_PIN, len(USER_PIN)) == 0
    assert lib.C_Logout(handle) == 0
    assert lib.C_Login(handle, int(CKU.USER), USER_PIN, len(USER_PIN)) == 0
    return handle
