"""Key material checks and encodings the core needs outside any one mechanism.

* ``complete_key_attributes`` validates the material of a key being created (C_CreateObject,
  C_UnwrapKey) and returns the attributes the token derives from it: CKA_PUBLIC_KEY_INFO
  (PKCS #11 3.0 s4.8 / s4.9, the DER SubjectPublicKeyInfo) for RSA, EC, Edwards (Ed25519,
  Ed448) and Montgomery (X25519, X448, 3.0 s2.3.7) public and private keys;
  CKA_MODULUS_BITS for RSA public keys (v2.40 Current Mechanisms s2.1.2); CKA_VALUE_LEN for
  secret keys (v2.40 s4.10); CKA_EC_POINT in its DER OCTET STRING form when it was given as a
  raw point (s2.3.3; s2.3.6 and s2.3.8 of 3.0 for Edwards and Montgomery keys). DSA keys
  (Current Mechanisms s2.2) are checked and get CKA_PUBLIC_KEY_INFO; PKCS #3 DH keys (s2.4)
  are checked and private ones get CKA_VALUE_BITS (``tokenport.mechanisms.dsa`` / ``dh``).
* ``complete_domain_parameters``: the same for CKO_DOMAIN_PARAMETERS objects (v2.40 s4.11).
* ``encode_private_key_pkcs8`` / ``decode_private_key_pkcs8``: the private key encoding of
  C_WrapKey / C_UnwrapKey (v2.40 Current Mechanisms s2.7 "Wrapping/unwrapping private keys":
  an unencrypted PKCS #8 PrivateKeyInfo, RFC 5208). Secret keys are wrapped as their
  CKA_VALUE by the core. DSA and DH private keys are PKCS #8 too (their families' own
  port calls, tried when the port's ``pkcs8_decode`` does not know the key).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKK, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    KeyNotWrappable,
    TemplateIncomplete,
    TemplateInconsistent,
    WrappedKeyInvalid,
)
from tokenport.mechanisms import curves, dh, dsa, keys
from tokenport.mechanisms.base import KeyView
from tokenport.mechanisms.common import get_bytes, get_int, int_bytes
from tokenport.mechanisms.des import DES_KEY_LENGTHS, des_key_value
from tokenport.mechanisms.pqkeys import PQ_KEY_TYPES, complete_pq_key
from tokenport.ports.crypto import (
    DhPort,
    DsaPort,
    EcPort,
    Ed448Port,
    EdDsaPort,
    KeyEncodingPort,
    MontgomeryPort,
    PrivateKeyHandle,
    PublicKeyHandle,
    RsaPort,
)


class KeyMaterialCrypto(
    RsaPort, EcPort, EdDsaPort, Ed448Port, MontgomeryPort, KeyEncodingPort, DsaPort, DhPort,
    Protocol,
):
    """The crypto port families this module uses (every CryptoBackend is one)."""


AES_KEY_SIZES = frozenset({16, 24, 32})
HMAC_KEY_TYPES = frozenset(
    {
        CKK.GENERIC_SECRET,
        CKK.MD5_HMAC,
        CKK.SHA_1_HMAC,
        CKK.SHA224_HMAC,
        CKK.SHA256_HMAC,
        CKK.SHA384_HMAC,
        CKK.SHA512_HMAC,
        CKK.SHA512_224_HMAC,
        CKK.SHA512_256_HMAC,
        CKK.SHA3_224_HMAC,
        CKK.SHA3_256_HMAC,
        CKK.SHA3_384_HMAC,
        CKK.SHA3_512_HMAC,
        CKK.HKDF,
    }
)


def _secret(key_type: int, attrs: Mapping[int, AttrValue]) -> dict[int, AttrValue]:
    value = get_bytes(attrs.get, CKA.VALUE, TemplateIncomplete)
    if key_type in DES_KEY_LENGTHS:
        return des_key_value(key_type, value, attrs.get(CKA.VALUE_LEN))
    if key_type == CKK.AES and len(value) not in AES_KEY_SIZES:
        raise AttributeValueInvalid("an AES key is 16, 24 or 32 bytes")
    if key_type in HMAC_KEY_TYPES and not value:
        raise AttributeValueInvalid("a secret key value must not be empty")
    return {CKA.VALUE_LEN: len(value)}


def _ec_point_attrs(given: bytes, point: bytes) -> dict[int, AttrValue]:
    encoded = curves.encode_point(point)
    return {} if given == encoded else {CKA.EC_POINT: encoded}


def _public(
    crypto: KeyMaterialCrypto, key_type: int, attrs: Mapping[int, AttrValue]
) -> dict[int, AttrValue]:
    get = attrs.get
    obj: PublicKeyHandle
    if key_type == CKK.RSA:
        obj = keys.build_rsa_public(crypto, get, TemplateIncomplete)
        bits = get_int(get, CKA.MODULUS, TemplateIncomplete).bit_length()
        given_bits = attrs.get(CKA.MODULUS_BITS)
        if given_bits is not None and given_bits != bits:
            raise TemplateInconsistent("CKA_MODULUS_BITS does not match CKA_MODULUS")
        return {CKA.PUBLIC_KEY_INFO: crypto.public_key_info(obj), CKA.MODULUS_BITS: bits}
    if key_type == CKK.EC:
        curve = keys.ec_curve(get, TemplateIncomplete)
        point = keys.ec_point(get, curve, TemplateIncomplete)
        obj = crypto.ec_public_from_point(curve.name, point)
        out = _ec_point_attrs(get_bytes(get, CKA.EC_POINT, TemplateIncomplete), point)
        return {CKA.PUBLIC_KEY_INFO: crypto.public_key_info(obj), **out}
    if key_type == CKK.EC_EDWARDS:
        edwards = curves.edwards_curve(get_bytes(get, CKA.EC_PARAMS, TemplateIncomplete))
        point = keys.octet_point(get, edwards, TemplateIncomplete)
        if edwards is curves.ED448:
            obj = keys.build_ed448_public(crypto, get, TemplateIncomplete)
        else:
            obj = keys.build_ed25519_public(crypto, get, TemplateIncomplete)
        out = _ec_point_attrs(get_bytes(get, CKA.EC_POINT, TemplateIncomplete), point)
        return {CKA.PUBLIC_KEY_INFO: crypto.public_key_info(obj), **out}
    if key_type == CKK.EC_MONTGOMERY:
        montgomery = keys.montgomery_curve(get, TemplateIncomplete)
        point = keys.octet_point(get, montgomery, TemplateIncomplete)
        obj = keys.build_xdh_public(crypto, get, TemplateIncomplete)
        out = _ec_point_attrs(get_bytes(get, CKA.EC_POINT, TemplateIncomplete), point)
        return {CKA.PUBLIC_KEY_INFO: crypto.public_key_info(obj), **out}
    if key_type == CKK.DSA:
        return dsa.complete_public(crypto, get)
    if key_type == CKK.DH:
        return dh.complete_public(get)
    return {}


def _private(
    crypto: KeyMaterialCrypto, key_type: int, attrs: Mapping[int, AttrValue]
) -> dict[int, AttrValue]:
    get = attrs.get
    obj: PrivateKeyHandle
    if key_type == CKK.RSA:
        obj = keys.build_rsa_private(crypto, get, TemplateIncomplete)
    elif key_type == CKK.EC:
        obj = keys.build_ec_private(crypto, get, TemplateIncomplete)
    elif key_type == CKK.EC_EDWARDS:
        edwards = curves.edwards_curve(get_bytes(get, CKA.EC_PARAMS, TemplateIncomplete))
        if edwards is curves.ED448:
            obj = keys.build_ed448_private(crypto, get, TemplateIncomplete)
        else:
            obj = keys.build_ed25519_private(crypto, get, TemplateIncomplete)
    elif key_type == CKK.EC_MONTGOMERY:
        obj = keys.build_xdh_private(crypto, get, TemplateIncomplete)
    elif key_type == CKK.DSA:
        return dsa.complete_private(crypto, get)
    elif key_type == CKK.DH:
        return dh.complete_private(crypto, get)
    else:
        return {}
    return {CKA.PUBLIC_KEY_INFO: crypto.public_key_info(obj)}


def complete_key_attributes(
    crypto: KeyMaterialCrypto, object_class: int, key_type: int, attrs: Mapping[int, AttrValue]
) -> dict[int, AttrValue]:
    """Validate a new key's material and return the attributes to add to it.

    Missing material raises TemplateIncomplete; malformed or inconsistent material
    AttributeValueInvalid (TemplateInconsistent for a contradicting CKA_MODULUS_BITS); a curve
    tokenport does not offer CurveNotSupported, explicit domain parameters DomainParamsInvalid.
    Key types this module does not know get only CKA_VALUE_LEN (secret keys) or nothing.
    """
    if object_class == CKO.SECRET_KEY:
        return _secret(key_type, attrs)
    if key_type in PQ_KEY_TYPES:  # ML-DSA / ML-KEM (PKCS #11 v3.2)
        return complete_pq_key(crypto, object_class, key_type, attrs)
    if object_class == CKO.PUBLIC_KEY:
        return _public(crypto, key_type, attrs)
    if object_class == CKO.PRIVATE_KEY:
        return _private(crypto, key_type, attrs)
    return {}


def complete_domain_parameters(key_type: int, attrs: Mapping[int, AttrValue]) -> dict[int, AttrValue]:
    """Validate a new CKO_DOMAIN_PARAMETERS object (v2.40 s4.11) and return its computed
    sizes (CKA_PRIME_BITS, and CKA_SUBPRIME_BITS for DSA)."""
    if key_type == CKK.DSA:
        return dsa.complete_domain_parameters(attrs.get)
    return dh.complete_domain_parameters(attrs.get)


def encode_private_key_pkcs8(crypto: KeyMaterialCrypto, key: KeyView) -> bytes:
    """The DER PKCS #8 PrivateKeyInfo of an RSA, EC, Edwards or Montgomery private key."""
    if key.object_class != CKO.PRIVATE_KEY:
        raise KeyNotWrappable("only private keys are encoded as PKCS #8")
    obj: PrivateKeyHandle
    if key.key_type == CKK.RSA:
        obj = keys.rsa_private_key(crypto, key)
    elif key.key_type == CKK.EC:
        obj = keys.ec_private_key(crypto, key)
    elif key.key_type == CKK.EC_EDWARDS:
        if keys.edwards_key_curve(key) is curves.ED448:
            obj = keys.ed448_private_key(crypto, key)
        else:
            obj = keys.ed25519_private_key(crypto, key)
    elif key.key_type == CKK.EC_MONTGOMERY:
        obj = keys.xdh_private_key(crypto, key)
    elif key.key_type == CKK.DSA:
        return dsa.encode_pkcs8(crypto, key)
    elif key.key_type == CKK.DH:
        return dh.encode_pkcs8(crypto, key)
    else:
        raise KeyNotWrappable("this private key type cannot be wrapped")
    return crypto.pkcs8_encode(obj)


