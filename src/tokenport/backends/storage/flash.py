"""The storage port (the PAL) on an emulated NOR flash image (the ``flash`` backend).

A small log-structured flash translation layer over ``flash_image.NorFlash``, built the way
a microcontroller port keeps PKCS #11 objects in on-chip flash: records are appended, never
rewritten; an erase is the only way back to 0xFF; a power cut may stop any write after any
byte. Everything here is crash safe at byte granularity (tests/crash proves it).

The on-flash format (sectors, the log, records) is described in ``flash_format``.

Operations
    save: append the record, commit it, ``sync``, then mark the previous record obsolete.
    destroy: append a tombstone (label, handle, next sequence number), commit, ``sync``,
    mark the record obsolete. The commit byte (with the CRC) is the atomic step: before
    it the old record is the newest valid one, after it the new one is.

Mount (every open, and whenever a process finds a crashed writer's session)
    Read every sector header, then scan the log: each sector from its ``first_off``; a
    record is valid when committed, not obsolete, complete (its span crosses sectors of
    consecutive epochs whose ``first_off`` agree) and its CRC matches. Per label the valid
    record with the highest sequence number wins (a tombstone means "absent"). Torn and
    uncommitted records are ignored; corrupt ones (committed, CRC wrong) are logged and
    skipped. Then, with the exclusive lock: BLANK/DIRTY sectors are erased and re-stamped,
    records that lost to a newer one (an interrupted save, destroy or garbage collection)
    are marked obsolete, and sectors left with nothing live by an interrupted garbage
    collection are erased.

Garbage collection and wear levelling
    A save needs its own size plus a reserve of ``3 x data area + largest live record``
    free; a destroy needs ``2 x data area + largest live record``. The reserve guarantees
    that the collector can always make progress. When space runs short the collector
    erases sectors that hold nothing live, else moves the live records of the oldest
    sector to the head of the log and erases it. Wear levelling: new sectors are taken
    lowest erase count first, and when the least-worn sector in use lags the most-worn one
    by more than ``WEAR_SPREAD`` erases, its records are moved away (static records do not
    pin a sector forever). When even a full compaction could not make room, the save fails
    with ``DeviceMemory`` before anything is written. Capacity: with ``N`` sectors of data
    area ``D`` (sector size - 48), live records fit while their total, plus the record
    being saved, plus the reserve stays within ``N x D``; ``info()`` reports the figures.

Several processes
    The lock-and-counter file ``<image>.lock`` (``storage.lock``): writers hold it exclusively
    for a whole operation, readers take it shared while they read record bytes. When the
    counter's ``serial`` changed, a process catches up: it scans only what others appended,
    or the whole image after a garbage collection. ``generation()`` is one pread (and
    the two ``stat`` calls that check the image and the lock file, see below).

Errors (translated here, once)
    A full store or disk -> ``DeviceMemory`` (the store is as it was); I/O errors and
    images that are not tokenport flash images or have another geometry -> ``DeviceError``;
    an unknown handle -> ``ObjectHandleInvalid``.

A damaged or vanished image (issue 9)
    The image is read with ``pread``, never memory-mapped (``flash_image``), so an image
    that shrinks under an open store cannot kill the process. Before every operation the
    store checks, with one ``stat``, that the image path still names the file it opened
    and that its size still matches the geometry; if the image was truncated, deleted or
    replaced, every call raises ``DeviceError`` and nothing is written, until the store is
    closed and opened again. A write session on an image that was made read-only
    (permissions) is refused with ``DeviceError`` before anything is written. A failed
    write leaves at worst an uncommitted record, which every mount ignores: the store reads
    as it was.
"""

from __future__ import annotations

import errno
import heapq
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tokenport import errors
from tokenport.backends.storage.base import CountedStore, check_options, plain_name
from tokenport.backends.storage.flash_format import (
    ACTIVE,
    BLANK,
    CRC,
    DIRTY,
    FREE,
    KIND_DATA,
    KIND_TOMBSTONE,
    RECORD_HEADER,
    SECTOR_HEADER,
    VALID,
    Record,
    Sector,
    align,
    encode_record,
    record_crc_ok,
    stage_a,
)
from tokenport.backends.storage.flash_image import FlashError, NorFlash
from tokenport.backends.storage.flash_writer import FlashWriter, NoRoom
from tokenport.backends.storage.lock import MetaFile, MetaState, fresh_serial
from tokenport.backends.storage.pal_args import (
    Bytes,
    check_handle,
    check_label,
)
from tokenport.ports.storage import RevisionMismatch

