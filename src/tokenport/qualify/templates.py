"""PKCS #11 templates of the objects the suite stores, and the way back from attribute values
to pyca/cryptography keys (to check on-token results off the token).

Every object the suite creates is a token object (CKA_TOKEN true) under a configured label;
private keys are private and sensitive, public keys and certificates are public.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tokenport.ck import CKA, CKC, CKK, CKO
from tokenport.qualify.credentials import P256_OID_DER, PublicKey
from tokenport.qualify.p11 import Template


def uint(value: int) -> bytes:
    """A big integer as the minimal unsigned big-endian bytes PKCS #11 uses."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = uint(length)
    return bytes([0x80 | len(body)]) + body


def der_octet_string(data: bytes) -> bytes:
    return b"\x04" + der_length(len(data)) + data


def der_integer(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8 or 1, "big", signed=True)
    return b"\x02" + der_length(len(body)) + body


def unwrap_octet_string(data: bytes) -> bytes | None:
    """The content of a DER OCTET STRING, or None when ``data`` is not exactly one."""
    if len(data) < 2 or data[0] != 0x04:
        return None
    first = data[1]
    if first < 0x80:
        length, start = first, 2
    else:
        count = first & 0x7F
        if count == 0 or len(data) < 2 + count:
            return None
        length, start = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if start + length != len(data):
        return None
    return data[start:]


def ec_point(key: ec.EllipticCurvePublicKey) -> bytes:
    """CKA_EC_POINT: the DER OCTET STRING around the uncompressed point (67 bytes, P-256)."""
    raw = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return der_octet_string(raw)


def ec_public_key_from_point(point: bytes) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of a CKA_EC_POINT value (DER OCTET STRING form)."""
    raw = unwrap_octet_string(point)
    if raw is None:
        raise ValueError("CKA_EC_POINT is not a DER OCTET STRING")
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


def rsa_public_key_from(modulus: bytes, exponent: bytes) -> rsa.RSAPublicKey:
    numbers = rsa.RSAPublicNumbers(int.from_bytes(exponent, "big"), int.from_bytes(modulus, "big"))
    return numbers.public_key()


def private_key_template(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, label: str) -> Template:
    common: list[tuple[int, bool | int | bytes | str]] = [
        (CKA.CLASS, CKO.PRIVATE_KEY),
        (CKA.TOKEN, True),
        (CKA.PRIVATE, True),
        (CKA.SENSITIVE, True),
        (CKA.SIGN, True),
        (CKA.LABEL, label),
    ]
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        return common + [
            (CKA.KEY_TYPE, CKK.RSA),
            (CKA.MODULUS, uint(n.public_numbers.n)),
            (CKA.PUBLIC_EXPONENT, uint(n.public_numbers.e)),
            (CKA.PRIVATE_EXPONENT, uint(n.d)),
            (CKA.PRIME_1, uint(n.p)),
            (CKA.PRIME_2, uint(n.q)),
            (CKA.EXPONENT_1, uint(n.dmp1)),
            (CKA.EXPONENT_2, uint(n.dmq1)),
            (CKA.COEFFICIENT, uint(n.iqmp)),
        ]
    return common + [
        (CKA.KEY_TYPE, CKK.EC),
        (CKA.EC_PARAMS, P256_OID_DER),
        (CKA.VALUE, key.private_numbers().private_value.to_bytes(32, "big")),
    ]


def public_key_template(key: PublicKey, label: str) -> Template:
    common: list[tuple[int, bool | int | bytes | str]] = [
        (CKA.CLASS, CKO.PUBLIC_KEY),
        (CKA.TOKEN, True),
        (CKA.PRIVATE, False),
        (CKA.VERIFY, True),
        (CKA.LABEL, label),
    ]
    if isinstance(key, rsa.RSAPublicKey):
        n = key.public_numbers()
        return common + [
            (CKA.KEY_TYPE, CKK.RSA),
            (CKA.MODULUS, uint(n.n)),
            (CKA.PUBLIC_EXPONENT, uint(n.e)),
        ]
    return common + [
        (CKA.KEY_TYPE, CKK.EC),
        (CKA.EC_PARAMS, P256_OID_DER),
        (CKA.EC_POINT, ec_point(key)),
    ]


def certificate_template(certificate: x509.Certificate, label: str) -> Template:
    return [
        (CKA.CLASS, CKO.CERTIFICATE),
        (CKA.CERTIFICATE_TYPE, CKC.X_509),
        (CKA.TOKEN, True),
        (CKA.PRIVATE, False),
        (CKA.LABEL, label),
        (CKA.SUBJECT, certificate.subject.public_bytes()),
        (CKA.ISSUER, certificate.issuer.public_bytes()),
        (CKA.SERIAL_NUMBER, der_integer(certificate.serial_number)),
        (CKA.VALUE, certificate.public_bytes(serialization.Encoding.DER)),
    ]


def ec_generation_templates(label_public: str, label_private: str) -> tuple[Template, Template]:
    """Templates of C_GenerateKeyPair(CKM_EC_KEY_PAIR_GEN) for a P-256 device key pair."""
    public: Template = [
        (CKA.TOKEN, True),
        (CKA.PRIVATE, False),
        (CKA.VERIFY, True),
        (CKA.LABEL, label_public),
        (CKA.EC_PARAMS, P256_OID_DER),
    ]
    private: Template = [
        (CKA.TOKEN, True),
        (CKA.PRIVATE, True),
        (CKA.SENSITIVE, True),
        (CKA.SIGN, True),
        (CKA.LABEL, label_private),
    ]
    return public, private


def rsa_generation_templates(label_public: str, label_private: str) -> tuple[Template, Template]:
    """Templates of C_GenerateKeyPair(CKM_RSA_PKCS_KEY_PAIR_GEN) for an RSA-2048 key pair."""
    public: Template = [
        (CKA.TOKEN, True),
        (CKA.PRIVATE, False),
        (CKA.VERIFY, True),
        (CKA.LABEL, label_public),
        (CKA.MODULUS_BITS, 2048),
        (CKA.PUBLIC_EXPONENT, uint(65537)),
    ]
    private: Template = [
        (CKA.TOKEN, True),
        (CKA.PRIVATE, True),
        (CKA.SENSITIVE, True),
        (CKA.SIGN, True),
        (CKA.LABEL, label_private),
    ]
    return public, private
