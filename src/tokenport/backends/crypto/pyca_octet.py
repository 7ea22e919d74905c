"""The Ed448 and Montgomery (X25519, X448) families of the crypto port on pyca/cryptography
(PKCS #11 v3.0 Current Mechanisms s2.3.5-2.3.8; RFC 8032 s5.2, RFC 7748).

``PycaOctetCurves`` is a mixin of ``tokenport.backends.crypto.pyca.PycaCrypto``; the helpers
below let that class's key encodings (SubjectPublicKeyInfo, PKCS #8) know these key types.
Exceptions are translated here, as in the main module: fixed messages, never key bytes.

What pyca/cryptography cannot do: Ed448 with a non-empty context string and Ed448ph (its
``Ed448PrivateKey.sign`` takes the message only, i.e. RFC 8032 Ed448 with an empty context);
the mechanism layer refuses those CK_EDDSA_PARAMS with CKR_MECHANISM_PARAM_INVALID.
"""

from __future__ import annotations

from cryptography import exceptions as pyca_exceptions
from cryptography.hazmat.primitives.asymmetric import ed448, x448, x25519

from tokenport import errors
from tokenport.ports.crypto import (
    Ed448KeyHandle,
    Ed448PrivateDecoded,
    Ed448PrivateKeyHandle,
    Ed448PublicDecoded,
    Ed448PublicKeyHandle,
    XdhCurveName,
    XdhKeyHandle,
    XdhPrivateDecoded,
    XdhPrivateKeyHandle,
    XdhPublicDecoded,
    XdhPublicKeyHandle,
)

PRIVATE_TYPES = (ed448.Ed448PrivateKey, x25519.X25519PrivateKey, x448.X448PrivateKey)
"""pyca private key classes of this module (for the main module's isinstance checks)."""
PUBLIC_TYPES = (ed448.Ed448PublicKey, x25519.X25519PublicKey, x448.X448PublicKey)

_XDH_SIZES: dict[XdhCurveName, int] = {"X25519": 32, "X448": 56}


def _ed448_private(key: object) -> ed448.Ed448PrivateKey:
    if isinstance(key, ed448.Ed448PrivateKey):
        return key
    raise errors.KeyTypeInconsistent("expected an Ed448 private key object")


def _ed448_public(key: object) -> ed448.Ed448PublicKey:
    if isinstance(key, ed448.Ed448PrivateKey):
        return key.public_key()
    if isinstance(key, ed448.Ed448PublicKey):
        return key
    raise errors.KeyTypeInconsistent("expected an Ed448 key object")


def _xdh_private(key: object) -> x25519.X25519PrivateKey | x448.X448PrivateKey:
    if isinstance(key, (x25519.X25519PrivateKey, x448.X448PrivateKey)):
        return key
    raise errors.KeyTypeInconsistent("expected an X25519 or X448 private key object")


def _xdh_public(key: object) -> x25519.X25519PublicKey | x448.X448PublicKey:
    if isinstance(key, (x25519.X25519PrivateKey, x448.X448PrivateKey)):
        return key.public_key()
    if isinstance(key, (x25519.X25519PublicKey, x448.X448PublicKey)):
        return key
    raise errors.KeyTypeInconsistent("expected an X25519 or X448 key object")


def _check_size(curve: XdhCurveName, value: bytes) -> None:
    size = _XDH_SIZES.get(curve)
    if size is None:
        raise errors.CurveNotSupported("Montgomery curve not supported")
    if len(value) != size:
        raise errors.AttributeValueInvalid(f"an {curve} key is {size} bytes")


def decoded_private(key: object) -> Ed448PrivateDecoded | XdhPrivateDecoded | None:
    """The port's decoded form of a pyca Ed448 / X25519 / X448 private key, else None."""
    if isinstance(key, ed448.Ed448PrivateKey):
        return Ed448PrivateDecoded(Ed448PrivateKeyHandle(key))
    if isinstance(key, x25519.X25519PrivateKey):
        return XdhPrivateDecoded(XdhPrivateKeyHandle(key), "X25519")
    if isinstance(key, x448.X448PrivateKey):
        return XdhPrivateDecoded(XdhPrivateKeyHandle(key), "X448")
    return None


