"""DSA: domain parameters, key pairs, DSA without and with hashing.

PKCS #11 v2.40 Current Mechanisms s2.2 (DSA): CKM_DSA_PARAMETER_GEN ("DSA domain parameter
generation": a CKO_DOMAIN_PARAMETERS object from CKA_PRIME_BITS and optionally
CKA_SUBPRIME_BITS), CKM_DSA_KEY_PAIR_GEN ("DSA key pair generation": the domain parameters
CKA_PRIME, CKA_SUBPRIME, CKA_BASE from the public key template), CKM_DSA ("DSA without
hashing": single-part, the input is a hash value of 20, 28, 32, 48 or 64 bytes) and
CKM_DSA_SHA1 / SHA224 / SHA256 / SHA384 / SHA512 ("DSA with SHA-1", "FIPS 186-4 DSA with
SHA-224" ...: single- and multi-part). A signature is r || s, each as long as the subprime q.
The DSA algorithm itself is FIPS 186-4 s4; key sizes in CK_MECHANISM_INFO are the bit length
of the prime p.

Sizes (FIPS 186-4 s4.2, SP 800-131A r2): domain parameters and keys are generated and used
for signing with (L, N) = (2048, 224), (2048, 256) or (3072, 256); (1024, 160) is accepted
for domain parameter and key objects and for verification only (old signatures).
Parameter generation makes (2048, 256) and (3072, 256) (pyca/cryptography cannot make a
224-bit q): about 0.1 s and 1 s.

Randomness: the private value x comes from the token's random source (FIPS 186-4 B.1.1,
extra random bits); the prime search and the per-signature k run inside the crypto library.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    DataLenRange,
    DomainParamsInvalid,
    KeySizeRange,
    KeyTypeInconsistent,
    PKCS11Error,
    SignatureLenRange,
    TemplateIncomplete,
)
from tokenport.mechanisms.base import (
    AttrMap,
    KeyView,
    MechanismContext,
    MechanismRegistry,
    MechanismSpec,
)
from tokenport.mechanisms.common import (
    Getter,
    HashThenSign,
    HashThenVerify,
    SinglePartSign,
    SinglePartVerify,
    check_key,
    get_int,
    int_bytes,
    no_param,
)
from tokenport.mechanisms.ec import random_scalar
from tokenport.mechanisms.params import Params
from tokenport.ports.crypto import (
    DsaParameters,
    DsaPort,
    DsaPrivateKeyHandle,
    DsaPublicKeyHandle,
    HashName,
)

GENERATE_PAIRS = frozenset({(2048, 224), (2048, 256), (3072, 256)})
"""(L, N) pairs for parameter generation, key generation and signing."""
ACCEPTED_PAIRS = GENERATE_PAIRS | {(1024, 160)}
"""(L, N) pairs for domain parameter and key objects and for verification."""
DEFAULT_SUBPRIME_BITS = {2048: 256, 3072: 256}
"""N when CKM_DSA_PARAMETER_GEN's template gives only CKA_PRIME_BITS."""
MIN_BITS = 1024
MIN_GENERATE_BITS = 2048
MAX_BITS = 3072
INPUT_LENGTHS = frozenset({20, 28, 32, 48, 64})
"""CKM_DSA input lengths in bytes (v2.40 Current Mechanisms s2.2, "DSA without hashing")."""
STANDARD = "PKCS #11 v2.40 Current Mechanisms s2.2; FIPS 186-4 s4"
_DSA = frozenset({CKK.DSA})

DSA_HASHES: dict[int, HashName] = {
    CKM.DSA_SHA1: "sha1",
    CKM.DSA_SHA224: "sha224",
    CKM.DSA_SHA256: "sha256",
    CKM.DSA_SHA384: "sha384",
    CKM.DSA_SHA512: "sha512",
}
"""DSA-with-hash mechanism -> hash (s2.2, "DSA with SHA-1" and the FIPS 186-4 variants)."""


