"""The on-flash format of the ``flash`` store backend, and reading it back.

``flash.FlashObjectStore`` writes this format; ``FlashLog`` (its base class) holds
the read side: sector headers, record headers, and the scan of the log that a mount and a
catch-up use.

Sectors (``sectors`` x ``sector_size`` bytes; 48-byte header, the rest is data area)
    Stage A, programmed right after an erase: magic ``TPFS``, format version, the geometry,
    the sector's erase count, CRC-32. Stage B, programmed when the sector joins the log:
    epoch (the order of sectors in the log), ``hw_seq`` (the highest sequence number in use
    then), ``first_off`` (where the first record that *starts* in this sector begins; the
    bytes before it continue a record from the previous sector), CRC-32.
    A sector is FREE (stage A, nothing else), ACTIVE (stage B valid), or, after a power
    cut, BLANK (erased, stage A missing) or DIRTY (anything else): both are erased and
    re-stamped when the store is next opened for writing.

The log
    The data areas of the ACTIVE sectors in epoch order form one byte stream; records are
    4-byte aligned and may span any number of sectors (objects of 64 KiB and more). A new
    sector is taken from the FREE ones with the lowest erase count.

Records (32-byte header, then label, data, CRC-32 of header+label+data)
    magic ``TR``; a state byte outside the CRCs: 0xFF while being written, commit bit
    (0x01) cleared once all bytes are programmed, obsolete bit (0x02) cleared when a newer
    record replaces it; kind (data or tombstone); total length; sequence number; handle;
    flags (bit 0: private); label length; CRC-32 of the header itself (so that a torn
    header is never trusted). Every save or destroy appends one record with the next
    sequence number: the sequence number is the record's revision and the highest one is
    the store's ``generation()``. A new label's handle is the sequence number of its first
    save, so handles are never reused.
"""

from __future__ import annotations

import heapq
import logging
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from tokenport import errors
from tokenport.backends.storage.flash_image import NorFlash

log = logging.getLogger("tokenport")

FORMAT_VERSION = 1
SECTOR_MAGIC = b"TPFS"
SECTOR_HEADER = 48
RECORD_MAGIC = b"TR"
RECORD_HEADER = 32
KIND_DATA = 1
KIND_TOMBSTONE = 2
COMMIT_BIT = 0x01
OBSOLETE_BIT = 0x02

_STAGE_A = struct.Struct("<4sB3xIII")  # magic, version, sectors, sector_size, erase count
_STAGE_B = struct.Struct("<QQI")  # epoch, hw_seq, first_off
STAGE_B_AT = _STAGE_A.size + 4
_REC = struct.Struct("<2sBBIQQBxH")  # magic, state, kind, length, seq, handle, flags, label len
CRC = struct.Struct("<I")
_ERASED_STAGE_B = b"\xff" * (_STAGE_B.size + 4)

# sector states
FREE, ACTIVE, BLANK, DIRTY = "free", "active", "blank", "dirty"
# record states found by a scan
VALID, OBSOLETE, TORN, CORRUPT = range(4)


@dataclass
class Sector:
    """What a sector header says (erase count None: unknown, the header is damaged)."""

    index: int
    state: str
    erase_count: int | None = None
    epoch: int = 0
    first_off: int = 0
    hw_seq: int = 0


@dataclass
class Record:
    """A record found by a scan: where it starts, what its header says, its status."""

    label: bytes
    seq: int
    handle: int
    kind: int
    private: bool
    sector: int
    offset: int
    length: int
    status: int = VALID

    @property
    def aligned(self) -> int:
        return align(self.length)


@dataclass(frozen=True)
class Header:
    """The fields of a record header."""

    state: int
    kind: int
    length: int
    seq: int
    handle: int
    private: bool
    label_len: int


def align(n: int) -> int:
    return (n + 3) & ~3


def encode_record(
    kind: int, seq: int, handle: int, private: bool, label: bytes, data: bytes
) -> bytearray:
    """A record as it is programmed (state byte 0xFF: not yet committed)."""
    length = RECORD_HEADER + len(label) + len(data) + CRC.size
    head = _REC.pack(RECORD_MAGIC, 0xFF, kind, length, seq, handle, int(private), len(label))
    head += CRC.pack(zlib.crc32(head))
    body = head + label + data
    return bytearray(body + CRC.pack(zlib.crc32(body)))


