"""Ed448, X25519 and X448 in the deterministic fake crypto port. NOT CRYPTOGRAPHY.

The mixin of ``tokenport.backends.crypto.fake.FakeCrypto`` for the ``Ed448Port`` and
``MontgomeryPort`` families, keeping their contracts (RFC 8032 / RFC 7748 lengths: 57-byte
Ed448 keys and 114-byte signatures, 32- / 56-byte X25519 / X448 keys and secrets; the same
errors for the same mistakes) with stdlib-only toys: "Ed448 signatures" are HMACs keyed by
the public key, and the Montgomery keys live in the same toy Diffie-Hellman group as the
fake EC keys, so both sides of an exchange agree.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

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

_PRIME = (1 << 255) - 19
_SIZES: dict[str, int] = {"X25519": 32, "X448": 56}


@dataclass(frozen=True, eq=False)
class FakeEd448Key:
    public: bytes
    seed: bytes | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"FakeEd448Key({'private' if self.seed is not None else 'public'})"


@dataclass(frozen=True, eq=False)
class FakeXdhKey:
    curve: XdhCurveName
    public: bytes
    scalar: bytes | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"FakeXdhKey({self.curve}, {'private' if self.scalar is not None else 'public'})"


def _ed448(key: object, *, private: bool) -> FakeEd448Key:
    if not isinstance(key, FakeEd448Key) or (private and key.seed is None):
        raise errors.KeyTypeInconsistent("expected an Ed448 key")
    return key


def _xdh(key: object, *, private: bool) -> FakeXdhKey:
    if not isinstance(key, FakeXdhKey) or (private and key.scalar is None):
        raise errors.KeyTypeInconsistent("expected an X25519 or X448 key")
    return key


def _size(curve: XdhCurveName, value: bytes) -> int:
    size = _SIZES.get(curve)
    if size is None:
        raise errors.CurveNotSupported("Montgomery curve not supported")
    if len(value) != size:
        raise errors.AttributeValueInvalid(f"an {curve} key is {size} bytes")
    return size


def _exponent(scalar: bytes) -> int:
    return int.from_bytes(scalar, "little") | 1


class FakeOctetCurves:
    """Ed448Port and MontgomeryPort, deterministic and stdlib-only. NOT CRYPTOGRAPHY."""

    # -- Ed448 --------------------------------------------------------------------------------
    def ed448_private_from_seed(self, seed: bytes) -> Ed448PrivateKeyHandle:
        if len(seed) != 57:
            raise errors.AttributeValueInvalid("an Ed448 private key is 57 bytes")
        public = hashlib.shake_256(b"fake-ed448" + seed).digest(57)
        return Ed448PrivateKeyHandle(FakeEd448Key(public, seed))

    def ed448_public_from_bytes(self, public: bytes) -> Ed448PublicKeyHandle:
        if len(public) != 57:
            raise errors.AttributeValueInvalid("an Ed448 public key is 57 bytes")
        return Ed448PublicKeyHandle(FakeEd448Key(public))

    def ed448_seed(self, key: Ed448PrivateKeyHandle) -> bytes:
        seed = _ed448(key, private=True).seed
        assert seed is not None
        return seed

    def ed448_public_bytes(self, key: Ed448KeyHandle) -> bytes:
        return _ed448(key, private=False).public

    def ed448_sign(self, key: Ed448PrivateKeyHandle, message: bytes) -> bytes:
        mac = hmac.new(_ed448(key, private=True).public, message, hashlib.sha512).digest()
        return mac + hashlib.shake_256(mac).digest(50)

    def ed448_verify(self, key: Ed448KeyHandle, signature: bytes, message: bytes) -> None:
        mac = hmac.new(_ed448(key, private=False).public, message, hashlib.sha512).digest()
        if not hmac.compare_digest(mac + hashlib.shake_256(mac).digest(50), signature):
            raise errors.SignatureInvalid("signature does not verify")

    # -- X25519 / X448 ------------------------------------------------------------------------
    def xdh_private_from_bytes(self, curve: XdhCurveName, value: bytes) -> XdhPrivateKeyHandle:
        size = _size(curve, value)
        public = pow(2, _exponent(value), _PRIME).to_bytes(size, "little")
        return XdhPrivateKeyHandle(FakeXdhKey(curve, public, value))

    def xdh_public_from_bytes(self, curve: XdhCurveName, value: bytes) -> XdhPublicKeyHandle:
        _size(curve, value)
        return XdhPublicKeyHandle(FakeXdhKey(curve, value))

    def xdh_curve(self, key: XdhKeyHandle) -> XdhCurveName:
        return _xdh(key, private=False).curve

    def xdh_private_bytes(self, key: XdhPrivateKeyHandle) -> bytes:
        scalar = _xdh(key, private=True).scalar
        assert scalar is not None
        return scalar

    def xdh_public_bytes(self, key: XdhKeyHandle) -> bytes:
        return _xdh(key, private=False).public

    def xdh_exchange(self, private_key: XdhPrivateKeyHandle, peer: XdhPublicKeyHandle) -> bytes:
        private, public = _xdh(private_key, private=True), _xdh(peer, private=False)
        if private.curve != public.curve:
            raise errors.MechanismParamInvalid("peer key not on the same curve")
        assert private.scalar is not None
        u = int.from_bytes(public.public, "little") % _PRIME
        shared = pow(u, _exponent(private.scalar), _PRIME)
        if shared in (0, 1):
            raise errors.MechanismParamInvalid("the peer's public value is not usable")
        return shared.to_bytes(_SIZES[private.curve], "little")


def fake_public_info(key: object) -> tuple[bytes, ...] | None:
    """The fake SubjectPublicKeyInfo fields of an Ed448 / Montgomery key, else None."""
    if isinstance(key, FakeEd448Key):
        return b"fake-spki-ed448", key.public
    if isinstance(key, FakeXdhKey):
        return b"fake-spki-xdh", key.curve.encode(), key.public
    return None


def fake_private_info(key: object) -> tuple[bytes, ...] | None:
    """The fake PKCS #8 fields of an Ed448 / Montgomery private key, else None."""
    if isinstance(key, FakeEd448Key) and key.seed is not None:
        return b"fake-pkcs8-ed448", key.seed
    if isinstance(key, FakeXdhKey) and key.scalar is not None:
        return b"fake-pkcs8-xdh", key.curve.encode(), key.scalar
    return None