# -- domain parameters and keys ------------------------------------------------------------------


def domain_parameters(
    get: Getter, missing: type[PKCS11Error], pairs: frozenset[tuple[int, int]] = ACCEPTED_PAIRS,
) -> DsaParameters:
    """CKA_PRIME, CKA_SUBPRIME, CKA_BASE, checked: (L, N) one of ``pairs``, q divides p - 1,
    1 < g < p (DomainParamsInvalid otherwise)."""
    p = get_int(get, CKA.PRIME, missing)
    q = get_int(get, CKA.SUBPRIME, missing)
    g = get_int(get, CKA.BASE, missing)
    if (p.bit_length(), q.bit_length()) not in pairs:
        raise DomainParamsInvalid("DSA prime and subprime sizes are not an allowed (L, N) pair")
    if (p - 1) % q or not 1 < g < p:
        raise DomainParamsInvalid("DSA domain parameters are not consistent")
    return DsaParameters(p, q, g)


def subprime_length(params: DsaParameters) -> int:
    """Bytes of q: the length of r and of s in a signature."""
    return (params.q.bit_length() + 7) // 8


def build_dsa_private(crypto: DsaPort, get: Getter, missing: type[PKCS11Error]) -> DsaPrivateKeyHandle:
    params = domain_parameters(get, missing)
    return crypto.dsa_private_from_numbers(params, get_int(get, CKA.VALUE, missing))


def build_dsa_public(crypto: DsaPort, get: Getter, missing: type[PKCS11Error]) -> DsaPublicKeyHandle:
    params = domain_parameters(get, missing)
    return crypto.dsa_public_from_numbers(params, get_int(get, CKA.VALUE, missing))


def _key_parameters(key: KeyView) -> DsaParameters:
    return key.cached("dsa.params", lambda: domain_parameters(key.get, KeyTypeInconsistent))


def dsa_private_key(crypto: DsaPort, key: KeyView) -> DsaPrivateKeyHandle:
    return key.cached("dsa.private", lambda: build_dsa_private(crypto, key.get, KeyTypeInconsistent))


def dsa_public_key(crypto: DsaPort, key: KeyView) -> DsaPublicKeyHandle:
    return key.cached("dsa.public", lambda: build_dsa_public(crypto, key.get, KeyTypeInconsistent))


def complete_domain_parameters(get: Getter) -> dict[int, AttrValue]:
    """A DSA domain parameter object being created: checked, with CKA_PRIME_BITS and
    CKA_SUBPRIME_BITS computed (s2.2, "DSA domain parameter objects")."""
    params = domain_parameters(get, TemplateIncomplete)
    return {CKA.PRIME_BITS: params.p.bit_length(), CKA.SUB_PRIME_BITS: params.q.bit_length()}


def complete_public(crypto: DsaPort, get: Getter) -> dict[int, AttrValue]:
    """A DSA public key being created: checked; its CKA_PUBLIC_KEY_INFO."""
    return {CKA.PUBLIC_KEY_INFO: crypto.dsa_public_key_info(build_dsa_public(crypto, get, TemplateIncomplete))}


def complete_private(crypto: DsaPort, get: Getter) -> dict[int, AttrValue]:
    """A DSA private key being created: checked; its CKA_PUBLIC_KEY_INFO."""
    private = build_dsa_private(crypto, get, TemplateIncomplete)
    return {CKA.PUBLIC_KEY_INFO: crypto.dsa_public_key_info(private)}


def encode_pkcs8(crypto: DsaPort, key: KeyView) -> bytes:
    """The PKCS #8 encoding of a DSA private key object (C_WrapKey, s2.7 of v2.40)."""
    return crypto.dsa_pkcs8_encode(dsa_private_key(crypto, key))


