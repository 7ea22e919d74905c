"""PKCS #3 Diffie-Hellman: domain parameters, key pairs and key derivation.

PKCS #11 v2.40 Current Mechanisms s2.4 (Diffie-Hellman), its PKCS #3 mechanisms:
CKM_DH_PKCS_PARAMETER_GEN ("domain parameter generation": a CKO_DOMAIN_PARAMETERS object of
CKA_PRIME_BITS bits, generator 2), CKM_DH_PKCS_KEY_PAIR_GEN ("key pair generation": CKA_PRIME
and CKA_BASE from the public key template, CKA_VALUE_BITS optionally in the private one) and
CKM_DH_PKCS_DERIVE ("key derivation": the parameter is the other party's public value y,
big-endian; the secret y^x mod p, as long as p, is truncated to the derived key's
CKA_VALUE_LEN by removing bytes from its leading end). Key sizes in CK_MECHANISM_INFO are bits
of the prime p. The algorithm is PKCS #3 v1.4.

The other party's public value must be in [2, p-2] (SP 800-56A r3 s5.6.2.3.1, the partial
public-key validation PKCS #3 domain parameters allow): 0, 1 and p-1 would give a secret an
attacker knows; anything else gives CKR_MECHANISM_PARAM_INVALID.

Parameter generation searches a safe prime: about 0.05 s for 1024 bits but 5 to 60 s for
2048 bits (measured with OpenSSL 3 on one core), so CKM_DH_PKCS_PARAMETER_GEN offers 1024 to
2048 bits; the C call holds no tokenport lock meanwhile. Larger groups can be created with
C_CreateObject (RFC 7919 / RFC 3526 primes).

Randomness: the private value x comes from the token's random source; the safe-prime search
runs inside the crypto library.
"""

from __future__ import annotations

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    DomainParamsInvalid,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    PKCS11Error,
    TemplateIncomplete,
    TemplateInconsistent,
)
from tokenport.mechanisms.base import (
    AttrMap,
    KeyView,
    MechanismContext,
    MechanismRegistry,
    MechanismSpec,
)
from tokenport.mechanisms.common import Getter, check_key, check_size, get_int, int_bytes, no_param
from tokenport.mechanisms.params import Params
from tokenport.ports.crypto import DhParameters, DhPort, DhPrivateKeyHandle

FFDHE2048_P = int(
    "ffffffffffffffffadf85458a2bb4a9aafdc5620273d3cf1d8b9c583ce2d3695a9e13641146433fbcc939dce24"
    "9b3ef97d2fe363630c75d8f681b202aec4617ad3df1ed5d5fd65612433f51f5f066ed0856365553ded1af3b557"
    "135e7f57c935984f0c70e0e68b77e2a689daf3efe8721df158a136ade73530acca4f483a797abc0ab182b324fb"
    "61d108a94bb2c8e3fbb96adab760d7f4681d4f42a3de394df4ae56ede76372bb190b07a7c8ee0a6d709e02fce1"
    "cdf7e2ecc03404cd28342f619172fe9ce98583ff8e4f1232eef28183c3fe3b1b4c6fad733bb5fcbc2ec22005c5"
    "8ef1837d1683b2c6f34a26c1b2effa886b423861285c97ffffffffffffffff", 16)
"""The ffdhe2048 group of RFC 7919 Appendix A.1 (generator 2): the default group of
``tokenport key generate --type dh``."""
MIN_BITS = 1024
MAX_BITS = 8192
MAX_PARAMETER_GEN_BITS = 2048
GENERATOR = 2
_DH = frozenset({CKK.DH})


def domain_parameters(get: Getter, missing: type[PKCS11Error]) -> DhParameters:
    """CKA_PRIME and CKA_BASE, checked: p of MIN_BITS..MAX_BITS bits and odd, 1 < g < p-1
    (DomainParamsInvalid otherwise)."""
    p = get_int(get, CKA.PRIME, missing)
    g = get_int(get, CKA.BASE, missing)
    if not MIN_BITS <= p.bit_length() <= MAX_BITS or not p & 1:
        raise DomainParamsInvalid(f"a DH prime has {MIN_BITS} to {MAX_BITS} bits")
    if not 1 < g < p - 1:
        raise DomainParamsInvalid("the DH base must be in [2, p-2]")
    return DhParameters(p, g)