def decode_private_key_pkcs8(crypto: KeyMaterialCrypto, der: bytes) -> tuple[int, dict[int, AttrValue]]:
    """(CKK_*, key material attributes) of a DER PKCS #8 PrivateKeyInfo.

    WrappedKeyInvalid if it is not a PKCS #8 RSA, EC, Edwards or Montgomery key;
    CurveNotSupported for an EC key on another curve.
    """
    try:
        decoded = crypto.pkcs8_decode(der)
    except WrappedKeyInvalid:
        for key_type, family in ((CKK.DSA, dsa), (CKK.DH, dh)):
            material = family.decode_pkcs8(crypto, der)
            if material is not None:
                return key_type, material
        raise
    if decoded.kind == "rsa":
        nums = crypto.rsa_private_numbers(decoded.key)
        return CKK.RSA, {
            CKA.MODULUS: int_bytes(nums.n),
            CKA.PUBLIC_EXPONENT: int_bytes(nums.e),
            CKA.PRIVATE_EXPONENT: int_bytes(nums.d),
            CKA.PRIME_1: int_bytes(nums.p),
            CKA.PRIME_2: int_bytes(nums.q),
            CKA.EXPONENT_1: int_bytes(nums.dp),
            CKA.EXPONENT_2: int_bytes(nums.dq),
            CKA.COEFFICIENT: int_bytes(nums.qinv),
        }
    if decoded.kind == "ec":
        curve = next(c for c in curves.CURVES if c.name == decoded.curve)
        d = crypto.ec_private_scalar(decoded.key)
        return CKK.EC, {CKA.EC_PARAMS: curve.params, CKA.VALUE: int_bytes(d, curve.size)}
    if decoded.kind == "ed448":
        return CKK.EC_EDWARDS, {CKA.EC_PARAMS: curves.ED448.params,
                                CKA.VALUE: crypto.ed448_seed(decoded.key)}
    if decoded.kind == "xdh":
        return CKK.EC_MONTGOMERY, {CKA.EC_PARAMS: _xdh_params(decoded.curve),
                                   CKA.VALUE: crypto.xdh_private_bytes(decoded.key)}
    return CKK.EC_EDWARDS, {
        CKA.EC_PARAMS: curves.ED25519_PARAMS,
        CKA.VALUE: crypto.ed25519_seed(decoded.key),
    }


