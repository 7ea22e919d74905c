"""Cipher family of the crypto port: AES modes, AES-GCM and AES key wrap (PKCS #11 v2.40
s5.8-5.9 and s5.14; Current Mechanisms v2.40 s2.10 AES, s2.12-2.13 GCM / CTR, PKCS #11 3.0
s2.14 AES key wrap, RFC 3394 and RFC 5649), and DES / Triple-DES for the legacy mechanisms
(v2.40 Current Mechanisms s2.18-2.19 and Historical Mechanisms (DES))."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from tokenport.ports.crypto.types import AeadEncryptor, HashContext, StreamCipher


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


@runtime_checkable
class DesPort(Protocol):
    """DES and Triple-DES (TDEA, NIST SP 800-67) on raw key bytes, for the legacy mechanisms
    of PKCS #11 v2.40: Current Mechanisms s2.18 (DES2, DES3), s2.19 (DES3-CMAC) and the Historical
    Mechanisms' DES.

    ``key`` is 8 bytes (single DES, run as TDEA with K1 = K2 = K3), 16 bytes (two-key TDEA,
    K3 = K1) or 24 bytes (three-key TDEA); anything else is KeySizeRange. Parity bits are
    ignored (the mechanisms check or set them). The block size is 8 bytes."""

    def des_ecb(self, key: bytes, encrypt: bool) -> StreamCipher: ...

    def des_cbc(self, key: bytes, iv: bytes, encrypt: bool) -> StreamCipher:
        """CBC without padding; ``iv`` is 8 bytes (MechanismParamInvalid otherwise)."""
        ...

    def cmac_des3_new(self, key: bytes) -> HashContext:
        """TDEA-CMAC (NIST SP 800-38B), 8-byte MAC; 16- or 24-byte key."""
        ...
