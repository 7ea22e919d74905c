"""From key attributes to the crypto port's key objects (PKCS #11 v2.40 s4.8-4.9, Current
Mechanisms s2.1.2-2.1.3 RSA, s2.3.3-2.3.4 EC; PKCS #11 3.0 s2.3.5-2.3.6 Edwards keys,
s2.3.7-2.3.8 Montgomery keys).

The ``build_*`` functions read attributes through a getter, so they serve both key objects
(KeyView.get, at operation time) and templates (Mapping.get, when keyformats validates a key
being created); ``missing`` is the error for absent material (KeyTypeInconsistent for an
existing object, TemplateIncomplete for a template). The ``*_key`` functions wrap them in
KeyView.cached so an object's key is parsed once.
"""

from __future__ import annotations

import math

from tokenport.ck import CKA
from tokenport.errors import AttributeValueInvalid, KeyTypeInconsistent, PKCS11Error
from tokenport.mechanisms import curves
from tokenport.mechanisms.base import KeyView
from tokenport.mechanisms.common import Getter, get_bytes, get_int, opt_int
from tokenport.ports.crypto import (
    EcPort,
    EcPrivateKeyHandle,
    EcPublicKeyHandle,
    Ed448Port,
    Ed448PrivateKeyHandle,
    Ed448PublicKeyHandle,
    Ed25519PrivateKeyHandle,
    Ed25519PublicKeyHandle,
    EdDsaPort,
    MontgomeryPort,
    RsaPort,
    RsaPrivateKeyHandle,
    RsaPrivateNumbers,
    RsaPublicKeyHandle,
    XdhCurveName,
    XdhPrivateKeyHandle,
    XdhPublicKeyHandle,
)

# -- RSA --------------------------------------------------------------------------------------


def build_rsa_public(
    crypto: RsaPort, get: Getter, missing: type[PKCS11Error]
) -> RsaPublicKeyHandle:
    n = get_int(get, CKA.MODULUS, missing)
    e = get_int(get, CKA.PUBLIC_EXPONENT, missing)
    return crypto.rsa_public_from_numbers(n, e)


def build_rsa_private(
    crypto: RsaPort, get: Getter, missing: type[PKCS11Error], *, validate: bool = True
) -> RsaPrivateKeyHandle:
    """The private key from CKA_MODULUS and CKA_PRIVATE_EXPONENT plus either the primes or
    CKA_PUBLIC_EXPONENT; absent CRT values are computed. ``validate`` False skips the
    library's full key check (keys already on the token were checked at creation). A key
    held by a hardware key port (``hwkeys``) gives that port's handle instead."""
    from tokenport.mechanisms import hwkeys

    held = hwkeys.blob_and_auth(get, missing)
    if held is not None:
        return hwkeys.rsa_private(crypto, get, *held)
    n = get_int(get, CKA.MODULUS, missing)
    d = get_int(get, CKA.PRIVATE_EXPONENT, missing)
    e = opt_int(get, CKA.PUBLIC_EXPONENT)
    p = opt_int(get, CKA.PRIME_1)
    q = opt_int(get, CKA.PRIME_2)
    if p is None or q is None:
        if e is None:
            raise missing("an RSA private key needs CKA_PUBLIC_EXPONENT or its primes")
        p, q = crypto.rsa_recover_primes(n, e, d)
        p, q = max(p, q), min(p, q)
        dp = dq = qinv = None
    else:
        dp = opt_int(get, CKA.EXPONENT_1)
        dq = opt_int(get, CKA.EXPONENT_2)
        qinv = opt_int(get, CKA.COEFFICIENT)
    if p < 2 or q < 2 or p * q != n:
        raise AttributeValueInvalid("RSA primes do not match the modulus")
    if e is None:
        try:
            e = pow(d, -1, math.lcm(p - 1, q - 1))
        except ValueError:
            raise AttributeValueInvalid("RSA private exponent is not invertible") from None
    try:
        numbers = RsaPrivateNumbers(
            n=n,
            e=e,
            d=d,
            p=p,
            q=q,
            dp=dp if dp is not None else d % (p - 1),
            dq=dq if dq is not None else d % (q - 1),
            qinv=qinv if qinv is not None else pow(q, -1, p),
        )
    except ValueError:
        raise AttributeValueInvalid("RSA primes are not coprime") from None
    return crypto.rsa_private_from_numbers(numbers, validate=validate)


