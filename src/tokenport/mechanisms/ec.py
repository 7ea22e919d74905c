"""Elliptic curves over prime fields: key pairs, ECDSA, ECDSA with hashing, ECDH.

PKCS #11 v2.40 Current Mechanisms s2.3 Elliptic Curve: CKM_EC_KEY_PAIR_GEN (CKA_EC_PARAMS
from the public template, a named curve; CKA_EC_POINT returned as the DER OCTET STRING of the
uncompressed point), CKM_ECDSA ("ECDSA without hashing": single-part, over a caller-supplied
hash of any length, signature r || s each as long as the order), CKM_ECDSA_SHA1 and the
SHA-224/256/384/512 variants ("ECDSA with hashing": single- and multi-part),
CKM_ECDH1_DERIVE (CK_ECDH1_DERIVE_PARAMS; CKD_NULL and the ANSI X9.63 CKD_SHA*_KDF
functions; the peer's public value as a raw point or a DER OCTET STRING). Curves: P-192,
P-224, P-256, P-384, P-521 (FIPS 186-4), secp256k1 (SEC 2), brainpoolP256r1, brainpoolP384r1,
brainpoolP512r1 (RFC 5639), named by OID or by curve name (see ``curves``); key sizes in
CK_MECHANISM_INFO are in bits (192..521). CKM_ECDH1_DERIVE also takes X25519 / X448 keys
(CKK_EC_MONTGOMERY, PKCS #11 v3.0 s2.3.7): those go to ``montgomery.xdh_derive``.

Public keys are checked when created (C_CreateObject, C_UnwrapKey): the point must lie on
the curve (the crypto library refuses it otherwise: CKR_ATTRIBUTE_VALUE_INVALID).

Randomness: the private scalar comes from the token's random source (FIPS 186-4 B.4.1,
extra random bits); ECDSA signing nonces are generated inside the crypto library.

On a token whose crypto port holds keys in hardware (the ``tpm2`` port: P-256, P-384), the
key pair is generated there and signing and ECDH run there (``hwkeys``).

ECDH output: ``length`` bytes when the caller asked for a length (CKA_VALUE_LEN), else the
natural size. With CKD_NULL that is Z (the x coordinate) truncated by removing leading bytes,
as the specification says of raw shared secrets; with a KDF it is X9.63 output of ``length``
bytes (``len(Z)`` when no length was asked for).

CKM_ECDH1_COFACTOR_DERIVE (s2.3.16) takes the same parameter; every curve offered has cofactor
h = 1, so cofactor Diffie-Hellman (SEC 1 s3.3.2: the product with h * d) is the plain one, and
the mechanism runs the same computation (EC keys only: Montgomery keys use CKM_ECDH1_DERIVE).

Not offered: CKM_ECMQV_DERIVE, compressed points in generated keys
(compressed CKA_EC_POINT values are accepted on import), explicit curve parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKD, CKF, CKK, CKM, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    MechanismParamInvalid,
    SignatureLenRange,
    TemplateIncomplete,
    TemplateInconsistent,
)
from tokenport.mechanisms import curves, hwkeys, keys, montgomery
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
    SinglePartSign,
    SinglePartVerify,
    check_key,
    check_size,
    int_bytes,
    no_param,
)
from tokenport.mechanisms.params import Ecdh1DeriveParams, Params
from tokenport.ports.crypto import EcPort, HashName

MIN_BITS = curves.MIN_BITS
MAX_BITS = curves.MAX_BITS
EC_FLAGS = CKF.EC_F_P | CKF.EC_OID | CKF.EC_CURVENAME | CKF.EC_UNCOMPRESS
"""Prime-field curves, named by OID or by curveName, uncompressed points (generated keys;
compressed points are accepted on import and in ECDH)."""
KDF_OUTPUT_BYTES = 512
STANDARD = "PKCS #11 v3.0 Current Mechanisms s2.3; ANSI X9.62, FIPS 186-4, SEC 1, RFC 5639"
_EC = frozenset({CKK.EC})

ECDSA_HASHES: dict[int, HashName] = {
    CKM.ECDSA_SHA1: "sha1",
    CKM.ECDSA_SHA224: "sha224",
    CKM.ECDSA_SHA256: "sha256",
    CKM.ECDSA_SHA384: "sha384",
    CKM.ECDSA_SHA512: "sha512",
    CKM.ECDSA_SHA3_224: "sha3_224",  # PKCS #11 v3.0
    CKM.ECDSA_SHA3_256: "sha3_256",
    CKM.ECDSA_SHA3_384: "sha3_384",
    CKM.ECDSA_SHA3_512: "sha3_512",
}
"""ECDSA-with-hash mechanism -> hash."""

KDF_HASHES: dict[int, HashName] = {
    CKD.SHA1_KDF: "sha1",
    CKD.SHA224_KDF: "sha224",
    CKD.SHA256_KDF: "sha256",
    CKD.SHA384_KDF: "sha384",
    CKD.SHA512_KDF: "sha512",
    CKD.SHA3_224_KDF: "sha3_224",  # PKCS #11 v3.0
    CKD.SHA3_256_KDF: "sha3_256",
    CKD.SHA3_384_KDF: "sha3_384",
    CKD.SHA3_512_KDF: "sha3_512",
}
"""CKD_* X9.63 key derivation function -> hash."""


def random_scalar(random_bytes: Callable[[int], bytes], order: int) -> int:
    """A private scalar in [1, n-1] from N+64 random bits (FIPS 186-4 B.4.1)."""
    c = int.from_bytes(random_bytes((order.bit_length() + 64 + 7) // 8), "big")
    return c % (order - 1) + 1


def generate_ec_key_pair(
    ctx: MechanismContext, param: Params, public_template: AttrMap, private_template: AttrMap
) -> tuple[dict[int, AttrValue], dict[int, AttrValue]]:
    """CKM_EC_KEY_PAIR_GEN: a key pair on the curve named by the public CKA_EC_PARAMS."""
    no_param(param)
    params = public_template.get(CKA.EC_PARAMS)
    if params is None:
        raise TemplateIncomplete("CKA_EC_PARAMS is required in the public key template")
    curve = curves.weierstrass_curve(params)
    assert isinstance(params, bytes)
    hardware = hwkeys.ec_hardware(ctx, curve.name)
    if hardware is not None:  # generated inside the hardware key port (hwkeys)
        hwkeys.check_template(private_template)
        auth = hwkeys.new_auth(ctx)
        blob, point = hardware.generate_ec(curve.name, auth)
        return (
            {CKA.EC_PARAMS: params, CKA.EC_POINT: curves.encode_point(point)},
            {CKA.EC_PARAMS: params, **hwkeys.material(hardware, blob, auth)},
        )
    d = random_scalar(ctx.random_bytes, curve.order)
    private = ctx.crypto.ec_private_from_scalar(curve.name, d)
    point = ctx.crypto.ec_public_point(private)
    public_material: dict[int, AttrValue] = {
        CKA.EC_PARAMS: params,
        CKA.EC_POINT: curves.encode_point(point),
    }
    private_material: dict[int, AttrValue] = {
        CKA.EC_PARAMS: params,
        CKA.VALUE: int_bytes(d, curve.size),
    }
    return public_material, private_material


# -- ECDSA -----------------------------------------------------------------------------------------


def _signer(crypto: EcPort, key: KeyView) -> Callable[[bytes], bytes]:
    """ECDSA over a hash value, as raw r || s."""
    check_key(key, CKO.PRIVATE_KEY, _EC)
    curve = keys.ec_key_curve(key)
    check_size(curve.bits, MIN_BITS, MAX_BITS)
    private = keys.ec_private_key(crypto, key)

    def sign(hash_value: bytes) -> bytes:
        r, s = crypto.ecdsa_sign_hash(private, hash_value)
        return int_bytes(r, curve.size) + int_bytes(s, curve.size)

    return sign


def _verifier(crypto: EcPort, key: KeyView) -> Callable[[bytes, bytes], None]:
    """ECDSA verification of raw r || s over a hash value."""
    check_key(key, CKO.PUBLIC_KEY, _EC)
    curve = keys.ec_key_curve(key)
    check_size(curve.bits, MIN_BITS, MAX_BITS)
    public = keys.ec_public_key(crypto, key)

    def verify(hash_value: bytes, signature: bytes) -> None:
        if len(signature) != 2 * curve.size:
            raise SignatureLenRange("ECDSA signature has the wrong length for the curve")
        r = int.from_bytes(signature[: curve.size], "big")
        s = int.from_bytes(signature[curve.size :], "big")
        crypto.ecdsa_verify_hash(public, r, s, hash_value)

    return verify


def ecdsa_sign(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartSign:
    no_param(param)
    return SinglePartSign(_signer(ctx.crypto, key))


def ecdsa_verify(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartVerify:
    no_param(param)
    return SinglePartVerify(_verifier(ctx.crypto, key))


def _register_hashed(registry: MechanismRegistry, mechanism: int, alg: HashName) -> None:
    def sign(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenSign:
        no_param(param)
        return HashThenSign(partial(ctx.crypto.hash_new, alg), _signer(ctx.crypto, key),
                            partial(ctx.crypto.digest, alg))

    def verify(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenVerify:
        no_param(param)
        return HashThenVerify(partial(ctx.crypto.hash_new, alg), _verifier(ctx.crypto, key),
                              partial(ctx.crypto.digest, alg))

    registry.add(
        MechanismSpec(
            mechanism,
            MIN_BITS,
            MAX_BITS,
            CKF.SIGN | CKF.VERIFY | EC_FLAGS,
            key_types=_EC,
            sign=sign,
            verify=verify,
            standard=STANDARD,
        )
    )


# -- ECDH ------------------------------------------------------------------------------------------


def ecdh1_derive(
    ctx: MechanismContext, key: KeyView, param: Params, length: int | None
) -> bytes:
    """CKM_ECDH1_DERIVE: Z, or X9.63 KDF output over Z and the shared data (Montgomery
    keys: the X25519 / X448 result, see ``montgomery.xdh_derive``)."""
    if not isinstance(param, Ecdh1DeriveParams):
        raise MechanismParamInvalid("ECDH1 derivation needs CK_ECDH1_DERIVE_PARAMS")
    alg = kdf_hash(param)
    if key.key_type == CKK.EC_MONTGOMERY:
        z = montgomery.xdh_derive(ctx, key, param)
    else:
        check_key(key, CKO.PRIVATE_KEY, _EC)
        curve = keys.ec_key_curve(key)
        check_size(curve.bits, MIN_BITS, MAX_BITS)
        private = keys.ec_private_key(ctx.crypto, key)
        try:
            point = curves.unwrap_point(param.public_data, curves.weierstrass_point_lengths(curve))
            peer = ctx.crypto.ec_public_from_point(curve.name, point)
        except AttributeValueInvalid:
            raise MechanismParamInvalid(
                "the peer's public value is not a point on the curve") from None
        z = ctx.crypto.ecdh(private, peer)
    return shape_secret(ctx, z, alg, param.shared_data, length)


def ecdh1_cofactor_derive(
    ctx: MechanismContext, key: KeyView, param: Params, length: int | None
) -> bytes:
    """CKM_ECDH1_COFACTOR_DERIVE: CKM_ECDH1_DERIVE on EC keys (cofactor 1 on every curve)."""
    if not isinstance(param, Ecdh1DeriveParams):
        raise MechanismParamInvalid("ECDH1 derivation needs CK_ECDH1_DERIVE_PARAMS")
    check_key(key, CKO.PRIVATE_KEY, _EC)
    return ecdh1_derive(ctx, key, param, length)


def kdf_hash(param: Ecdh1DeriveParams) -> HashName | None:
    """The hash of the CKD_* KDF (None for CKD_NULL, which takes no shared data)."""
    if param.kdf == CKD.NULL:
        if param.shared_data:
            raise MechanismParamInvalid("CKD_NULL takes no shared data")
        return None
    if param.kdf in KDF_HASHES:
        return KDF_HASHES[param.kdf]
    raise MechanismParamInvalid("key derivation function not supported")


def shape_secret(
    ctx: MechanismContext, z: bytes, alg: HashName | None, shared_data: bytes, length: int | None
) -> bytes:
    """The derived key value from the shared secret Z (see the module docstring)."""
    if alg is None:
        if length is None:
            return z
        if not 0 < length <= len(z):
            raise TemplateInconsistent("CKA_VALUE_LEN is longer than the shared secret")
        return z[len(z) - length :]
    if length is not None and not 0 < length <= KDF_OUTPUT_BYTES:
        raise TemplateInconsistent("CKA_VALUE_LEN is out of range for the KDF")
    return ctx.crypto.x963_kdf(alg, z, shared_data, length or len(z))


def register(registry: MechanismRegistry) -> None:
    """Add the EC mechanisms (key sizes in bits)."""
    registry.add(
        MechanismSpec(
            CKM.EC_KEY_PAIR_GEN,
            MIN_BITS,
            MAX_BITS,
            CKF.GENERATE_KEY_PAIR | EC_FLAGS,
            generated_key_type=CKK.EC,
            generate_key_pair=generate_ec_key_pair,
            standard=STANDARD,
        )
    )
    registry.add(
        MechanismSpec(
            CKM.ECDSA,
            MIN_BITS,
            MAX_BITS,
            CKF.SIGN | CKF.VERIFY | EC_FLAGS,
            key_types=_EC,
            sign=ecdsa_sign,
            verify=ecdsa_verify,
            standard=STANDARD,
        )
    )
    for mechanism, alg in ECDSA_HASHES.items():
        _register_hashed(registry, mechanism, alg)
    registry.add(
        MechanismSpec(
            CKM.ECDH1_DERIVE,
            MIN_BITS,
            MAX_BITS,
            CKF.DERIVE | EC_FLAGS,
            key_types=frozenset({CKK.EC, CKK.EC_MONTGOMERY}),
            derive=ecdh1_derive,
            standard=STANDARD + "; RFC 7748 (X25519, X448 keys, PKCS #11 v3.0 s2.3.7)",
        )
    )
    registry.add(
        MechanismSpec(
            CKM.ECDH1_COFACTOR_DERIVE,
            MIN_BITS,
            MAX_BITS,
            CKF.DERIVE | EC_FLAGS,
            key_types=_EC,
            derive=ecdh1_cofactor_derive,
            standard=STANDARD + " (s2.3.16; cofactor 1 on every curve offered)",
        )
    )
