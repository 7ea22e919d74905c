"""ssh-keygen -D: OpenSSH reads the device public keys from tokenport."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..integration.tools import output, run, skip_without
from .tlstools import Device


@skip_without("ssh-keygen")
def test_ssh_keygen_prints_the_device_keys_in_openssh_format(device: Device) -> None:
    proc = run(["ssh-keygen", "-D", device.module], device.env, timeout=60)
    assert proc.returncode == 0, output(proc)
    printed = {" ".join(line.split()[:2]) for line in proc.stdout.splitlines()}
    for kind in ("ec", "rsa"):
        cert = x509.load_pem_x509_certificate(device.cert_file(kind).read_bytes())
        expected = cert.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                  serialization.PublicFormat.OpenSSH).decode()
        assert expected in printed, output(proc)
    assert any(line.startswith("ecdsa-sha2-nistp256 ") for line in printed)
    assert any(line.startswith("ssh-rsa ") for line in printed)
