"""The DesPort of the fake crypto twin (``backends.crypto.fake``). NOT CRYPTOGRAPHY.

Keeps the port's contracts only: 8/16/24-byte keys (KeySizeRange otherwise), an 8-byte IV,
whole 8-byte blocks for ECB and CBC (DataLenRange at finalize otherwise), decryption undoes
encryption, an 8-byte "CMAC". The "cipher" is an XOR with an HMAC-SHA256 key stream.
"""

from __future__ import annotations

import hashlib
import hmac

from tokenport import errors
from tokenport.backends.crypto.fake_codec import RunningHash

_BLOCK = 8
_KEY_SIZES = frozenset({8, 16, 24})


def _key(key: bytes) -> bytes:
    if len(key) not in _KEY_SIZES:
        raise errors.KeySizeRange("DES keys are 8, 16 or 24 bytes")
    return key


class _FakeDesStream:
    """XOR with a key stream by 8-byte block index; releases whole blocks only."""

    def __init__(self, key: bytes, nonce: bytes) -> None:
        self._key = key
        self._nonce = nonce
        self._block = 0
        self._buffer = b""

    def update(self, data: bytes) -> bytes:
        self._buffer += data
        cut = len(self._buffer) // _BLOCK * _BLOCK
        ready, self._buffer = self._buffer[:cut], self._buffer[cut:]
        out = bytearray()
        for at in range(0, len(ready), _BLOCK):
            label = b"fake-des" + self._nonce + self._block.to_bytes(8, "big")
            stream = hmac.new(self._key, label, hashlib.sha256).digest()
            out += bytes(a ^ b for a, b in zip(ready[at : at + _BLOCK], stream, strict=False))
            self._block += 1
        return bytes(out)

    def finalize(self) -> bytes:
        if self._buffer:
            raise errors.DataLenRange("input is not a whole number of blocks")
        return b""


class FakeDes:
    """The DesPort half of FakeCrypto."""

    def des_ecb(self, key: bytes, encrypt: bool) -> _FakeDesStream:
        return _FakeDesStream(_key(key), b"ecb")

    def des_cbc(self, key: bytes, iv: bytes, encrypt: bool) -> _FakeDesStream:
        if len(iv) != _BLOCK:
            raise errors.MechanismParamInvalid("DES-CBC IV must be 8 bytes")
        return _FakeDesStream(_key(key), b"cbc" + iv)

    def cmac_des3_new(self, key: bytes) -> RunningHash:
        if len(key) not in (16, 24):
            raise errors.KeySizeRange("DES3-CMAC keys are 16 or 24 bytes")
        return RunningHash(hmac.new(b"fake-des-cmac" + key, digestmod="sha256"), _BLOCK)