def modulus_bits(key: KeyView) -> int:
    """Bit length of CKA_MODULUS (the RSA key size)."""
    return get_int(key.get, CKA.MODULUS, KeyTypeInconsistent).bit_length()


def rsa_private_key(crypto: RsaPort, key: KeyView) -> RsaPrivateKeyHandle:
    """The parsed private key of a token object (checked when it was created: the full check
    is not repeated each time a process first uses the key)."""
    return key.cached(
        "rsa.private",
        lambda: build_rsa_private(crypto, key.get, KeyTypeInconsistent, validate=False),
    )


def rsa_public_key(crypto: RsaPort, key: KeyView) -> RsaPublicKeyHandle:
    return key.cached("rsa.public", lambda: build_rsa_public(crypto, key.get, KeyTypeInconsistent))


# -- EC ----------------------------------------------------------------------------------------


def ec_curve(get: Getter, missing: type[PKCS11Error]) -> curves.Curve:
    """The curve of an EC key from CKA_EC_PARAMS."""
    return curves.weierstrass_curve(get_bytes(get, CKA.EC_PARAMS, missing))


def ec_scalar(curve: curves.Curve, value: bytes) -> int:
    """The private value d of CKA_VALUE, checked to be in [1, n-1]."""
    d = int.from_bytes(value, "big")
    if not 1 <= d < curve.order:
        raise AttributeValueInvalid("EC private value out of range")
    return d


def build_ec_private(
    crypto: EcPort, get: Getter, missing: type[PKCS11Error]
) -> EcPrivateKeyHandle:
    """The private key from CKA_VALUE, or the hardware key port's handle for a key it
    holds (``hwkeys``)."""
    from tokenport.mechanisms import hwkeys

    curve = ec_curve(get, missing)
    held = hwkeys.blob_and_auth(get, missing)
    if held is not None:
        return hwkeys.ec_private(crypto, curve.name, *held)
    d = ec_scalar(curve, get_bytes(get, CKA.VALUE, missing))
    return crypto.ec_private_from_scalar(curve.name, d)


def ec_point(get: Getter, curve: curves.Curve, missing: type[PKCS11Error]) -> bytes:
    """The SEC 1 point inside CKA_EC_POINT (DER OCTET STRING or raw)."""
    value = get_bytes(get, CKA.EC_POINT, missing)
    return curves.unwrap_point(value, curves.weierstrass_point_lengths(curve))


def build_ec_public(
    crypto: EcPort, get: Getter, missing: type[PKCS11Error]
) -> EcPublicKeyHandle:
    curve = ec_curve(get, missing)
    return crypto.ec_public_from_point(curve.name, ec_point(get, curve, missing))


def ec_key_curve(key: KeyView) -> curves.Curve:
    return key.cached("ec.curve", lambda: ec_curve(key.get, KeyTypeInconsistent))


def ec_private_key(crypto: EcPort, key: KeyView) -> EcPrivateKeyHandle:
    return key.cached("ec.private", lambda: build_ec_private(crypto, key.get, KeyTypeInconsistent))


def ec_public_key(crypto: EcPort, key: KeyView) -> EcPublicKeyHandle:
    return key.cached("ec.public", lambda: build_ec_public(crypto, key.get, KeyTypeInconsistent))


# -- Ed25519 -----------------------------------------------------------------------------------


def build_ed25519_private(
    crypto: EdDsaPort, get: Getter, missing: type[PKCS11Error]
) -> Ed25519PrivateKeyHandle:
    curves.require_ed25519(get_bytes(get, CKA.EC_PARAMS, missing))
    seed = get_bytes(get, CKA.VALUE, missing)
    if len(seed) != curves.ED25519_KEY_SIZE:
        raise AttributeValueInvalid("an Ed25519 private key is 32 bytes")
    return crypto.ed25519_private_from_seed(seed)


def ed25519_point(get: Getter, missing: type[PKCS11Error]) -> bytes:
    """The 32-byte public key inside CKA_EC_POINT (DER OCTET STRING or raw)."""
    value = get_bytes(get, CKA.EC_POINT, missing)
    return curves.unwrap_point(value, frozenset({curves.ED25519_KEY_SIZE}))


def build_ed25519_public(
    crypto: EdDsaPort, get: Getter, missing: type[PKCS11Error]
) -> Ed25519PublicKeyHandle:
    curves.require_ed25519(get_bytes(get, CKA.EC_PARAMS, missing))
    return crypto.ed25519_public_from_bytes(ed25519_point(get, missing))


