"""The token's random source: raw entropy source -> SP 800-90B health tests -> SP 800-90A
DRBG (``tokenport.ports.entropy.RandomSource``).

Life cycle of a ``DrbgRandomSource``:

* start (at the first request, or ``start()``): the start-up health test over 1024 samples
  of a live source (a seed file is tested as it is read: it is all the source has), then
  the DRBG is instantiated from the source (256 bits of entropy input and a 128-bit
  nonce, counted at the source's claimed min-entropy) with a personalization string
  naming the token, the process and the time;
* every byte read from the source afterwards goes through the continuous health tests;
* requests larger than the DRBG's maximum (64 KiB) are served as several requests;
* the DRBG reseeds itself when its reseed counter passes the reseed interval, and before
  every request when prediction resistance is on (a live source is required for that);
* after every instantiation or reseed the source gets ``after_seeding`` (a seed file
  writes a fresh seed derived from the DRBG);
* C_SeedRandom (``seed``) reseeds with the caller's bytes as additional input: they are
  mixed in, never replace the source's entropy;
* after ``fork()``, the child reseeds before its first output with its pid and the time as
  additional input, so parent and child never share output (an ``os.register_at_fork``
  hook marks the child; it holds only a weak reference, and a pid check catches forks
  that ran no Python hooks);
* any failure of the source (a health-test alarm, an OS error, a missing seed file) zeroizes
  the DRBG and makes every later call raise errors.DeviceError with the same message, until
  a new source is built (the Module builds new ones at C_Initialize);
* ``close()`` uninstantiates (zeroizes) the DRBG.
"""

from __future__ import annotations

import functools
import math
import os
import time
import weakref

from tokenport import errors
from tokenport.backends.entropy.drbg import (
    DRBGS,
    MAX_REQUEST_BYTES,
    SECURITY_STRENGTH,
    CtrDrbg,
    DrbgError,
    HmacDrbg,
)
from tokenport.backends.entropy.health import STARTUP_SAMPLES, HealthTests
from tokenport.ports.entropy import EntropySource
from tokenport.reentry import NoReentryLock

DEFAULT_RESEED_INTERVAL = 10_000
"""Requests between reseeds (mbedTLS's default, which the porting guide's platforms use)."""
NONCE_BITS = SECURITY_STRENGTH // 2
POOL_BYTES = 4096
"""Output generated ahead in one DRBG request for small requests (well under SP 800-90A's
2^19-bit limit per request)."""
POOLED_REQUEST_BYTES = 64
"""Requests up to this size are served from the pool."""


def _child_after_fork(ref: weakref.ReferenceType[DrbgRandomSource]) -> None:
    source = ref()
    if source is not None:
        source._forked_in_child()