def parse_header(raw: bytes) -> Header | None:
    """The header of a record, or None when it is not a whole, intact record header."""
    if len(raw) < RECORD_HEADER:
        return None
    magic, state, kind, length, seq, handle, flags, label_len = _REC.unpack_from(raw)
    if magic != RECORD_MAGIC:
        return None
    check = bytearray(raw[: _REC.size])
    check[2] = 0xFF
    if zlib.crc32(check) != CRC.unpack_from(raw, _REC.size)[0]:
        return None
    minimum = RECORD_HEADER + label_len + CRC.size
    if kind not in (KIND_DATA, KIND_TOMBSTONE) or label_len == 0 or length < minimum:
        return None
    if kind == KIND_TOMBSTONE and length != minimum:
        return None
    return Header(state, kind, length, seq, handle, bool(flags & 1), label_len)


def record_crc_ok(raw: bytes | bytearray) -> bool:
    body = bytearray(raw[: len(raw) - CRC.size])
    body[2] = 0xFF
    (stored,) = CRC.unpack_from(raw, len(raw) - CRC.size)
    return zlib.crc32(body) == int(stored)


def stage_a(sectors: int, sector_size: int, erase_count: int) -> bytes:
    body = _STAGE_A.pack(SECTOR_MAGIC, FORMAT_VERSION, sectors, sector_size, erase_count)
    return body + CRC.pack(zlib.crc32(body))


def stage_b(epoch: int, hw_seq: int, first_off: int) -> bytes:
    body = _STAGE_B.pack(epoch, hw_seq, first_off)
    return body + CRC.pack(zlib.crc32(body))


