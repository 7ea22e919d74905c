"""The raw entropy sources behind the entropy port (``tokenport.ports.entropy.EntropySource``).

* ``os`` -- the operating system's getrandom(2) (the porting guide's hardware poll role).
* ``nv-seed`` -- a seed file in non-volatile storage, for platforms without a noise
  source: provisioned at manufacturing (``tokenport entropy seed``), read at start-up,
  and replaced after each seeding by a fresh seed derived from the DRBG it fed, so that
  no seed is ever used twice. A missing, short or unreadable seed file is an error,
  never a silent fallback to another source.
* ``fixed`` -- a repeating byte pattern for tests only; refused unless explicitly allowed.

Claimed min-entropy. ``os`` and ``nv-seed`` claim H = 4 bits per byte although their
bytes are full-entropy (kernel CSPRNG output; seeds written from it). A health-test alarm
stops the source for good, so its false-alarm rate must be negligible over a token's
life: at H = 4 the repetition count cutoff is 6 identical bytes, which a healthy source
produces with probability about 2^-40 per byte, where the honest H = 8 would give a
cutoff of 4 and 2^-24 per byte (about one alarm in 350,000 seedings of 48 bytes). The
price is reading twice the bytes per seeding; a stuck source is still caught after 6
bytes. The ``fixed`` test source claims H = 8 so that tests see the tightest cutoffs.

Plug-ins: a package can add a source under a new name with an entry point in the group
``tokenport.entropy_sources`` whose object is a factory taking the token's
``tokenport.config.EntropyConfig`` and returning an ``EntropySource`` (see
docs/porting.md).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from tokenport import errors
from tokenport.ports.entropy import EntropySource

CLAIMED_MIN_ENTROPY = 4.0
"""H (bits per byte) claimed by the ``os`` and ``nv-seed`` sources; see the module docstring."""
MIN_SEED_BYTES = 96
"""The smallest seed file: an instantiation at 256-bit strength reads 256 bits of entropy
input and a 128-bit nonce, 384 bits at 4 bits per byte."""
DEFAULT_SEED_BYTES = 128
MAX_SEED_BYTES = 65536
DEFAULT_FIXED_PATTERN = bytes(range(256))


class FixedSourceNotAllowed(errors.GeneralError):
    """The ``fixed`` test source was asked for without being explicitly allowed."""


class OsEntropySource:
    """getrandom(2) (``os.getrandom``; ``os.urandom`` where the platform lacks it)."""

    name = "os"
    sample_bits = 8
    min_entropy_per_sample = CLAIMED_MIN_ENTROPY
    live = True

    def __repr__(self) -> str:
        return "OsEntropySource()"

    def read(self, length: int) -> bytes:
        _check_length(length)
        try:
            if not hasattr(os, "getrandom"):
                return os.urandom(length)
            out = bytearray()
            while len(out) < length:  # getrandom may return less for large requests
                out += os.getrandom(length - len(out))
            return bytes(out)
        except (OSError, NotImplementedError) as exc:
            raise errors.DeviceError(f"OS entropy source failed: {exc}") from exc

    def after_seeding(self, derive: Callable[[int], bytes]) -> None:
        """A noise source keeps no seed."""


class NvSeedSource:
    """A seed file: the whole file is the entropy, handed out once, then replaced.

    The file is read at the first ``read`` (start-up). Reads hand out successive bytes of
    the seed; a seeding that would need more than is left is refused. ``after_seeding``
    writes a fresh seed of the same size, derived from the DRBG, over the file (a new file
    renamed into place, so a crash leaves either the old or the new seed) and makes it
    the current seed.
    """

    sample_bits = 8
    min_entropy_per_sample = CLAIMED_MIN_ENTROPY
    live = False

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._seed: bytearray | None = None
        self._used = 0

    def __repr__(self) -> str:
        return f"NvSeedSource({str(self.path)!r})"

    @property
    def name(self) -> str:
        return f"nv-seed {self.path}"

    def read(self, length: int) -> bytes:
        _check_length(length)
        if self._seed is None:
            self._seed = bytearray(read_seed_file(self.path))
            self._used = 0
        if self._used + length > len(self._seed):
            raise errors.DeviceError(
                f"seed file {self.path}: {len(self._seed)} bytes cannot supply this seeding "
                f"(needs {self._used + length}); provision a larger seed with "
                f"'tokenport entropy seed --out {self.path} --force'"
            )
        chunk = bytes(self._seed[self._used:self._used + length])
        self._used += length
        return chunk

    def after_seeding(self, derive: Callable[[int], bytes]) -> None:
        size = len(self._seed) if self._seed is not None else DEFAULT_SEED_BYTES
        fresh = bytearray(derive(size))
        try:
            write_seed_file(self.path, bytes(fresh), replace=True)
        except OSError as exc:
            fresh[:] = bytes(len(fresh))
            raise errors.DeviceError(
                f"seed file {self.path}: cannot write the refreshed seed: {exc.strerror or exc}"
            ) from None
        if self._seed is not None:
            self._seed[:] = bytes(len(self._seed))
        self._seed = fresh
        self._used = 0


class FixedEntropySource:
    """``pattern`` repeated forever: deterministic, for tests. Refused unless ``allow``."""

    name = "fixed"
    sample_bits = 8
    min_entropy_per_sample = 8.0
    live = True

    def __init__(self, pattern: bytes = DEFAULT_FIXED_PATTERN, *, allow: bool = False) -> None:
        if not allow:
            raise FixedSourceNotAllowed(
                "the fixed entropy source is for tests only and must be explicitly allowed"
            )
        if not isinstance(pattern, bytes) or not pattern:
            raise errors.ArgumentsBad("the fixed pattern must be non-empty bytes")
        self._pattern = pattern
        self._position = 0

    def __repr__(self) -> str:
        return f"FixedEntropySource({len(self._pattern)}-byte pattern)"

    def read(self, length: int) -> bytes:
        _check_length(length)
        pattern, start = self._pattern, self._position
        repeats = (start + length) // len(pattern) + 1
        data = (pattern * repeats)[start:start + length]
        self._position = (start + length) % len(pattern)
        return data

    def after_seeding(self, derive: Callable[[int], bytes]) -> None:
        """Nothing to refresh."""


def _check_length(length: int) -> None:
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise errors.ArgumentsBad("the entropy length must be a non-negative integer")


# -- seed files ----------------------------------------------------------------------------------


def read_seed_file(path: Path) -> bytes:
    """The seed in ``path``; a clear DeviceError if it is missing, short or unreadable."""
    hint = f"provision one with 'tokenport entropy seed --out {path}'"
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SEED_BYTES + 1)
    except FileNotFoundError:
        raise errors.DeviceError(f"seed file {path}: no such file; {hint}") from None
    except OSError as exc:
        raise errors.DeviceError(f"seed file {path}: cannot read: {exc.strerror or exc}") from None
    if len(data) < MIN_SEED_BYTES:
        raise errors.DeviceError(
            f"seed file {path}: {len(data)} bytes, at least {MIN_SEED_BYTES} are needed; {hint}"
        )
    if len(data) > MAX_SEED_BYTES:
        raise errors.DeviceError(f"seed file {path}: larger than {MAX_SEED_BYTES} bytes")
    return data


def write_seed_file(path: Path, data: bytes, *, replace: bool) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600: a temporary file in the same
    directory, flushed to disk, then renamed over ``path`` (``replace``) or linked to it
    (refused with FileExistsError if ``path`` exists). Raises OSError."""
    path = Path(path)
    directory = path.parent
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(temp, path)
        else:
            os.link(temp, path)
            os.unlink(temp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- factories (registered as entry points; tokenport.plugins) ---------------------------------


class SourceOptions(Protocol):
    """What a source factory reads from the config's [entropy] section."""

    seed_file: Path | None
    fixed_pattern: bytes | None
    allow_fixed_source: bool


def os_from_config(entropy: SourceOptions) -> EntropySource:
    """The ``os`` source (getrandom)."""
    return OsEntropySource()


def nv_seed_from_config(entropy: SourceOptions) -> EntropySource:
    """The ``nv-seed`` source: the seed file named by ``seed_file``."""
    if entropy.seed_file is None:
        raise ValueError("source nv-seed needs seed_file")
    return NvSeedSource(entropy.seed_file)


def fixed_from_config(entropy: SourceOptions) -> EntropySource:
    """The ``fixed`` source, for tests only (refused unless allow_fixed_source)."""
    return FixedEntropySource(
        entropy.fixed_pattern or DEFAULT_FIXED_PATTERN, allow=entropy.allow_fixed_source
    )
