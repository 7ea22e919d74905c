"""HMAC, general-length HMAC, HMAC key generation and generic secret keys.

PKCS #11 v2.40 Current Mechanisms s2.20-2.24 (CKM_SHA_1_HMAC .. CKM_SHA512_HMAC and their
*_HMAC_GENERAL forms in the SHA sections: sign/verify, single- and multi-part, RFC 2104), the
v2.40 SHA-512/224 and SHA-512/256 HMACs, the SHA-3 HMACs of PKCS #11 v3.0 (3.2 s6.28-6.31),
the v3.0 HMAC key generation mechanisms (CKM_SHA_1_KEY_GEN .. CKM_SHA512_256_KEY_GEN,
CKM_SHA3_224_KEY_GEN .. CKM_SHA3_512_KEY_GEN: CKA_VALUE_LEN bytes of the dedicated key type)
and s2.8 (generic secret keys, CKM_GENERIC_SECRET_KEY_GEN, CKA_VALUE_LEN in bytes from the
template).

A *_HMAC mechanism's MAC is the full digest; a *_HMAC_GENERAL mechanism takes a
CK_MAC_GENERAL_PARAMS (the MAC length in bytes, 1 .. digest length) and its MAC is the start
of the full HMAC (v2.40 s2.20.4). HMAC keys are CKK_GENERIC_SECRET or the CKK_*_HMAC type of
the same hash. Key sizes in CK_MECHANISM_INFO are in bytes, except for
CKM_GENERIC_SECRET_KEY_GEN (bits). Verification compares in constant time. Generated key
values come from the token's random source.
"""

from __future__ import annotations

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO
from tokenport.errors import MechanismParamInvalid
from tokenport.mechanisms.base import (
    AttrMap,
    KeyView,
    MechanismContext,
    MechanismRegistry,
    MechanismSpec,
)
from tokenport.mechanisms.common import (
    HashThenSign,
    HashThenVerify,
    check_key,
    check_size,
    compare_mac,
    no_param,
    secret_value,
    value_len,
)
from tokenport.mechanisms.digest import HASH_STANDARDS, digest_size
from tokenport.mechanisms.params import MacGeneralParams, Params
from tokenport.ports.crypto import HashName

MIN_KEY_BYTES = 1
MAX_KEY_BYTES = 512

HMAC_MECHANISMS: dict[int, tuple[HashName, int]] = {
    CKM.SHA_1_HMAC: ("sha1", CKK.SHA_1_HMAC),
    CKM.SHA224_HMAC: ("sha224", CKK.SHA224_HMAC),
    CKM.SHA256_HMAC: ("sha256", CKK.SHA256_HMAC),
    CKM.SHA384_HMAC: ("sha384", CKK.SHA384_HMAC),
    CKM.SHA512_HMAC: ("sha512", CKK.SHA512_HMAC),
    CKM.SHA512_224_HMAC: ("sha512_224", CKK.SHA512_224_HMAC),
    CKM.SHA512_256_HMAC: ("sha512_256", CKK.SHA512_256_HMAC),
    CKM.SHA3_224_HMAC: ("sha3_224", CKK.SHA3_224_HMAC),
    CKM.SHA3_256_HMAC: ("sha3_256", CKK.SHA3_256_HMAC),
    CKM.SHA3_384_HMAC: ("sha3_384", CKK.SHA3_384_HMAC),
    CKM.SHA3_512_HMAC: ("sha3_512", CKK.SHA3_512_HMAC),
}
"""HMAC mechanism -> (hash, dedicated key type)."""

HMAC_GENERAL: dict[int, int] = {
    CKM.SHA_1_HMAC_GENERAL: CKM.SHA_1_HMAC,
    CKM.SHA224_HMAC_GENERAL: CKM.SHA224_HMAC,
    CKM.SHA256_HMAC_GENERAL: CKM.SHA256_HMAC,
    CKM.SHA384_HMAC_GENERAL: CKM.SHA384_HMAC,
    CKM.SHA512_HMAC_GENERAL: CKM.SHA512_HMAC,
    CKM.SHA512_224_HMAC_GENERAL: CKM.SHA512_224_HMAC,
    CKM.SHA512_256_HMAC_GENERAL: CKM.SHA512_256_HMAC,
    CKM.SHA3_224_HMAC_GENERAL: CKM.SHA3_224_HMAC,
    CKM.SHA3_256_HMAC_GENERAL: CKM.SHA3_256_HMAC,
    CKM.SHA3_384_HMAC_GENERAL: CKM.SHA3_384_HMAC,
    CKM.SHA3_512_HMAC_GENERAL: CKM.SHA3_512_HMAC,
}
"""General-length HMAC mechanism -> its full-length HMAC mechanism."""

