"""AEAD family of the crypto port: AES-CCM (NIST SP 800-38C) and ChaCha20-Poly1305
(RFC 8439), one-shot with detached tags, for CKM_AES_CCM and CKM_CHACHA20_POLY1305 (PKCS #11
v3.0 Current Mechanisms, and the message-based functions of the base specification s5.13).
Streaming AES-GCM is the cipher family's (``CipherPort``)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class AeadPort(Protocol):
    """Authenticated encryption on raw key bytes. Decryption raises EncryptedDataInvalid when
    the tag does not verify and releases no plaintext then."""

    def aes_ccm_encrypt(
        self, key: bytes, nonce: bytes, data: bytes, aad: bytes, tag_len: int
    ) -> tuple[bytes, bytes]:
        """(ciphertext, tag); ``nonce`` 7..13 bytes, ``tag_len`` 4, 6 .. 16; a key that is
        not 16, 24 or 32 bytes is KeySizeRange."""
        ...

    def aes_ccm_decrypt(
        self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, tag: bytes
    ) -> bytes: ...

    def chacha20_poly1305_encrypt(
        self, key: bytes, nonce: bytes, data: bytes, aad: bytes
    ) -> tuple[bytes, bytes]:
        """(ciphertext, 16-byte tag); ``key`` 32 bytes, ``nonce`` 12 bytes (RFC 8439)."""
        ...

    def chacha20_poly1305_decrypt(
        self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, tag: bytes
    ) -> bytes: ...
