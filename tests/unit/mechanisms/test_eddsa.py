"""Ed25519: RFC 8032 test 1, key pair generation, parameters, errors."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from tokenport.ck import CKA, CKK, CKM, CKO
from tokenport.errors import (
    CurveNotSupported,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    SignatureInvalid,
    SignatureLenRange,
    TemplateIncomplete,
)
from tokenport.mechanisms import curves
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
from tokenport.mechanisms.params import EddsaParams, Params

from .helpers import (
    ED25519_NAME_PARAMS,
    ED25519_OID_PARAMS,
    ED25519_OPENSC_PARAMS,
    P256_PARAMS,
    FakeKey,
    key_pair,
    spec,
)

# RFC 8032 s7.1, TEST 1.
SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def keys(params: bytes = ED25519_OID_PARAMS, point: bytes | None = None) -> tuple[FakeKey, FakeKey]:
    pub = FakeKey(
        CKO.PUBLIC_KEY,
        CKK.EC_EDWARDS,
        {
            CKA.EC_PARAMS: params,
            CKA.EC_POINT: point if point is not None else curves.encode_point(PUBLIC),
        },
    )
    priv = FakeKey(CKO.PRIVATE_KEY, CKK.EC_EDWARDS, {CKA.EC_PARAMS: params, CKA.VALUE: SECRET})
    return pub, priv


@pytest.mark.parametrize("params", [ED25519_OID_PARAMS, ED25519_NAME_PARAMS, ED25519_OPENSC_PARAMS])
def test_rfc8032_test1(registry: MechanismRegistry, ctx: MechanismContext, params: bytes) -> None:
    """Pure Ed25519 is CKM_EDDSA without a parameter (3.0 s2.3.14)."""
    s = spec(registry, CKM.EDDSA)
    assert s.sign is not None and s.verify is not None
    pub, priv = keys(params)
    assert s.sign(ctx, priv, None).once(b"") == SIGNATURE
    s.verify(ctx, pub, None).once(b"", SIGNATURE)
    raw_pub, _ = keys(params, PUBLIC)  # a raw 32-byte CKA_EC_POINT is accepted too
    s.verify(ctx, raw_pub, None).once(b"", SIGNATURE)


def test_multi_part_buffers(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    s = spec(registry, CKM.EDDSA)
    assert s.sign is not None and s.verify is not None
    pub, priv = keys()
    message = b"multi-part message " * 10
    signer = s.sign(ctx, priv, None)
    signer.update(message[:7])
    signer.update(message[7:])
    sig = signer.final()
    ed25519.Ed25519PublicKey.from_public_bytes(PUBLIC).verify(sig, message)
    verifier = s.verify(ctx, pub, None)
    verifier.update(message[:100])
    verifier.update(message[100:])
    verifier.final(sig)


def test_verify_failures(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    s = spec(registry, CKM.EDDSA)
    assert s.verify is not None
    pub, _ = keys()
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, None).once(b"x", SIGNATURE)
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, None).once(b"", SIGNATURE[:-1] + b"\x00")
    with pytest.raises(SignatureLenRange):
        s.verify(ctx, pub, None).once(b"", SIGNATURE[:63])


@pytest.mark.parametrize(
    "params",
    [ED25519_OID_PARAMS, ED25519_NAME_PARAMS, ED25519_OPENSC_PARAMS],
    ids=["oid", "name", "opensc-oid"],
)
@pytest.mark.parametrize(
    "param",
    [
        EddsaParams(prehash=True),  # Ed25519ph
        EddsaParams(prehash=True, context=b"ctx"),  # Ed25519ph with a context
        EddsaParams(prehash=False, context=b"ctx"),  # Ed25519ctx
        EddsaParams(prehash=False),  # Ed25519ctx with an empty context, not pure Ed25519
        b"\x00",
    ],
    ids=["ph", "ph-ctx", "ctx", "ctx-empty", "bytes"],
)
def test_params_naming_another_scheme_are_refused(
    registry: MechanismRegistry, ctx: MechanismContext, params: bytes, param: Params
) -> None:
    """Any CK_EDDSA_PARAMS selects Ed25519ph or Ed25519ctx (3.0 s2.3.14, RFC 8032 s5.1):
    refused at init, never answered with a pure Ed25519 signature, on every curve naming."""
    s = spec(registry, CKM.EDDSA)
    assert s.sign is not None and s.verify is not None
    pub, priv = keys(params)
    with pytest.raises(MechanismParamInvalid):
        s.sign(ctx, priv, param)
    with pytest.raises(MechanismParamInvalid):
        s.verify(ctx, pub, param)


def test_key_checks(
    registry: MechanismRegistry, ctx: MechanismContext, p256: tuple[FakeKey, FakeKey]
) -> None:
    s = spec(registry, CKM.EDDSA)
    assert s.sign is not None and s.verify is not None
    pub, priv = keys()
    with pytest.raises(KeyTypeInconsistent):
        s.sign(ctx, pub, None)
    with pytest.raises(KeyTypeInconsistent):
        s.verify(ctx, priv, None)
    with pytest.raises(KeyTypeInconsistent):
        s.sign(ctx, p256[1], None)
    _, x448 = keys(bytes.fromhex("06032b656f"))  # X448: not an Edwards curve (Ed448 is one now)
    with pytest.raises(CurveNotSupported):
        s.sign(ctx, x448, None)


@pytest.mark.parametrize("params", [ED25519_OID_PARAMS, ED25519_NAME_PARAMS, ED25519_OPENSC_PARAMS])
def test_key_pair_generation(
    registry: MechanismRegistry, ctx: MechanismContext, params: bytes
) -> None:
    seeds: list[bytes] = []

    def rng(n: int) -> bytes:
        seeds.append(SECRET[:n])
        return SECRET[:n]

    fixed = MechanismContext(ctx.crypto, rng)
    pub, priv = key_pair(registry, fixed, CKM.EC_EDWARDS_KEY_PAIR_GEN, {CKA.EC_PARAMS: params})
    assert seeds == [SECRET]
    assert priv.attrs == {CKA.EC_PARAMS: params, CKA.VALUE: SECRET}
    assert pub.attrs == {CKA.EC_PARAMS: params, CKA.EC_POINT: b"\x04\x20" + PUBLIC}
    assert pub.key_type == CKK.EC_EDWARDS


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ({}, TemplateIncomplete),
        ({CKA.EC_PARAMS: P256_PARAMS}, CurveNotSupported),
        ({CKA.EC_PARAMS: b"\x13\x0acurve25519"}, CurveNotSupported),
    ],
)
def test_key_pair_generation_errors(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    template: dict[int, bytes],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        key_pair(registry, ctx, CKM.EC_EDWARDS_KEY_PAIR_GEN, template)


def test_generated_pair_works(
    registry: MechanismRegistry, ctx: MechanismContext, ed25519_pair: tuple[FakeKey, FakeKey]
) -> None:
    pub, priv = ed25519_pair
    s = spec(registry, CKM.EDDSA)
    assert s.sign is not None and s.verify is not None
    s.verify(ctx, pub, None).once(b"hello", s.sign(ctx, priv, None).once(b"hello"))
