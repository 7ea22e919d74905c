"""A throwaway PKI for the provisioning and TLS tests, made with pyca/cryptography.

``TestPki`` holds a root CA, a second unrelated CA (for "the server trusts another CA"), a
server certificate for localhost / 127.0.0.1, and issues certificates for CSRs or keys.
Nothing here touches the token: it plays the CA of the factory flow.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve or ec.SECP256R1())


@dataclass
class Authority:
    """A CA: its key and self-signed certificate."""

    key: PrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, common_name: str) -> Authority:
        key = ec_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(common_name)).issuer_name(name(common_name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now() - datetime.timedelta(hours=1))
            .not_valid_after(now() + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def issue(self, public_key: PublicKey, subject: x509.Name, *, client: bool = True,
              days: float = 30, hosts: tuple[str, ...] = ()) -> x509.Certificate:
        """A leaf certificate for ``public_key`` (``days`` < 0: already expired)."""
        end = now() + datetime.timedelta(days=days)
        start = min(now() - datetime.timedelta(hours=1), end - datetime.timedelta(days=1))
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(self.cert.subject)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]),
                critical=False)
        )
        if hosts:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(h)) if h[0].isdigit() else x509.DNSName(h)
                 for h in hosts]), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def issue_for_csr(self, csr_pem: bytes, **kwargs: object) -> x509.Certificate:
        """The certificate for a CSR, after checking its self-signature (as a CA would)."""
        request = x509.load_pem_x509_csr(csr_pem)
        assert request.is_signature_valid
        public = request.public_key()
        assert isinstance(public, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey))
        return self.issue(public, request.subject, **kwargs)  # type: ignore[arg-type]


@dataclass
class TestPki:
    """The CA, another CA, and a server certificate, written to ``directory``."""

    directory: Path
    ca: Authority
    other_ca: Authority
    server_key: PrivateKey

    __test__ = False  # not a test class

    @classmethod
    def create(cls, directory: Path) -> TestPki:
        directory.mkdir(parents=True, exist_ok=True)
        pki = cls(directory, Authority.create("tokenport test CA"),
                  Authority.create("some other CA"), ec_key())
        server = pki.ca.issue(pki.server_key.public_key(), name("localhost"), client=False,
                              hosts=("localhost", "127.0.0.1"))
        pki.ca_file.write_bytes(pem(pki.ca.cert))
        pki.other_ca_file.write_bytes(pem(pki.other_ca.cert))
        pki.server_cert_file.write_bytes(pem(server))
        pki.server_key_file.write_bytes(key_pem(pki.server_key))
        return pki

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def other_ca_file(self) -> Path:
        return self.directory / "other-ca.pem"

    @property
    def server_cert_file(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key_file(self) -> Path:
        return self.directory / "server.key"
