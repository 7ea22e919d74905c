"""The AEAD family (tokenport.ports.crypto.aead) for FakeCrypto: a keyed XOR stream and an
HMAC tag, deterministic and stdlib-only. NOT CRYPTOGRAPHY (see tokenport.backends.crypto.fake):
it only keeps the port's contract (lengths, a changed byte fails the tag)."""

from __future__ import annotations

import hashlib
import hmac

from tokenport import errors

_CCM_TAGS = frozenset({4, 6, 8, 10, 12, 14, 16})


def _stream(key: bytes, nonce: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(b"fake-aead" + key + nonce + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:length])


def _tag(key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes, length: int) -> bytes:
    body = len(nonce).to_bytes(2, "big") + nonce + len(aad).to_bytes(8, "big") + aad + ciphertext
    return hmac.new(key, b"fake-aead-tag" + body, hashlib.sha256).digest()[:length]


def _seal(key: bytes, nonce: bytes, data: bytes, aad: bytes, tag_len: int) -> tuple[bytes, bytes]:
    ciphertext = bytes(a ^ b for a, b in zip(data, _stream(key, nonce, len(data))))
    return ciphertext, _tag(key, nonce, aad, ciphertext, tag_len)


def _open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, tag: bytes) -> bytes:
    if not hmac.compare_digest(_tag(key, nonce, aad, ciphertext, len(tag)), tag):
        raise errors.EncryptedDataInvalid("authentication tag does not verify")
    return bytes(a ^ b for a, b in zip(ciphertext, _stream(key, nonce, len(ciphertext))))


def _check_ccm(key: bytes, nonce: bytes, tag_len: int) -> None:
    if len(key) not in (16, 24, 32):
        raise errors.KeySizeRange("AES keys are 16, 24 or 32 bytes")
    if not 7 <= len(nonce) <= 13 or tag_len not in _CCM_TAGS:
        raise errors.MechanismParamInvalid("CCM nonce must be 7 to 13 bytes, tag 4..16 even")


def _check_chacha(key: bytes, nonce: bytes) -> None:
    if len(key) != 32:
        raise errors.KeySizeRange("ChaCha20 keys are 32 bytes")
    if len(nonce) != 12:
        raise errors.MechanismParamInvalid("ChaCha20-Poly1305 nonce must be 12 bytes")


class FakeAead:
    """AeadPort for FakeCrypto."""

    def aes_ccm_encrypt(
        self, key: bytes, nonce: bytes, data: bytes, aad: bytes, tag_len: int
    ) -> tuple[bytes, bytes]:
        _check_ccm(key, nonce, tag_len)
        return _seal(b"ccm" + key, nonce, data, aad, tag_len)

    def aes_ccm_decrypt(
        self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, tag: bytes
    ) -> bytes:
        _check_ccm(key, nonce, len(tag))
        return _open(b"ccm" + key, nonce, ciphertext, aad, tag)

    def chacha20_poly1305_encrypt(
        self, key: bytes, nonce: bytes, data: bytes, aad: bytes
    ) -> tuple[bytes, bytes]:
        _check_chacha(key, nonce)
        return _seal(b"chacha" + key, nonce, data, aad, 16)

    def chacha20_poly1305_decrypt(
        self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, tag: bytes
    ) -> bytes:
        _check_chacha(key, nonce)
        if len(tag) != 16:
            raise errors.EncryptedDataInvalid("ChaCha20-Poly1305 tags are 16 bytes")
        return _open(b"chacha" + key, nonce, ciphertext, aad, tag)
