"""Montgomery family of the crypto port: X25519 and X448 key agreement (PKCS #11 v3.0
Current Mechanisms s2.3.7-2.3.8 Montgomery keys, CKM_ECDH1_DERIVE with CKK_EC_MONTGOMERY;
RFC 7748). ``XdhPrivateKeyHandle`` / ``XdhPublicKeyHandle`` are opaque, distinct handle types
(see the EC family for the rule)."""

from __future__ import annotations

from typing import NewType, Protocol, runtime_checkable

from tokenport.ports.crypto.types import XdhCurveName

XdhPrivateKeyHandle = NewType("XdhPrivateKeyHandle", object)
"""An X25519 or X448 private key as the backend represents it."""

XdhPublicKeyHandle = NewType("XdhPublicKeyHandle", object)
"""An X25519 or X448 public key as the backend represents it."""

XdhKeyHandle = XdhPrivateKeyHandle | XdhPublicKeyHandle
"""Either half of a Montgomery key pair."""


@runtime_checkable
class MontgomeryPort(Protocol):
    """X25519 / X448 keys from their RFC 7748 encodings and the Diffie-Hellman function."""

    def xdh_private_from_bytes(self, curve: XdhCurveName, value: bytes) -> XdhPrivateKeyHandle:
        """The private key with this scalar string (32 bytes for X25519, 56 for X448;
        AttributeValueInvalid for another length)."""
        ...

    def xdh_public_from_bytes(self, curve: XdhCurveName, value: bytes) -> XdhPublicKeyHandle:
        """The public key with this u-coordinate (AttributeValueInvalid for a wrong length)."""
        ...

    def xdh_curve(self, key: XdhKeyHandle) -> XdhCurveName: ...

    def xdh_private_bytes(self, key: XdhPrivateKeyHandle) -> bytes: ...

    def xdh_public_bytes(self, key: XdhKeyHandle) -> bytes:
        """The u-coordinate of a public key, or of a private key's public half."""
        ...

    def xdh_exchange(self, private_key: XdhPrivateKeyHandle, peer: XdhPublicKeyHandle) -> bytes:
        """X25519 / X448 (RFC 7748 s5): the shared secret; MechanismParamInvalid when the
        peer is on the other curve or the result is all zero (a small-order peer point,
        RFC 7748 s6.1)."""
        ...
