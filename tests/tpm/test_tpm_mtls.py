"""Mutual TLS with a TPM-held device key: `tokenport provision --generate` on a tpm2 token
makes the key in the TPM, and openssl s_client signs the handshake through the libp11
engine and tokenport (the issue's "mTLS test passes with a TPM-held key")."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.integration.tools import output, run, skip_without
from tests.provisioning.pki import TestPki
from tests.tls.tlstools import ENGINE, HTTP_GET, Device, TlsServer

from .swtpm import Swtpm

pytestmark = [
    skip_without("openssl"),
    pytest.mark.skipif(not ENGINE.is_file(), reason="libengine-pkcs11-openssl is not installed"),
]


class TpmDevice(Device):
    """The tls tests' device tokens, on a store whose config selects the tpm2 port."""

    tcti = ""

    @property
    def env(self) -> dict[str, str]:
        conf = self.work / "tokenport.toml"
        conf.write_text(f'[crypto]\nport = "tpm2"\n\n[crypto.tpm2]\ntcti = "{self.tcti}"\n',
                        encoding="utf-8")
        return {**Device.env.fget(self), "TOKENPORT_CONF": str(conf)}  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.create(tmp_path_factory.mktemp("tpm-pki"))


@pytest.fixture(scope="module")
def device(swtpm: Swtpm, pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Device:
    from tokenport.abi import module_path

    TpmDevice.tcti = swtpm.tcti
    return TpmDevice.provision(module_path(), tmp_path_factory.mktemp("tpm-device"), pki)


@pytest.fixture(scope="module")
def server(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    tls = TlsServer(pki, pki.ca_file, tmp_path_factory.mktemp("tpm-server") / "s_server.log")
    yield tls
    tls.stop()


@pytest.mark.parametrize("version", ["1_2", "1_3"])
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_mtls_handshake_with_a_tpm_held_key(device: Device, server: TlsServer, kind: str,
                                            version: str) -> None:
    proc = run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", f"-tls{version}",
         "-engine", "pkcs11", "-keyform", "engine", "-key", device.key_uri(kind),
         "-cert", str(device.cert_file(kind)), "-CAfile", str(device.pki.ca_file),
         "-verify_return_error", "-servername", "localhost", "-quiet", "-ign_eof"],
        device.env, input=HTTP_GET, timeout=60)
    text = output(proc)
    assert proc.returncode == 0, text
    assert f"Protocol  : TLSv{version.replace('_', '.')}" in text, text
    assert device.subject(kind) in text, "the server saw the device certificate"
    listing = run([sys.executable, "-m", "tokenport", "object", "list", "--login", "--json",
                   "--token", f"dev-{kind}"], device.env)
    assert listing.returncode == 0, output(listing)
    assert '"location": "tpm2"' in listing.stdout, listing.stdout


def test_device_key_location_in_the_listing(device: Device) -> None:
    for kind in ("ec", "rsa"):
        proc = run([sys.executable, "-m", "tokenport", "object", "list", "--login",
                    "--token", f"dev-{kind}"], device.env)
        assert proc.returncode == 0, output(proc)
        line = next(line for line in proc.stdout.splitlines() if "Device Priv TLS Key" in line)
        assert "location=tpm2" in line, proc.stdout
