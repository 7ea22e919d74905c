"""tokenport.examples.mtls_client: mutual TLS from Python code with the token key."""

from __future__ import annotations

import sys

import pytest

from ..integration.tools import output, run
from .tlstools import ENGINE, HTTP_GET, Device, TlsServer

pytestmark = pytest.mark.skipif(not ENGINE.is_file(),
                                reason="libengine-pkcs11-openssl is not installed")


def example(device: Device, server: TlsServer, kind: str, *extra: str) -> tuple[int, str]:
    token = {"ec": "dev-ec", "rsa": "dev-rsa"}[kind]
    proc = run([sys.executable, "-m", "tokenport.examples.mtls_client", "--connect", f"127.0.0.1:{server.port}",
                "--servername", "localhost", "--ca", str(device.pki.ca_file), "--token", token,
                "--send", HTTP_GET.encode("unicode_escape").decode(), *extra],
               device.env, cwd=device.work, timeout=60)
    return proc.returncode, output(proc)


@pytest.mark.parametrize(("kind", "version"), [("ec", "1.2"), ("ec", "1.3"), ("rsa", "1.3")])
def test_python_client_with_the_token_key(device: Device, server: TlsServer, kind: str,
                                          version: str) -> None:
    code, text = example(device, server, kind, "--tls", version)
    assert code == 0, text
    assert f"handshake OK (TLSv{version})" in text
    assert device.subject(kind) in text, "the server saw the certificate read from the token"


def test_python_client_refused_by_a_server_trusting_another_ca(
        device: Device, foreign_server: TlsServer) -> None:
    code, text = example(device, foreign_server, "ec")
    assert code == 1, text
    assert "unknown ca" in text, text
