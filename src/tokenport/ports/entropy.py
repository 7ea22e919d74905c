"""The entropy port: where the token's random bytes come from (PKCS #11 v2.40 s5.15).

Issue-level detail (DRBGs, health tests, seed files) lives in the backends; the core only
asks for bytes and passes C_SeedRandom input along.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class RandomSource(Protocol):
    """A source of cryptographically secure random bytes."""

    def random_bytes(self, length: int) -> bytes:
        """``length`` fresh random bytes. Raises errors.DeviceError if the source failed."""
        ...

    def seed(self, data: bytes) -> None:
        """Mix caller-supplied bytes in (C_SeedRandom). Never replaces the source's own entropy."""
        ...