log = logging.getLogger("tokenport")

DEFAULT_IMAGE = "tokenport.flash"  # inside the store directory, see from_config
DEFAULT_SECTORS = 64
DEFAULT_SECTOR_SIZE = 4096
MAX_IMAGE_BYTES = 1 << 30
MIN_SECTORS = 4
MIN_SECTOR_SIZE = 128
MAX_LABEL = 0xFFFF


class FlashObjectStore(FlashWriter, CountedStore[Record]):
    """An ObjectStore in an emulated NOR flash image (created and formatted on first use).

    ``flash`` replaces the default ``NorFlash(image, sectors, sector_size)`` device model
    (a porter's own model, or the power-cutting one of tests/crash); ``image`` still names
    the store (its lock file is ``<image>.lock``). ``read_only``: inspection only, no
    repair, no write (store check).
    """

    _what = "image"
    _max_label = MAX_LABEL
    _io_errors = (OSError, FlashError)

    def __init__(
        self, image: Path | str, sectors: int = DEFAULT_SECTORS,
        sector_size: int = DEFAULT_SECTOR_SIZE, *, flash: NorFlash | None = None,
        read_only: bool = False,
    ) -> None:
        if isinstance(sectors, bool) or not isinstance(sectors, int) or sectors < MIN_SECTORS:
            raise errors.ArgumentsBad(f"a flash store needs at least {MIN_SECTORS} sectors")
        if (isinstance(sector_size, bool) or not isinstance(sector_size, int)
                or sector_size < MIN_SECTOR_SIZE or sector_size % 4):
            raise errors.ArgumentsBad(
                f"flash sector size must be a multiple of 4, at least {MIN_SECTOR_SIZE}"
            )
        self._image = self._where = Path(image).absolute()
        self._n = sectors
        self._sector_size = sector_size
        self._data = sector_size - SECTOR_HEADER
        if flash is None:
            flash = NorFlash(self._image, sectors, sector_size)
        elif (flash.sectors, flash.sector_size) != (sectors, sector_size):
            raise errors.ArgumentsBad("the flash device has another geometry")
        self._flash = flash
        super().__init__(
            MetaFile(self._image.with_name(self._image.name + ".lock")), read_only=read_only
        )
        self._session: MetaState | None = None
        self._touched = False
        self._corrupt_seen: set[tuple[int, int, int]] = set()  # (sector, offset, seq)
        self._reset_view()

    def __repr__(self) -> str:
        return f"FlashObjectStore({str(self._image)!r}, {self._n}, {self._sector_size})"

    @property
    def image(self) -> Path:
        return self._image

    def _reset_view(self) -> None:
        self._serial: int | None = None
        self._sec: list[Sector] = []
        self._by_epoch: dict[int, int] = {}
        self._head: int | None = None
        self._head_pos = 0
        self._free_sectors = 0
        self._free_heap: list[tuple[int, int]] = []  # (erase count, index) of FREE sectors
        self._max_seq = 0
        self._max_epoch = 0
        self._index: dict[bytes, Record] = {}
        self._by_handle: dict[int, bytes] = {}
        self._sorted: list[bytes] | None = None
        self._maxlive_hint = 0

    # -- the PAL (initialize, find_object, enumerate_objects, generation: CountedStore) ----

    def save_object(
        self, label: Bytes, data: Bytes, *, private: bool = False,
        expected_revision: int | None = None,
    ) -> int:
        key = check_label(label, MAX_LABEL)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise errors.ArgumentsBad("record data must be bytes")
        value = bytes(data)
        with self._lock, self._guard("save"):
            self._ready()
            with self._writing():
                old = self._index.get(key)
                if expected_revision is not None and (
                    (old.seq if old else 0) != expected_revision
                ):
                    raise RevisionMismatch("the record changed since it was read")
                seq = self._max_seq + 1
                handle = old.handle if old else seq
                raw = encode_record(KIND_DATA, seq, handle, bool(private), key, value)
                self._make_room(align(len(raw)), extra=self._data)
                self._max_seq = seq
                sector, offset = self._append(raw)
                self._commit(sector, offset)
                self._flash.sync()
                if old is not None:
                    self._mark_obsolete(old)
                rec = Record(key, seq, handle, KIND_DATA, bool(private), sector, offset, len(raw))
                if old is None:
                    self._sorted = None
                self._index[key] = rec
                self._by_handle[handle] = key
                self._maxlive_hint = max(self._maxlive_hint, rec.aligned)
                return handle

    def get_object_value(self, handle: int) -> tuple[bytes, bool]:
        number = check_handle(handle)
        with self._lock, self._guard("read"):
            self._ready()
            for _ in range(5):
                self._view()
                with self._meta.shared():
                    state = self._meta.read()
                    if state is None or state.dirty:
                        continue  # a writer died: _view repairs
                    if state.serial != self._serial:
                        self._follow(state)
                    label = self._by_handle.get(number)
                    if label is None:
                        break
                    rec = self._index[label]
                    raw = self._span(rec.sector, rec.offset, rec.length)
                    if raw is None or not record_crc_ok(raw):
                        log.error(
                            "tokenport store %s: record %r is corrupt", self._image, rec.label
                        )
                        raise errors.DeviceError(
                            f"tokenport store {self._image}: a stored record is corrupt"
                        )
                    start = RECORD_HEADER + len(rec.label)
                    return raw[start : len(raw) - CRC.size], rec.private
            else:
                raise errors.DeviceError(f"tokenport store {self._image}: cannot get a stable view")
        raise errors.ObjectHandleInvalid(f"tokenport store: no record with handle {handle}")

    def destroy_object(self, handle: int) -> None:
        number = check_handle(handle)
        with self._lock, self._guard("destroy"):
            self._ready()
            with self._writing():
                label = self._by_handle.get(number)
                if label is None:
                    raise errors.ObjectHandleInvalid(
                        f"tokenport store: no record with handle {handle}"
                    )
                rec = self._index[label]
                seq = self._max_seq + 1
                raw = encode_record(KIND_TOMBSTONE, seq, rec.handle, False, label, b"")
                self._make_room(align(len(raw)), extra=0)
                self._max_seq = seq
                sector, offset = self._append(raw)
                self._commit(sector, offset)
                self._flash.sync()
                self._mark_obsolete(rec)
                del self._index[label]
                del self._by_handle[number]
                self._sorted = None

    # -- beyond the PAL: what `tokenport store info` shows --------------------------------

    def erase_counts(self) -> list[int]:
        """The erase count of every sector, in sector order."""
        with self._lock, self._guard("info"):
            self._ready()
            self._view()
            return [s.erase_count or 0 for s in self._sec]

    def check(self) -> list[tuple[bytes | None, str]]:
        """Read-only verification for ``tokenport store check``: the mount scan checks
        every record's CRC; this reports the records it had to skip (their labels cannot
        be trusted, so None)."""
        with self._lock, self._guard("check"):
            self._ready()
            self._view()
            return [
                (None, (f"record seq {seq} at sector {sector} offset {offset} is corrupt (CRC "
                       "or header) and is ignored"))
                for sector, offset, seq in sorted(self._corrupt_seen)
            ]

    def info(self) -> dict[str, Any]:
        """Geometry, usage and wear of the image."""
        with self._lock, self._guard("info"):
            self._ready()
            self._view()
            live, largest = self._live_stats()
            states = {name: 0 for name in (FREE, ACTIVE, BLANK, DIRTY)}
            for sector in self._sec:
                states[sector.state] += 1
            counts = [s.erase_count or 0 for s in self._sec]
            data = self._data
            return {
                "backend": "flash",
                "image": str(self._image),
                "sectors": self._n,
                "sector_size": self._sector_size,
                "data_bytes_per_sector": data,
                "records": len(self._index),
                "generation": self._max_seq,
                "live_bytes": live,
                "largest_record_bytes": largest,
                "free_bytes": self._free(),
                "capacity_bytes": self._n * data,
                # the largest record (header + label + data) an empty image takes
                "max_record_bytes": max(0, (self._n - 3) * data // 2) & ~3,
                "sector_states": states,
                "erase_counts": counts,
                "erase_count_min": min(counts),
                "erase_count_max": max(counts),
                "corrupt_records_skipped": len(self._corrupt_seen),
            }

    # -- opening and sessions (the hooks of CountedStore) -----------------------------------

    def _is_open(self) -> bool:
        return self._flash.is_open

    def _check_files(self) -> None:
        # Every operation: the image must still be the file we opened, at its full
        # size (else FlashError: DeviceError, and nothing touches it); the lock file
        # is followed if someone replaced it (storage.lock).
        self._flash.verify()
        if self._meta.follow_path():
            self._serial = None

    def _open(self) -> None:
        """Open (creating and formatting) the image on first use; lock held."""
        try:
            self._flash.open(create=not self._read_only)
            self._meta.open()
        except (OSError, FlashError) as exc:
            self._flash.close()
            self._meta.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM, errno.EROFS):
                reason += " (is the store read-only?)"
            raise errors.DeviceError(
                f"tokenport store {self._image}: cannot open: {reason}"
            ) from exc
        try:
            if self._read_only:
                self._view()
            else:
                with self._writing():
                    pass  # mounts (and repairs) the image
        except BaseException:
            self._flash.close()
            self._meta.close()
            self._reset_view()
            raise

    def _close_files(self) -> None:
        self._flash.close()

    def _reload(self) -> None:
        self._load(repair=False)

    def _follow(self, state: MetaState) -> None:
        self._refresh()
        self._serial = state.serial

    def _repair(self) -> None:
        with self._writing():
            pass

    def _revision(self, entry: Record) -> int:
        return entry.seq

    def _known_generation(self) -> int:
        return self._max_seq

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write session: exclusive lock, current (repaired) view, counter updated."""
        self._check_writable()
        with self._meta.exclusive():
            state = self._meta.read()
            if state is None:  # a new store, or a lost lock file: the image tells
                state = MetaState(fresh_serial(), 0, 0, True)
            self._session, self._touched = state, False
            try:
                if state.dirty or self._serial is None:
                    if self._load(repair=True):
                        self._load(repair=False)  # see what the repair made of it
                elif state.serial != self._serial:
                    self._refresh()  # another process's clean session
                yield
            except errors.PKCS11Error:
                # Refused (full, revision mismatch, bad handle) with the flash consistent.
                self._end_session()
                raise
            except NoRoom:
                # Out of sectors in the middle of a record (the reserve should prevent it):
                # the record is torn, so the view is rebuilt (and repaired) next time.
                self._serial = None
                raise errors.DeviceMemory(f"tokenport store {self._image}: flash is full") from None
            except Exception:
                self._serial = None  # the view may be half-updated: rebuild it next time
                raise
            self._end_session()

    def _end_session(self) -> None:
        state = self._session
        assert state is not None
        if self._touched or state.dirty or state.generation != self._max_seq:
            done = MetaState(state.serial + 2, self._max_seq, 0, False)
            try:
                self._meta.write(done)
            except OSError as exc:  # the flash is consistent; the next session repairs
                log.error("tokenport store %s: cannot update the lock file: %s",
                          self._image, exc)
                self._serial = None
            else:
                self._serial = done.serial
        else:
            self._serial = state.serial
        self._session = None

    def _touch(self) -> None:
        """Before the first change to the flash in a session: mark the session dirty."""
        if not self._touched:
            state = self._session
            assert state is not None, "flash changed outside a write session"
            self._meta.write(MetaState(state.serial + 1, state.generation, 0, True))
            self._touched = True

    def _program(self, offset: int, data: bytes | bytearray) -> None:
        self._touch()
        self._flash.program(offset, data)

    def _erase(self, sector: int) -> None:
        self._touch()
        self._flash.erase(sector)

    def _io_error(self, exc: Exception, action: str) -> errors.PKCS11Error:
        """The one translation of I/O failures: a full disk (the image file of a sparse or
        copy-on-write file system) is DeviceMemory, everything else DeviceError. The view
        is rebuilt at the next call."""
        self._serial = None
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return errors.DeviceMemory(
                f"tokenport store {self._image}: {action}: the disk is full ({reason})"
            )
        return errors.DeviceError(f"tokenport store {self._image}: {action} failed: {reason}")

    # -- mount ---------------------------------------------------------------------------

    def _load(self, *, repair: bool) -> bool:
        """Rebuild the view from the image. With ``repair`` (exclusive lock, in a write
        session) also repair what a power cut left behind; True when that changed the
        flash (the caller then loads again, without repair, to see the result)."""
        self._reset_view_keep_serial()
        sectors = [self._read_sector(i) for i in range(self._n)]
        self._sec = sectors
        changed = False
        known = [s.erase_count for s in sectors if s.erase_count is not None]
        if not known:
            if any(s.state != BLANK for s in sectors):
                raise errors.DeviceError(
                    f"tokenport store {self._image}: not a tokenport flash image"
                )
            if not repair:
                return False  # an unformatted image: nothing stored
            for s in sectors:
                self._program(s.index * self._sector_size, stage_a(self._n, self._sector_size, 0))
            self._flash.sync()
            return True
        if repair:
            estimate = max(known)
            for s in sectors:
                if s.state == BLANK:
                    self._program(s.index * self._sector_size,
                                  stage_a(self._n, self._sector_size, estimate))
                    changed = True
                elif s.state == DIRTY:
                    count = s.erase_count if s.erase_count is not None else estimate
                    self._erase(s.index)
                    self._program(s.index * self._sector_size,
                                  stage_a(self._n, self._sector_size, count + 1))
                    changed = True
        order = sorted((s for s in sectors if s.state == ACTIVE), key=lambda s: (s.epoch, s.index))
        self._by_epoch = {s.epoch: s.index for s in order}
        found: list[Record] = []
        head_pos = self._data
        for sector in order:
            head_pos = self._scan_sector(sector, found)
        top = max([s.hw_seq for s in order] + [r.seq for r in found], default=0)
        best: dict[bytes, Record] = {}
        epoch_of = {s.index: s.epoch for s in order}
        for rec in found:
            if rec.status != VALID:
                continue
            other = best.get(rec.label)
            if other is None or (rec.seq, epoch_of[rec.sector]) > (
                other.seq, epoch_of[other.sector]
            ):
                best[rec.label] = rec
        corrupt = self._report_corrupt(found)
        if repair:
            losers = [
                r for r in found
                if r.status == VALID and r.kind == KIND_DATA and best[r.label] is not r
            ]
            if losers or corrupt:
                for rec in losers + corrupt:
                    self._mark_obsolete(rec)
                changed = True
            if any(r.seq == best[r.label].seq for r in losers):
                # An interrupted garbage collection: finish it, erase what it emptied.
                self._flash.sync()
                self._index = {k: r for k, r in best.items() if r.kind == KIND_DATA}
                self._max_epoch = max(self._by_epoch, default=0)
                self._head = order[-1].index if order else None
                for sector in self._dead_sectors():
                    self._erase_sector(sector)
            if changed:
                self._flash.sync()
        self._index = {label: r for label, r in best.items() if r.kind == KIND_DATA}
        self._by_handle = {r.handle: label for label, r in self._index.items()}
        self._sorted = None
        self._max_seq = top
        self._max_epoch = max(self._by_epoch, default=0)
        self._head = order[-1].index if order else None
        self._head_pos = head_pos if order else 0
        self._free_sectors = sum(1 for s in sectors if s.state == FREE)
        self._free_heap = [(s.erase_count or 0, s.index) for s in sectors if s.state == FREE]
        heapq.heapify(self._free_heap)
        self._maxlive_hint = max((r.aligned for r in self._index.values()), default=0)
        return changed

    def _refresh(self) -> None:
        """After another process's clean session: catch up, or load fully."""
        if not self._catch_up():
            self._load(repair=False)

    def _reset_view_keep_serial(self) -> None:
        serial = self._serial
        self._reset_view()
        self._serial = serial