def ed25519_private_key(crypto: EdDsaPort, key: KeyView) -> Ed25519PrivateKeyHandle:
    return key.cached(
        "ed25519.private", lambda: build_ed25519_private(crypto, key.get, KeyTypeInconsistent)
    )


def ed25519_public_key(crypto: EdDsaPort, key: KeyView) -> Ed25519PublicKeyHandle:
    return key.cached(
        "ed25519.public", lambda: build_ed25519_public(crypto, key.get, KeyTypeInconsistent)
    )


# -- Edwards and Montgomery curves (key bytes as RFC 8032 / RFC 7748 encode them) ------------------


def edwards_key_curve(key: KeyView) -> curves.OctetCurve:
    """Ed25519 or Ed448 from an Edwards key's CKA_EC_PARAMS."""
    return key.cached(
        "edwards.curve",
        lambda: curves.edwards_curve(get_bytes(key.get, CKA.EC_PARAMS, KeyTypeInconsistent)),
    )


def octet_point(get: Getter, curve: curves.OctetCurve, missing: type[PKCS11Error]) -> bytes:
    """The public key bytes inside CKA_EC_POINT (DER OCTET STRING or raw)."""
    value = get_bytes(get, CKA.EC_POINT, missing)
    return curves.unwrap_point(value, frozenset({curve.public_size}))


def octet_private_value(get: Getter, curve: curves.OctetCurve, missing: type[PKCS11Error]) -> bytes:
    """CKA_VALUE of an Edwards or Montgomery private key, checked for the curve's length."""
    value = get_bytes(get, CKA.VALUE, missing)
    if len(value) != curve.private_size:
        raise AttributeValueInvalid(f"an {curve.name} private key is {curve.private_size} bytes")
    return value


def build_ed448_private(
    crypto: Ed448Port, get: Getter, missing: type[PKCS11Error]
) -> Ed448PrivateKeyHandle:
    if curves.edwards_curve(get_bytes(get, CKA.EC_PARAMS, missing)) is not curves.ED448:
        raise KeyTypeInconsistent("not an Ed448 key")
    return crypto.ed448_private_from_seed(octet_private_value(get, curves.ED448, missing))


def build_ed448_public(
    crypto: Ed448Port, get: Getter, missing: type[PKCS11Error]
) -> Ed448PublicKeyHandle:
    if curves.edwards_curve(get_bytes(get, CKA.EC_PARAMS, missing)) is not curves.ED448:
        raise KeyTypeInconsistent("not an Ed448 key")
    return crypto.ed448_public_from_bytes(octet_point(get, curves.ED448, missing))


def ed448_private_key(crypto: Ed448Port, key: KeyView) -> Ed448PrivateKeyHandle:
    return key.cached(
        "ed448.private", lambda: build_ed448_private(crypto, key.get, KeyTypeInconsistent)
    )


def ed448_public_key(crypto: Ed448Port, key: KeyView) -> Ed448PublicKeyHandle:
    return key.cached(
        "ed448.public", lambda: build_ed448_public(crypto, key.get, KeyTypeInconsistent)
    )


def montgomery_curve(get: Getter, missing: type[PKCS11Error]) -> curves.OctetCurve:
    """X25519 or X448 from a Montgomery key's CKA_EC_PARAMS."""
    return curves.montgomery_curve(get_bytes(get, CKA.EC_PARAMS, missing))


def _xdh_name(curve: curves.OctetCurve) -> XdhCurveName:
    return "X448" if curve is curves.X448 else "X25519"


def build_xdh_private(
    crypto: MontgomeryPort, get: Getter, missing: type[PKCS11Error]
) -> XdhPrivateKeyHandle:
    curve = montgomery_curve(get, missing)
    return crypto.xdh_private_from_bytes(_xdh_name(curve), octet_private_value(get, curve, missing))


def build_xdh_public(
    crypto: MontgomeryPort, get: Getter, missing: type[PKCS11Error]
) -> XdhPublicKeyHandle:
    curve = montgomery_curve(get, missing)
    return crypto.xdh_public_from_bytes(_xdh_name(curve), octet_point(get, curve, missing))


def xdh_private_key(crypto: MontgomeryPort, key: KeyView) -> XdhPrivateKeyHandle:
    return key.cached(
        "xdh.private", lambda: build_xdh_private(crypto, key.get, KeyTypeInconsistent)
    )
