"""The entropy port: where the token's random bytes come from (PKCS #11 v2.40 s5.15).

Two narrow protocols, one on each side of the DRBG:

* ``RandomSource`` is what the core consumes: random bytes on demand (C_GenerateRandom, key
  values, salts, nonces) and C_SeedRandom. tokenport's implementation is
  ``tokenport.backends.entropy.drbg_source.DrbgRandomSource``: raw source -> SP 800-90B health
  tests -> SP 800-90A DRBG.
* ``EntropySource`` is what a platform fills in: raw entropy from a noise source (a
  hardware RNG's poll function, the OS) or from a seed file kept in non-volatile memory,
  with the min-entropy the platform claims for it. The DRBG layer decides how many bytes
  it needs from that claim and runs the health tests on every byte it reads.

The in-memory twins are ``tokenport.backends.entropy.os.OsRandomSource`` (a RandomSource
with no state) and ``tokenport.backends.entropy.sources.FixedEntropySource`` (a
deterministic EntropySource for tests, refused unless explicitly allowed).
"""

from __future__ import annotations

from collections.abc import Callable
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


@runtime_checkable
class EntropySource(Protocol):
    """A raw entropy source as SP 800-90B sees it: a stream of samples with a claimed
    min-entropy per sample.

    ``sample_bits`` is 8 for sources whose samples are bytes (the usual case) and 1 for a
    binary noise source (each byte then carries eight samples, most significant bit
    first); it selects the window of the adaptive proportion test (512 or 1024 samples).
    ``min_entropy_per_sample`` (H, in bits, 0 < H <= sample_bits) is the platform's claim;
    the health-test cutoffs and the number of bytes read per seeding follow from it, so
    claim no more than the source's assessment supports.

    ``live`` says whether every ``read`` returns fresh entropy (a noise source) or not (a
    seed file, which holds a fixed amount until it is refreshed). Prediction resistance
    needs a live source.
    """

    @property
    def name(self) -> str:
        """A short name for reports and errors (never anything secret)."""
        ...

    @property
    def sample_bits(self) -> int: ...

    @property
    def min_entropy_per_sample(self) -> float: ...

    @property
    def live(self) -> bool: ...

    def read(self, length: int) -> bytes:
        """``length`` bytes of raw entropy. Raises errors.DeviceError if the source failed
        or (a seed file) cannot supply that much."""
        ...

    def after_seeding(self, derive: Callable[[int], bytes]) -> None:
        """Called after each instantiation or reseed of the DRBG this source feeds.

        ``derive(n)`` returns n bytes of that DRBG's output. A seed-file source writes a
        fresh seed derived this way back to its file (so the next start never reuses a
        seed); a noise source does nothing. Raises errors.DeviceError if it cannot.
        """
        ...