def public_attributes_of_pkcs8(crypto: KeyMaterialCrypto, der: bytes) -> dict[int, AttrValue]:
    """The public key material of a DER PKCS #8 private key (to import a key pair)."""
    decoded = crypto.pkcs8_decode(der)
    if decoded.kind == "rsa":
        nums = crypto.rsa_private_numbers(decoded.key)
        return {CKA.MODULUS: int_bytes(nums.n), CKA.PUBLIC_EXPONENT: int_bytes(nums.e)}
    if decoded.kind == "ec":
        curve = next(c for c in curves.CURVES if c.name == decoded.curve)
        return {CKA.EC_PARAMS: curve.params,
                CKA.EC_POINT: curves.encode_point(crypto.ec_public_point(decoded.key))}
    if decoded.kind == "ed448":
        return {CKA.EC_PARAMS: curves.ED448.params,
                CKA.EC_POINT: curves.encode_point(crypto.ed448_public_bytes(decoded.key))}
    if decoded.kind == "xdh":
        return {CKA.EC_PARAMS: _xdh_params(decoded.curve),
                CKA.EC_POINT: curves.encode_point(crypto.xdh_public_bytes(decoded.key))}
    public = crypto.ed25519_public_bytes(decoded.key)
    return {CKA.EC_PARAMS: curves.ED25519_PARAMS, CKA.EC_POINT: curves.encode_point(public)}


