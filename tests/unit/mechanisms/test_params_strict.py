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
from tokenport.ck import CKA, CKG, CKK, CKM, CKP_ML_DSA, CKP_ML_KEM
from tokenport.errors import MechanismParamInvalid
from tokenport.mechanisms import default_registry
from tokenport.mechanisms.base import KeyView, MechanismContext, MechanismRegistry, MechanismSpec
from tokenport.mechanisms.params import (
    CbcEncryptDataParams,
    CcmParams,
    ChaChaPolyParams,
    CtrParams,
    Ecdh1DeriveParams,
    EddsaParams,
    GcmParams,
    HkdfParams,
    KeyHandleParam,
    KeyValueParam,
    MacGeneralParams,
    OaepParams,
    ParamKind,
    Params,
    Pbkdf2Params,
    PssParams,
    SignAdditionalContext,
    param_kind,
)

from .helpers import ED25519_OID_PARAMS, P256_PARAMS, FakeKey, key_pair, secret
from .test_dh import DOMAIN as DH_DOMAIN
from .test_dsa import KEYPAIR

DSA_DOMAIN: dict[int, AttrValue] = {
    CKA.PRIME: bytes.fromhex(KEYPAIR[20][1]["P"]),
    CKA.SUBPRIME: bytes.fromhex(KEYPAIR[20][1]["Q"]),
    CKA.BASE: bytes.fromhex(KEYPAIR[20][1]["G"]),
}

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
    SignAdditionalContext(context=b"ctx"),
    MacGeneralParams(8),
    CbcEncryptDataParams(iv=b"\x00" * 16, data=b"\x00" * 16),
    KeyHandleParam(1),
    KeyValueParam(b"\x05" * 16),
    MacGeneralParams(16),
    HkdfParams(extract=True, expand=True, prf=CKM.SHA256, salt_type=0x1),
    Pbkdf2Params(0x1, b"salt", 1, 0x4, b"password"),
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
    ParamKind.SIGN_CONTEXT: (SignAdditionalContext,),  # CKM_ML_DSA (v3.2)
    ParamKind.MAC_GENERAL: (MacGeneralParams,),
    ParamKind.STRING_DATA: (bytes,),  # ECB_ENCRYPT_DATA: whole blocks only, see _refused
    ParamKind.DES_CBC_DATA: (CbcEncryptDataParams,),  # 8-byte IV only, see _refused
    ParamKind.AES_CBC_DATA: (CbcEncryptDataParams,),
    ParamKind.OBJECT_HANDLE: (KeyValueParam,),  # the handle as the core resolves it
    ParamKind.HKDF: (HkdfParams,),
    ParamKind.PBKD2: (Pbkdf2Params,),
    ParamKind.CCM: (CcmParams,),
    ParamKind.CHACHA_POLY: (ChaChaPolyParams,),
}
"""Python types of a parameter the mechanism may accept, by the C structure it takes."""

BYTES_OK: dict[int, frozenset[int]] = {
    CKM.AES_CBC: frozenset({16}),
    CKM.AES_CBC_PAD: frozenset({16}),
    CKM.AES_KEY_WRAP: frozenset(),  # only the default IV A6A6A6A6A6A6A6A6 (not offered here)
    CKM.AES_KEY_WRAP_PAD: frozenset(),  # only the default AIV A65959A6
    CKM.DH_PKCS_DERIVE: frozenset(),  # the other party's value: all-zero bytes are out of range
    CKM.DES_CBC: frozenset({8}),
    CKM.DES_CBC_PAD: frozenset({8}),
    CKM.DES3_CBC: frozenset({8}),
    CKM.DES3_CBC_PAD: frozenset({8}),
}
"""Byte-string lengths a BYTES mechanism accepts (the IV); other lengths must be refused."""

OPERATIONS = (
    "digest", "sign", "verify", "encrypt", "decrypt", "generate_key", "generate_key_pair",
    "wrap", "unwrap", "derive", "encapsulate", "decapsulate",
)  # fmt: skip
PRIVATE_SIDE = {"sign", "decrypt", "unwrap", "derive", "decapsulate"}