def decoded_public(key: object) -> Ed448PublicDecoded | XdhPublicDecoded | None:
    """The port's decoded form of a pyca Ed448 / X25519 / X448 public key, else None."""
    if isinstance(key, ed448.Ed448PublicKey):
        return Ed448PublicDecoded(Ed448PublicKeyHandle(key))
    if isinstance(key, x25519.X25519PublicKey):
        return XdhPublicDecoded(XdhPublicKeyHandle(key), "X25519")
    if isinstance(key, x448.X448PublicKey):
        return XdhPublicDecoded(XdhPublicKeyHandle(key), "X448")
    return None


class PycaOctetCurves:
    """Ed448Port and MontgomeryPort on pyca/cryptography."""

    # -- Ed448 --------------------------------------------------------------------------------
    def ed448_private_from_seed(self, seed: bytes) -> Ed448PrivateKeyHandle:
        if len(seed) != 57:
            raise errors.AttributeValueInvalid("an Ed448 private key is 57 bytes")
        try:
            return Ed448PrivateKeyHandle(ed448.Ed448PrivateKey.from_private_bytes(seed))
        except (ValueError, TypeError):
            raise errors.AttributeValueInvalid("Ed448 private key rejected") from None

    def ed448_public_from_bytes(self, public: bytes) -> Ed448PublicKeyHandle:
        if len(public) != 57:
            raise errors.AttributeValueInvalid("an Ed448 public key is 57 bytes")
        try:
            return Ed448PublicKeyHandle(ed448.Ed448PublicKey.from_public_bytes(public))
        except (ValueError, TypeError):
            raise errors.AttributeValueInvalid("Ed448 public key rejected") from None

    def ed448_seed(self, key: Ed448PrivateKeyHandle) -> bytes:
        return _ed448_private(key).private_bytes_raw()

    def ed448_public_bytes(self, key: Ed448KeyHandle) -> bytes:
        return _ed448_public(key).public_bytes_raw()

    def ed448_sign(self, key: Ed448PrivateKeyHandle, message: bytes) -> bytes:
        return _ed448_private(key).sign(message)

    def ed448_verify(self, key: Ed448KeyHandle, signature: bytes, message: bytes) -> None:
        try:
            _ed448_public(key).verify(signature, message)
        except (pyca_exceptions.InvalidSignature, ValueError, TypeError):
            raise errors.SignatureInvalid("signature does not verify") from None

    # -- X25519 / X448 ------------------------------------------------------------------------
    def xdh_private_from_bytes(self, curve: XdhCurveName, value: bytes) -> XdhPrivateKeyHandle:
        _check_size(curve, value)
        try:
            if curve == "X25519":
                return XdhPrivateKeyHandle(x25519.X25519PrivateKey.from_private_bytes(value))
            return XdhPrivateKeyHandle(x448.X448PrivateKey.from_private_bytes(value))
        except (ValueError, TypeError):
            raise errors.AttributeValueInvalid("Montgomery private key rejected") from None

    def xdh_public_from_bytes(self, curve: XdhCurveName, value: bytes) -> XdhPublicKeyHandle:
        _check_size(curve, value)
        try:
            if curve == "X25519":
                return XdhPublicKeyHandle(x25519.X25519PublicKey.from_public_bytes(value))
            return XdhPublicKeyHandle(x448.X448PublicKey.from_public_bytes(value))
        except (ValueError, TypeError):
            raise errors.AttributeValueInvalid("Montgomery public key rejected") from None

    def xdh_curve(self, key: XdhKeyHandle) -> XdhCurveName:
        public = _xdh_public(key)
        return "X25519" if isinstance(public, x25519.X25519PublicKey) else "X448"

    def xdh_private_bytes(self, key: XdhPrivateKeyHandle) -> bytes:
        return _xdh_private(key).private_bytes_raw()

    def xdh_public_bytes(self, key: XdhKeyHandle) -> bytes:
        return _xdh_public(key).public_bytes_raw()

    def xdh_exchange(self, private_key: XdhPrivateKeyHandle, peer: XdhPublicKeyHandle) -> bytes:
        private = _xdh_private(private_key)
        public = _xdh_public(peer)
        try:
            if isinstance(private, x25519.X25519PrivateKey):
                if not isinstance(public, x25519.X25519PublicKey):
                    raise errors.MechanismParamInvalid("peer key not on the same curve")
                return private.exchange(public)
            if not isinstance(public, x448.X448PublicKey):
                raise errors.MechanismParamInvalid("peer key not on the same curve")
            return private.exchange(public)
        except (ValueError, TypeError):  # an all-zero result (small-order peer point)
            raise errors.MechanismParamInvalid("the peer's public value is not usable") from None
