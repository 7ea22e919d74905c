"""What the fake crypto port's families share: their stand-in key encodings (length-prefixed
parts, big-endian integers) and the running hash behind digests and MACs. Not cryptography:
see backends.crypto.fake."""

from __future__ import annotations

import hashlib
import hmac

from tokenport import errors


def pack(*parts: bytes) -> bytes:
    """The parts, each after its 4-byte big-endian length."""
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def unpack(data: bytes, count: int) -> list[bytes] | None:
    """The ``count`` parts ``pack`` made, or None when ``data`` is not such an encoding."""
    parts, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        if at + 4 + size > len(data):
            return None
        parts.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    return parts if len(parts) == count else None


def int_bytes(value: int) -> bytes:
    """``value`` big-endian in as few bytes as it needs (at least one)."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


class RunningHash:
    """hashlib / hmac object as a HashContext (a finished context refuses more input);
    ``size`` cuts the output."""

    def __init__(self, ctx: hashlib._Hash | hmac.HMAC, size: int | None = None) -> None:
        self._ctx: hashlib._Hash | hmac.HMAC | None = ctx
        self._size = size

    def update(self, data: bytes) -> None:
        if self._ctx is None:
            raise errors.OperationNotInitialized("operation already finished")
        self._ctx.update(data)

    def finalize(self) -> bytes:
        if self._ctx is None:
            raise errors.OperationNotInitialized("operation already finished")
        out, self._ctx = self._ctx.digest(), None
        return out if self._size is None else out[: self._size]
