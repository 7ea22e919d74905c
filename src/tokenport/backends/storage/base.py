"""What the ``files`` and ``flash`` storage backends share (the PAL of DESIGN.md "The
storage port"; the token objects of PKCS #11 v3.0 s4.4 kept across sessions and processes).

Both keep, per process, an index of the records (label -> entry, handle -> label, the
sorted labels) that is made current from the lock-and-counter file (``storage.lock``):
one ``pread`` when nothing changed, a catch-up under the shared lock after another
process's clean write session, a repair under the exclusive lock after a writer died.
``CountedStore`` holds that protocol once, with the calls that only read the index
(``find_object``, ``enumerate_objects``, ``generation``), the life cycle (open on first
use, checks that the files are still the store's own before every operation, a fresh
start in a forked child, ``close``) and the one translation of I/O errors. A backend fills
in the hooks: how to open, how to check its files, how to load, follow and repair its
view, and how its I/O errors read.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from tokenport import errors
from tokenport.backends.storage.lock import MetaFile, MetaState
from tokenport.backends.storage.pal_args import (
    Bytes,
    check_label,
    check_prefix,
    labels_with_prefix,
)
from tokenport.backends.storage.paths import writable
from tokenport.ports.storage import StoredEntry
from tokenport.reentry import NoReentryLock


class IndexEntry(Protocol):
    """What the shared code reads of an index entry."""

    @property
    def label(self) -> bytes: ...

    @property
    def handle(self) -> int: ...


E = TypeVar("E", bound=IndexEntry)


class CountedStore(ABC, Generic[E]):
    """A store coordinated by a lock-and-counter file, read through a per-process index.

    Subclasses set ``_where`` (the path that names the store in messages), ``_what``
    ("directory", "image": what a read-only mount makes read-only), ``_max_label`` and
    ``_io_errors`` (the exceptions ``_io_error`` translates), and call ``__init__`` and
    then their own ``_reset_view``.
    """

    _where: Path
    _what: str
    _max_label: int | None = None
    _io_errors: tuple[type[Exception], ...] = (OSError,)

    _serial: int | None  # the counter serial the index reflects (None: rebuild it)
    _index: dict[bytes, E]
    _by_handle: dict[int, bytes]
    _sorted: list[bytes] | None

    def __init__(self, meta: MetaFile, *, read_only: bool) -> None:
        self._meta = meta
        self._read_only = read_only  # inspection only: no repair, no write (store check)
        self._lock = NoReentryLock("the store")
        self._pid = os.getpid()
        self._closed = False

    # -- the PAL calls that read the index ---------------------------------------------

    def initialize(self) -> None:
        with self._lock, self._guard("open"):
            self._ready()

    def find_object(self, label: Bytes) -> int | None:
        key = check_label(label, self._max_label)
        with self._lock, self._guard("find"):
            self._ready()
            self._view()
            entry = self._index.get(key)
            return None if entry is None else entry.handle

    def get_object_value_cleanup(self, data: bytes | bytearray) -> None:
        # Values are handed out as immutable bytes; a caller's mutable copy is zeroed.
        if isinstance(data, bytearray):
            data[:] = bytes(len(data))

    def enumerate_objects(self, prefix: Bytes = b"") -> list[StoredEntry]:
        start = check_prefix(prefix)
        with self._lock, self._guard("enumerate"):
            self._ready()
            self._view()
            if self._sorted is None:
                self._sorted = sorted(self._index)
            labels = self._sorted
            result = []
            for label in labels_with_prefix(labels, start):
                entry = self._index[label]
                result.append(StoredEntry(label, entry.handle, self._revision(entry)))
            return result

    def generation(self) -> int:
        # The hot path (the core asks before many calls): the check that the files are
        # still the store's own, one pread, no context managers.
        with self._lock:
            try:
                self._ready()  # opens on first use
                generation = self._meta.read_generation()
                if generation is not None:
                    return generation
                self._view()  # a writer is at work or died at work: wait for it, or repair
                return self._known_generation()
            except self._io_errors as exc:
                raise self._io_error(exc, "read generation") from exc

    def close(self) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._after_fork()
            self._closed = True
            self._close_files()
            self._meta.close()
            self._reset_view()

    # -- life cycle ----------------------------------------------------------------------

    def _ready(self) -> None:
        """Open the store on first use (thread lock held); before every later operation,
        check that its files are still the ones it opened."""
        if self._pid != os.getpid():
            self._after_fork()
        if self._closed:
            raise errors.DeviceError(f"tokenport store {self._where}: used after close()")
        if self._is_open():
            self._check_files()
        else:
            self._open()

    def _after_fork(self) -> None:
        # In a forked child: the parent's thread lock may be held by a thread that does not
        # exist here, and flock locks are shared with the parent through the inherited file
        # description. Start afresh with descriptors of our own.
        self._pid = os.getpid()
        self._lock = NoReentryLock("the store")
        self._meta.forget()
        self._close_files()
        self._reset_view()

    def _view(self) -> None:
        """Make the index current (thread lock held): the common case is one pread."""
        if self._read_only:  # read everything again, repairing nothing
            with self._meta.shared():
                self._reload()
            return
        state = self._meta.read()
        if state is not None and not state.dirty and state.serial == self._serial:
            return
        if state is not None and not state.dirty:
            with self._meta.shared():
                state = self._meta.read()
                if state is not None and not state.dirty:
                    if state.serial != self._serial:
                        self._follow(state)
                    return
        self._repair()

    def _check_writable(self) -> None:
        """Before a write session: refused when opened read-only, or when the store was
        made read-only while open (as a read-only mount), before anything changes."""
        if self._read_only:
            raise errors.DeviceError(f"tokenport store {self._where}: opened read-only")
        if not writable(self._where):
            raise errors.DeviceError(
                f"tokenport store {self._where}: the {self._what} is read-only; nothing written"
            )

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except self._io_errors as exc:
            raise self._io_error(exc, action) from exc

    # -- what a backend fills in -----------------------------------------------------------

    @abstractmethod
    def _reset_view(self) -> None:
        """Forget the index (and everything read from the store)."""

    @abstractmethod
    def _is_open(self) -> bool:
        """Whether the store's files are open in this process."""

    @abstractmethod
    def _open(self) -> None:
        """Open (creating, unless read-only) the store and load the index; lock held."""

    @abstractmethod
    def _check_files(self) -> None:
        """Before every operation of an open store: DeviceError when its files were
        deleted or replaced; the lock file is followed (storage.lock)."""

    @abstractmethod
    def _close_files(self) -> None:
        """Release the descriptors the store holds, other than the lock file's."""

    @abstractmethod
    def _reload(self) -> None:
        """Read the whole store again, repairing nothing (shared lock held)."""

    @abstractmethod
    def _follow(self, state: MetaState) -> None:
        """Catch up with another process's clean write session (shared lock held); the
        index then reflects ``state.serial``."""

    @abstractmethod
    def _repair(self) -> None:
        """A writer is at work or died at work: take the exclusive lock, repair, reload."""

    @abstractmethod
    def _revision(self, entry: E) -> int:
        """The revision of a record (what ``expected_revision`` compares with)."""

    @abstractmethod
    def _known_generation(self) -> int:
        """The store generation the index reflects."""

    @abstractmethod
    def _io_error(self, exc: Exception, action: str) -> errors.PKCS11Error:
        """The one translation of an I/O failure (one of ``_io_errors``)."""


def check_options(options: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """ValueError naming the options of a ``[store.<backend>]`` table that are not
    ``allowed`` (``read_only`` is what ``tokenport store check`` adds)."""
    unknown = set(options) - set(allowed)
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(sorted(unknown))} (allowed: {', '.join(allowed)})"
        )


def plain_name(options: Mapping[str, Any], key: str, default: str, problem: str) -> str:
    """The option ``key``: one name inside the store directory (no ``/``, not ``.`` or
    ``..``), else ValueError ``problem``."""
    name = options.get(key, default)
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValueError(problem)
    return name
