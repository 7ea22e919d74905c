"""keyformats: validation and completion of key material, PKCS #8 wrapping formats."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKK, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    CurveNotSupported,
    KeyNotWrappable,
    TemplateIncomplete,
    TemplateInconsistent,
    WrappedKeyInvalid,
)
from tokenport.mechanisms import curves
from tokenport.mechanisms.keyformats import (
    complete_key_attributes,
    decode_private_key_pkcs8,
    encode_private_key_pkcs8,
)
from tokenport.ports.crypto import CryptoBackend

from .helpers import (
    ED25519_NAME_PARAMS,
    ED25519_OID_PARAMS,
    P256_PARAMS,
    P384_PARAMS,
    FakeKey,
)

SECP192K1_PKCS8 = (
    "3036020100301006072a8648ce3d020106052b8104001f041f301d0201010418"
    + "01" * 24
)
"""A PKCS #8 EC key on secp192k1, a curve the crypto library does not offer."""
UNKNOWN_ALGORITHM_PKCS8 = "3018020100300b06092b0601040182db7f01" + "0406" + "00" * 6
"""A PKCS #8 key of an algorithm (1.3.6.1.4.1.44543.1) nobody knows."""

Pair = tuple[FakeKey, FakeKey]
SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def complete(
    crypto: CryptoBackend, cls: int, ktype: int, attrs: dict[int, AttrValue]
) -> dict[int, AttrValue]:
    return complete_key_attributes(crypto, cls, ktype, attrs)


# -- secret keys -------------------------------------------------------------------------------


def test_secret_keys(crypto: CryptoBackend) -> None:
    assert complete(crypto, CKO.SECRET_KEY, CKK.AES, {CKA.VALUE: b"k" * 24}) == {CKA.VALUE_LEN: 24}
    assert complete(crypto, CKO.SECRET_KEY, CKK.GENERIC_SECRET, {CKA.VALUE: b"k" * 3}) == {
        CKA.VALUE_LEN: 3
    }
    assert complete(crypto, CKO.SECRET_KEY, CKK.DES3, {CKA.VALUE: b"k" * 24}) == {CKA.VALUE_LEN: 24}
    with pytest.raises(AttributeValueInvalid):
        complete(crypto, CKO.SECRET_KEY, CKK.AES, {CKA.VALUE: b"k" * 20})
    with pytest.raises(AttributeValueInvalid):
        complete(crypto, CKO.SECRET_KEY, CKK.SHA256_HMAC, {CKA.VALUE: b""})
    with pytest.raises(TemplateIncomplete):
        complete(crypto, CKO.SECRET_KEY, CKK.AES, {})


def test_other_classes(crypto: CryptoBackend) -> None:
    assert complete(crypto, CKO.CERTIFICATE, 0, {CKA.VALUE: b"x"}) == {}
    assert complete(crypto, CKO.DATA, 0, {}) == {}
    assert complete(crypto, CKO.PUBLIC_KEY, CKK.X9_42_DH, {}) == {}


# -- RSA ------------------------------------------------------------------------------------------


def test_rsa_public(crypto: CryptoBackend, rsa2048: Pair) -> None:
    pub, priv = rsa2048
    attrs: dict[int, AttrValue] = {a: pub.attrs[a] for a in (CKA.MODULUS, CKA.PUBLIC_EXPONENT)}
    out = complete(crypto, CKO.PUBLIC_KEY, CKK.RSA, attrs)
    assert out[CKA.MODULUS_BITS] == 2048
    spki = out[CKA.PUBLIC_KEY_INFO]
    assert isinstance(spki, bytes)
    assert serialization.load_der_public_key(spki).public_bytes(*SPKI) == spki
    assert complete(crypto, CKO.PRIVATE_KEY, CKK.RSA, dict(priv.attrs)) == {
        CKA.PUBLIC_KEY_INFO: spki
    }
    with pytest.raises(TemplateInconsistent):
        complete(crypto, CKO.PUBLIC_KEY, CKK.RSA, {**attrs, CKA.MODULUS_BITS: 1024})
    with pytest.raises(TemplateIncomplete):
        complete(crypto, CKO.PUBLIC_KEY, CKK.RSA, {CKA.MODULUS: attrs[CKA.MODULUS]})
    with pytest.raises(AttributeValueInvalid):
        complete(crypto, CKO.PUBLIC_KEY, CKK.RSA, {**attrs, CKA.PUBLIC_EXPONENT: b"\x04"})