def _xdh_params(curve: str) -> bytes:
    return (curves.X448 if curve == "X448" else curves.X25519).params


def decode_public_key_info(crypto: KeyMaterialCrypto, spki: bytes) -> tuple[int, dict[int, AttrValue]]:
    """(CKK_*, public key material attributes) of a DER SubjectPublicKeyInfo."""
    decoded = crypto.public_key_decode(spki)
    if decoded.kind == "rsa":
        n, e = crypto.rsa_public_numbers(decoded.key)
        return CKK.RSA, {CKA.MODULUS: int_bytes(n), CKA.PUBLIC_EXPONENT: int_bytes(e)}
    if decoded.kind == "ec":
        curve = next(c for c in curves.CURVES if c.name == decoded.curve)
        return CKK.EC, {CKA.EC_PARAMS: curve.params,
                        CKA.EC_POINT: curves.encode_point(crypto.ec_public_point(decoded.key))}
    if decoded.kind == "ed448":
        return CKK.EC_EDWARDS, {
            CKA.EC_PARAMS: curves.ED448.params,
            CKA.EC_POINT: curves.encode_point(crypto.ed448_public_bytes(decoded.key)),
        }
    if decoded.kind == "xdh":
        return CKK.EC_MONTGOMERY, {
            CKA.EC_PARAMS: _xdh_params(decoded.curve),
            CKA.EC_POINT: curves.encode_point(crypto.xdh_public_bytes(decoded.key)),
        }
    return CKK.EC_EDWARDS, {CKA.EC_PARAMS: curves.ED25519_PARAMS,
                            CKA.EC_POINT: curves.encode_point(crypto.ed25519_public_bytes(decoded.key))}
