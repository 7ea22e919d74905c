"""Fixtures of the interoperability tests: real clients against the real compiled module.

Run them after installing the package (the module is built by ``pip install .``)::

    pip install . && pytest tests/integration

The module under test is the one ``python -m tokenport module-path`` prints for this
interpreter, i.e. the same package the python-pkcs11 subprocesses (which share this
interpreter's environment) load. Every client runs in a subprocess with an explicit
environment: TOKENPORT_HOME is always a temporary directory, TOKENPORT_CONF is unset unless a
test writes its own config, and XDG_* point into the temporary tree so no user config file
is read. Nothing here ever touches ~/.local/share/tokenport.

Tokens that several tests can share (initialization and PBKDF2 logins cost time) are
module-scoped; tests that change token state (wrong PINs, lockout, 1,000 objects) get their own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .tools import Token, isolated_env, new_token, output, run


@pytest.fixture(scope="package", autouse=True)
def _package_store_isolation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Belt and braces: even a subprocess started without an explicit env sees a temp store."""
    base = tmp_path_factory.mktemp("package-home")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in isolated_env(base / "home").items():
            patch.setenv(name, value)
        patch.delenv("TOKENPORT_CONF", raising=False)
        yield


@pytest.fixture(autouse=True)
def _test_store_isolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh TOKENPORT_HOME for every test (tests that share a token pass its env)."""
    home = tmp_path / "default-home"
    home.mkdir()
    monkeypatch.setenv("TOKENPORT_HOME", str(home))
    monkeypatch.delenv("TOKENPORT_CONF", raising=False)
    return home


@pytest.fixture(scope="session")
def module_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The compiled PKCS #11 module, as ``tokenport module-path`` reports it."""
    home = tmp_path_factory.mktemp("module-path") / "home"
    home.mkdir()
    proc = run([sys.executable, "-m", "tokenport", "module-path"], isolated_env(home))
    assert proc.returncode == 0, output(proc)
    path = proc.stdout.strip()
    assert Path(path).is_file(), f"tokenport module-path printed {path!r}, which is not a file"
    return path


@pytest.fixture
def fresh_token(module_path: str, tmp_path: Path) -> Token:
    """An uninitialized store for one test (label "fresh")."""
    return new_token(module_path, tmp_path / "token", "fresh")