def test_rsa_private_errors(crypto: CryptoBackend, rsa2048: Pair) -> None:
    _, priv = rsa2048
    attrs = dict(priv.attrs)
    with pytest.raises(TemplateIncomplete):
        complete(
            crypto,
            CKO.PRIVATE_KEY,
            CKK.RSA,
            {k: v for k, v in attrs.items() if k != CKA.PRIVATE_EXPONENT},
        )
    with pytest.raises(TemplateIncomplete):
        complete(
            crypto,
            CKO.PRIVATE_KEY,
            CKK.RSA,
            {
                CKA.MODULUS: attrs[CKA.MODULUS],
                CKA.PRIVATE_EXPONENT: attrs[CKA.PRIVATE_EXPONENT],
            },
        )
    prime = attrs[CKA.PRIME_1]
    assert isinstance(prime, bytes)
    with pytest.raises(AttributeValueInvalid):
        # a different odd value (ending the prime in 0x01 was a no-op for 1 key in 128)
        wrong_prime = prime[:-1] + bytes([prime[-1] ^ 0x02])
        complete(crypto, CKO.PRIVATE_KEY, CKK.RSA, {**attrs, CKA.PRIME_1: wrong_prime})
    d = attrs[CKA.PRIVATE_EXPONENT]
    assert isinstance(d, bytes)
    with pytest.raises(AttributeValueInvalid):
        complete(
            crypto,
            CKO.PRIVATE_KEY,
            CKK.RSA,
            {**attrs, CKA.PRIVATE_EXPONENT: d[:-1] + bytes([d[-1] ^ 2])},
        )


# -- EC -------------------------------------------------------------------------------------------


def test_ec_public_forms(crypto: CryptoBackend, p256: Pair) -> None:
    pub, priv = p256
    point = pub.attrs[CKA.EC_POINT]
    assert isinstance(point, bytes) and len(point) == 67
    out = complete(
        crypto, CKO.PUBLIC_KEY, CKK.EC, {CKA.EC_PARAMS: P256_PARAMS, CKA.EC_POINT: point}
    )
    assert set(out) == {CKA.PUBLIC_KEY_INFO}
    raw = complete(
        crypto, CKO.PUBLIC_KEY, CKK.EC, {CKA.EC_PARAMS: P256_PARAMS, CKA.EC_POINT: point[2:]}
    )
    assert raw == {CKA.PUBLIC_KEY_INFO: out[CKA.PUBLIC_KEY_INFO], CKA.EC_POINT: point}
    priv_out = complete(crypto, CKO.PRIVATE_KEY, CKK.EC, dict(priv.attrs))
    assert priv_out == {CKA.PUBLIC_KEY_INFO: out[CKA.PUBLIC_KEY_INFO]}
    x, y = point[3:35], point[35:]
    compressed = bytes([2 + (y[-1] & 1)]) + x
    comp = complete(
        crypto, CKO.PUBLIC_KEY, CKK.EC, {CKA.EC_PARAMS: P256_PARAMS, CKA.EC_POINT: compressed}
    )
    assert comp[CKA.EC_POINT] == curves.encode_point(compressed)
    assert comp[CKA.PUBLIC_KEY_INFO] == out[CKA.PUBLIC_KEY_INFO]


