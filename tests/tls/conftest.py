"""Fixtures of the mutual-TLS tests: real TLS clients using the device key inside tokenport.

Run after ``pip install .`` (the clients load the compiled module). A throwaway PKI is made
with pyca/cryptography; two tokens are provisioned with the tokenport command (EC and RSA
device keys generated inside the token); servers listen on 127.0.0.1 and are killed in
teardown. The store is in a temporary TOKENPORT_HOME: nothing touches the user's.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..integration.tools import isolated_env, output, run
from ..provisioning.pki import TestPki
from .tlstools import Device, TlsServer


@pytest.fixture(scope="package")
def module_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The compiled PKCS #11 module, as ``tokenport module-path`` reports it."""
    home = tmp_path_factory.mktemp("module-path") / "home"
    proc = run([sys.executable, "-m", "tokenport", "module-path"], isolated_env(home))
    assert proc.returncode == 0, output(proc)
    path = proc.stdout.strip()
    assert Path(path).is_file(), path
    return path


@pytest.fixture(scope="package")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.create(tmp_path_factory.mktemp("tls-pki"))


@pytest.fixture(scope="package")
def device(module_path: str, pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Device:
    return Device.provision(module_path, tmp_path_factory.mktemp("device"), pki)


@pytest.fixture(scope="package")
def server(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """openssl s_server trusting the test CA (the device certificates' issuer)."""
    tls = TlsServer(pki, pki.ca_file, tmp_path_factory.mktemp("server") / "s_server.log")
    yield tls
    tls.stop()


@pytest.fixture(scope="package")
def foreign_server(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """openssl s_server trusting only another CA: it must refuse the device."""
    tls = TlsServer(pki, pki.other_ca_file, tmp_path_factory.mktemp("foreign") / "s_server.log")
    yield tls
    tls.stop()