def decode_pkcs8(crypto: DsaPort, der: bytes) -> dict[int, AttrValue] | None:
    """The key material of a PKCS #8 DSA private key (C_UnwrapKey), None if not one."""
    found = crypto.dsa_pkcs8_decode(der)
    if found is None:
        return None
    params, x = found
    return {
        CKA.PRIME: int_bytes(params.p),
        CKA.SUBPRIME: int_bytes(params.q),
        CKA.BASE: int_bytes(params.g),
        CKA.VALUE: int_bytes(x, subprime_length(params)),
    }


# -- generation ----------------------------------------------------------------------------------


def _ulong(template: AttrMap, attr: int) -> int | None:
    value = template.get(attr)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise AttributeValueInvalid(f"attribute 0x{attr:x} must be a CK_ULONG")
    return value


def generate_parameters(ctx: MechanismContext, param: Params, template: AttrMap) -> dict[int, AttrValue]:
    """CKM_DSA_PARAMETER_GEN (s2.2, "DSA domain parameter generation"): p, q, g of CKA_PRIME_BITS (L) and CKA_SUBPRIME_BITS
    (N, default 256)."""
    no_param(param)
    prime_bits = _ulong(template, CKA.PRIME_BITS)
    if prime_bits is None:
        raise TemplateIncomplete("CKA_PRIME_BITS is required")
    subprime_bits = _ulong(template, CKA.SUB_PRIME_BITS) or DEFAULT_SUBPRIME_BITS.get(prime_bits, 0)
    if (prime_bits, subprime_bits) not in GENERATE_PAIRS:
        raise KeySizeRange("DSA parameters are generated for (L, N) = (2048, 224), (2048, 256)"
                           " or (3072, 256)")
    params = ctx.crypto.dsa_generate_parameters(prime_bits, subprime_bits)
    return {
        CKA.PRIME: int_bytes(params.p),
        CKA.SUBPRIME: int_bytes(params.q),
        CKA.BASE: int_bytes(params.g),
        CKA.PRIME_BITS: params.p.bit_length(),
        CKA.SUB_PRIME_BITS: params.q.bit_length(),
    }


