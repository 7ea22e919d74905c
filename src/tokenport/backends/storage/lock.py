"""The coordination file of the ``files`` and ``flash`` store backends: lock and counter.

One small file per store serves every process that opens the store:

* an advisory lock (``flock``): writers hold it exclusively for a whole write session,
  readers take it shared when they must see a consistent store;
* a crash-safe counter record (``MetaState``) that ``generation()`` reads with one
  ``pread`` and no lock.

The record lives in two 40-byte slots, each with its own CRC-32; a write goes to the slot
the new ``serial`` selects (``serial % 2``), so a torn or concurrent write can only damage
the slot being written and a reader falls back to the other one, one step older.

A write session follows one protocol in both backends: take the lock exclusively, write the
record with ``dirty`` set (and ``serial`` bumped) *before* touching the store, change the
store, then write it again with ``dirty`` clear, the new ``generation`` and ``serial``
bumped once more. A process that finds ``dirty`` set while it holds the lock knows a writer
died in the middle of a session and recovers the store first. ``serial`` changes with every
session, including recoveries and sessions that move records without changing any (a flash
garbage collection), so a process can tell that its cached view of the store is stale.

The record is derived state: both backends can rebuild it from the store itself, and do at
open. It is therefore written without fsync (a power loss kills every process anyway, and
the next open recomputes it).

Because every process must lock the *same* file, a store checks before each operation that
the path still names the file it has open (``follow_path``): when someone deleted or
replaced it, the store drops its descriptor and opens (or creates) the file now at the
path, so that it locks together with processes that opened the store later, and rebuilds
its view of the store (the counter record of a new file is missing or unknown).
"""

from __future__ import annotations

import fcntl
import os
import secrets
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_MAGIC = b"TPMF"
_VERSION = 1
_BODY = struct.Struct("<4sBB2xQQQ")  # magic, version, dirty, serial, generation, next_handle
_SLOT = 40  # body (32) + CRC-32 (4) + 4 spare bytes
_CRC = struct.Struct("<I")
_FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW


@dataclass(frozen=True)
class MetaState:
    """The counter record: see the module docstring."""

    serial: int
    generation: int
    next_handle: int
    dirty: bool


def fresh_serial() -> int:
    """A serial for a new (or rebuilt) record: random, so that a process that cached the
    serial of a lost record cannot mistake the new one for it."""
    return secrets.randbits(48) << 8


def encode_slot(state: MetaState) -> bytes:
    body = _BODY.pack(
        _MAGIC, _VERSION, int(state.dirty), state.serial, state.generation, state.next_handle
    )
    return body + struct.pack("<I", zlib.crc32(body)) + b"\0" * (_SLOT - _BODY.size - 4)


def decode_slot(raw: bytes) -> MetaState | None:
    """The state in one slot, or None when the slot is empty, torn or foreign."""
    if len(raw) < _BODY.size + 4:
        return None
    body = raw[: _BODY.size]
    (crc,) = struct.unpack_from("<I", raw, _BODY.size)
    if zlib.crc32(body) != crc:
        return None
    magic, version, dirty, serial, generation, next_handle = _BODY.unpack(body)
    if magic != _MAGIC or version != _VERSION:
        return None
    return MetaState(serial, generation, next_handle, bool(dirty))


class MetaFile:
    """The lock-and-counter file of one store, opened by one store object."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None

    def open(self) -> None:
        """Open (creating with mode 0600) the file. Raises OSError."""
        if self._fd is not None:
            return
        fd = os.open(self.path, _FILE_FLAGS, 0o600)
        try:
            info = os.fstat(fd)
            if info.st_size == 0:
                os.fchmod(fd, 0o600)  # new file: the umask may have filtered the mode
        except OSError:
            os.close(fd)
            raise
        self._fd, self._ident = fd, (info.st_dev, info.st_ino)

    def path_matches(self) -> bool:
        """Whether the path still names the open file (one ``stat``)."""
        self._handle()
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return False
        return (info.st_dev, info.st_ino) == self._ident

    def follow_path(self) -> bool:
        """Reopen the file when its path no longer names the open one (deleted or replaced
        behind our back; see the module docstring). True when it reopened: the caller's
        view of the store is then stale. Call it without holding the lock (closing the old
        descriptor releases a lock held through it). Raises OSError."""
        if self.path_matches():
            return False
        self.close()
        self.open()
        return True

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def _handle(self) -> int:
        if self._fd is None:
            raise OSError(9, "store lock file is not open")  # EBADF
        return self._fd

    def read(self) -> MetaState | None:
        """The newest valid slot, or None for a new (or wholly damaged) file."""
        raw = os.pread(self._handle(), 2 * _SLOT, 0)
        first, second = decode_slot(raw[:_SLOT]), decode_slot(raw[_SLOT:])
        if first is None:
            return second
        if second is None:
            return first
        return first if first.serial > second.serial else second

    def read_generation(self) -> int | None:
        """The generation of a clean record (the hot path of ``generation()``), or None
        when the record is dirty, damaged or missing (then use ``read``)."""
        raw = os.pread(self._handle(), 2 * _SLOT, 0)
        best_serial, generation = -1, None
        for at in (0, _SLOT):
            body = raw[at : at + _BODY.size]
            if len(raw) < at + _BODY.size + 4:
                continue
            if zlib.crc32(body) != _CRC.unpack_from(raw, at + _BODY.size)[0]:
                continue
            magic, version, dirty, serial, gen, _ = _BODY.unpack(body)
            if magic == _MAGIC and version == _VERSION and serial > best_serial:
                best_serial, generation = serial, (None if dirty else gen)
        return generation

    def write(self, state: MetaState) -> None:
        """Write ``state`` into the slot its serial selects (no fsync: see the module doc)."""
        data = encode_slot(state)
        offset = (state.serial % 2) * _SLOT
        if os.pwrite(self._handle(), data, offset) != len(data):
            raise OSError(5, "short write to the store lock file")  # EIO

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        fd = self._handle()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    @contextmanager
    def shared(self) -> Iterator[None]:
        fd = self._handle()
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def try_shared(self) -> bool:
        """Take the lock shared if no writer holds it; True when taken (release with unlock)."""
        try:
            fcntl.flock(self._handle(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock(self) -> None:
        fcntl.flock(self._handle(), fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the file; a lock this object holds is released with it."""
        fd, self._fd, self._ident = self._fd, None, None
        if fd is not None:
            os.close(fd)

    def forget(self) -> None:
        """After fork(): drop the inherited descriptor without touching the parent's lock.

        flock locks belong to the open file description, which parent and child share:
        unlocking here would unlock the parent. Closing the child's copy is harmless.
        """
        self.close()
