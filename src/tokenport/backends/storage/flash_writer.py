"""Writing the log of the ``flash`` store backend: appending records, the commit and
obsolete marks, erasing sectors, and garbage collection with wear levelling.

``FlashWriter`` sits between ``flash_format.FlashLog`` (the format and its read side) and
``flash.FlashObjectStore`` (the PAL, sessions, mount and repair), which provides
the two calls that change the flash, ``_program`` and ``_erase`` (they open the write
session's dirty mark first). The policy (reserve, wear levelling) is described in
``flash``.
"""

from __future__ import annotations

import heapq
import logging

from tokenport import errors
from tokenport.backends.storage.flash_format import (
    ACTIVE,
    COMMIT_BIT,
    FREE,
    OBSOLETE_BIT,
    STAGE_B_AT,
    FlashLog,
    Record,
    Sector,
    align,
    record_crc_ok,
    stage_a,
    stage_b,
)

log = logging.getLogger("tokenport")

WEAR_SPREAD = 16  # erase-count lag of the oldest sector that makes it move anyway


class NoRoom(Exception):
    """The collector found no free sector where the reserve promised one."""


class FlashWriter(FlashLog):
    """The write side of the log (see the module docstring)."""

    def _program(self, offset: int, data: bytes | bytearray) -> None:
        raise NotImplementedError  # FlashObjectStore: inside a write session

    def _erase(self, sector: int) -> None:
        raise NotImplementedError  # FlashObjectStore: inside a write session

    def _append(self, raw: bytearray) -> tuple[int, int]:
        """Program the record ``raw`` at the head of the log; returns where it starts."""
        data_size = self._data
        aligned = align(len(raw))
        if self._head is None or self._head_pos >= data_size:
            self._activate(0)
        assert self._head is not None
        start = sector = self._head
        start_off = offset = self._head_pos
        done = 0
        while True:
            take = min(data_size - offset, len(raw) - done)
            if take:
                self._program(self._addr(sector, offset), raw[done : done + take])
            done += take
            offset += take
            if done >= len(raw):
                break
            sector = self._activate(min(aligned - done, data_size))
            offset = 0
        self._head, self._head_pos = sector, offset + (aligned - len(raw))
        return start, start_off

    def _activate(self, first_off: int) -> int:
        """Stamp the least-worn free sector as the new head of the log."""
        while self._free_heap:
            sector = self._sec[heapq.heappop(self._free_heap)[1]]
            if sector.state == FREE:
                break
        else:
            raise NoRoom()
        epoch = self._max_epoch + 1
        self._program(sector.index * self._sector_size + STAGE_B_AT,
                      stage_b(epoch, self._max_seq, first_off))
        sector.state, sector.epoch, sector.first_off = ACTIVE, epoch, first_off
        sector.hw_seq = self._max_seq
        self._by_epoch[epoch] = sector.index
        self._max_epoch = epoch
        self._head, self._head_pos = sector.index, first_off
        self._free_sectors -= 1
        return sector.index

    def _commit(self, sector: int, offset: int) -> None:
        self._program(self._addr(sector, offset) + 2, bytes([0xFF & ~COMMIT_BIT]))

    def _mark_obsolete(self, rec: Record) -> None:
        at = self._addr(rec.sector, rec.offset) + 2
        state = self._flash.read(at, 1)[0]
        if state & OBSOLETE_BIT:
            self._program(at, bytes([state & ~OBSOLETE_BIT]))

    def _erase_sector(self, sector: Sector) -> None:
        """Erase a sector and stamp its new erase count; it becomes FREE."""
        known = [s.erase_count for s in self._sec if s.erase_count is not None]
        count = (sector.erase_count if sector.erase_count is not None else max(known)) + 1
        self._erase(sector.index)
        self._program(sector.index * self._sector_size,
                      stage_a(self._n, self._sector_size, count))
        if sector.state == ACTIVE:
            self._by_epoch.pop(sector.epoch, None)
        if sector.state != FREE:
            self._free_sectors += 1
        heapq.heappush(self._free_heap, (count, sector.index))
        sector.state, sector.erase_count, sector.epoch = FREE, count, 0
        sector.first_off = sector.hw_seq = 0

    # -- space and garbage collection ------------------------------------------------------

    def _free(self) -> int:
        head_room = self._data - self._head_pos if self._head is not None else 0
        return head_room + self._free_sectors * self._data

    def _live_stats(self) -> tuple[int, int]:
        sizes = [r.aligned for r in self._index.values()]
        return sum(sizes), max(sizes, default=0)

    def _make_room(self, aligned: int, *, extra: int) -> None:
        """Collect garbage until a record of ``aligned`` bytes fits above the reserve."""
        data_size = self._data
        if self._free() - aligned >= 2 * data_size + extra + max(self._maxlive_hint, aligned):
            return
        live, largest = self._live_stats()
        self._maxlive_hint = largest
        reserve = 2 * data_size + extra + max(largest, aligned)
        # A full compaction leaves exactly capacity - live bytes free: if that is not
        # enough, fail now, before the collector moves anything.
        if self._n * data_size - live - aligned - reserve < 0:
            raise errors.DeviceMemory(
                f"tokenport store {self._image}: flash is full; record not saved"
            )
        for step in range(3 * self._n + 3):
            if self._free() - aligned >= reserve:
                return
            if not self._collect(level_wear=step == 0):
                break
        raise errors.DeviceMemory(f"tokenport store {self._image}: flash is full; record not saved")

    def _dead_sectors(self) -> list[Sector]:
        cover = self._coverage()
        dead = [s for s in self._sec
                if s.state == ACTIVE and s.index != self._head and not cover.get(s.index)]
        return sorted(dead, key=lambda s: (s.erase_count or 0, s.index))

    def _collect(self, *, level_wear: bool) -> bool:
        """One garbage-collection step; False when no step can free anything.

        In order of preference: (with ``level_wear``) move the records off the least-worn
        sector when it lags the most-worn one by more than WEAR_SPREAD erases and the
        move leaves the reserve intact; erase every sector that holds nothing live; move
        the live records of the oldest sector to the head and erase it.
        """
        active = [s for s in self._sec if s.state == ACTIVE and s.index != self._head]
        if not active:
            return False
        if level_wear:
            coldest = min(active, key=lambda s: (s.erase_count or 0, s.epoch))
            most = max(s.erase_count or 0 for s in self._sec)
            if most - (coldest.erase_count or 0) > WEAR_SPREAD:
                moving = self._touching(coldest.index)
                cost = sum(r.aligned for r in moving)
                _, largest = self._live_stats()
                if self._free() - cost >= 2 * self._data + largest:
                    self._evacuate(coldest, moving)
                    return True
        dead = self._dead_sectors()
        if dead:
            self._flash.sync()  # obsolete marks are durable before tombstones go
            for sector in dead:
                self._erase_sector(sector)
            self._flash.sync()
            return True
        tail = min(active, key=lambda s: s.epoch)
        moving = self._touching(tail.index)
        if sum(r.aligned for r in moving) > self._free():
            return False
        self._evacuate(tail, moving)
        return True

    def _evacuate(self, sector: Sector, moving: list[Record]) -> None:
        """Copy ``moving`` to the head, make the copies durable, erase ``sector``.

        Originals that start in another sector (and only continue into this one) are
        marked obsolete before the erase: they would otherwise look damaged afterwards.
        """
        elsewhere = [
            Record(r.label, r.seq, r.handle, r.kind, r.private, r.sector, r.offset, r.length)
            for r in moving if r.sector != sector.index
        ]
        for rec in moving:
            self._move(rec)
        self._flash.sync()
        for original in elsewhere:
            self._mark_obsolete(original)
        self._erase_sector(sector)
        self._flash.sync()

    def _move(self, rec: Record) -> None:
        """Copy a live record to the head of the log (same sequence number and bytes)."""
        raw = self._span(rec.sector, rec.offset, rec.length)
        if raw is None or not record_crc_ok(raw):
            log.error("tokenport store %s: dropping a corrupt record %r during compaction",
                      self._image, rec.label)
            del self._index[rec.label]
            del self._by_handle[rec.handle]
            self._sorted = None
            return
        copy = bytearray(raw)
        copy[2] = 0xFF
        sector, offset = self._append(copy)
        self._commit(sector, offset)
        rec.sector, rec.offset = sector, offset