def _refused(mechanism: int, param: Params) -> bool:
    kind = param_kind(mechanism)
    if not isinstance(param, ACCEPTED[kind]):
        return True
    if kind is ParamKind.BYTES:
        assert isinstance(param, bytes)
        return len(param) not in BYTES_OK[mechanism]
    if kind is ParamKind.STRING_DATA and mechanism in ECB_ENCRYPT_DATA:
        assert isinstance(param, bytes)
        return not param or len(param) % ECB_ENCRYPT_DATA[mechanism] != 0
    if kind is ParamKind.DES_CBC_DATA:
        assert isinstance(param, CbcEncryptDataParams)
        return len(param.iv) != 8
    return False


ECB_ENCRYPT_DATA = {
    CKM.AES_ECB_ENCRYPT_DATA: 16, CKM.DES_ECB_ENCRYPT_DATA: 8, CKM.DES3_ECB_ENCRYPT_DATA: 8,
}
"""Block size of the *_ECB_ENCRYPT_DATA mechanisms: their data is a multiple of it."""


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
                                CKK.ML_DSA, CKK.ML_KEM, CKK.DSA, CKK.DH, CKK.DES, CKK.DES3,
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
    CKK.ML_DSA: {CKA.PARAMETER_SET: CKP_ML_DSA.ML_DSA_44},
    CKK.ML_KEM: {CKA.PARAMETER_SET: CKP_ML_KEM.ML_KEM_768},
    CKK.DSA: {CKA.PRIME_BITS: 2048, **DSA_DOMAIN},
    CKK.DH: {CKA.PRIME_BITS: 1024, **DH_DOMAIN},
    CKK.DES: {},
    CKK.DES2: {},
    CKK.DES3: {},
    **{k: {CKA.VALUE_LEN: 16} for k in (
        CKK.SHA_1_HMAC, CKK.SHA224_HMAC, CKK.SHA256_HMAC, CKK.SHA384_HMAC, CKK.SHA512_HMAC,
        CKK.SHA512_224_HMAC, CKK.SHA512_256_HMAC, CKK.SHA3_224_HMAC, CKK.SHA3_256_HMAC,
        CKK.SHA3_384_HMAC, CKK.SHA3_512_HMAC, CKK.HKDF)},
    CKK.EC_MONTGOMERY: {CKA.EC_PARAMS: bytes.fromhex("06032b656e")},  # X25519
    CKK.CHACHA20: {},
}
"""A valid generation template per generated key type (so only the parameter can fail)."""


def _template(spec: MechanismSpec) -> dict[int, AttrValue]:
    assert spec.generated_key_type is not None
    return TEMPLATES[spec.generated_key_type]


@pytest.fixture(scope="module")
def keys(rsa2048: Pair, p256: Pair, ed25519_pair: Pair, registry: MechanismRegistry,
         ctx: MechanismContext) -> dict[int, Pair]:
    aes = secret(CKK.AES, b"\x01" * 16)
    generic = secret(CKK.GENERIC_SECRET, b"\x02" * 32)
    des = secret(CKK.DES, bytes.fromhex("0123456789abcdef"))
    des3 = secret(CKK.DES3, bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123"))
    chacha = secret(CKK.CHACHA20, b"\x03" * 32)
    return {
        CKK.AES: (aes, aes),
        CKK.GENERIC_SECRET: (generic, generic),
        CKK.RSA: rsa2048,
        CKK.EC: p256,
        CKK.EC_EDWARDS: ed25519_pair,
        CKK.ML_DSA: key_pair(registry, ctx, CKM.ML_DSA_KEY_PAIR_GEN, TEMPLATES[CKK.ML_DSA]),
        CKK.ML_KEM: key_pair(registry, ctx, CKM.ML_KEM_KEY_PAIR_GEN, TEMPLATES[CKK.ML_KEM]),
        CKK.DSA: key_pair(registry, ctx, CKM.DSA_KEY_PAIR_GEN, DSA_DOMAIN),
        CKK.DH: key_pair(registry, ctx, CKM.DH_PKCS_KEY_PAIR_GEN, DH_DOMAIN),
        CKK.DES: (des, des),
        CKK.DES3: (des3, des3),
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
        elif op == "encapsulate":
            assert spec.encapsulate is not None
            spec.encapsulate(ctx, _key(spec, op, keys), param)
        elif op == "decapsulate":
            assert spec.decapsulate is not None
            spec.decapsulate(ctx, _key(spec, op, keys), param, b"\x03" * 1088)
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