def prime_length(params: DhParameters) -> int:
    return (params.p.bit_length() + 7) // 8


def build_dh_private(crypto: DhPort, get: Getter, missing: type[PKCS11Error]) -> DhPrivateKeyHandle:
    params = domain_parameters(get, missing)
    return crypto.dh_private_from_numbers(params, get_int(get, CKA.VALUE, missing))


def dh_private_key(crypto: DhPort, key: KeyView) -> DhPrivateKeyHandle:
    return key.cached("dh.private", lambda: build_dh_private(crypto, key.get, KeyTypeInconsistent))


def complete_domain_parameters(get: Getter) -> dict[int, AttrValue]:
    """A DH domain parameter object being created: checked, with CKA_PRIME_BITS (s2.4, "Diffie-Hellman
    domain parameter objects")."""
    return {CKA.PRIME_BITS: domain_parameters(get, TemplateIncomplete).p.bit_length()}


def complete_public(get: Getter) -> dict[int, AttrValue]:
    """A DH public key being created: p and g checked, y in [2, p-2]."""
    params = domain_parameters(get, TemplateIncomplete)
    y = get_int(get, CKA.VALUE, TemplateIncomplete)
    if not 1 < y < params.p - 1:
        raise AttributeValueInvalid("the DH public value must be in [2, p-2]")
    return {}


def complete_private(crypto: DhPort, get: Getter) -> dict[int, AttrValue]:
    """A DH private key being created: checked by the crypto library (p prime ...); its
    CKA_VALUE_BITS (s2.4, "Diffie-Hellman private key objects")."""
    build_dh_private(crypto, get, TemplateIncomplete)
    return {CKA.VALUE_BITS: get_int(get, CKA.VALUE, TemplateIncomplete).bit_length()}


def encode_pkcs8(crypto: DhPort, key: KeyView) -> bytes:
    """The PKCS #8 encoding of a DH private key object (C_WrapKey, s2.7 of v2.40)."""
    return crypto.dh_pkcs8_encode(dh_private_key(crypto, key))


def decode_pkcs8(crypto: DhPort, der: bytes) -> dict[int, AttrValue] | None:
    """The key material of a PKCS #8 PKCS #3 DH private key (C_UnwrapKey), None if not one."""
    found = crypto.dh_pkcs8_decode(der)
    if found is None:
        return None
    params, x = found
    return {CKA.PRIME: int_bytes(params.p), CKA.BASE: int_bytes(params.g), CKA.VALUE: int_bytes(x)}


# -- generation ----------------------------------------------------------------------------------


def _ulong(template: AttrMap, attr: int) -> int | None:
    value = template.get(attr)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise AttributeValueInvalid(f"attribute 0x{attr:x} must be a CK_ULONG")
    return value


def generate_parameters(ctx: MechanismContext, param: Params, template: AttrMap) -> dict[int, AttrValue]:
    """CKM_DH_PKCS_PARAMETER_GEN (s2.4): a safe prime of CKA_PRIME_BITS bits, g = 2."""
    no_param(param)
    bits = _ulong(template, CKA.PRIME_BITS)
    if bits is None:
        raise TemplateIncomplete("CKA_PRIME_BITS is required")
    check_size(bits, MIN_BITS, MAX_PARAMETER_GEN_BITS)
    params = ctx.crypto.dh_generate_parameters(bits, GENERATOR)
    return {CKA.PRIME: int_bytes(params.p), CKA.BASE: int_bytes(params.g),
            CKA.PRIME_BITS: params.p.bit_length()}