def test_raw_point_starting_like_der(crypto: CryptoBackend) -> None:
    """A raw point whose X begins with 0x41 is not mistaken for a DER OCTET STRING."""
    for d in range(1, 2000):
        key = ec.derive_private_key(d, ec.SECP256R1()).public_key()
        raw = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        if raw[1] == 0x41:
            break
    else:
        pytest.skip("no suitable point found")
    out = complete(crypto, CKO.PUBLIC_KEY, CKK.EC, {CKA.EC_PARAMS: P256_PARAMS, CKA.EC_POINT: raw})
    assert out[CKA.EC_POINT] == b"\x04\x41" + raw


@pytest.mark.parametrize(
    ("attrs", "error"),
    [
        ({CKA.EC_PARAMS: P256_PARAMS}, TemplateIncomplete),
        ({CKA.EC_POINT: b"\x04\x41" + b"\x04" + b"\x01" * 64}, TemplateIncomplete),
        (
            {CKA.EC_PARAMS: P256_PARAMS, CKA.EC_POINT: b"\x04\x41\x04" + b"\x01" * 64},
            AttributeValueInvalid,
        ),
        (
            {CKA.EC_PARAMS: P256_PARAMS, CKA.EC_POINT: b"\x04\x10" + b"\x01" * 16},
            AttributeValueInvalid,
        ),
        (
            {CKA.EC_PARAMS: bytes.fromhex("06052b8104001f"), CKA.EC_POINT: b"\x04"},
            CurveNotSupported,
        ),
        ({CKA.EC_PARAMS: ED25519_OID_PARAMS, CKA.EC_POINT: b"\x04"}, CurveNotSupported),
        ({CKA.EC_PARAMS: b"\x06\x08\x2a\x86", CKA.EC_POINT: b"\x04"}, AttributeValueInvalid),
        ({CKA.EC_PARAMS: b"\x04\x00", CKA.EC_POINT: b"\x04"}, AttributeValueInvalid),
        ({CKA.EC_PARAMS: P256_PARAMS + b"\x00", CKA.EC_POINT: b"\x04"}, AttributeValueInvalid),
    ],
)
def test_ec_public_errors(
    crypto: CryptoBackend, attrs: dict[int, AttrValue], error: type[Exception]
) -> None:
    with pytest.raises(error):
        complete(crypto, CKO.PUBLIC_KEY, CKK.EC, attrs)


@pytest.mark.parametrize("d", [0, curves.P256.order, curves.P256.order + 5])
def test_ec_private_out_of_range(crypto: CryptoBackend, d: int) -> None:
    with pytest.raises(AttributeValueInvalid):
        complete(
            crypto,
            CKO.PRIVATE_KEY,
            CKK.EC,
            {
                CKA.EC_PARAMS: P256_PARAMS,
                CKA.VALUE: d.to_bytes(33, "big"),
            },
        )


# -- Ed25519 -------------------------------------------------------------------------------------


def test_ed25519(crypto: CryptoBackend) -> None:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x11" * 32)
    public = key.public_key().public_bytes_raw()
    spki = key.public_key().public_bytes(*SPKI)
    for params in (ED25519_OID_PARAMS, ED25519_NAME_PARAMS):
        der_point = curves.encode_point(public)
        assert complete(
            crypto,
            CKO.PUBLIC_KEY,
            CKK.EC_EDWARDS,
            {
                CKA.EC_PARAMS: params,
                CKA.EC_POINT: der_point,
            },
        ) == {CKA.PUBLIC_KEY_INFO: spki}
        assert complete(
            crypto,
            CKO.PUBLIC_KEY,
            CKK.EC_EDWARDS,
            {
                CKA.EC_PARAMS: params,
                CKA.EC_POINT: public,
            },
        ) == {CKA.PUBLIC_KEY_INFO: spki, CKA.EC_POINT: der_point}
        assert complete(
            crypto,
            CKO.PRIVATE_KEY,
            CKK.EC_EDWARDS,
            {
                CKA.EC_PARAMS: params,
                CKA.VALUE: b"\x11" * 32,
            },
        ) == {CKA.PUBLIC_KEY_INFO: spki}
    with pytest.raises(AttributeValueInvalid):
        complete(
            crypto,
            CKO.PRIVATE_KEY,
            CKK.EC_EDWARDS,
            {
                CKA.EC_PARAMS: ED25519_OID_PARAMS,
                CKA.VALUE: b"\x11" * 31,
            },
        )
    with pytest.raises(AttributeValueInvalid):
        complete(
            crypto,
            CKO.PUBLIC_KEY,
            CKK.EC_EDWARDS,
            {
                CKA.EC_PARAMS: ED25519_OID_PARAMS,
                CKA.EC_POINT: public[:31],
            },
        )
    with pytest.raises(CurveNotSupported):
        complete(
            crypto,
            CKO.PRIVATE_KEY,
            CKK.EC_EDWARDS,
            {
                CKA.EC_PARAMS: bytes.fromhex("06032b656f"),  # X448, not an Edwards curve
                CKA.VALUE: b"\x11" * 57,
            },
        )


