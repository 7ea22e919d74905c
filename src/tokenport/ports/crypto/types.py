"""Names and running-computation shapes shared by the crypto port's families.

Hash and curve names are the spelling the port uses on every call (hashlib names; the NIST
curve names of FIPS 186-4 D.1.2, the SEC 2 and RFC 5639 names of the others). The running
computations (``HashContext``, ``StreamCipher``, ``AeadEncryptor``) are what a multi-part
PKCS #11 operation (v2.40 s5.2, C_DigestUpdate / C_SignUpdate / C_EncryptUpdate ...) keeps
between calls.
"""

from __future__ import annotations

from typing import Literal, Protocol

HashName = Literal[
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512",
    "sha512_224", "sha512_256", "sha3_224", "sha3_256", "sha3_384", "sha3_512",
]
"""Hash functions of the port (names as in hashlib): MD5, SHA-1, SHA-2 including SHA-512/224
and SHA-512/256 (FIPS 180-4), SHA-3 (FIPS 202)."""

CurveName = Literal[
    "P-256", "P-384", "P-521", "P-192", "P-224", "secp256k1",
    "brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1",
]
"""Short-Weierstrass curves of the port: NIST (FIPS 186-4 D.1.2), SEC 2 secp256k1 and the
Brainpool curves of RFC 5639."""

OctetCurveName = Literal["Ed25519", "Ed448", "X25519", "X448"]
"""Edwards (RFC 8032) and Montgomery (RFC 7748) curves, whose keys are octet strings."""

XdhCurveName = Literal["X25519", "X448"]
"""The Montgomery curves of the port's key agreement (RFC 7748)."""

KeyKind = Literal["rsa", "ec", "ed25519", "ed448", "xdh"]
"""The asymmetric key families the port knows."""

DIGEST_SIZES: dict[HashName, int] = {
    "md5": 16,
    "sha1": 20,
    "sha224": 28,
    "sha256": 32,
    "sha384": 48,
    "sha512": 64,
    "sha512_224": 28,
    "sha512_256": 32,
    "sha3_224": 28,
    "sha3_256": 32,
    "sha3_384": 48,
    "sha3_512": 64,
}
"""Output length in bytes of each hash of the port."""


class HashContext(Protocol):
    """A running hash or MAC computation."""

    def update(self, data: bytes) -> None: ...

    def finalize(self) -> bytes:
        """The digest / MAC; the context is unusable afterwards."""
        ...


class StreamCipher(Protocol):
    """A running block-cipher mode (ECB, CBC without padding, CTR).

    ``update`` returns whole blocks only for ECB and CBC (it holds back a partial block) and
    every byte for CTR; ``finalize`` returns what is left and raises DataLenRange if a
    partial block remains (the mechanism checks lengths first, so this is a safety net).
    """

    def update(self, data: bytes) -> bytes: ...

    def finalize(self) -> bytes: ...


class AeadEncryptor(Protocol):
    """A running AES-GCM encryption whose tag is produced at the end."""

    def update(self, data: bytes) -> bytes: ...

    def finalize(self) -> tuple[bytes, bytes]:
        """(last ciphertext bytes, full 16-byte tag)."""
        ...