HMAC_KEY_GEN: dict[int, tuple[int, HashName]] = {
    CKM.SHA_1_KEY_GEN: (CKK.SHA_1_HMAC, "sha1"),
    CKM.SHA224_KEY_GEN: (CKK.SHA224_HMAC, "sha224"),
    CKM.SHA256_KEY_GEN: (CKK.SHA256_HMAC, "sha256"),
    CKM.SHA384_KEY_GEN: (CKK.SHA384_HMAC, "sha384"),
    CKM.SHA512_KEY_GEN: (CKK.SHA512_HMAC, "sha512"),
    CKM.SHA512_224_KEY_GEN: (CKK.SHA512_224_HMAC, "sha512_224"),
    CKM.SHA512_256_KEY_GEN: (CKK.SHA512_256_HMAC, "sha512_256"),
    CKM.SHA3_224_KEY_GEN: (CKK.SHA3_224_HMAC, "sha3_224"),
    CKM.SHA3_256_KEY_GEN: (CKK.SHA3_256_HMAC, "sha3_256"),
    CKM.SHA3_384_KEY_GEN: (CKK.SHA3_384_HMAC, "sha3_384"),
    CKM.SHA3_512_KEY_GEN: (CKK.SHA3_512_HMAC, "sha3_512"),
}
"""HMAC key generation mechanism (PKCS #11 v3.0) -> (key type it makes, its hash)."""


def generate_generic_secret(
    ctx: MechanismContext, param: Params, template: AttrMap
) -> dict[int, AttrValue]:
    """CKM_GENERIC_SECRET_KEY_GEN: CKA_VALUE_LEN random bytes."""
    no_param(param)
    length = value_len(template)
    check_size(length, MIN_KEY_BYTES, MAX_KEY_BYTES)
    return {CKA.VALUE: ctx.random_bytes(length), CKA.VALUE_LEN: length}


def _hmac_key(key: KeyView, dedicated_type: int) -> bytes:
    check_key(key, CKO.SECRET_KEY, (CKK.GENERIC_SECRET, dedicated_type))
    value = secret_value(key)
    check_size(len(value), MIN_KEY_BYTES, MAX_KEY_BYTES)
    return value


def mac_length(param: Params, alg: HashName) -> int:
    """The MAC length of a CK_MAC_GENERAL_PARAMS: 1 .. the digest length (v2.40 s2.20.4)."""
    if not isinstance(param, MacGeneralParams):
        raise MechanismParamInvalid("a general-length HMAC needs CK_MAC_GENERAL_PARAMS")
    if not 1 <= param.mac_len <= digest_size(alg):
        raise MechanismParamInvalid("the MAC length is outside 1 .. the digest length")
    return param.mac_len


def _register_hmac(
    registry: MechanismRegistry, mechanism: int, alg: HashName, ktype: int, general: bool
) -> None:
    def length_of(param: Params) -> int:
        if general:
            return mac_length(param, alg)
        no_param(param)
        return digest_size(alg)

    def sign(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenSign:
        length = length_of(param)
        return HashThenSign(ctx.crypto.hmac_new(alg, _hmac_key(key, ktype)),
                            lambda mac: mac[:length])

    def verify(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenVerify:
        length = length_of(param)
        context = ctx.crypto.hmac_new(alg, _hmac_key(key, ktype))
        return HashThenVerify(context, lambda mac, given: compare_mac(mac[:length], given))

    registry.add(
        MechanismSpec(
            mechanism,
            MIN_KEY_BYTES,
            MAX_KEY_BYTES,
            CKF.SIGN | CKF.VERIFY,
            key_types=frozenset({CKK.GENERIC_SECRET, ktype}),
            sign=sign,
            verify=verify,
            standard=HASH_STANDARDS[alg] + "; RFC 2104",
        )
    )


def _register_key_gen(registry: MechanismRegistry, mechanism: int, ktype: int,
                      alg: HashName) -> None:
    def generate(ctx: MechanismContext, param: Params, template: AttrMap) -> dict[int, AttrValue]:
        no_param(param)
        length = value_len(template)
        check_size(length, MIN_KEY_BYTES, MAX_KEY_BYTES)
        return {CKA.VALUE: ctx.random_bytes(length), CKA.VALUE_LEN: length}

    registry.add(
        MechanismSpec(
            mechanism,
            MIN_KEY_BYTES,  # bytes, as the v3.0 HMAC key generation mechanisms say
            MAX_KEY_BYTES,
            CKF.GENERATE,
            generated_key_type=ktype,
            generate_key=generate,
            standard=HASH_STANDARDS[alg] + " (HMAC key generation)",
        )
    )


def register(registry: MechanismRegistry) -> None:
    """Add CKM_GENERIC_SECRET_KEY_GEN, the HMAC key generation mechanisms and the SHA-1,
    SHA-2 and SHA-3 HMAC mechanisms (full and general length)."""
    registry.add(
        MechanismSpec(
            CKM.GENERIC_SECRET_KEY_GEN,
            MIN_KEY_BYTES * 8,  # this mechanism's CK_MECHANISM_INFO sizes are in bits
            MAX_KEY_BYTES * 8,
            CKF.GENERATE,
            generated_key_type=CKK.GENERIC_SECRET,
            generate_key=generate_generic_secret,
            standard="PKCS #11 v2.40 s2.8 (generic secret key)",
        )
    )
    for mechanism, (alg, ktype) in HMAC_MECHANISMS.items():
        _register_hmac(registry, mechanism, alg, ktype, general=False)
    for mechanism, full in HMAC_GENERAL.items():
        alg, ktype = HMAC_MECHANISMS[full]
        _register_hmac(registry, mechanism, alg, ktype, general=True)
    for mechanism, (ktype, alg) in HMAC_KEY_GEN.items():
        _register_key_gen(registry, mechanism, ktype, alg)