# -- PKCS #8 ------------------------------------------------------------------------------------


def test_pkcs8_round_trip_rsa(crypto: CryptoBackend, rsa2048: Pair) -> None:
    _, priv = rsa2048
    der = encode_private_key_pkcs8(crypto, priv)
    loaded = serialization.load_der_private_key(der, None)
    assert (
        loaded.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        == der
    )
    key_type, attrs = decode_private_key_pkcs8(crypto, der)
    assert key_type == CKK.RSA and attrs == priv.attrs


def test_pkcs8_round_trip_ec(crypto: CryptoBackend) -> None:
    priv = FakeKey(
        CKO.PRIVATE_KEY, CKK.EC, {CKA.EC_PARAMS: P384_PARAMS, CKA.VALUE: b"\x01" + b"\x00" * 47}
    )
    key_type, attrs = decode_private_key_pkcs8(crypto, encode_private_key_pkcs8(crypto, priv))
    assert key_type == CKK.EC and attrs == priv.attrs
    short = FakeKey(CKO.PRIVATE_KEY, CKK.EC, {CKA.EC_PARAMS: P256_PARAMS, CKA.VALUE: b"\x05"})
    _, attrs = decode_private_key_pkcs8(crypto, encode_private_key_pkcs8(crypto, short))
    assert attrs[CKA.VALUE] == b"\x00" * 31 + b"\x05"  # fixed length on the way back


def test_pkcs8_round_trip_ed25519(crypto: CryptoBackend) -> None:
    priv = FakeKey(
        CKO.PRIVATE_KEY,
        CKK.EC_EDWARDS,
        {CKA.EC_PARAMS: ED25519_NAME_PARAMS, CKA.VALUE: b"\x22" * 32},
    )
    key_type, attrs = decode_private_key_pkcs8(crypto, encode_private_key_pkcs8(crypto, priv))
    assert key_type == CKK.EC_EDWARDS
    assert attrs == {CKA.EC_PARAMS: ED25519_OID_PARAMS, CKA.VALUE: b"\x22" * 32}


def test_pkcs8_errors(crypto: CryptoBackend, p256: Pair) -> None:
    with pytest.raises(KeyNotWrappable):
        encode_private_key_pkcs8(crypto, p256[0])
    with pytest.raises(KeyNotWrappable):
        encode_private_key_pkcs8(crypto, FakeKey(CKO.PRIVATE_KEY, CKK.X9_42_DH, {}))
    with pytest.raises(WrappedKeyInvalid):
        decode_private_key_pkcs8(crypto, b"\x30\x03\x02\x01\x00")
    with pytest.raises(WrappedKeyInvalid):
        decode_private_key_pkcs8(crypto, b"")
    k1 = bytes.fromhex(SECP192K1_PKCS8)
    with pytest.raises(CurveNotSupported):
        decode_private_key_pkcs8(crypto, k1)
    xk = bytes.fromhex(UNKNOWN_ALGORITHM_PKCS8)
    with pytest.raises(WrappedKeyInvalid):
        decode_private_key_pkcs8(crypto, xk)