def _private_value(ctx: MechanismContext, params: DhParameters, bits: int | None) -> int:
    """x from the token's random source: exactly ``bits`` bits when given (CKA_VALUE_BITS),
    else uniform-ish in [2, p-2] (64 extra random bits)."""
    p = params.p
    if bits is not None:
        if not 2 <= bits < p.bit_length():
            raise AttributeValueInvalid("CKA_VALUE_BITS must be less than the bits of the prime")
        raw = int.from_bytes(ctx.random_bytes((bits + 7) // 8), "big")
        return (raw & ((1 << bits) - 1)) | (1 << (bits - 1))
    c = int.from_bytes(ctx.random_bytes((p.bit_length() + 64 + 7) // 8), "big")
    return c % (p - 3) + 2


def generate_key_pair(
    ctx: MechanismContext, param: Params, public_template: AttrMap, private_template: AttrMap
) -> tuple[dict[int, AttrValue], dict[int, AttrValue]]:
    """CKM_DH_PKCS_KEY_PAIR_GEN (s2.4): x from the token's random source, y = g^x mod p."""
    no_param(param)
    params = domain_parameters(public_template.get, TemplateIncomplete)
    x = _private_value(ctx, params, _ulong(private_template, CKA.VALUE_BITS))
    y = pow(params.g, x, params.p)
    domain: dict[int, AttrValue] = {CKA.PRIME: int_bytes(params.p), CKA.BASE: int_bytes(params.g)}
    public = {**domain, CKA.VALUE: int_bytes(y, prime_length(params))}
    private = {**domain, CKA.VALUE: int_bytes(x), CKA.VALUE_BITS: x.bit_length()}
    return public, private


# -- derivation ----------------------------------------------------------------------------------


def derive(ctx: MechanismContext, key: KeyView, param: Params, length: int | None) -> bytes:
    """CKM_DH_PKCS_DERIVE (s2.4): y^x mod p as long as p, its trailing ``length`` bytes."""
    if not isinstance(param, bytes) or not param:
        raise MechanismParamInvalid("CKM_DH_PKCS_DERIVE needs the other party's public value")
    check_key(key, CKO.PRIVATE_KEY, _DH)
    params = key.cached("dh.params", lambda: domain_parameters(key.get, KeyTypeInconsistent))
    peer = int.from_bytes(param, "big")
    if not 1 < peer < params.p - 1:
        raise MechanismParamInvalid("the other party's public value must be in [2, p-2]")
    secret = ctx.crypto.dh_agree(dh_private_key(ctx.crypto, key), peer)
    if length is None:
        return secret
    if not 0 < length <= len(secret):
        raise TemplateInconsistent("CKA_VALUE_LEN is longer than the shared secret")
    return secret[len(secret) - length :]


def register(registry: MechanismRegistry) -> None:
    """Add the PKCS #3 Diffie-Hellman mechanisms (key sizes: bits of the prime p)."""
    registry.add(MechanismSpec(
        CKM.DH_PKCS_PARAMETER_GEN, MIN_BITS, MAX_PARAMETER_GEN_BITS, CKF.GENERATE,
        generated_key_type=CKK.DH, generated_class=CKO.DOMAIN_PARAMETERS,
        generate_key=generate_parameters,
        standard="PKCS #11 v2.40 Current Mechanisms s2.4; PKCS #3 v1.4 s6",
    ))
    registry.add(MechanismSpec(
        CKM.DH_PKCS_KEY_PAIR_GEN, MIN_BITS, MAX_BITS, CKF.GENERATE_KEY_PAIR,
        generated_key_type=CKK.DH, generate_key_pair=generate_key_pair,
        standard="PKCS #11 v2.40 Current Mechanisms s2.4; PKCS #3 v1.4 s7",
    ))
    registry.add(MechanismSpec(
        CKM.DH_PKCS_DERIVE, MIN_BITS, MAX_BITS, CKF.DERIVE, key_types=_DH, derive=derive,
        standard="PKCS #11 v2.40 Current Mechanisms s2.4; PKCS #3 v1.4 s8",
    ))
