"""The AEAD family (tokenport.ports.crypto.aead) on pyca/cryptography: AESCCM and
ChaCha20Poly1305 with detached tags. Mixed into PycaCrypto; pyca exceptions are translated
here (a bad tag -> EncryptedDataInvalid, a rejected key -> KeySizeRange, a rejected nonce or
tag length -> MechanismParamInvalid)."""

from __future__ import annotations

from cryptography import exceptions as pyca_exceptions
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, ChaCha20Poly1305

from tokenport import errors

_CCM_TAGS = frozenset({4, 6, 8, 10, 12, 14, 16})


def _ccm(key: bytes, nonce: bytes, tag_len: int) -> AESCCM:
    if len(key) not in (16, 24, 32):
        raise errors.KeySizeRange("AES keys are 16, 24 or 32 bytes")
    if not 7 <= len(nonce) <= 13 or tag_len not in _CCM_TAGS:
        raise errors.MechanismParamInvalid("CCM nonce must be 7 to 13 bytes, tag 4..16 even")
    return AESCCM(key, tag_length=tag_len)


def _chacha(key: bytes, nonce: bytes) -> ChaCha20Poly1305:
    if len(key) != 32:
        raise errors.KeySizeRange("ChaCha20 keys are 32 bytes")
    if len(nonce) != 12:
        raise errors.MechanismParamInvalid("ChaCha20-Poly1305 nonce must be 12 bytes")
    return ChaCha20Poly1305(key)


def _open(opener: AESCCM | ChaCha20Poly1305, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    try:
        return opener.decrypt(nonce, sealed, aad or None)
    except pyca_exceptions.InvalidTag:
        raise errors.EncryptedDataInvalid("authentication tag does not verify") from None
    except (ValueError, OverflowError):
        raise errors.EncryptedDataLenRange("AEAD input rejected") from None


class PycaAead:
    """AeadPort for PycaCrypto."""

    def aes_ccm_encrypt(
        self, key: bytes, nonce: bytes, data: bytes, aad: bytes, tag_len: int
    ) -> tuple[bytes, bytes]:
        try:
            sealed = _ccm(key, nonce, tag_len).encrypt(nonce, data, aad or None)
        except (ValueError, OverflowError):
            raise errors.DataLenRange("CCM input too long for the nonce length") from None
        return sealed[:-tag_len], sealed[-tag_len:]

    def aes_ccm_decrypt(
        self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, tag: bytes
    ) -> bytes:
        return _open(_ccm(key, nonce, len(tag)), nonce, ciphertext + tag, aad)

    def chacha20_poly1305_encrypt(
        self, key: bytes, nonce: bytes, data: bytes, aad: bytes
    ) -> tuple[bytes, bytes]:
        try:
            sealed = _chacha(key, nonce).encrypt(nonce, data, aad or None)
        except (ValueError, OverflowError):
            raise errors.DataLenRange("ChaCha20-Poly1305 input rejected") from None
        return sealed[:-16], sealed[-16:]

    def chacha20_poly1305_decrypt(
        self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, tag: bytes
    ) -> bytes:
        if len(tag) != 16:
            raise errors.EncryptedDataInvalid("ChaCha20-Poly1305 tags are 16 bytes")
        return _open(_chacha(key, nonce), nonce, ciphertext + tag, aad)