class DrbgRandomSource:
    """RandomSource on an SP 800-90A DRBG fed by a health-tested EntropySource."""

    def __init__(
        self,
        source: EntropySource,
        *,
        drbg: str = "hmac",
        reseed_interval: int = DEFAULT_RESEED_INTERVAL,
        prediction_resistance: bool = False,
        personalization: bytes = b"",
    ) -> None:
        mechanism = DRBGS.get(drbg)
        if mechanism is None:
            raise errors.ArgumentsBad(f"unknown DRBG {drbg!r} (known: {', '.join(DRBGS)})")
        if prediction_resistance and not source.live:
            raise errors.ArgumentsBad(
                f"prediction resistance needs a live entropy source; {source.name} is not"
            )
        self._source = source
        self._health = HealthTests(source.min_entropy_per_sample, binary=source.sample_bits == 1)
        self._bits_per_byte = source.min_entropy_per_sample * 8 / source.sample_bits
        self._drbg: CtrDrbg | HmacDrbg = mechanism(
            self._entropy, reseed_interval=reseed_interval,
            prediction_resistance=prediction_resistance,
        )
        self._prediction_resistance = prediction_resistance
        self._personalization = bytes(personalization)
        self._failure: str | None = None
        self._seeds_handled = 0
        self._lock = NoReentryLock("the DRBG")
        self._pid = os.getpid()
        self._forked = False
        self._pool = bytearray()  # output generated ahead for small requests (see random_bytes)
        self._taken = 0
        os.register_at_fork(after_in_child=functools.partial(_child_after_fork, weakref.ref(self)))

    def __repr__(self) -> str:
        return f"DrbgRandomSource({self._drbg.name}, source={self._source.name})"

    # -- what reports may show -------------------------------------------------------------

    @property
    def source(self) -> EntropySource:
        return self._source

    @property
    def mechanism(self) -> str:
        return self._drbg.name

    @property
    def health(self) -> HealthTests:
        return self._health

    @property
    def failure(self) -> str | None:
        """Why the source failed (it then refuses every request), or None."""
        return self._failure

    @property
    def started(self) -> bool:
        return self._drbg.instantiated

    # -- RandomSource ------------------------------------------------------------------------

    def start(self) -> None:
        """Run the start-up tests and instantiate the DRBG (if not done yet)."""
        with self._lock:
            self._ready()

    def random_bytes(self, length: int) -> bytes:
        """``length`` bytes of DRBG output.

        Small requests (at most POOLED_REQUEST_BYTES; C_GenerateRandom of a nonce or a key)
        are served from a pool of POOL_BYTES generated by one DRBG request, each byte handed
        out once and zeroed in the pool as it goes; every request still counts toward the
        reseed interval (a due reseed refills the pool); the pool is dropped (zeroed) on
        C_SeedRandom, fork, failure and close. With prediction resistance every request is
        its own DRBG request (SP 800-90A s9.3: fresh entropy before each output).
        """
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise errors.ArgumentsBad("random length must be a non-negative integer")
        with self._lock:
            self._ready()
            if length <= POOLED_REQUEST_BYTES and not self._prediction_resistance:
                start = self._taken
                if len(self._pool) - start < length or self._drbg.reseed_due():
                    self._refill()  # one DRBG request (reseeding first when due)
                    start = 0
                else:
                    self._drbg.count_request()  # each caller request counts toward reseeding
                end = start + length
                out = bytes(self._pool[start:end])
                self._pool[start:end] = bytes(length)
                self._taken = end
                return out
            return self._generate(length)

    def _generate(self, length: int) -> bytes:
        out = bytearray()
        try:
            while len(out) < length:
                chunk = min(length - len(out), MAX_REQUEST_BYTES)
                out += self._drbg.generate(
                    chunk, prediction_resistance=self._prediction_resistance
                )
            self._after_seeding()
        except errors.DeviceError as exc:
            out[:] = bytes(len(out))
            raise self._fail(str(exc)) from None
        return bytes(out)

    def _refill(self) -> None:
        self._drop_pool()
        self._pool = bytearray(self._generate(POOL_BYTES))

    def _drop_pool(self) -> None:
        self._pool[:] = bytes(len(self._pool))
        self._pool = bytearray()
        self._taken = 0

    def seed(self, data: bytes | bytearray | memoryview) -> None:
        """C_SeedRandom: reseed with ``data`` as additional input (SP 800-90A s9.2)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise errors.ArgumentsBad("seed must be bytes")
        with self._lock:
            self._ready()
            self._drop_pool()
            try:
                self._drbg.reseed(bytes(data))
                self._after_seeding()
            except DrbgError as exc:
                raise errors.ArgumentsBad(str(exc)) from None
            except errors.DeviceError as exc:
                raise self._fail(str(exc)) from None

    def close(self) -> None:
        """Uninstantiate the DRBG (zeroize its state); later requests start it again.
        A source with a ``close()`` (one holding a device, such as the tpm2 source) is
        closed too; it reopens at its next read."""
        with self._lock:
            self._drop_pool()
            self._drbg.uninstantiate()
            closer = getattr(self._source, "close", None)
            if callable(closer):
                closer()

    # -- internals ---------------------------------------------------------------------------

    def _ready(self) -> None:
        """Refuse if failed; start if needed; reseed first in a forked child."""
        if self._failure is not None:
            raise errors.DeviceError(self._failure)
        try:
            if not self._drbg.instantiated:
                if self._source.live:
                    startup = math.ceil(STARTUP_SAMPLES * self._source.sample_bits / 8)
                    self._health.feed(self._read(startup))
                self._drbg.instantiate(self._read_bits(NONCE_BITS), self._personal())
                self._pid = os.getpid()
                self._forked = False
                self._after_seeding()
            elif self._forked or os.getpid() != self._pid:
                self._drop_pool()  # the parent's pool: never handed out in the child
                self._pid = os.getpid()
                self._forked = False
                self._drbg.reseed(b"tokenport fork " + self._stamp())
                self._after_seeding()
        except errors.DeviceError as exc:
            raise self._fail(str(exc)) from None

    def _personal(self) -> bytes:
        return self._personalization + b" " + self._stamp() + b" %x" % id(self)

    @staticmethod
    def _stamp() -> bytes:
        return b"pid=%d t=%d" % (os.getpid(), time.time_ns())

    def _read(self, length: int) -> bytes:
        data = self._source.read(length)
        if len(data) != length:
            raise errors.DeviceError(f"entropy source {self._source.name} returned a short read")
        return data

    def _read_bits(self, bits: int) -> bytes:
        """Enough bytes for ``bits`` of min-entropy, health-tested."""
        data = self._read(math.ceil(bits / self._bits_per_byte))
        self._health.feed(data)
        return data

    def _entropy(self, bits: int) -> bytes:
        """The DRBG's Get_entropy_input."""
        return self._read_bits(bits)

    def _after_seeding(self) -> None:
        if self._drbg.seed_count != self._seeds_handled:
            self._seeds_handled = self._drbg.seed_count
            self._source.after_seeding(self._derive)

    def _derive(self, length: int) -> bytes:
        out = bytearray()
        while len(out) < length:
            out += self._drbg.generate(min(length - len(out), MAX_REQUEST_BYTES))
        return bytes(out)

    def _fail(self, message: str) -> errors.DeviceError:
        self._failure = message
        self._drop_pool()
        self._drbg.uninstantiate()
        return errors.DeviceError(message)

    def _forked_in_child(self) -> None:
        self._forked = True
        self._drop_pool()
        self._lock = NoReentryLock("the DRBG")  # a parent thread may have held it at fork time
