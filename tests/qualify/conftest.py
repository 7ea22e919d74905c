"""Fixtures of the tests of the qualification suite (`tokenport qualify`).

The suite runs as the installed command (``python -m tokenport qualify``) in subprocesses,
against tokenport's compiled module (``tokenport module-path``), SoftHSMv2 (skipped when not
installed) and a deliberately broken double compiled from broken_module.c with gcc (skipped
without gcc). Install first: ``pip install . && pytest tests/qualify``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import isolated_env, output, run, tokenport

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="package", autouse=True)
def _store_isolation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Even a subprocess started without an explicit environment sees a temporary store."""
    base = tmp_path_factory.mktemp("qualify-home")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in isolated_env(base / "home").items():
            patch.setenv(name, value)
        for name in ("TOKENPORT_CONF", "TOKENPORT_PIN", "TOKENPORT_SO_PIN", "SOFTHSM2_CONF"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def module_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """tokenport's PKCS #11 module, as ``tokenport module-path`` prints it."""
    proc = run(tokenport("module-path"), isolated_env(tmp_path_factory.mktemp("module-path") / "home"))
    assert proc.returncode == 0, output(proc)
    path = proc.stdout.strip()
    assert Path(path).is_file(), path
    return path


@pytest.fixture(scope="session")
def broken_module(tmp_path_factory: pytest.TempPathFactory) -> str:
    """broken_module.c compiled with gcc into a shared library."""
    target = tmp_path_factory.mktemp("broken") / "broken_module.so"
    proc = subprocess.run(
        ["gcc", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-o", str(target),
         str(HERE / "broken_module.c"), "-ldl"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return str(target)
