"""EdDSA family of the crypto port: pure Ed25519 (PKCS #11 3.0 s2.3.5-2.3.6 Edwards keys,
CKM_EDDSA; RFC 8032 s5.1). ``Ed25519PrivateKeyHandle`` / ``Ed25519PublicKeyHandle`` are
opaque, distinct handle types (see the EC family for the rule)."""

from __future__ import annotations

from typing import NewType, Protocol, runtime_checkable

Ed25519PrivateKeyHandle = NewType("Ed25519PrivateKeyHandle", object)
"""An Ed25519 private key as the backend represents it."""

Ed25519PublicKeyHandle = NewType("Ed25519PublicKeyHandle", object)
"""An Ed25519 public key as the backend represents it."""

Ed25519KeyHandle = Ed25519PrivateKeyHandle | Ed25519PublicKeyHandle
"""Either half of an Ed25519 key pair."""


@runtime_checkable
class EdDsaPort(Protocol):
    """Ed25519 keys from their RFC 8032 encodings, signing and verification."""

    def ed25519_private_from_seed(self, seed: bytes) -> Ed25519PrivateKeyHandle:
        """The Ed25519 private key with this 32-byte seed (RFC 8032 s5.1.5)."""
        ...

    def ed25519_public_from_bytes(self, public: bytes) -> Ed25519PublicKeyHandle: ...

    def ed25519_seed(self, key: Ed25519PrivateKeyHandle) -> bytes: ...

    def ed25519_public_bytes(self, key: Ed25519KeyHandle) -> bytes:
        """The 32-byte encoded public key of a public or private key."""
        ...

    def ed25519_sign(self, key: Ed25519PrivateKeyHandle, message: bytes) -> bytes:
        """Pure Ed25519 (RFC 8032 s5.1.6): a 64-byte signature."""
        ...

    def ed25519_verify(self, key: Ed25519KeyHandle, signature: bytes, message: bytes) -> None:
        """Raises SignatureInvalid unless the signature is valid."""
        ...


Ed448PrivateKeyHandle = NewType("Ed448PrivateKeyHandle", object)
"""An Ed448 private key as the backend represents it."""

Ed448PublicKeyHandle = NewType("Ed448PublicKeyHandle", object)
"""An Ed448 public key as the backend represents it."""

Ed448KeyHandle = Ed448PrivateKeyHandle | Ed448PublicKeyHandle
"""Either half of an Ed448 key pair."""


@runtime_checkable
class Ed448Port(Protocol):
    """Ed448 keys from their RFC 8032 encodings (57-byte private key and public key), pure
    Ed448 with an empty context (RFC 8032 s5.2) -- the only Ed448 form pyca/cryptography
    offers: neither Ed448 with a context string nor Ed448ph."""

    def ed448_private_from_seed(self, seed: bytes) -> Ed448PrivateKeyHandle:
        """The Ed448 private key with this 57-byte seed (RFC 8032 s5.2.5)."""
        ...

    def ed448_public_from_bytes(self, public: bytes) -> Ed448PublicKeyHandle: ...

    def ed448_seed(self, key: Ed448PrivateKeyHandle) -> bytes: ...

    def ed448_public_bytes(self, key: Ed448KeyHandle) -> bytes:
        """The 57-byte encoded public key of a public or private key."""
        ...

    def ed448_sign(self, key: Ed448PrivateKeyHandle, message: bytes) -> bytes:
        """Ed448 (RFC 8032 s5.2.6) with an empty context: a 114-byte signature."""
        ...

    def ed448_verify(self, key: Ed448KeyHandle, signature: bytes, message: bytes) -> None:
        """Raises SignatureInvalid unless the signature is valid."""
        ...
