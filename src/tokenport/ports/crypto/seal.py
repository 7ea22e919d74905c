"""Seal family of the crypto port: the pair ``storage_format`` uses to protect private
objects and PIN records at rest (PBKDF2-HMAC-SHA256, RFC 8018 s5.2, and one-shot
AES-256-GCM, NIST SP 800-38D). PKCS #11 v2.40 leaves at-rest protection to the token
(s2.1 "private objects"); no Cryptoki mechanism uses this family."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class SealPort(Protocol):
    """Key derivation from a PIN and authenticated encryption of records."""

    def pbkdf2_sha256(self, secret: bytes, salt: bytes, iterations: int, length: int) -> bytes:
        """PBKDF2-HMAC-SHA256 (RFC 8018 s5.2)."""
        ...

    def aes_gcm_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """One-shot AES-GCM: ciphertext followed by the 16-byte tag."""
        ...

    def aes_gcm_decrypt(
        self, key: bytes, nonce: bytes, ciphertext_and_tag: bytes, aad: bytes
    ) -> bytes:
        """Inverse of aes_gcm_encrypt; raises EncryptedDataInvalid on a bad tag or length."""
        ...
