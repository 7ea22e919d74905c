"""EC mechanisms: key pair generation, ECDSA (raw and hashed), ECDH1 derivation.

Signatures are checked independently with pyca/cryptography.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKD, CKK, CKM, CKO
from tokenport.errors import (
    CurveNotSupported,
    DataLenRange,
    DomainParamsInvalid,
    FunctionNotSupported,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    SignatureInvalid,
    SignatureLenRange,
    TemplateIncomplete,
)
from tokenport.mechanisms import curves
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
from tokenport.mechanisms.ec import random_scalar
from tokenport.mechanisms.params import Ecdh1DeriveParams

from .helpers import (
    ED25519_OID_PARAMS,
    P256_PARAMS,
    P384_PARAMS,
    P521_PARAMS,
    FakeKey,
    key_pair,
    spec,
)

CURVES = [
    (P256_PARAMS, ec.SECP256R1(), 32),
    (P384_PARAMS, ec.SECP384R1(), 48),
    (P521_PARAMS, ec.SECP521R1(), 66),
]
HASHED = [
    (CKM.ECDSA_SHA1, hashes.SHA1()),
    (CKM.ECDSA_SHA224, hashes.SHA224()),
    (CKM.ECDSA_SHA256, hashes.SHA256()),
    (CKM.ECDSA_SHA384, hashes.SHA384()),
    (CKM.ECDSA_SHA512, hashes.SHA512()),
]


def pyca_public(pub: FakeKey, curve: ec.EllipticCurve) -> ec.EllipticCurvePublicKey:
    point = pub.attrs[CKA.EC_POINT]
    assert isinstance(point, bytes)
    return ec.EllipticCurvePublicKey.from_encoded_point(
        curve, point[2:] if len(point) < 130 else point[3:]
    )


def der_sig(raw: bytes) -> bytes:
    half = len(raw) // 2
    return utils.encode_dss_signature(
        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    )


@pytest.mark.parametrize(("params", "curve", "size"), CURVES)
def test_key_pair_generation(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    params: bytes,
    curve: ec.EllipticCurve,
    size: int,
) -> None:
    pub, priv = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: params})
    assert pub.attrs[CKA.EC_PARAMS] == params == priv.attrs[CKA.EC_PARAMS]
    point = pub.attrs[CKA.EC_POINT]
    assert isinstance(point, bytes)
    assert curves.unwrap_point(point, frozenset({1 + 2 * size})) == point[-(1 + 2 * size) :]
    assert point[-(1 + 2 * size)] == 0x04 and curves.encode_point(point[-(1 + 2 * size) :]) == point
    d = priv.attrs[CKA.VALUE]
    assert isinstance(d, bytes) and len(d) == size
    derived = ec.derive_private_key(int.from_bytes(d, "big"), curve).public_key()
    assert derived == pyca_public(pub, curve)


def test_key_pair_generation_uses_token_randomness(
    registry: MechanismRegistry, ctx: MechanismContext
) -> None:
    fixed = MechanismContext(ctx.crypto, lambda n: b"\x01" * n)
    _, a = key_pair(registry, fixed, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: P256_PARAMS})
    _, b = key_pair(registry, fixed, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: P256_PARAMS})
    assert a.attrs[CKA.VALUE] == b.attrs[CKA.VALUE]


def test_random_scalar_range() -> None:
    n = curves.P256.order
    assert random_scalar(lambda k: b"\x00" * k, n) == 1
    assert random_scalar(lambda k: b"\xff" * k, n) < n


def test_curve_orders_match_the_library() -> None:
    for c, pyca_curve in zip(curves.CURVES, (ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1())):
        ec.derive_private_key(c.order - 1, pyca_curve)
        assert c.bits == pyca_curve.key_size
        # d = n gives the point at infinity, which the library refuses.
        with pytest.raises(ValueError):
            ec.derive_private_key(c.order, pyca_curve).public_key()


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (None, TemplateIncomplete),
        (bytes.fromhex("06052b8104001f"), CurveNotSupported),  # secp192k1
        (ED25519_OID_PARAMS, CurveNotSupported),
        (bytes.fromhex("3000"), DomainParamsInvalid),  # explicit parameters (s2.3.1)
        (b"\x06\x08\x2a", Exception),
    ],
)
def test_key_pair_generation_errors(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    params: bytes | None,
    error: type[Exception],
) -> None:
    template: dict[int, AttrValue] = {} if params is None else {CKA.EC_PARAMS: params}
    with pytest.raises(error):
        key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, template)


@pytest.mark.parametrize(("params", "curve", "size"), CURVES)
@pytest.mark.parametrize("hash_len", [0, 20, 28, 31, 32, 33, 48, 64])
def test_ecdsa_raw(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    params: bytes,
    curve: ec.EllipticCurve,
    size: int,
    hash_len: int,
) -> None:
    pub, priv = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: params})
    s = spec(registry, CKM.ECDSA)
    assert s.sign is not None and s.verify is not None
    h = hashlib.sha512(bytes([hash_len])).digest()[:hash_len] if hash_len <= 64 else b""
    sig = s.sign(ctx, priv, None).once(h)
    assert len(sig) == 2 * size
    s.verify(ctx, pub, None).once(h, sig)
    # Independent check: ECDSA's integer is the leftmost order-bits of h.
    order_bits = curve.key_size
    e = int.from_bytes(h, "big") >> max(0, 8 * len(h) - order_bits)
    for digest_len, alg in ((32, hashes.SHA256()), (48, hashes.SHA384()), (64, hashes.SHA512())):
        if 8 * digest_len <= order_bits and e < 1 << (8 * digest_len):
            break
        if 8 * digest_len > order_bits:
            e <<= 8 * digest_len - order_bits
            break
    pyca_public(pub, curve).verify(
        der_sig(sig), e.to_bytes(digest_len, "big"), ec.ECDSA(utils.Prehashed(alg))
    )


def test_ecdsa_long_input_truncated(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    pub, priv = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: P256_PARAMS})
    s = spec(registry, CKM.ECDSA)
    assert s.sign is not None and s.verify is not None
    h = bytes(range(48))
    sig = s.sign(ctx, priv, None).once(h)
    s.verify(ctx, pub, None).once(h[:32], sig)  # only the leftmost 256 bits count
    pyca_public(pub, ec.SECP256R1()).verify(
        der_sig(sig), h[:32], ec.ECDSA(utils.Prehashed(hashes.SHA256()))
    )


def test_ecdsa_p521_oversized_input(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    _, priv = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: P521_PARAMS})
    s = spec(registry, CKM.ECDSA)
    assert s.sign is not None
    s.sign(ctx, priv, None).once(b"\x00" + b"\xff" * 64)  # 65 bytes, value < 2**512: fine
    with pytest.raises(DataLenRange):
        s.sign(ctx, priv, None).once(b"\xff" * 66)


def test_ecdsa_rfc6979_signature_verifies(
    registry: MechanismRegistry, ctx: MechanismContext
) -> None:
    """RFC 6979 A.2.5 (P-256, SHA-256, "sample"): a published signature verifies."""
    x = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"
    ux = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
    uy = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299"
    r = "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
    s_ = "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"
    pub = FakeKey(
        CKO.PUBLIC_KEY,
        CKK.EC,
        {
            CKA.EC_PARAMS: P256_PARAMS,
            CKA.EC_POINT: curves.encode_point(bytes.fromhex("04" + ux + uy)),
        },
    )
    s = spec(registry, CKM.ECDSA_SHA256)
    assert s.verify is not None
    s.verify(ctx, pub, None).once(b"sample", bytes.fromhex(r + s_))
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, None).once(b"samplf", bytes.fromhex(r + s_))
    priv = FakeKey(
        CKO.PRIVATE_KEY, CKK.EC, {CKA.EC_PARAMS: P256_PARAMS, CKA.VALUE: bytes.fromhex(x)}
    )
    assert s.sign is not None
    s.verify(ctx, pub, None).once(b"abc", s.sign(ctx, priv, None).once(b"abc"))


@pytest.mark.parametrize(("mechanism", "alg"), HASHED)
def test_ecdsa_hashed(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    p256: tuple[FakeKey, FakeKey],
    mechanism: int,
    alg: hashes.HashAlgorithm,
) -> None:
    pub, priv = p256
    s = spec(registry, mechanism)
    assert s.sign is not None and s.verify is not None
    data = b"The quick brown fox jumps over the lazy dog" * 3
    sig = s.sign(ctx, priv, None).once(data)
    pyca_public(pub, ec.SECP256R1()).verify(der_sig(sig), data, ec.ECDSA(alg))
    signer = s.sign(ctx, priv, None)
    signer.update(data[:10])
    signer.update(data[10:])
    multi = signer.final()
    s.verify(ctx, pub, None).once(data, multi)
    verifier = s.verify(ctx, pub, None)
    verifier.update(data[:50])
    verifier.update(data[50:])
    verifier.final(sig)
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, None).once(data + b".", sig)
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, None).once(data, sig[:-1] + bytes([sig[-1] ^ 1]))
    with pytest.raises(SignatureLenRange):
        s.verify(ctx, pub, None).once(data, sig + b"\x00")


def test_ecdsa_errors(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    p256: tuple[FakeKey, FakeKey],
    rsa2048: tuple[FakeKey, FakeKey],
) -> None:
    pub, priv = p256
    s = spec(registry, CKM.ECDSA)
    assert s.sign is not None and s.verify is not None
    with pytest.raises(FunctionNotSupported):
        s.sign(ctx, priv, None).update(b"x")
    with pytest.raises(FunctionNotSupported):
        s.sign(ctx, priv, None).final()
    with pytest.raises(FunctionNotSupported):
        s.verify(ctx, pub, None).update(b"x")
    with pytest.raises(KeyTypeInconsistent):
        s.sign(ctx, pub, None)
    with pytest.raises(KeyTypeInconsistent):
        s.verify(ctx, priv, None)
    with pytest.raises(KeyTypeInconsistent):
        s.sign(ctx, rsa2048[1], None)
    with pytest.raises(MechanismParamInvalid):
        s.sign(ctx, priv, b"\x00")
    with pytest.raises(SignatureLenRange):
        s.verify(ctx, pub, None).once(b"x" * 32, b"\x00" * 63)
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, None).once(b"x" * 32, b"\x00" * 64)


def test_key_is_parsed_once(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    _, priv = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: P256_PARAMS})
    s = spec(registry, CKM.ECDSA_SHA256)
    assert s.sign is not None
    for _ in range(3):
        s.sign(ctx, priv, None).once(b"x")
    assert priv.builds["ec.private"] == 1


@pytest.mark.parametrize(("params", "curve", "size"), CURVES)
def test_ecdh_null(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    params: bytes,
    curve: ec.EllipticCurve,
    size: int,
) -> None:
    a_pub, a_priv = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: params})
    b_pub, b_priv = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: params})
    s = spec(registry, CKM.ECDH1_DERIVE)
    assert s.derive is not None
    b_point = b_pub.attrs[CKA.EC_POINT]
    a_point = a_pub.attrs[CKA.EC_POINT]
    assert isinstance(b_point, bytes) and isinstance(a_point, bytes)
    raw_b = b_point[-(1 + 2 * size) :]
    z1 = s.derive(ctx, a_priv, Ecdh1DeriveParams(CKD.NULL, b"", b_point), None)
    z2 = s.derive(ctx, a_priv, Ecdh1DeriveParams(CKD.NULL, b"", raw_b), None)
    z3 = s.derive(ctx, b_priv, Ecdh1DeriveParams(CKD.NULL, b"", a_point), None)
    assert z1 == z2 == z3 and len(z1) == size
    d = a_priv.attrs[CKA.VALUE]
    assert isinstance(d, bytes)
    expected = ec.derive_private_key(int.from_bytes(d, "big"), curve).exchange(
        ec.ECDH(), pyca_public(b_pub, curve)
    )
    assert z1 == expected


@pytest.mark.parametrize(
    ("kdf", "alg"),
    [
        (CKD.SHA1_KDF, hashes.SHA1()),
        (CKD.SHA256_KDF, hashes.SHA256()),
        (CKD.SHA512_KDF, hashes.SHA512()),
    ],
)
def test_ecdh_x963_kdf(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    p256: tuple[FakeKey, FakeKey],
    kdf: int,
    alg: hashes.HashAlgorithm,
) -> None:
    _, a_priv = p256
    b_pub, _ = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: P256_PARAMS})
    s = spec(registry, CKM.ECDH1_DERIVE)
    assert s.derive is not None
    point = b_pub.attrs[CKA.EC_POINT]
    assert isinstance(point, bytes)
    z = s.derive(ctx, a_priv, Ecdh1DeriveParams(CKD.NULL, b"", point), None)
    for length in (16, 32, 100):
        out = s.derive(ctx, a_priv, Ecdh1DeriveParams(kdf, b"info", point), length)
        assert out == X963KDF(alg, length, b"info").derive(z)
    # a raw shared secret is truncated by removing its leading bytes
    assert s.derive(ctx, a_priv, Ecdh1DeriveParams(CKD.NULL, b"", point), 16) == z[-16:]


def test_ecdh_errors(
    registry: MechanismRegistry, ctx: MechanismContext, p256: tuple[FakeKey, FakeKey]
) -> None:
    pub, priv = p256
    s = spec(registry, CKM.ECDH1_DERIVE)
    assert s.derive is not None
    point = pub.attrs[CKA.EC_POINT]
    assert isinstance(point, bytes)
    off_curve = point[:-1] + bytes([point[-1] ^ 1])
    with pytest.raises(MechanismParamInvalid):
        s.derive(ctx, priv, Ecdh1DeriveParams(CKD.NULL, b"", off_curve), None)
    with pytest.raises(MechanismParamInvalid):
        s.derive(ctx, priv, Ecdh1DeriveParams(CKD.NULL, b"", point[:20]), None)
    with pytest.raises(MechanismParamInvalid):
        s.derive(ctx, priv, Ecdh1DeriveParams(CKD.NULL, b"shared", point), None)
    with pytest.raises(MechanismParamInvalid):
        s.derive(ctx, priv, Ecdh1DeriveParams(CKD.SHA1_KDF_ASN1, b"", point), None)
    with pytest.raises(MechanismParamInvalid):
        s.derive(ctx, priv, None, None)
    with pytest.raises(KeyTypeInconsistent):
        s.derive(ctx, pub, Ecdh1DeriveParams(CKD.NULL, b"", point), None)
