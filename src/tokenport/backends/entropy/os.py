"""The operating system's CSPRNG as a RandomSource (PKCS #11 v2.40 s5.15): the entropy
port's stateless twin, for tests and ``Module(random=OsRandomSource())``. Tokens use
``tokenport.backends.entropy.drbg_source.DrbgRandomSource`` (a health-tested source feeding an
SP 800-90A DRBG) unless a source is passed in.

``os.urandom`` uses getrandom(2) on Linux (blocking only until the kernel pool has been
initialized at boot, never afterwards), getentropy(3) or the platform's equivalent
elsewhere.

C_SeedRandom: an application cannot usefully seed the kernel's pool. Unprivileged writes
to /dev/urandom are mixed in without crediting any entropy, and crediting needs
CAP_SYS_ADMIN; neither adds anything to a pool that is already seeded. ``seed()`` therefore
checks the type of the caller's bytes and drops them: they are not stored, not logged and
never replace or weaken the OS source, which is what the port asks of ``seed``.
"""

from __future__ import annotations

import os

from tokenport import errors


class OsRandomSource:
    """RandomSource backed by os.urandom (getrandom on Linux). Stateless and thread-safe."""

    def __repr__(self) -> str:
        return "OsRandomSource()"

    def random_bytes(self, length: int) -> bytes:
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise errors.ArgumentsBad("random length must be a non-negative integer")
        try:
            return os.urandom(length)
        except (OSError, NotImplementedError) as exc:
            raise errors.DeviceError(f"OS random source failed: {exc}") from exc

    def seed(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise errors.ArgumentsBad("seed must be bytes")
        # Deliberately ignored: see the module docstring.
