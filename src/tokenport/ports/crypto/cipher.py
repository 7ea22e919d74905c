"""Cipher family of the crypto port: AES modes, AES-GCM and AES key wrap (PKCS #11 v2.40
s5.8-5.9 and s5.14; Current Mechanisms v2.40 s2.10 AES, s2.12-2.13 GCM / CTR, PKCS #11 3.0
s2.14 AES key wrap, RFC 3394 and RFC 5649)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from tokenport.ports.crypto.types import AeadEncryptor, StreamCipher


@runtime_checkable
class CipherPort(Protocol):
    """AES on raw key bytes (the token's secret key values); KeySizeRange for a key that is
    not 16, 24 or 32 bytes."""

    def aes_ecb(self, key: bytes, encrypt: bool) -> StreamCipher: ...

    def aes_cbc(self, key: bytes, iv: bytes, encrypt: bool) -> StreamCipher:
        """CBC without padding; ``iv`` is 16 bytes."""
        ...

    def aes_ctr(self, key: bytes, counter_block: bytes) -> StreamCipher:
        """CTR with a full 128-bit big-endian counter starting at ``counter_block``."""
        ...

    def aes_gcm_encryptor(self, key: bytes, iv: bytes, aad: bytes) -> AeadEncryptor:
        """Streaming AES-GCM encryption; ``iv`` is 8..128 bytes."""
        ...

    def aes_gcm_decrypt_detached(
        self, key: bytes, iv: bytes, ciphertext: bytes, aad: bytes, tag: bytes
    ) -> bytes:
        """AES-GCM decryption with a separate tag of 4..16 bytes (a truncated tag is compared
        with the leading bytes of the full one). Raises EncryptedDataInvalid on a bad tag;
        no plaintext is released unless the tag verifies."""
        ...

    def aes_key_wrap(self, kek: bytes, key: bytes) -> bytes:
        """RFC 3394 with the default IV; ``key`` is a multiple of 8 bytes, at least 16."""
        ...

    def aes_key_unwrap(self, kek: bytes, wrapped: bytes) -> bytes:
        """Inverse of aes_key_wrap; raises WrappedKeyInvalid on an integrity failure."""
        ...

    def aes_key_wrap_pad(self, kek: bytes, key: bytes) -> bytes:
        """RFC 5649 (key wrap with padding) with the default alternative IV."""
        ...

    def aes_key_unwrap_pad(self, kek: bytes, wrapped: bytes) -> bytes:
        """Inverse of aes_key_wrap_pad; raises WrappedKeyInvalid on an integrity failure."""
        ...
