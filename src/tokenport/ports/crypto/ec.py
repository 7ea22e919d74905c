"""EC family of the crypto port: ECDSA and ECDH on the NIST curves (PKCS #11 v2.40 Current
Mechanisms s2.3: CKM_ECDSA*, CKM_ECDH1_DERIVE with the X9.63 KDFs of s2.3.15).

Keys are opaque handles: ``EcPrivateKeyHandle`` / ``EcPublicKeyHandle`` are distinct types
(``typing.NewType``), so mypy refuses an RSA or Ed25519 handle where an EC key is expected;
at run time a backend still checks what it gets (KeyTypeInconsistent).
"""

from __future__ import annotations

from typing import NewType, Protocol, runtime_checkable

from tokenport.ports.crypto.types import CurveName, HashName

EcPrivateKeyHandle = NewType("EcPrivateKeyHandle", object)
"""An EC private key as the backend represents it (a mechanism never looks inside)."""

EcPublicKeyHandle = NewType("EcPublicKeyHandle", object)
"""An EC public key as the backend represents it."""

EcKeyHandle = EcPrivateKeyHandle | EcPublicKeyHandle
"""Either half of an EC key pair (calls that need only the public half take both)."""


@runtime_checkable
class EcPort(Protocol):
    """Short-Weierstrass EC keys, ECDSA over a hash value, ECDH and its X9.63 KDF."""

    def ec_private_from_scalar(self, curve: CurveName, d: int) -> EcPrivateKeyHandle:
        """The private key with scalar ``d`` (1 <= d < n, else AttributeValueInvalid)."""
        ...

    def ec_public_from_point(self, curve: CurveName, point: bytes) -> EcPublicKeyHandle:
        """A public key from a SEC 1 encoded point; AttributeValueInvalid if not on the curve."""
        ...

    def ec_private_scalar(self, key: EcPrivateKeyHandle) -> int: ...

    def ec_public_point(self, key: EcKeyHandle) -> bytes:
        """The uncompressed SEC 1 point (0x04 || X || Y) of a public or private key."""
        ...

    def ecdsa_sign_hash(self, key: EcPrivateKeyHandle, hash_value: bytes) -> tuple[int, int]:
        """ECDSA (FIPS 186-4 s6.4) over a caller-supplied hash value of any length: the
        integer e is the leftmost min(N, 8*len) bits, N the bit length of the order.
        Returns (r, s). DataLenRange if the backend cannot represent ``hash_value``."""
        ...

    def ecdsa_verify_hash(self, key: EcKeyHandle, r: int, s: int, hash_value: bytes) -> None:
        """Raises SignatureInvalid unless (r, s) is valid for ``hash_value``."""
        ...

    def ecdh(self, private_key: EcPrivateKeyHandle, peer_public_key: EcPublicKeyHandle) -> bytes:
        """The ECDH shared secret Z (the x coordinate, SEC 1 s3.3.1), field-size bytes."""
        ...

    def x963_kdf(self, alg: HashName, secret: bytes, shared_info: bytes, length: int) -> bytes:
        """ANSI X9.63 KDF (SEC 1 v2 s3.6.1), the CKD_SHA*_KDF of ECDH derivation."""
        ...
