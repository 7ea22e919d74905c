"""Test credentials, made fresh for every run with pyca/cryptography.

A run needs: an RSA-2048 and a P-256 device key with a certificate each, a root CA and a
JITP CA certificate, code-verification keys, and "other" keys of each family (a public key
that does not match, for the negative tests). Nothing is shipped: every key is generated
when first used, so no two runs share private keys and no key material lives in the source.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cached_property

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

#: DER of the P-256 named-curve OID (1.2.840.10045.3.1.7): CKA_EC_PARAMS of every EC key.
P256_OID_DER = bytes.fromhex("06082a8648ce3d030107")
#: DER prefix of the SHA-256 DigestInfo (RFC 8017 s9.2 note 1).
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
#: DER prefix of the SHA-1 DigestInfo.
SHA1_DIGEST_INFO_PREFIX = bytes.fromhex("3021300906052b0e03021a05000414")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class KeyAndCertificate:
    """A private key and the certificate of its public key."""

    key: PrivateKey
    certificate: x509.Certificate

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def public_key(self) -> PublicKey:
        public = self.key.public_key()
        assert isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        return public


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tokenport qualification"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _certificate(
    subject: str, public_key: PublicKey, issuer: x509.Name | None, signer: PrivateKey, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    subject_name = _name(subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer or subject_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(signer, hashes.SHA256())


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


class Credentials:
    """Every key and certificate of one run, each generated on first use."""

    @cached_property
    def root(self) -> KeyAndCertificate:
        key = new_ec_key()
        cert = _certificate("Qualification Root CA", key.public_key(), None, key, ca=True)
        return KeyAndCertificate(key, cert)

    @cached_property
    def jitp(self) -> KeyAndCertificate:
        """A JITP CA certificate, issued by the root."""
        key = new_ec_key()
        cert = _certificate(
            "Qualification JITP CA", key.public_key(), self.root.certificate.subject,
            self.root.key, ca=True,
        )
        return KeyAndCertificate(key, cert)

    def issue(self, subject: str, public_key: PublicKey) -> x509.Certificate:
        """A device certificate for ``public_key`` (e.g. of a key generated on the token)."""
        return _certificate(subject, public_key, self.root.certificate.subject, self.root.key, False)

    @cached_property
    def rsa_device(self) -> KeyAndCertificate:
        key = new_rsa_key()
        return KeyAndCertificate(key, self.issue("Qualification RSA device", key.public_key()))

    @cached_property
    def ec_device(self) -> KeyAndCertificate:
        key = new_ec_key()
        return KeyAndCertificate(key, self.issue("Qualification EC device", key.public_key()))

    @cached_property
    def rsa_code_verify(self) -> rsa.RSAPrivateKey:
        """The signer whose public key is stored as the code-verification key (RSA)."""
        return new_rsa_key()

    @cached_property
    def ec_code_verify(self) -> ec.EllipticCurvePrivateKey:
        return new_ec_key()

    @cached_property
    def rsa_other(self) -> rsa.RSAPrivateKey:
        """An unrelated RSA key: its public key must reject the device key's signatures."""
        return new_rsa_key()

    @cached_property
    def ec_other(self) -> ec.EllipticCurvePrivateKey:
        return new_ec_key()