def from_config(store_dir: Path, options: Mapping[str, Any]) -> FlashObjectStore:
    """The ``flash`` storage port: ``[store.flash] sectors = 64``, ``sector_size = 4096``
    (a multiple of 4, at least 128) and ``image = "tokenport.flash"`` (the image file in the
    store directory). An existing image must have the geometry it was formatted with."""
    check_options(options, ("sectors", "sector_size", "image", "read_only"))
    sectors = options.get("sectors", DEFAULT_SECTORS)
    sector_size = options.get("sector_size", DEFAULT_SECTOR_SIZE)
    for key, value in (("sectors", sectors), ("sector_size", sector_size)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{key} must be an integer")
    if sectors < MIN_SECTORS:
        raise ValueError(f"sectors must be at least {MIN_SECTORS}")
    if sector_size < MIN_SECTOR_SIZE or sector_size % 4:
        raise ValueError(f"sector_size must be a multiple of 4, at least {MIN_SECTOR_SIZE}")
    if sectors * sector_size > MAX_IMAGE_BYTES:
        raise ValueError(f"sectors x sector_size must be at most {MAX_IMAGE_BYTES} bytes")
    name = plain_name(options, "image", DEFAULT_IMAGE, "image must be a plain file name")
    return FlashObjectStore(store_dir / name, sectors, sector_size,
                            read_only=bool(options.get("read_only", False)))
