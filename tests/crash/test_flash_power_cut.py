"""Power cuts at every programmed byte (or word) of the flash backend.

A FaultyFlash counts programmed units (bytes or 4-byte words) and erases, and cuts the
power before unit k+1: the first k units are on the flash, nothing after. For every k from
0 to the number of units an operation needs, the test restores the image the operation
started from, runs the operation until the cut, then mounts the image the way the next
process would (which repairs it) and checks:

* every other record reads back exactly as before (nothing acknowledged is lost);
* the record under write is complete: its old value or its new value (old or absent for a
  destroy), the new one when the operation finished; handles are unchanged;
* the store works afterwards: a further save succeeds and survives another mount.

Operations: a save of a new label, a replace that opens a new sector, a record spanning
three sectors, a destroy, a save that needs the garbage collector (erasing dead sectors
and moving the live records of the oldest one), and a save during which the collector
evacuates the least-worn sector for wear levelling. Variants: byte and word programming,
torn units (a random subset of the bits cleared at the cut, a random subset of bytes
erased by a cut erase), and a second power cut during the repair that follows the first.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tokenport.backends.storage import flash_format, flash_writer
from tokenport.backends.storage.flash import FlashObjectStore
from tokenport.backends.storage.flash_image import NorFlash

from .conftest import Tally, full_run

GEOMETRY = (16, 256)  # 208 data bytes per sector: records span sectors, GC runs often
Contents = dict[bytes, tuple[bytes, bool]]


class PowerCut(BaseException):
    """The power went off (a BaseException, so no cleanup code handles it)."""


class FaultyFlash(NorFlash):
    """A NorFlash that loses power after ``budget`` programmed units and erases."""

    def __init__(
        self, path: Path, sectors: int, sector_size: int, *, budget: int | None = None,
        unit: int = 1, torn: random.Random | None = None,
    ) -> None:
        super().__init__(path, sectors, sector_size)
        self.budget = budget
        self.unit = unit
        self.torn = torn
        self.used = 0
        self.erases = 0
        self.dead = False

    def _spend(self) -> bool:
        """Count one unit; False when the power is cut before it."""
        if self.dead:
            raise PowerCut()
        if self.budget is not None and self.used >= self.budget:
            self.dead = True
            return False
        self.used += 1
        return True

    def program(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        raw = bytes(data)
        for start in range(0, len(raw), self.unit):
            piece = raw[start : start + self.unit]
            if not self._spend():
                if self.torn is not None:
                    self._tear_program(offset + start, piece)
                raise PowerCut()
            super().program(offset + start, piece)

    def erase(self, sector: int) -> None:
        if not self._spend():
            if self.torn is not None:
                self._tear_erase(sector)
            raise PowerCut()
        self.erases += 1
        super().erase(sector)

    def sync(self) -> None:
        pass  # in-process cuts keep what was written; host durability is not under test

    def _tear_program(self, offset: int, piece: bytes) -> None:
        assert self.torn is not None
        old = self.read(offset, len(piece))
        torn = bytearray(old)
        for i, (was, want) in enumerate(zip(old, piece)):
            clear = was & ~want  # the bits this unit would clear: clear a random part
            torn[i] = was & ~(clear & self.torn.randrange(256))
        super().program(offset, torn)

    def _tear_erase(self, sector: int) -> None:
        assert self.torn is not None
        base = sector * self.sector_size
        raw = bytearray(self.read(base, self.sector_size))
        for i in range(len(raw)):
            if self.torn.random() < 0.5:
                raw[i] = 0xFF
        self._write(base, bytes(raw))


@dataclass
class Scenario:
    name: str
    build: Callable[[FlashObjectStore, random.Random], None]
    op: Callable[[FlashObjectStore], object]
    target: bytes
    new: tuple[bytes, bool] | None  # the target's value once the operation finished


def contents(store: FlashObjectStore) -> Contents:
    return {e.label: store.get_object_value(e.handle) for e in store.enumerate_objects()}


def handles(store: FlashObjectStore) -> dict[bytes, int]:
    return {e.label: e.handle for e in store.enumerate_objects()}


def _value(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def _base_records(store: FlashObjectStore, rng: random.Random) -> None:
    """Records with some history: replaced and destroyed ones leave garbage behind."""
    for i in range(6):
        store.save_object(b"rec/%d" % i, _value(rng, rng.randint(0, 60)), private=i % 2 == 0)
    store.save_object(b"rec/1", _value(rng, 30))
    store.destroy_object(store.find_object(b"rec/4") or 0)
    store.save_object("Gerätezertifikat".encode(), _value(rng, 40))


def _fill_to_gc(target: bytes, size: int) -> Callable[[FlashObjectStore, random.Random], None]:
    """Churn until saving ``size`` bytes under ``target`` needs the garbage collector."""

    def build(store: FlashObjectStore, rng: random.Random) -> None:
        _base_records(store, rng)
        big = flash_format.RECORD_HEADER + len(target) + size + 4
        for i in range(10_000):
            data_size = store._data
            _, largest = store._live_stats()
            reserve = 3 * data_size + max(largest, big)
            if store._free() - flash_format.align(big) < reserve:
                return  # the next save of the target collects garbage first
            store.save_object(b"churn/%d" % (i % 3), _value(rng, rng.randint(20, 90)))
        raise AssertionError("the store never filled up")

    return build


def scenarios() -> list[Scenario]:
    new_value = (b"N" * 50, True)
    spanning = (bytes(range(256)) * 2, False)  # 512 bytes: three sectors of 208
    gc_value = (b"G" * 70, False)
    return [
        Scenario("save-new", _base_records,
                 lambda s: s.save_object(b"new", *new_value[:1], private=True), b"new", new_value),
        Scenario("replace", _base_records,
                 lambda s: s.save_object(b"rec/2", b"R" * 150), b"rec/2", (b"R" * 150, False)),
        Scenario("span-3-sectors", _base_records,
                 lambda s: s.save_object(b"rec/3", spanning[0]), b"rec/3", spanning),
        Scenario("destroy", _base_records,
                 lambda s: s.destroy_object(s.find_object(b"rec/0") or 0), b"rec/0", None),
        Scenario("gc-save", _fill_to_gc(b"rec/5", 70),
                 lambda s: s.save_object(b"rec/5", gc_value[0]), b"rec/5", gc_value),
    ]


class Harness:
    def __init__(self, tmp: Path, scenario: Scenario) -> None:
        self.scenario = scenario
        self.base_image = tmp / "base" / "flash.img"
        self.image = tmp / "work" / "flash.img"
        self.image.parent.mkdir(parents=True)
        store = FlashObjectStore(self.base_image, *GEOMETRY)
        store.initialize()
        scenario.build(store, random.Random(scenario.name))
        self.before = contents(store)
        self.handles = handles(store)
        self.generation = store.generation()
        store.close()
        self.base = self.base_image.read_bytes()

    def restore(self, content: bytes | None = None) -> None:
        self.image.write_bytes(self.base if content is None else content)
        self.image.with_name("flash.img.lock").unlink(missing_ok=True)

    def run(self, flash: FaultyFlash) -> bool:
        """Run the operation on the work image until it finishes (True) or the power goes."""
        store = FlashObjectStore(self.image, *GEOMETRY, flash=flash)
        try:
            store.initialize()
            assert flash.used == 0, "mounting a clean image must not write"
            self.scenario.op(store)
            return True
        except PowerCut:
            return False
        finally:
            flash.close()  # the process is gone: descriptors close, nothing else happens
            store._meta.close()

    def measure(self, unit: int) -> tuple[int, int]:
        """(units, erases) the uncut operation needs."""
        self.restore()
        flash = FaultyFlash(self.image, *GEOMETRY, unit=unit)
        assert self.run(flash)
        return flash.used, flash.erases

    def check(self, finished: bool) -> None:
        """Mount the crashed image as the next process would, and check the invariants."""
        target, new = self.scenario.target, self.scenario.new
        store = FlashObjectStore(self.image, *GEOMETRY)
        store.initialize()
        got = contents(store)
        old = self.before.get(target)
        allowed = [new] if finished else [old, new]
        assert got.get(target) in allowed, (target, got.get(target))
        others = {k: v for k, v in got.items() if k != target}
        assert others == {k: v for k, v in self.before.items() if k != target}
        for label, handle in handles(store).items():
            if label in self.handles:
                assert handle == self.handles[label]
        assert store.generation() >= self.generation
        store.save_object(b"after the crash", b"fine")
        store.close()
        again = FlashObjectStore(self.image, *GEOMETRY)
        final = contents(again)
        assert final == {**got, b"after the crash": (b"fine", False)}
        again.close()


def _points(total: int, step: int) -> Iterator[int]:
    """Every crash point in a full run; else every ``step``-th, plus both ends."""
    for k in range(total + 1):
        if full_run() or k % step == 0 or k < 3 or k > total - 3:
            yield k


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: s.name)
@pytest.mark.parametrize("unit", [1, 4], ids=["byte", "word"])
def test_power_cut_at_every_unit(tmp_path: Path, scenario: Scenario, unit: int,
                                 tally: Tally) -> None:
    harness = Harness(tmp_path, scenario)
    total, erases = harness.measure(unit)
    if scenario.name == "gc-save":
        assert erases > 0, "the scenario must make the collector erase"
    tried = 0
    for k in _points(total, 7):
        harness.restore()
        finished = harness.run(FaultyFlash(harness.image, *GEOMETRY, budget=k, unit=unit))
        assert finished == (k >= total)
        harness.check(finished)
        tried += 1
    tally.add("flash", f"{'byte' if unit == 1 else 'word'} cuts", tried)
    assert tried > 0


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: s.name)
def test_power_cut_with_torn_units(tmp_path: Path, scenario: Scenario, tally: Tally) -> None:
    """The cut unit is half-programmed (or the cut erase half-done)."""
    harness = Harness(tmp_path, scenario)
    total, _ = harness.measure(1)
    rng = random.Random(1)
    tried = 0
    for k in _points(total, 11):
        harness.restore()
        flash = FaultyFlash(harness.image, *GEOMETRY, budget=k, torn=rng)
        harness.check(harness.run(flash))
        tried += 1
    tally.add("flash", "torn cuts", tried)


def _gc_step(level_wear: bool) -> Callable[[FlashObjectStore], None]:
    """One garbage-collection step, driven directly inside a write session."""

    def op(store: FlashObjectStore) -> None:
        with store._lock, store._writing():
            assert store._collect(level_wear=level_wear)

    return op


def _rotation_build(store: FlashObjectStore, rng: random.Random) -> None:
    """Garbage everywhere but no sector wholly dead: the step must move live records."""
    _fill_to_gc(b"rec/5", 70)(store, rng)
    with store._lock, store._writing():
        while store._dead_sectors():
            store._collect(level_wear=False)
    assert not store._dead_sectors()


def _wear_build(store: FlashObjectStore, rng: random.Random) -> None:
    """Churn until the least-worn sector holds the continuation of a record that starts
    in an earlier sector, and moving its records leaves the reserve intact."""
    _base_records(store, rng)
    for i in range(5000):
        store.save_object(b"span/%d" % (i % 2), _value(rng, rng.randint(150, 400)))
        active = [s for s in store._sec if s.state == "active" and s.index != store._head]
        if not active:
            continue
        coldest = min(active, key=lambda s: (s.erase_count or 0, s.epoch))
        if max(s.erase_count or 0 for s in store._sec) == (coldest.erase_count or 0):
            continue
        moving = store._touching(coldest.index)
        if not any(r.sector != coldest.index for r in moving):
            continue
        _, largest = store._live_stats()
        if store._free() - sum(r.aligned for r in moving) >= 2 * store._data + largest:
            return
    raise AssertionError("no state found for a wear-levelling move")


@pytest.mark.parametrize("kind", ["rotation", "wear-move"])
def test_power_cut_in_a_garbage_collection_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, tally: Tally
) -> None:
    """Cuts during one collector step: the records of the oldest sector (or, for wear
    levelling, of the least-worn one, including a record that only continues into it)
    are copied to the head, the originals retired and the sector erased."""
    build = _rotation_build if kind == "rotation" else _wear_build
    # The step changes no record: the target is a label that does not exist.
    scenario = Scenario(kind, build, _gc_step(kind == "wear-move"), b"", None)
    harness = Harness(tmp_path, scenario)
    if kind == "wear-move":  # any lag now makes the step move the least-worn sector
        monkeypatch.setattr(flash_writer, "WEAR_SPREAD", 0)
    total, erases = harness.measure(1)
    assert erases == 1 and total > 60, (total, erases)  # copies, then one erase
    tried = 0
    rng = random.Random(2)
    for k in _points(total, 5):
        for torn in (None, rng) if k % 2 else (None,):
            harness.restore()
            harness.check(harness.run(FaultyFlash(harness.image, *GEOMETRY, budget=k, torn=torn)))
            tried += 1
    tally.add("flash", "gc-step cuts", tried)


def test_power_cut_during_the_repair_after_a_power_cut(tmp_path: Path, tally: Tally) -> None:
    """A second cut while the next mount repairs the first one's damage."""
    scenario = scenarios()[-1]  # gc-save: the repair has duplicates and sectors to erase
    harness = Harness(tmp_path, scenario)
    total, _ = harness.measure(1)
    tried = 0
    for k in _points(total, 3 if full_run() else 29):
        harness.restore()
        if harness.run(FaultyFlash(harness.image, *GEOMETRY, budget=k)):
            continue
        crashed = harness.image.read_bytes()
        harness.restore(crashed)
        counter = FaultyFlash(harness.image, *GEOMETRY)
        FlashObjectStore(harness.image, *GEOMETRY, flash=counter).initialize()
        counter.close()
        for j in range(counter.used + 1 if full_run() else min(counter.used + 1, 4)):
            harness.restore(crashed)
            flash = FaultyFlash(harness.image, *GEOMETRY, budget=j)
            store = FlashObjectStore(harness.image, *GEOMETRY, flash=flash)
            try:
                store.initialize()
            except PowerCut:
                pass
            flash.close()
            store._meta.close()
            harness.check(finished=False)
            tried += 1
    tally.add("flash", "repair cuts", tried)
