"""Mechanism parameters are never ignored: every mechanism of the registry, every operation.

Each registered mechanism is offered, through every operation it supports, each parameter it
does not take (a stray byte string, and every parameter structure of the other mechanisms);
each must be refused with CKR_MECHANISM_PARAM_INVALID before any work is done, whatever the
mechanism's family. A mechanism added later that forgets to check its parameter fails here.
The spec's rule per family: "This mechanism does not have a parameter" (digests, HMAC,
ECDSA, PKCS #1 v1.5, key generation), a fixed parameter structure (PSS, OAEP, GCM, CTR,
ECDH1), an IV of one size (CBC: 16 bytes, key wrap: 8 or 4 bytes, or none), and for CKM_EDDSA
no parameter at all for the only scheme offered, pure Ed25519 (3.0 s2.3.14).
"""

from __future__ import annotations

import pytest

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKG, CKK, CKM
from tokenport.errors import MechanismParamInvalid
from tokenport.mechanisms import default_registry
from tokenport.mechanisms.base import KeyView, MechanismContext, MechanismSpec
from tokenport.mechanisms.params import (
    CcmParams,
    ChaChaPolyParams,
    CtrParams,
    Ecdh1DeriveParams,
    EddsaParams,
    GcmParams,
    OaepParams,
    ParamKind,
    Params,
    PssParams,
    param_kind,
)

from .helpers import ED25519_OID_PARAMS, P256_PARAMS, FakeKey, secret

Pair = tuple[FakeKey, FakeKey]

CANDIDATES: list[Params] = [
    b"\x00",
    b"\x00" * 8,
    b"\x00" * 16,
    GcmParams(iv=b"\x00" * 12),
    CtrParams(32, b"\x00" * 16),
    PssParams(CKM.SHA256, CKG.MGF1_SHA256, 32),
    OaepParams(CKM.SHA256, CKG.MGF1_SHA256),
    Ecdh1DeriveParams(0x1, b"", b"\x04" + b"\x00" * 64),
    EddsaParams(prehash=False),
    EddsaParams(prehash=True),
    CcmParams(0, b"\x00" * 12),
    ChaChaPolyParams(b"\x00" * 12),
]
"""Parameters to offer: raw bytes of the sizes an IV may have, and one of each structure."""

ACCEPTED: dict[ParamKind, tuple[type, ...]] = {
    ParamKind.NONE: (),
    ParamKind.BYTES: (bytes,),  # the IV length is checked per mechanism: see BYTES_OK
    ParamKind.GCM: (GcmParams,),
    ParamKind.CTR: (CtrParams,),
    ParamKind.PSS: (PssParams,),
    ParamKind.OAEP: (OaepParams,),
    ParamKind.ECDH1: (Ecdh1DeriveParams,),
    ParamKind.EDDSA: (),  # CK_EDDSA_PARAMS names Ed25519ctx/ph, not offered
    ParamKind.CCM: (CcmParams,),
    ParamKind.CHACHA_POLY: (ChaChaPolyParams,),
}
"""Python types of a parameter the mechanism may accept, by the C structure it takes."""

BYTES_OK: dict[int, frozenset[int]] = {
    CKM.AES_CBC: frozenset({16}),
    CKM.AES_CBC_PAD: frozenset({16}),
    CKM.AES_KEY_WRAP: frozenset(),  # only the default IV A6A6A6A6A6A6A6A6 (not offered here)
    CKM.AES_KEY_WRAP_PAD: frozenset(),  # only the default AIV A65959A6
}
"""Byte-string lengths a BYTES mechanism accepts (the IV); other lengths must be refused."""

OPERATIONS = (
    "digest", "sign", "verify", "encrypt", "decrypt", "generate_key", "generate_key_pair",
    "wrap", "unwrap", "derive",
)  # fmt: skip
PRIVATE_SIDE = {"sign", "decrypt", "unwrap", "derive"}


def _refused(mechanism: int, param: Params) -> bool:
    kind = param_kind(mechanism)
    if not isinstance(param, ACCEPTED[kind]):
        return True
    if kind is ParamKind.BYTES:
        assert isinstance(param, bytes)
        return len(param) not in BYTES_OK[mechanism]
    return False


