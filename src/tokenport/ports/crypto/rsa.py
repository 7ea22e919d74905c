"""RSA family of the crypto port (PKCS #11 v2.40 Current Mechanisms s2.1: CKM_RSA_PKCS,
CKM_RSA_PKCS_PSS, CKM_RSA_PKCS_OAEP, CKM_RSA_X_509 and the hash-and-sign variants; RFC 8017).

``RsaPrivateKeyHandle`` / ``RsaPublicKeyHandle`` are opaque, distinct handle types (see the
EC family for the rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType, Protocol, runtime_checkable

from tokenport.ports.crypto.types import HashName

RsaPrivateKeyHandle = NewType("RsaPrivateKeyHandle", object)
"""An RSA private key as the backend represents it."""

RsaPublicKeyHandle = NewType("RsaPublicKeyHandle", object)
"""An RSA public key as the backend represents it."""

RsaKeyHandle = RsaPrivateKeyHandle | RsaPublicKeyHandle
"""Either half of an RSA key pair (public operations accept a private key too)."""


@dataclass(frozen=True)
class RsaPrivateNumbers:
    """The integers of an RSA private key in CRT form (PKCS #1 RSAPrivateKey)."""

    n: int
    e: int
    d: int
    p: int
    q: int
    dp: int
    dq: int
    qinv: int

    def __repr__(self) -> str:
        return f"RsaPrivateNumbers(<{self.n.bit_length()}-bit, secret>)"


@runtime_checkable
class RsaPort(Protocol):
    """RSA keys, signatures over precomputed digests, encryption and the raw primitives."""

    def rsa_generate(self, bits: int, public_exponent: int) -> RsaPrivateKeyHandle:
        """A fresh RSA key; AttributeValueInvalid for an exponent the backend refuses."""
        ...

    def rsa_private_from_numbers(
        self, numbers: RsaPrivateNumbers, *, validate: bool = True
    ) -> RsaPrivateKeyHandle:
        """AttributeValueInvalid if the numbers do not form a consistent key. ``validate``
        False skips the full (slow: tens of ms) consistency check, for keys the token
        already checked when they were created or unwrapped."""
        ...

    def rsa_recover_primes(self, n: int, e: int, d: int) -> tuple[int, int]:
        """(p, q) from the modulus and both exponents; AttributeValueInvalid if impossible."""
        ...

    def rsa_public_from_numbers(self, n: int, e: int) -> RsaPublicKeyHandle: ...

    def rsa_private_numbers(self, key: RsaPrivateKeyHandle) -> RsaPrivateNumbers: ...

    def rsa_public_numbers(self, key: RsaKeyHandle) -> tuple[int, int]:
        """(n, e) of a public or private key."""
        ...

    def rsa_sign_pkcs1v15(self, key: RsaPrivateKeyHandle, alg: HashName, digest: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 (RFC 8017 s8.2) over a precomputed digest."""
        ...

    def rsa_verify_pkcs1v15(
        self, key: RsaKeyHandle, signature: bytes, alg: HashName, digest: bytes
    ) -> None:
        """Raises SignatureInvalid unless the signature is valid."""
        ...

    def rsa_sign_pss(
        self, key: RsaPrivateKeyHandle, alg: HashName, digest: bytes, mgf_alg: HashName,
        salt_len: int,
    ) -> bytes:
        """RSASSA-PSS (RFC 8017 s8.1) over a precomputed digest, MGF1 with ``mgf_alg``."""
        ...

    def rsa_verify_pss(
        self,
        key: RsaKeyHandle,
        signature: bytes,
        alg: HashName,
        digest: bytes,
        mgf_alg: HashName,
        salt_len: int,
    ) -> None:
        """Raises SignatureInvalid unless the signature is valid."""
        ...

    def rsa_encrypt_pkcs1v15(self, key: RsaKeyHandle, data: bytes) -> bytes: ...

    def rsa_decrypt_pkcs1v15(self, key: RsaPrivateKeyHandle, data: bytes) -> bytes:
        """RSAES-PKCS1-v1_5 decryption; see the backend for its bad-padding behaviour."""
        ...

    def rsa_encrypt_oaep(
        self, key: RsaKeyHandle, data: bytes, alg: HashName, mgf_alg: HashName, label: bytes
    ) -> bytes: ...

    def rsa_decrypt_oaep(
        self, key: RsaPrivateKeyHandle, data: bytes, alg: HashName, mgf_alg: HashName,
        label: bytes,
    ) -> bytes:
        """RSAES-OAEP decryption; EncryptedDataInvalid on any decoding failure."""
        ...

    def rsa_public_raw(self, key: RsaKeyHandle, block: bytes) -> bytes:
        """RSAEP / RSAVP1: ``block`` (k bytes, value < n) to the k-byte result."""
        ...

    def rsa_private_raw(self, key: RsaPrivateKeyHandle, block: bytes) -> bytes:
        """RSADP / RSASP1: ``block`` (k bytes, value < n) to the k-byte result."""
        ...
