"""The pyca backend: the functions the core calls directly, and exception translation."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tokenport.backends.crypto.pyca import PycaCrypto, default_crypto
from tokenport.errors import (
    AttributeValueInvalid,
    EncryptedDataInvalid,
    KeySizeRange,
    KeyTypeInconsistent,
    OperationNotInitialized,
    SignatureInvalid,
)
from tokenport.mechanisms import der
from tokenport.ports.crypto import CryptoBackend

SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def certificate(serial: int) -> x509.Certificate:
    key = ec.derive_private_key(7, ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Device")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Issuing CA")])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=datetime.UTC))
        .sign(key, hashes.SHA256())
    )


def test_default_crypto_is_a_backend() -> None:
    assert isinstance(default_crypto(), CryptoBackend)


@pytest.mark.parametrize("serial", [1, 0x7F, 0x80, 0x1234567890ABCDEF, (1 << 159) - 1])
def test_x509_fields(crypto: PycaCrypto, serial: int) -> None:
    cert = certificate(serial)
    fields = crypto.x509_fields(cert.public_bytes(serialization.Encoding.DER))
    assert fields.subject == cert.subject.public_bytes()
    assert fields.issuer == cert.issuer.public_bytes()
    assert fields.serial_number == der.encode_integer(serial)
    assert fields.public_key_info == cert.public_key().public_bytes(*SPKI)
    assert fields.not_before == b"20240102"
    assert fields.not_after == b"20491231"


@pytest.mark.parametrize("bad", [b"", b"\x30\x00", b"not a certificate", b"\x30\x82\x01\x00"])
def test_x509_fields_rejects_non_certificates(crypto: PycaCrypto, bad: bytes) -> None:
    with pytest.raises(AttributeValueInvalid):
        crypto.x509_fields(bad)


def test_x509_fields_rejects_truncated(crypto: PycaCrypto) -> None:
    raw = certificate(5).public_bytes(serialization.Encoding.DER)
    with pytest.raises(AttributeValueInvalid):
        crypto.x509_fields(raw[:-10])


def test_aes_gcm_storage_functions(crypto: PycaCrypto) -> None:
    # NIST GCM test case 2: zero key, zero IV, one zero block.
    out = crypto.aes_gcm_encrypt(b"\x00" * 16, b"\x00" * 12, b"\x00" * 16, b"")
    assert out.hex() == "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"
    key, nonce = b"k" * 32, b"n" * 12
    sealed = crypto.aes_gcm_encrypt(key, nonce, b"attribute value", b"aad")
    assert crypto.aes_gcm_decrypt(key, nonce, sealed, b"aad") == b"attribute value"
    for bad, aad in (
        (sealed[:-1] + bytes([sealed[-1] ^ 1]), b"aad"),
        (sealed, b"other"),
        (sealed[:10], b"aad"),
    ):
        with pytest.raises(EncryptedDataInvalid):
            crypto.aes_gcm_decrypt(key, nonce, bad, aad)
    with pytest.raises(EncryptedDataInvalid):
        crypto.aes_gcm_decrypt(b"j" * 32, nonce, sealed, b"aad")


def test_pbkdf2_sha256(crypto: PycaCrypto) -> None:
    # RFC 7914 s11, first PBKDF2-HMAC-SHA256 vector.
    out = crypto.pbkdf2_sha256(b"passwd", b"salt", 1, 64)
    assert out.hex() == (
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
    )


def test_rsa_private_raw_matches_textbook(crypto: PycaCrypto) -> None:
    key = rsa.generate_private_key(65537, 1024)
    nums = key.private_numbers()
    n = nums.public_numbers.n
    for value in (0, 1, 2, n - 1, 123456789):
        block = value.to_bytes(128, "big")
        assert crypto.rsa_private_raw(key, block) == pow(value, nums.d, n).to_bytes(128, "big")
        assert crypto.rsa_public_raw(key, crypto.rsa_private_raw(key, block)) == block


def test_exception_translation(crypto: PycaCrypto) -> None:
    with pytest.raises(KeySizeRange):
        crypto.cmac_aes_new(b"short")
    with pytest.raises(KeyTypeInconsistent):
        crypto.ecdsa_sign_hash(object(), b"x" * 32)
    key = ec.derive_private_key(3, ec.SECP256R1())
    with pytest.raises(SignatureInvalid):
        crypto.ecdsa_verify_hash(key, 1, 1, b"x" * 32)
    with pytest.raises(AttributeValueInvalid):
        crypto.ec_public_from_point("P-256", b"\x04" + b"\x00" * 64)
    with pytest.raises(AttributeValueInvalid):
        crypto.rsa_generate(1024, 17)


def test_finished_contexts(crypto: PycaCrypto) -> None:
    digest = crypto.hash_new("sha256")
    digest.finalize()
    with pytest.raises(OperationNotInitialized):
        digest.update(b"x")
    mac = crypto.hmac_new("sha256", b"key")
    mac.finalize()
    with pytest.raises(OperationNotInitialized):
        mac.finalize()


def test_pyca_deprecation_warnings_never_reach_the_host(tmp_path: object) -> None:
    """A certificate pyca parses with a deprecation warning (a serial number of 0) is stored
    without a word on the host's stderr (found by the fuzzer), even with warnings shown."""
    import subprocess
    import sys

    script = r'''
import datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tokenport.backends.crypto.pyca import PycaCrypto
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
now = datetime.datetime.now(datetime.UTC)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
der = bytearray(cert.public_bytes(serialization.Encoding.DER))
at = der.index(b"\xa0\x03\x02\x01\x02") + 5
assert der[at:at + 3] == b"\x02\x01\x01"
der[at + 2] = 0
print(PycaCrypto().x509_fields(bytes(der)).serial_number.hex())
'''
    proc = subprocess.run([sys.executable, "-W", "default", "-c", script],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "020100"
    assert proc.stderr == ""