def generate_key_pair(
    ctx: MechanismContext, param: Params, public_template: AttrMap, private_template: AttrMap
) -> tuple[dict[int, AttrValue], dict[int, AttrValue]]:
    """CKM_DSA_KEY_PAIR_GEN (s2.2, "DSA key pair generation"): x in [1, q-1] from the token's random source, y = g^x."""
    no_param(param)
    get = public_template.get
    p = get_int(get, CKA.PRIME, TemplateIncomplete)
    q = get_int(get, CKA.SUBPRIME, TemplateIncomplete)
    if (p.bit_length(), q.bit_length()) not in GENERATE_PAIRS:
        raise KeySizeRange("DSA keys are generated for (L, N) = (2048, 224), (2048, 256) or"
                           " (3072, 256)")
    params = domain_parameters(get, TemplateIncomplete, GENERATE_PAIRS)
    x = random_scalar(ctx.random_bytes, params.q)
    y = pow(params.g, x, params.p)
    domain: dict[int, AttrValue] = {
        CKA.PRIME: int_bytes(params.p),
        CKA.SUBPRIME: int_bytes(params.q),
        CKA.BASE: int_bytes(params.g),
    }
    public = {**domain, CKA.VALUE: int_bytes(y, (params.p.bit_length() + 7) // 8)}
    private = {**domain, CKA.VALUE: int_bytes(x, subprime_length(params))}
    return public, private


# -- signatures ----------------------------------------------------------------------------------


def _signer(crypto: DsaPort, key: KeyView) -> Callable[[bytes], bytes]:
    """DSA over a hash value, as r || s."""
    check_key(key, CKO.PRIVATE_KEY, _DSA)
    params = _key_parameters(key)
    if (params.p.bit_length(), params.q.bit_length()) not in GENERATE_PAIRS:
        raise KeySizeRange("DSA signing needs a key of (L, N) = (2048, 224), (2048, 256) or"
                           " (3072, 256)")
    private = dsa_private_key(crypto, key)
    size = subprime_length(params)

    def sign(hash_value: bytes) -> bytes:
        if len(hash_value) not in INPUT_LENGTHS:
            raise DataLenRange("CKM_DSA input must be 20, 28, 32, 48 or 64 bytes")
        r, s = crypto.dsa_sign_hash(private, hash_value)
        return int_bytes(r, size) + int_bytes(s, size)

    return sign


def _verifier(crypto: DsaPort, key: KeyView) -> Callable[[bytes, bytes], None]:
    """DSA verification of r || s over a hash value."""
    check_key(key, CKO.PUBLIC_KEY, _DSA)
    params = _key_parameters(key)
    public = dsa_public_key(crypto, key)
    size = subprime_length(params)

    def verify(hash_value: bytes, signature: bytes) -> None:
        if len(hash_value) not in INPUT_LENGTHS:
            raise DataLenRange("CKM_DSA input must be 20, 28, 32, 48 or 64 bytes")
        if len(signature) != 2 * size:
            raise SignatureLenRange("a DSA signature is twice as long as the subprime")
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        crypto.dsa_verify_hash(public, r, s, hash_value)

    return verify


def dsa_sign(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartSign:
    no_param(param)
    return SinglePartSign(_signer(ctx.crypto, key))


def dsa_verify(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartVerify:
    no_param(param)
    return SinglePartVerify(_verifier(ctx.crypto, key))


def _hashed_spec(mechanism: int, alg: HashName) -> MechanismSpec:
    def sign(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenSign:
        no_param(param)
        return HashThenSign(partial(ctx.crypto.hash_new, alg), _signer(ctx.crypto, key),
                            partial(ctx.crypto.digest, alg))

    def verify(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenVerify:
        no_param(param)
        return HashThenVerify(partial(ctx.crypto.hash_new, alg), _verifier(ctx.crypto, key),
                              partial(ctx.crypto.digest, alg))

    return MechanismSpec(
        mechanism, MIN_BITS, MAX_BITS, CKF.SIGN | CKF.VERIFY, key_types=_DSA, sign=sign,
        verify=verify, standard=f"PKCS #11 v2.40 Current Mechanisms s2.2 (DSA with hashing); FIPS 186-4 s4,"
        f" {alg.upper().replace('SHA', 'SHA-')} (FIPS 180-4)",
    )


def register(registry: MechanismRegistry) -> None:
    """Add the DSA mechanisms (key sizes: bits of the prime p)."""
    registry.add(MechanismSpec(
        CKM.DSA_PARAMETER_GEN, MIN_GENERATE_BITS, MAX_BITS, CKF.GENERATE,
        generated_key_type=CKK.DSA, generated_class=CKO.DOMAIN_PARAMETERS,
        generate_key=generate_parameters,
        standard="PKCS #11 v2.40 Current Mechanisms s2.2 (DSA domain parameter generation);"
                 " FIPS 186-4 A.1, A.2",
    ))
    registry.add(MechanismSpec(
        CKM.DSA_KEY_PAIR_GEN, MIN_GENERATE_BITS, MAX_BITS, CKF.GENERATE_KEY_PAIR,
        generated_key_type=CKK.DSA, generate_key_pair=generate_key_pair,
        standard="PKCS #11 v2.40 Current Mechanisms s2.2 (DSA key pair generation);"
                 " FIPS 186-4 B.1.1",
    ))
    registry.add(MechanismSpec(
        CKM.DSA, MIN_BITS, MAX_BITS, CKF.SIGN | CKF.VERIFY, key_types=_DSA,
        sign=dsa_sign, verify=dsa_verify,
        standard="PKCS #11 v2.40 Current Mechanisms s2.2 (DSA without hashing); FIPS 186-4 s4",
    ))
    for mechanism, alg in DSA_HASHES.items():
        registry.add(_hashed_spec(mechanism, alg))
