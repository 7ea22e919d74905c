"""X25519 and X448 (PKCS #11 v3.0 s2.3.7-2.3.10, CKK_EC_MONTGOMERY): RFC 7748 s5.2 vectors
through CKM_ECDH1_DERIVE, CKM_EC_MONTGOMERY_KEY_PAIR_GEN, the encodings of CKA_EC_POINT and
of the peer's public value, errors, import and PKCS #8."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import x448, x25519
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKD, CKK, CKM, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    CurveNotSupported,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    TemplateIncomplete,
    TemplateInconsistent,
)
from tokenport.mechanisms import curves, der
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
from tokenport.mechanisms.keyformats import (
    complete_key_attributes,
    decode_private_key_pkcs8,
    decode_public_key_info,
    encode_private_key_pkcs8,
)
from tokenport.mechanisms.params import Ecdh1DeriveParams
from tokenport.ports.crypto import CryptoBackend

from .helpers import P256_PARAMS, FakeKey, key_pair, spec
from .vectors import records

NAMES = {curves.X25519: b"curve25519", curves.X448: b"curve448"}
CASES = [(curves.X25519, v) for v in records("curves/x25519_rfc7748.txt", "COUNT")] + [
    (curves.X448, v) for v in records("curves/x448_rfc7748.txt", "COUNT")
]


def private(curve: curves.OctetCurve, value: bytes, params: bytes | None = None) -> FakeKey:
    return FakeKey(CKO.PRIVATE_KEY, CKK.EC_MONTGOMERY,
                   {CKA.EC_PARAMS: params or curve.params, CKA.VALUE: value})


def derive(registry: MechanismRegistry, ctx: MechanismContext, key: FakeKey, peer: bytes,
           kdf: int = CKD.NULL, shared: bytes = b"", length: int | None = None) -> bytes:
    s = spec(registry, CKM.ECDH1_DERIVE)
    assert s.derive is not None
    return s.derive(ctx, key, Ecdh1DeriveParams(kdf, shared, peer), length)


def name_params(curve: curves.OctetCurve) -> bytes:
    return der.encode_tlv(der.TAG_PRINTABLE_STRING, NAMES[curve])


@pytest.mark.parametrize(("curve", "vector"), CASES,
                         ids=lambda c: c.name if isinstance(c, curves.OctetCurve) else c["COUNT"])
def test_rfc7748_vectors(
    registry: MechanismRegistry, ctx: MechanismContext, curve: curves.OctetCurve,
    vector: dict[str, str],
) -> None:
    """The derived CKA_VALUE is the RFC's output u, for a raw and a DER peer value."""
    scalar, u = bytes.fromhex(vector["INPUT_SCALAR"]), bytes.fromhex(vector["INPUT_U"])
    expected = bytes.fromhex(vector["OUTPUT_U"])
    for params in (curve.params, name_params(curve)):
        key = private(curve, scalar, params)
        assert derive(registry, ctx, key, u) == expected
        assert derive(registry, ctx, key, curves.encode_point(u)) == expected
    assert derive(registry, ctx, private(curve, scalar), u, length=16) == expected[-16:]


def test_vector_files() -> None:
    assert [c.name for c, _ in CASES] == ["X25519"] * 3 + ["X448"] * 3


@pytest.mark.parametrize("curve", [curves.X25519, curves.X448], ids=lambda c: c.name)
def test_key_pairs_agree(
    registry: MechanismRegistry, ctx: MechanismContext, curve: curves.OctetCurve
) -> None:
    a_pub, a_priv = key_pair(registry, ctx, CKM.EC_MONTGOMERY_KEY_PAIR_GEN,
                             {CKA.EC_PARAMS: curve.params})
    b_pub, b_priv = key_pair(registry, ctx, CKM.EC_MONTGOMERY_KEY_PAIR_GEN,
                             {CKA.EC_PARAMS: name_params(curve)})
    assert a_pub.key_type == CKK.EC_MONTGOMERY and a_pub.attrs[CKA.EC_PARAMS] == curve.params
    a_point, b_point = a_pub.attrs[CKA.EC_POINT], b_pub.attrs[CKA.EC_POINT]
    assert isinstance(a_point, bytes) and isinstance(b_point, bytes)
    assert a_point[:2] == bytes([4, curve.public_size]) and len(a_point) == 2 + curve.public_size
    a_value, b_value = a_priv.attrs[CKA.VALUE], b_priv.attrs[CKA.VALUE]
    assert isinstance(a_value, bytes) and len(a_value) == curve.private_size
    assert isinstance(b_value, bytes)
    ab = derive(registry, ctx, a_priv, b_point)
    assert ab == derive(registry, ctx, b_priv, a_point) and len(ab) == curve.public_size
    library = x25519.X25519PrivateKey if curve is curves.X25519 else x448.X448PrivateKey
    peer_public = library.from_private_bytes(b_value).public_key()
    assert peer_public.public_bytes_raw() == b_point[2:]
    assert library.from_private_bytes(a_value).exchange(peer_public) == ab  # type: ignore[arg-type]
    kdf = derive(registry, ctx, a_priv, b_point, CKD.SHA256_KDF, b"shared", 24)
    assert kdf == X963KDF(hashes.SHA256(), 24, b"shared").derive(ab)