def _cases() -> list[tuple[int, str, Params]]:
    cases = []
    for spec in default_registry():
        for op in OPERATIONS:
            if getattr(spec, op) is None:
                continue
            for param in CANDIDATES:
                if _refused(spec.mechanism, param):
                    cases.append((spec.mechanism, op, param))
    return cases


def _case_id(case: object) -> str:
    if isinstance(case, int):
        try:
            return CKM(case).name
        except ValueError:
            return hex(case)
    if isinstance(case, bytes):
        return f"bytes{len(case)}"
    if isinstance(case, str):
        return case
    return type(case).__name__ + ("ph" if isinstance(case, EddsaParams) and case.prehash else "")


def _key(spec: MechanismSpec, op: str, keys: dict[int, Pair]) -> KeyView:
    key_type = next(t for t in (CKK.AES, CKK.GENERIC_SECRET, CKK.RSA, CKK.EC, CKK.EC_EDWARDS,
                                CKK.CHACHA20)
                    if t in spec.key_types)  # fmt: skip
    public, private = keys[key_type]
    return private if op in PRIVATE_SIDE else public


TEMPLATES: dict[int, dict[int, AttrValue]] = {
    CKK.AES: {CKA.VALUE_LEN: 16},
    CKK.GENERIC_SECRET: {CKA.VALUE_LEN: 16},
    CKK.RSA: {CKA.MODULUS_BITS: 1024},
    CKK.EC: {CKA.EC_PARAMS: P256_PARAMS},
    CKK.EC_EDWARDS: {CKA.EC_PARAMS: ED25519_OID_PARAMS},
    CKK.CHACHA20: {},
}
"""A valid generation template per generated key type (so only the parameter can fail)."""


def _template(spec: MechanismSpec) -> dict[int, AttrValue]:
    assert spec.generated_key_type is not None
    return TEMPLATES[spec.generated_key_type]


@pytest.fixture(scope="module")
def keys(rsa2048: Pair, p256: Pair, ed25519_pair: Pair) -> dict[int, Pair]:
    aes = secret(CKK.AES, b"\x01" * 16)
    generic = secret(CKK.GENERIC_SECRET, b"\x02" * 32)
    chacha = secret(CKK.CHACHA20, b"\x03" * 32)
    return {
        CKK.AES: (aes, aes),
        CKK.GENERIC_SECRET: (generic, generic),
        CKK.RSA: rsa2048,
        CKK.EC: p256,
        CKK.EC_EDWARDS: ed25519_pair,
        CKK.CHACHA20: (chacha, chacha),
    }


@pytest.mark.parametrize(("mechanism", "op", "param"), _cases(), ids=_case_id)
def test_a_parameter_the_mechanism_does_not_take_is_refused(
    ctx: MechanismContext, keys: dict[int, Pair], mechanism: int, op: str, param: Params
) -> None:
    spec = default_registry().get(mechanism)
    assert spec is not None
    with pytest.raises(MechanismParamInvalid):
        if op == "digest":
            assert spec.digest is not None
            spec.digest(ctx, param)
        elif op in ("sign", "verify", "encrypt", "decrypt"):
            factory = getattr(spec, op)
            factory(ctx, _key(spec, op, keys), param)
        elif op == "generate_key":
            assert spec.generate_key is not None
            spec.generate_key(ctx, param, _template(spec))
        elif op == "generate_key_pair":
            assert spec.generate_key_pair is not None
            spec.generate_key_pair(ctx, param, _template(spec), {})
        elif op in ("wrap", "unwrap"):
            function = getattr(spec, op)
            function(ctx, _key(spec, op, keys), param, b"\x03" * (32 if op == "wrap" else 40))
        else:
            assert spec.derive is not None
            spec.derive(ctx, _key(spec, op, keys), param, None)


def test_every_mechanism_and_operation_is_covered() -> None:
    """The table above knows every BYTES mechanism, and every operation of every mechanism
    is offered at least one parameter it must refuse."""
    registry = default_registry()
    for spec in registry:
        if param_kind(spec.mechanism) is ParamKind.BYTES:
            assert spec.mechanism in BYTES_OK
    covered = {(m, op) for m, op, _ in _cases()}
    for spec in registry:
        for op in OPERATIONS:
            if getattr(spec, op) is not None:
                assert (spec.mechanism, op) in covered, (hex(spec.mechanism), op)
    assert len(covered) >= 60

