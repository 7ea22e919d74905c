"""Key encoding family of the crypto port: the DER forms the core itself needs.

* SubjectPublicKeyInfo (RFC 5280 s4.1.2.7) for CKA_PUBLIC_KEY_INFO (PKCS #11 3.0 s4.8,
  s4.9), computed for every RSA, EC, Ed25519, Ed448, X25519 and X448 key the token creates;
* PKCS #8 PrivateKeyInfo (RFC 5208), the private key encoding of C_WrapKey / C_UnwrapKey
  (v2.40 Current Mechanisms s2.7 "Wrapping/unwrapping private keys").

Reading certificates, requests and PEM files is not part of the port: that is the
provisioning side's job (``tokenport.x509``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from tokenport.ports.crypto.ec import EcPrivateKeyHandle, EcPublicKeyHandle
from tokenport.ports.crypto.eddsa import (
    Ed448PrivateKeyHandle,
    Ed448PublicKeyHandle,
    Ed25519PrivateKeyHandle,
    Ed25519PublicKeyHandle,
)
from tokenport.ports.crypto.montgomery import XdhPrivateKeyHandle, XdhPublicKeyHandle
from tokenport.ports.crypto.rsa import RsaPrivateKeyHandle, RsaPublicKeyHandle
from tokenport.ports.crypto.types import CurveName, XdhCurveName

PrivateKeyHandle = (
    RsaPrivateKeyHandle | EcPrivateKeyHandle | Ed25519PrivateKeyHandle | Ed448PrivateKeyHandle
    | XdhPrivateKeyHandle
)
"""A private key of any family the port knows."""

PublicKeyHandle = (
    RsaPublicKeyHandle | EcPublicKeyHandle | Ed25519PublicKeyHandle | Ed448PublicKeyHandle
    | XdhPublicKeyHandle
)
"""A public key of any family the port knows."""

AnyKeyHandle = PrivateKeyHandle | PublicKeyHandle
"""Either half of a key pair of any family."""


@dataclass(frozen=True, repr=False)
class RsaPrivateDecoded:
    """An RSA private key read from PKCS #8."""

    key: RsaPrivateKeyHandle
    kind: Literal["rsa"] = field(default="rsa", init=False)

    def __repr__(self) -> str:
        return "RsaPrivateDecoded(<secret>)"


@dataclass(frozen=True, repr=False)
class EcPrivateDecoded:
    """An EC private key read from PKCS #8, with its curve."""

    key: EcPrivateKeyHandle
    curve: CurveName
    kind: Literal["ec"] = field(default="ec", init=False)

    def __repr__(self) -> str:
        return f"EcPrivateDecoded(curve={self.curve!r}, <secret>)"


@dataclass(frozen=True, repr=False)
class Ed25519PrivateDecoded:
    """An Ed25519 private key read from PKCS #8."""

    key: Ed25519PrivateKeyHandle
    kind: Literal["ed25519"] = field(default="ed25519", init=False)

    def __repr__(self) -> str:
        return "Ed25519PrivateDecoded(<secret>)"


@dataclass(frozen=True, repr=False)
class Ed448PrivateDecoded:
    """An Ed448 private key read from PKCS #8."""

    key: Ed448PrivateKeyHandle
    kind: Literal["ed448"] = field(default="ed448", init=False)

    def __repr__(self) -> str:
        return "Ed448PrivateDecoded(<secret>)"


@dataclass(frozen=True, repr=False)
class XdhPrivateDecoded:
    """An X25519 or X448 private key read from PKCS #8, with its curve."""

    key: XdhPrivateKeyHandle
    curve: XdhCurveName
    kind: Literal["xdh"] = field(default="xdh", init=False)

    def __repr__(self) -> str:
        return f"XdhPrivateDecoded(curve={self.curve!r}, <secret>)"


DecodedPrivateKey = (
    RsaPrivateDecoded | EcPrivateDecoded | Ed25519PrivateDecoded | Ed448PrivateDecoded
    | XdhPrivateDecoded
)
"""A private key read from PKCS #8: ``kind`` tells the family (and narrows the type)."""


@dataclass(frozen=True)
class RsaPublicDecoded:
    """An RSA public key read from a SubjectPublicKeyInfo."""

    key: RsaPublicKeyHandle
    kind: Literal["rsa"] = field(default="rsa", init=False)


@dataclass(frozen=True)
class EcPublicDecoded:
    """An EC public key read from a SubjectPublicKeyInfo, with its curve."""

    key: EcPublicKeyHandle
    curve: CurveName
    kind: Literal["ec"] = field(default="ec", init=False)


@dataclass(frozen=True)
class Ed25519PublicDecoded:
    """An Ed25519 public key read from a SubjectPublicKeyInfo."""

    key: Ed25519PublicKeyHandle
    kind: Literal["ed25519"] = field(default="ed25519", init=False)


@dataclass(frozen=True)
class Ed448PublicDecoded:
    """An Ed448 public key read from a SubjectPublicKeyInfo."""

    key: Ed448PublicKeyHandle
    kind: Literal["ed448"] = field(default="ed448", init=False)


@dataclass(frozen=True)
class XdhPublicDecoded:
    """An X25519 or X448 public key read from a SubjectPublicKeyInfo, with its curve."""

    key: XdhPublicKeyHandle
    curve: XdhCurveName
    kind: Literal["xdh"] = field(default="xdh", init=False)


DecodedPublicKey = (
    RsaPublicDecoded | EcPublicDecoded | Ed25519PublicDecoded | Ed448PublicDecoded
    | XdhPublicDecoded
)
"""A public key read from a SubjectPublicKeyInfo: ``kind`` tells the family."""


@runtime_checkable
class KeyEncodingPort(Protocol):
    """DER encodings of the port's key handles."""

    def public_key_info(self, key: AnyKeyHandle) -> bytes:
        """The DER SubjectPublicKeyInfo of a public key or of a private key's public half."""
        ...

    def pkcs8_encode(self, key: PrivateKeyHandle) -> bytes:
        """An unencrypted DER PKCS #8 PrivateKeyInfo (RFC 5208) of a private key;
        KeyNotWrappable for anything else."""
        ...

    def pkcs8_decode(self, der: bytes) -> DecodedPrivateKey:
        """Parse a DER PKCS #8 PrivateKeyInfo; WrappedKeyInvalid if it is not one we know,
        CurveNotSupported for an EC key on another curve."""
        ...

    def public_key_decode(self, der: bytes) -> DecodedPublicKey:
        """Parse a DER SubjectPublicKeyInfo; AttributeValueInvalid if it is not one we know,
        CurveNotSupported for an EC key on another curve."""
        ...