class FlashLog:
    """The read side of a flash store: sector states, the log's order, scanning it.

    The attributes are the store's in-memory view of the image; FlashObjectStore sets and
    maintains them.
    """

    _image: Path
    _flash: NorFlash
    _n: int
    _sector_size: int
    _data: int
    _sec: list[Sector]
    _by_epoch: dict[int, int]
    _index: dict[bytes, Record]
    _by_handle: dict[int, bytes]
    _sorted: list[bytes] | None
    _head: int | None
    _head_pos: int
    _max_seq: int
    _max_epoch: int
    _maxlive_hint: int
    _free_sectors: int
    _free_heap: list[tuple[int, int]]
    _corrupt_seen: set[tuple[int, int, int]]

    def _report_corrupt(self, found: list[Record]) -> list[Record]:
        corrupt = [r for r in found if r.status == CORRUPT]
        for rec in corrupt:
            if (rec.sector, rec.offset, rec.seq) not in self._corrupt_seen:
                self._corrupt_seen.add((rec.sector, rec.offset, rec.seq))
                log.error(
                    "tokenport store %s: skipping a corrupt record (sector %d, offset %d)",
                    self._image, rec.sector, rec.offset,
                )
        return corrupt

    def _read_sector(self, index: int, *, check_free: bool = True) -> Sector:
        """A sector's state from its header. ``check_free``: confirm that a sector with
        no stage B has an erased data area (else it is DIRTY); a catch-up skips that for
        sectors it already knew to be free."""
        size, data = self._sector_size, self._data
        raw = self._flash.read(index * size, SECTOR_HEADER)
        body, (crc,) = raw[: _STAGE_A.size], CRC.unpack_from(raw, _STAGE_A.size)
        if zlib.crc32(body) != crc or body[:4] != SECTOR_MAGIC:
            raw = self._flash.read(index * size, size)
            return Sector(index, BLANK if raw.count(0xFF) == size else DIRTY)
        _, version, sectors, sector_size, count = _STAGE_A.unpack(body)
        if version != FORMAT_VERSION:
            raise errors.DeviceError(
                f"tokenport store {self._image}: flash format version {version} is not"
                f" supported (this tokenport reads version {FORMAT_VERSION})"
            )
        if (sectors, sector_size) != (self._n, self._sector_size):
            raise errors.DeviceError(
                f"tokenport store {self._image}: the image was formatted as {sectors} sectors"
                f" of {sector_size} bytes, not {self._n} of {self._sector_size}"
            )
        stage_b = raw[STAGE_B_AT:SECTOR_HEADER]
        if stage_b == _ERASED_STAGE_B:
            if not check_free:
                return Sector(index, FREE, count)
            area = self._flash.read(index * size + SECTOR_HEADER, data)
            return Sector(index, FREE if area.count(0xFF) == data else DIRTY, count)
        body, (crc,) = stage_b[: _STAGE_B.size], CRC.unpack_from(stage_b, _STAGE_B.size)
        if zlib.crc32(body) != crc:
            return Sector(index, DIRTY, count)
        epoch, hw_seq, first_off = _STAGE_B.unpack(body)
        if epoch == 0 or first_off > data or first_off % 4:
            return Sector(index, DIRTY, count)
        return Sector(index, ACTIVE, count, epoch, first_off, hw_seq)

    def _scan_sector(self, sector: Sector, found: list[Record], start: int | None = None) -> int:
        """Append the records that start in ``sector`` (from ``start``, by default its
        ``first_off``) to ``found``; returns where free space begins in it (the data area
        size when nothing can be appended there)."""
        data_size = self._data
        base = sector.index * self._sector_size + SECTOR_HEADER
        area = self._flash.read(base, data_size)
        offset = sector.first_off if start is None else start
        while offset < data_size:
            if area[offset] == 0xFF:
                if area.count(0xFF, offset) == data_size - offset:
                    return offset  # clean end of data
                log.debug("tokenport store %s: sector %d: unreadable bytes at %d",
                          self._image, sector.index, offset)
                return data_size
            if offset + RECORD_HEADER <= data_size:
                raw_header: bytes | None = area[offset : offset + RECORD_HEADER]
            else:
                raw_header = self._span(sector.index, offset, RECORD_HEADER)
            header = parse_header(raw_header) if raw_header is not None else None
            if header is None:
                # A header that a power cut tore (or damage): nothing after it in this
                # sector can be found; the next sector starts at its own first_off.
                log.debug("tokenport store %s: sector %d: unreadable record header at %d",
                          self._image, sector.index, offset)
                return data_size  # a torn header ends the log; garbage ends the sector
            aligned = align(header.length)
            complete = self._chain_ok(sector.index, offset, aligned)
            status = self._status(header, complete)
            label = b""
            if status == VALID:
                if offset + header.length <= data_size:
                    raw = area[offset : offset + header.length]
                else:
                    raw = self._span(sector.index, offset, header.length) or b""
                if record_crc_ok(raw):
                    label = bytes(raw[RECORD_HEADER : RECORD_HEADER + header.label_len])
                else:
                    status = CORRUPT
            found.append(Record(label, header.seq, header.handle, header.kind, header.private,
                              sector.index, offset, header.length, status))
            if offset + aligned >= data_size:
                return data_size  # the record runs to (or past) the end of this sector
            offset += aligned
        return data_size

    @staticmethod
    def _status(header: Header, complete: bool) -> int:
        if not header.state & OBSOLETE_BIT:
            return OBSOLETE
        if header.state & COMMIT_BIT:
            return TORN  # never committed: a save or a copy that a power cut stopped
        if not complete:
            # A committed record with a missing continuation: a lost sector. Tombstones
            # are never marked obsolete; theirs are erased when they hold nothing live.
            return CORRUPT if header.kind == KIND_DATA else TORN
        return VALID

    def _chain_ok(self, sector: int, offset: int, aligned: int) -> bool:
        """Whether a record of ``aligned`` bytes at ``offset`` of ``sector`` has all its
        continuation sectors, in consecutive epochs, agreeing on where it ends."""
        data_size = self._data
        remaining = offset + aligned - data_size
        current = sector
        while remaining > 0:
            nxt = self._by_epoch.get(self._sec[current].epoch + 1)
            if nxt is None or self._sec[nxt].first_off != min(remaining, data_size):
                return False
            remaining -= data_size
            current = nxt
        return True

    def _span(self, sector: int, offset: int, length: int) -> bytes | None:
        """``length`` log bytes from ``offset`` of ``sector`` on; None past the log's end."""
        parts = []
        size, data_size = self._sector_size, self._data
        while length > 0:
            take = min(length, data_size - offset)
            parts.append(self._flash.read(sector * size + SECTOR_HEADER + offset, take))
            length -= take
            if length:
                nxt = self._by_epoch.get(self._sec[sector].epoch + 1)
                if nxt is None:
                    return None
                sector, offset = nxt, 0
        return b"".join(parts)

    # -- writing -------------------------------------------------------------------------

    def _addr(self, sector: int, offset: int) -> int:
        return sector * self._sector_size + SECTOR_HEADER + offset

    def _coverage(self) -> dict[int, int]:
        """Live bytes per sector (records may span sectors)."""
        cover: dict[int, int] = {}
        data_size = self._data
        for rec in self._index.values():
            sector, offset, left = rec.sector, rec.offset, rec.aligned
            while left > 0:
                take = min(left, data_size - offset)
                cover[sector] = cover.get(sector, 0) + take
                left -= take
                if left:
                    sector, offset = self._by_epoch[self._sec[sector].epoch + 1], 0
        return cover

    def _touching(self, index: int) -> list[Record]:
        """The live records with bytes in sector ``index``, in log order."""
        data_size = self._data
        found = []
        for rec in self._index.values():
            sector, offset, left = rec.sector, rec.offset, rec.aligned
            while True:
                if sector == index:
                    found.append(rec)
                    break
                left -= data_size - offset
                if left <= 0:
                    break
                sector, offset = self._by_epoch[self._sec[sector].epoch + 1], 0
        return sorted(found, key=lambda r: (self._sec[r.sector].epoch, r.offset))

    def _catch_up(self) -> bool:
        """Bring a loaded view up to date when other processes have only appended to the
        log since (the usual case): re-read the sector headers and scan what is new.
        False when anything else happened (a collection, a repair): load fully instead."""
        if not self._sec:
            return False
        fresh = [self._read_sector(i, check_free=s.state != FREE) for i, s in enumerate(self._sec)]
        added = []
        for old, now in zip(self._sec, fresh):
            if old.state == ACTIVE:
                if (now.state, now.epoch, now.first_off) != (ACTIVE, old.epoch, old.first_off):
                    return False
            elif now.state == ACTIVE and old.state == FREE and now.epoch > self._max_epoch:
                added.append(now)
            elif (now.state, now.erase_count) != (old.state, old.erase_count):
                return False
        added.sort(key=lambda s: s.epoch)
        for sector in added:
            self._sec[sector.index] = sector
            self._by_epoch[sector.epoch] = sector.index
        found: list[Record] = []
        head, head_pos = self._head, self._head_pos
        if head is not None and head_pos < self._data:
            head_pos = self._scan_sector(self._sec[head], found, start=head_pos)
        for sector in added:
            head, head_pos = sector.index, self._scan_sector(sector, found)
        self._report_corrupt(found)
        for rec in found:
            if rec.status != VALID:
                continue
            current = self._index.get(rec.label)
            if current is not None and rec.seq <= current.seq:
                continue
            if current is not None:
                self._by_handle.pop(current.handle, None)
                del self._index[rec.label]
            if rec.kind == KIND_DATA:
                self._index[rec.label] = rec
                self._by_handle[rec.handle] = rec.label
                self._maxlive_hint = max(self._maxlive_hint, rec.aligned)
            self._sorted = None
        self._max_seq = max([self._max_seq] + [s.hw_seq for s in added] + [r.seq for r in found])
        self._max_epoch = max([self._max_epoch] + [s.epoch for s in added])
        self._head, self._head_pos = head, head_pos
        self._free_sectors = sum(1 for s in self._sec if s.state == FREE)
        self._free_heap = [(s.erase_count or 0, s.index) for s in self._sec if s.state == FREE]
        heapq.heapify(self._free_heap)
        return True
