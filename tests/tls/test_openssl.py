"""openssl s_client with the device key inside tokenport, through the libp11 engine."""

from __future__ import annotations

import pytest

from ..integration.tools import output, run, skip_without
from .tlstools import ENGINE, HTTP_GET, Device, TlsServer

pytestmark = [
    skip_without("openssl"),
    pytest.mark.skipif(not ENGINE.is_file(), reason="libengine-pkcs11-openssl is not installed"),
]


def s_client(device: Device, server: TlsServer, kind: str, version: str) -> tuple[int, str]:
    """One handshake and one HTTP request; (exit status, everything printed)."""
    proc = run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", f"-tls{version}",
         "-engine", "pkcs11", "-keyform", "engine", "-key", device.key_uri(kind),
         "-cert", str(device.cert_file(kind)), "-CAfile", str(device.pki.ca_file),
         "-verify_return_error", "-servername", "localhost", "-quiet", "-ign_eof"],
        device.env, input=HTTP_GET, timeout=60)
    return proc.returncode, output(proc)


@pytest.mark.parametrize("version", ["1_2", "1_3"])
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_handshake_with_the_token_key(device: Device, server: TlsServer, kind: str,
                                      version: str) -> None:
    code, text = s_client(device, server, kind, version)
    assert code == 0, text
    assert f"Protocol  : TLSv{version.replace('_', '.')}" in text, text
    assert device.subject(kind) in text, "the server saw the device certificate"


@pytest.mark.parametrize("version", ["1_2", "1_3"])
def test_a_server_trusting_another_ca_refuses_the_device(device: Device,
                                                         foreign_server: TlsServer,
                                                         version: str) -> None:
    code, text = s_client(device, foreign_server, "ec", version)
    assert code != 0, text
    assert "alert unknown ca" in text, text
    assert device.subject("ec") not in text