def _xdh_curve(raw: bytes) -> XdhCurveName:
    if raw == b"X25519":
        return "X25519"
    if raw == b"X448":
        return "X448"
    raise errors.CurveNotSupported("curve of the key not supported")


def fake_decode_private(
    ports: FakeOctetCurves, parts: list[bytes]
) -> Ed448PrivateDecoded | XdhPrivateDecoded | None:
    """Decode the fields ``fake_private_info`` wrote (None for other kinds)."""
    if parts[0] == b"fake-pkcs8-ed448" and len(parts) == 2:
        return Ed448PrivateDecoded(ports.ed448_private_from_seed(parts[1]))
    if parts[0] == b"fake-pkcs8-xdh" and len(parts) == 3:
        curve = _xdh_curve(parts[1])
        return XdhPrivateDecoded(ports.xdh_private_from_bytes(curve, parts[2]), curve)
    return None


def fake_decode_public(
    ports: FakeOctetCurves, parts: list[bytes]
) -> Ed448PublicDecoded | XdhPublicDecoded | None:
    """Decode the fields ``fake_public_info`` wrote (None for other kinds)."""
    if parts[0] == b"fake-spki-ed448" and len(parts) == 2:
        return Ed448PublicDecoded(ports.ed448_public_from_bytes(parts[1]))
    if parts[0] == b"fake-spki-xdh" and len(parts) == 3:
        curve = _xdh_curve(parts[1])
        return XdhPublicDecoded(ports.xdh_public_from_bytes(curve, parts[2]), curve)
    return None
