"""GnuTLS (gnutls-cli) and curl with pkcs11: URIs for the client certificate and key."""

from __future__ import annotations

import pytest

from ..integration.tools import output, run, skip_without
from .tlstools import ENGINE, HTTP_GET, Device, TlsServer

PRIORITIES = {"1.2": "NORMAL:-VERS-ALL:+VERS-TLS1.2", "1.3": "NORMAL:-VERS-ALL:+VERS-TLS1.3"}


@skip_without("gnutls-cli")
@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_gnutls_cli_with_pkcs11_key_and_certificate(device: Device, server: TlsServer,
                                                    kind: str, version: str) -> None:
    """gnutls-cli loads the module with --provider; certificate and key are both URIs."""
    proc = run(
        ["gnutls-cli", "--provider", device.module, "--priority", PRIORITIES[version],
         "--x509cafile", str(device.pki.ca_file),
         "--x509keyfile", device.key_uri(kind), "--x509certfile", device.cert_uri(kind),
         "-p", str(server.port), "127.0.0.1"],
        device.env, input=HTTP_GET, timeout=60)
    text = output(proc)
    assert proc.returncode == 0, text
    assert f"- Description: (TLS{version}-X.509)" in text, text
    assert device.subject(kind) in text, text


@skip_without("curl")
@pytest.mark.skipif(not ENGINE.is_file(), reason="libengine-pkcs11-openssl is not installed")
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_curl_with_pkcs11_uris(device: Device, server: TlsServer, kind: str) -> None:
    """Debian's curl (OpenSSL backend) takes pkcs11: URIs for --cert and --key and uses the
    engine for both (it recognises the scheme; no --engine / --cert-type needed)."""
    proc = run(
        ["curl", "--silent", "--show-error", "--max-time", "60",
         "--cacert", str(device.pki.ca_file), "--resolve", f"localhost:{server.port}:127.0.0.1",
         "--cert", device.cert_uri(kind), "--key", device.key_uri(kind),
         f"https://localhost:{server.port}/"],
        device.env, timeout=90)
    text = output(proc)
    assert proc.returncode == 0, text
    assert device.subject(kind) in text, text