def test_key_pair_uses_token_randomness(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    fixed = MechanismContext(ctx.crypto, lambda n: b"\x07" * n)
    pub, priv = key_pair(registry, fixed, CKM.EC_MONTGOMERY_KEY_PAIR_GEN,
                         {CKA.EC_PARAMS: curves.X25519.params})
    assert priv.attrs[CKA.VALUE] == b"\x07" * 32
    expected = x25519.X25519PrivateKey.from_private_bytes(b"\x07" * 32).public_key()
    assert pub.attrs[CKA.EC_POINT] == curves.encode_point(expected.public_bytes_raw())


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ({}, TemplateIncomplete),
        ({CKA.EC_PARAMS: P256_PARAMS}, CurveNotSupported),
        ({CKA.EC_PARAMS: curves.ED25519.params}, CurveNotSupported),
        ({CKA.EC_PARAMS: der.encode_tlv(der.TAG_PRINTABLE_STRING, b"edwards448")},
         CurveNotSupported),
    ],
)
def test_key_pair_generation_errors(
    registry: MechanismRegistry, ctx: MechanismContext, template: dict[int, AttrValue],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        key_pair(registry, ctx, CKM.EC_MONTGOMERY_KEY_PAIR_GEN, template)


def test_derive_errors(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    key = private(curves.X25519, b"\x05" * 32)
    peer = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    for bad in (peer[:31], peer + b"\x00", curves.encode_point(peer)[:-1],
                x448.X448PrivateKey.generate().public_key().public_bytes_raw()):
        with pytest.raises(MechanismParamInvalid):
            derive(registry, ctx, key, bad)
    with pytest.raises(MechanismParamInvalid):  # u = 0: all-zero output (RFC 7748 s6.1)
        derive(registry, ctx, key, b"\x00" * 32)
    with pytest.raises(MechanismParamInvalid):
        derive(registry, ctx, key, peer, CKD.NULL, b"shared data")
    with pytest.raises(TemplateInconsistent):
        derive(registry, ctx, key, peer, length=33)
    public = FakeKey(CKO.PUBLIC_KEY, CKK.EC_MONTGOMERY,
                     {CKA.EC_PARAMS: curves.X25519.params, CKA.EC_POINT: peer})
    with pytest.raises(KeyTypeInconsistent):
        derive(registry, ctx, public, peer)
    with pytest.raises(AttributeValueInvalid):
        derive(registry, ctx, private(curves.X448, b"\x05" * 32), peer)


def test_import_and_pkcs8(crypto: CryptoBackend) -> None:
    for curve, library in ((curves.X25519, x25519.X25519PrivateKey),
                           (curves.X448, x448.X448PrivateKey)):
        value = bytes(range(1, curve.private_size + 1))
        public = library.from_private_bytes(value).public_key().public_bytes_raw()
        attrs: dict[int, AttrValue] = {CKA.EC_PARAMS: name_params(curve), CKA.EC_POINT: public}
        added = complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.EC_MONTGOMERY, attrs)
        assert added[CKA.EC_POINT] == curves.encode_point(public)  # stored as DER
        spki = added[CKA.PUBLIC_KEY_INFO]
        assert isinstance(spki, bytes)
        assert decode_public_key_info(crypto, spki) == (
            CKK.EC_MONTGOMERY, {CKA.EC_PARAMS: curve.params, CKA.EC_POINT: added[CKA.EC_POINT]})
        key = private(curve, value)
        assert complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.EC_MONTGOMERY, key.attrs) == {
            CKA.PUBLIC_KEY_INFO: spki}
        assert decode_private_key_pkcs8(crypto, encode_private_key_pkcs8(crypto, key)) == (
            CKK.EC_MONTGOMERY, key.attrs)
        with pytest.raises(AttributeValueInvalid):
            complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.EC_MONTGOMERY,
                                    {CKA.EC_PARAMS: curve.params, CKA.VALUE: value[:-1]})


def test_mechanism_info(registry: MechanismRegistry) -> None:
    s = spec(registry, CKM.EC_MONTGOMERY_KEY_PAIR_GEN)
    assert (s.min_key_size, s.max_key_size) == (256, 448)
    assert s.generated_key_type == CKK.EC_MONTGOMERY and "RFC 7748" in s.standard
    assert CKK.EC_MONTGOMERY in spec(registry, CKM.ECDH1_DERIVE).key_types


def test_opensc_023_curve25519_params(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    """pkcs11-tool 0.23 sends 13 0b "curve25519" (one length byte too many): that exact value
    names X25519 (and is kept as given); other malformed values are still refused."""
    sent = bytes.fromhex("130b63757276653235353139")
    pub, priv = key_pair(registry, ctx, CKM.EC_MONTGOMERY_KEY_PAIR_GEN, {CKA.EC_PARAMS: sent})
    assert pub.attrs[CKA.EC_PARAMS] == sent and len(pub.attrs[CKA.EC_POINT]) == 34  # type: ignore[arg-type]
    point = pub.attrs[CKA.EC_POINT]
    assert isinstance(point, bytes)
    assert len(derive(registry, ctx, priv, point)) == 32
    for bad in (bytes.fromhex("130b637572766532353531"), bytes.fromhex("130b63757276653434383939")):
        with pytest.raises(AttributeValueInvalid):
            key_pair(registry, ctx, CKM.EC_MONTGOMERY_KEY_PAIR_GEN, {CKA.EC_PARAMS: bad})
