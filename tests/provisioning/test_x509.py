"""tokenport.x509: certificates, PKCS #10 requests and PEM / DER key files on the
provisioning side (no longer calls of the crypto port)."""

from __future__ import annotations

import datetime
import subprocess
import sys

import pytest
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tokenport import x509
from tokenport.errors import AttributeValueInvalid, SignatureInvalid
from tokenport.mechanisms import der
from tokenport.ports.crypto import CryptoBackend

SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
UTC = datetime.UTC


def certificate(key: ec.EllipticCurvePrivateKey, serial: int, *, ca: bool) -> pyca_x509.Certificate:
    subject = pyca_x509.Name([pyca_x509.NameAttribute(NameOID.COMMON_NAME, "Device"),
                              pyca_x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme")])
    issuer = pyca_x509.Name([pyca_x509.NameAttribute(NameOID.COMMON_NAME, "Issuing CA")])
    builder = (
        pyca_x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
        .not_valid_after(datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC))
    )
    if ca:
        builder = builder.add_extension(pyca_x509.BasicConstraints(ca=True, path_length=None),
                                        critical=True)
    return builder.sign(key, hashes.SHA256())


def test_the_crypto_port_has_no_certificate_or_file_calls() -> None:
    members = {name for name in dir(CryptoBackend) if not name.startswith("_")}
    assert not {n for n in members if n.startswith(("x509", "csr", "load_"))}
    assert {"public_key_info", "pkcs8_encode", "pkcs8_decode", "public_key_decode"} <= members


@pytest.mark.parametrize("serial", [1, 0x80, (1 << 159) - 1])
def test_certificate_fields(serial: int) -> None:
    key = ec.derive_private_key(7, ec.SECP256R1())
    cert = certificate(key, serial, ca=False)
    fields = x509.certificate_fields(cert.public_bytes(serialization.Encoding.DER))
    assert fields.subject == cert.subject.public_bytes()
    assert fields.issuer == cert.issuer.public_bytes()
    assert fields.serial_number == der.encode_integer(serial)
    assert fields.public_key_info == key.public_key().public_bytes(*SPKI)
    assert (fields.not_before, fields.not_after) == (b"20240102", b"20491231")


@pytest.mark.parametrize("bad", [b"", b"\x30\x00", b"not a certificate"])
def test_certificate_functions_refuse_other_data(bad: bytes) -> None:
    for read in (x509.certificate_fields, x509.certificate_summary, x509.load_certificate):
        with pytest.raises(AttributeValueInvalid):
            read(bad)


def test_certificate_summary() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(key, 42, ca=True)
    summary = x509.certificate_summary(cert.public_bytes(serialization.Encoding.DER))
    assert summary.subject == "O=Acme,CN=Device" and summary.issuer == "CN=Issuing CA"
    assert summary.serial_number == 42 and summary.is_ca is True
    assert summary.not_before == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert summary.public_key_info == key.public_key().public_bytes(*SPKI)
    leaf = certificate(key, 43, ca=False).public_bytes(serialization.Encoding.DER)
    assert x509.certificate_summary(leaf).is_ca is False


def test_files_in_pem_and_der() -> None:
    key = rsa.generate_private_key(65537, 1024)
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    traditional_pem = key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.TraditionalOpenSSL,
                                        serialization.BestAvailableEncryption(b"pw"))
    assert x509.load_private_key(pkcs8) == pkcs8
    assert x509.load_private_key(traditional_pem, b"pw") == pkcs8
    with pytest.raises(AttributeValueInvalid):
        x509.load_private_key(traditional_pem, b"wrong")
    spki = key.public_key().public_bytes(*SPKI)
    pkcs1_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.PKCS1)
    assert x509.load_public_key(spki) == spki == x509.load_public_key(pkcs1_pem)
    cert = certificate(ec.generate_private_key(ec.SECP256R1()), 5, ca=False)
    der_cert = cert.public_bytes(serialization.Encoding.DER)
    assert x509.load_certificate(cert.public_bytes(serialization.Encoding.PEM)) == der_cert
    for load in (x509.load_private_key, x509.load_public_key):
        with pytest.raises(AttributeValueInvalid):
            load(b"-----BEGIN NOTHING-----\n")


def test_names_and_requests() -> None:
    name = x509.name_from_text("CN=device-1,O=Example,C=DE")
    assert pyca_x509.Name.from_rfc4514_string("CN=device-1,O=Example,C=DE").public_bytes() == name
    with pytest.raises(AttributeValueInvalid):
        x509.name_from_text("not a name")
    key = ec.generate_private_key(ec.SECP256R1())
    request = (pyca_x509.CertificateSigningRequestBuilder()
               .subject_name(pyca_x509.Name.from_rfc4514_string("CN=device-1"))
               .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
    summary = x509.request_summary(request)
    assert summary.subject == "CN=device-1"
    assert summary.public_key_info == key.public_key().public_bytes(*SPKI)
    tampered = bytearray(request)
    tampered[-1] ^= 1  # inside the signature
    with pytest.raises(SignatureInvalid):
        x509.request_summary(bytes(tampered))
    with pytest.raises(AttributeValueInvalid):
        x509.request_summary(b"\x30\x00")


def test_deprecation_warnings_never_reach_the_host() -> None:
    """A certificate with serial 0 makes pyca warn; tokenport.x509 keeps the host's stderr
    clean even with warnings shown."""
    script = r'''
import datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tokenport.x509 import certificate_fields
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
now = datetime.datetime.now(datetime.UTC)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
der = bytearray(cert.public_bytes(serialization.Encoding.DER))
at = der.index(b"\xa0\x03\x02\x01\x02") + 5
der[at + 2] = 0
print(certificate_fields(bytes(der)).serial_number.hex())
'''
    proc = subprocess.run([sys.executable, "-W", "default", "-c", script],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "020100" and proc.stderr == ""
