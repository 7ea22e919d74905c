"""HMAC and generic secret keys.

PKCS #11 v2.40 Current Mechanisms s2.20-2.24 (CKM_SHA_1_HMAC, CKM_SHA224_HMAC,
CKM_SHA256_HMAC, CKM_SHA384_HMAC, CKM_SHA512_HMAC in the SHA sections: sign/verify, single-
and multi-part, MAC length = digest length, RFC 2104) and s2.8 (generic secret keys,
CKM_GENERIC_SECRET_KEY_GEN, CKA_VALUE_LEN in bytes from the template). HMAC keys are CKK_GENERIC_SECRET or the CKK_SHA*_HMAC type of the
same hash. Key sizes in CK_MECHANISM_INFO are in bytes. Verification compares in constant
time. Generated key values come from the token's random source.

The *_HMAC_GENERAL variants (truncated MACs) are not offered.
"""

from __future__ import annotations

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO
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
    mac_verifier,
    no_param,
    secret_value,
    value_len,
)
from tokenport.mechanisms.params import Params
from tokenport.ports.crypto import HashName

MIN_KEY_BYTES = 1
MAX_KEY_BYTES = 512

HMAC_MECHANISMS: dict[int, tuple[HashName, int]] = {
    CKM.SHA_1_HMAC: ("sha1", CKK.SHA_1_HMAC),
    CKM.SHA224_HMAC: ("sha224", CKK.SHA224_HMAC),
    CKM.SHA256_HMAC: ("sha256", CKK.SHA256_HMAC),
    CKM.SHA384_HMAC: ("sha384", CKK.SHA384_HMAC),
    CKM.SHA512_HMAC: ("sha512", CKK.SHA512_HMAC),
}
"""HMAC mechanism -> (hash, dedicated key type)."""


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


def _register_hmac(registry: MechanismRegistry, mechanism: int, alg: HashName, ktype: int) -> None:
    def sign(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenSign:
        no_param(param)
        return HashThenSign(ctx.crypto.hmac_new(alg, _hmac_key(key, ktype)), lambda mac: mac)

    def verify(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenVerify:
        no_param(param)
        return mac_verifier(ctx.crypto.hmac_new(alg, _hmac_key(key, ktype)))

    registry.add(
        MechanismSpec(
            mechanism,
            MIN_KEY_BYTES,
            MAX_KEY_BYTES,
            CKF.SIGN | CKF.VERIFY,
            key_types=frozenset({CKK.GENERIC_SECRET, ktype}),
            sign=sign,
            verify=verify,
        )
    )


def register(registry: MechanismRegistry) -> None:
    """Add CKM_GENERIC_SECRET_KEY_GEN and the SHA-1/SHA-2 HMAC mechanisms."""
    registry.add(
        MechanismSpec(
            CKM.GENERIC_SECRET_KEY_GEN,
            MIN_KEY_BYTES * 8,  # this mechanism's CK_MECHANISM_INFO sizes are in bits
            MAX_KEY_BYTES * 8,
            CKF.GENERATE,
            generated_key_type=CKK.GENERIC_SECRET,
            generate_key=generate_generic_secret,
        )
    )
    for mechanism, (alg, ktype) in HMAC_MECHANISMS.items():
        _register_hmac(registry, mechanism, alg, ktype)
