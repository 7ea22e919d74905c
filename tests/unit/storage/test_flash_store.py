"""FlashObjectStore and NorFlash beyond the PAL contract: NOR rules, garbage collection,
wear levelling, a full device, damaged and foreign images, files and permissions."""

from __future__ import annotations

import logging
import os
import random
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenport import errors
from tokenport.backends.storage import flash_format, flash_writer
from tokenport.backends.storage.flash import FlashObjectStore, from_config
from tokenport.backends.storage.flash_image import FlashError, NorFlash, ProgramError

from .test_sqlite_store import run_unprivileged, shared_dir  # noqa: F401 - fixture

SMALL = (16, 512)  # 16 sectors of 512 bytes: garbage collection every few saves


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return tmp_path / "store" / "flash.img"


def open_store(image: Path, geometry: tuple[int, int] = SMALL) -> FlashObjectStore:
    store = FlashObjectStore(image, *geometry)
    store.initialize()
    return store


@pytest.fixture
def small(image: Path) -> Iterator[FlashObjectStore]:
    store = open_store(image)
    yield store
    store.close()


def contents(store: FlashObjectStore) -> dict[bytes, tuple[bytes, bool]]:
    return {e.label: store.get_object_value(e.handle) for e in store.enumerate_objects()}


# -- the NOR model -----------------------------------------------------------------------


def test_nor_flash_rules(tmp_path: Path) -> None:
    flash = NorFlash(tmp_path / "nor.img", 4, 256)
    assert flash.open() is True
    assert flash.read(0, 1024) == b"\xff" * 1024
    flash.program(10, b"\x0f\xf0")
    flash.program(10, b"\x0e\x00")  # clearing more bits is fine
    assert flash.read(10, 2) == b"\x0e\x00"
    with pytest.raises(ProgramError):
        flash.program(10, b"\x0f")  # would set a bit
    assert flash.read(10, 2) == b"\x0e\x00"  # refused: nothing written
    flash.erase(0)
    assert flash.read(0, 256) == b"\xff" * 256
    with pytest.raises(FlashError):
        flash.program(1020, b"12345")  # past the end
    with pytest.raises(FlashError):
        flash.erase(4)
    flash.sync()
    flash.close()
    assert stat.S_IMODE((tmp_path / "nor.img").stat().st_mode) == 0o600
    again = NorFlash(tmp_path / "nor.img", 4, 256)
    assert again.open() is False
    again.close()
    with pytest.raises(FlashError, match="needs 2048"):
        NorFlash(tmp_path / "nor.img", 8, 256).open()


# -- garbage collection and the in-memory view ----------------------------------------------


def test_churn_with_garbage_collection_matches_a_model(image: Path) -> None:
    """Random saves, replaces and destroys on a small image: the store always equals a
    model, in this process and in a freshly mounted one, and generation counts writes."""
    store = open_store(image)
    rng = random.Random(5)
    model: dict[bytes, tuple[bytes, bool]] = {}
    handles: dict[bytes, int] = {}
    retired: set[int] = set()
    writes = full = 0
    for step in range(1500):
        label = b"obj/%d" % rng.randrange(12)
        if label in model and rng.random() < 0.25:
            store.destroy_object(handles[label])
            retired.add(handles.pop(label))
            del model[label]
        else:
            value = rng.randbytes(rng.choice([0, 5, 60, 150, 300, 700, 1500]))
            private = rng.random() < 0.5
            try:
                handle = store.save_object(label, value, private=private)
            except errors.DeviceMemory:
                full += 1
                assert store.generation() == writes  # refused: nothing changed
                continue
            if label in handles:
                assert handle == handles[label]
            else:
                assert handle not in retired and handle not in handles.values()
            handles[label] = handle
            model[label] = (value, private)
        writes += 1
        assert store.generation() == writes
        if step % 50 == 0:
            assert contents(store) == model
            fresh = open_store(image)
            assert contents(fresh) == model
            assert fresh.generation() == writes
            fresh.close()
    info = store.info()
    assert sum(info["erase_counts"]) > 30  # the collector did run
    assert 0 < full < 300  # the device was full now and then, and recovered
    store.close()
    again = open_store(image)
    assert contents(again) == model
    assert {e.label: e.handle for e in again.enumerate_objects()} == handles
    again.close()


def test_records_spanning_many_sectors(image: Path) -> None:
    store = open_store(image, (128, 256))  # a 4 KiB record spans 20 sectors
    rng = random.Random(9)
    model = {}
    for i in range(60):
        label = b"big/%d" % (i % 3)
        model[label] = rng.randbytes(rng.choice([1000, 2500, 4096]))
        store.save_object(label, model[label])
    assert {k: v for k, (v, _) in contents(store).items()} == model
    store.close()
    again = open_store(image, (128, 256))
    assert {k: v for k, (v, _) in contents(again).items()} == model
    again.close()


def test_default_geometry_holds_64k_objects(image: Path) -> None:
    store = FlashObjectStore(image)  # 64 sectors of 4 KiB
    value = os.urandom(65536)
    handle = store.save_object(b"big", value)
    for _ in range(6):  # replacing it repeatedly needs the collector each time
        store.save_object(b"big", value[::-1])
        store.save_object(b"big", value)
    assert store.get_object_value(handle) == (value, False)
    assert store.info()["max_record_bytes"] >= 65536 + 100
    store.close()


def _view(store: FlashObjectStore) -> object:
    """Everything a store keeps in memory about the image (white-box)."""
    free = sorted(entry for entry in set(store._free_heap)
                  if store._sec[entry[1]].state == flash_format.FREE)
    records = {label: (r.seq, r.handle, r.private, r.sector, r.offset, r.length)
               for label, r in store._index.items()}
    return (records, store._by_handle, store._head, store._head_pos, store._max_seq,
            store._max_epoch, store._free_sectors, free, store._sec)


def test_catching_up_with_another_writer_equals_a_full_load(
    image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader = open_store(image), open_store(image)
    outcomes: list[bool] = []
    real = FlashObjectStore._catch_up

    def spy(self: FlashObjectStore) -> bool:
        outcomes.append(real(self))
        return outcomes[-1]

    monkeypatch.setattr(FlashObjectStore, "_catch_up", spy)
    rng = random.Random(11)
    for step in range(600):
        label = b"obj/%d" % rng.randrange(10)
        handle = writer.find_object(label)
        try:
            if handle is not None and rng.random() < 0.2:
                writer.destroy_object(handle)
            else:
                writer.save_object(label, rng.randbytes(rng.choice([3, 40, 200, 600])))
        except errors.DeviceMemory:
            pass
        if step % 3 == 0:
            reader.generation()
            reader.find_object(b"obj/0")  # catches up
            fresh = open_store(image)
            assert _view(reader) == _view(fresh)
            assert contents(reader) == contents(fresh)
            fresh.close()
        if step % 17 == 0:  # and the reader writes too, from its caught-up view
            reader.save_object(b"reader", b"%d" % step)
    assert outcomes.count(True) > 50 and outcomes.count(False) > 5
    writer.close()
    reader.close()


# -- a full device ---------------------------------------------------------------------------


def test_full_store_raises_device_memory_and_keeps_everything(small: FlashObjectStore) -> None:
    saved = {}
    with pytest.raises(errors.DeviceMemory):
        for i in range(1000):
            label = b"fill/%d" % i
            small.save_object(label, b"%d" % i * 20)
            saved[label] = b"%d" % i * 20
    assert len(saved) > 20
    generation = small.generation()
    snapshot = contents(small)
    with pytest.raises(errors.DeviceMemory):
        small.save_object(b"one more", b"x" * 100)
    with pytest.raises(errors.DeviceMemory):
        small.save_object(b"fill/0", b"y" * 4000)  # a replacement that cannot fit either
    assert small.generation() == generation
    assert contents(small) == snapshot
    # a destroy still works on a full store, and frees room
    for label in list(saved)[:5]:
        handle = small.find_object(label)
        assert handle is not None
        small.destroy_object(handle)
    assert small.save_object(b"one more", b"x" * 100) > 0


def test_a_record_larger_than_the_device(small: FlashObjectStore) -> None:
    small.save_object(b"a", b"1")
    generation = small.generation()
    with pytest.raises(errors.DeviceMemory):
        small.save_object(b"huge", os.urandom(8000))
    assert small.generation() == generation
    assert small.find_object(b"huge") is None


# -- wear ------------------------------------------------------------------------------------


def test_wear_is_levelled_with_static_records(image: Path) -> None:
    store = open_store(image)
    for i in range(8):  # static records, never touched again
        store.save_object(b"static/%d" % i, os.urandom(200))
    for i in range(6000):  # one hot record
        store.save_object(b"hot", b"%d" % i * 30)
    counts = store.erase_counts()
    assert min(counts) > 0  # every sector took part, static ones too
    assert max(counts) - min(counts) <= flash_writer.WEAR_SPREAD + 2, counts
    store.close()
    again = open_store(image)
    assert again.erase_counts() == counts  # erase counts survive in the sector headers
    info = again.info()
    assert info["erase_count_max"] == max(counts) and info["sectors"] == 16
    assert info["sector_states"]["dirty"] == 0
    again.close()


# -- damaged and foreign images ------------------------------------------------------------------


def _record_offsets(store: FlashObjectStore, label: bytes) -> int:
    handle = store.find_object(label)
    assert handle is not None
    rec = store._index[label]  # white-box: where the record lives
    return store._addr(rec.sector, rec.offset)


def _flip(image: Path, offset: int) -> None:
    with open(image, "r+b") as file:
        file.seek(offset)
        byte = file.read(1)[0]
        file.seek(offset)
        file.write(bytes([byte ^ 0x10]))


def test_a_corrupt_record_is_reported_and_skipped(
    image: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(image, (32, 512))
    store.save_object(b"victim", b"old value")
    store.save_object(b"victim", b"new value" * 10)
    store.save_object(b"bystander", b"fine")
    at = _record_offsets(store, b"victim")
    store.close()
    _flip(image, at + flash_format.RECORD_HEADER + 20)  # inside the data
    with caplog.at_level(logging.ERROR, logger="tokenport"):
        again = open_store(image, (32, 512))
    assert "corrupt" in caplog.text
    assert again.find_object(b"victim") is None  # skipped; the old value does not come back
    assert contents(again) == {b"bystander": (b"fine", False)}
    assert again.info()["corrupt_records_skipped"] == 1
    again.save_object(b"victim", b"rewritten")
    again.close()
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="tokenport"):
        third = open_store(image, (32, 512))
    assert "corrupt" not in caplog.text  # marked obsolete: reported once
    assert third.get_object_value(third.find_object(b"victim") or 0) == (b"rewritten", False)
    third.close()


def test_a_damaged_sector_header_loses_only_that_sector(image: Path) -> None:
    store = open_store(image, (32, 512))
    for i in range(20):
        store.save_object(b"r/%d" % i, b"v%d" % i * 30)
    victim = store._index[b"r/0"].sector
    lost = {label for label, rec in store._index.items() if rec.sector == victim}
    store.close()
    _flip(image, victim * 512 + 2)  # the sector magic
    again = open_store(image, (32, 512))
    found = {e.label for e in again.enumerate_objects()}
    assert found == {b"r/%d" % i for i in range(20)} - lost
    assert again.info()["sector_states"]["dirty"] == 0  # erased and re-stamped
    again.save_object(b"new", b"works")
    again.close()


def test_not_a_flash_image(tmp_path: Path) -> None:
    path = tmp_path / "other.img"
    content = os.urandom(16 * 512)
    path.write_bytes(content)
    with pytest.raises(errors.DeviceError, match="not a tokenport flash image"):
        open_store(path)
    assert path.read_bytes() == content  # left alone


def test_wrong_geometry(image: Path) -> None:
    open_store(image, (16, 512)).close()
    with pytest.raises(errors.DeviceError, match="formatted as 16 sectors of 512"):
        open_store(image, (32, 256))  # same size, other geometry: told by the headers
    with pytest.raises(errors.DeviceError, match="needs"):
        open_store(image, (64, 512))  # other size


@pytest.mark.parametrize("geometry", [(3, 512), (16, 100), (16, 514), (True, 512)])
def test_bad_geometry_arguments(image: Path, geometry: tuple[int, int]) -> None:
    with pytest.raises(errors.ArgumentsBad):
        FlashObjectStore(image, *geometry)


# -- files and permissions ---------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_file_modes(tmp_path: Path) -> None:
    image = tmp_path / "a" / "b" / "flash.img"
    old = os.umask(0)
    try:
        store = open_store(image)
        store.save_object(b"x", b"1")
        store.close()
    finally:
        os.umask(old)
    assert _mode(image.parent) == 0o700
    assert _mode(image) == 0o600
    assert _mode(image.with_name("flash.img.lock")) == 0o600
    assert image.stat().st_size == 16 * 512


def test_read_only_image(shared_dir: Path) -> None:  # noqa: F811
    image = shared_dir / "flash.img"
    open_store(image).close()
    image.chmod(0o444)
    image.with_name("flash.img.lock").chmod(0o444)

    def check() -> None:
        with pytest.raises(errors.DeviceError, match="read-only"):
            FlashObjectStore(image, *SMALL).initialize()

    run_unprivileged(check)


def test_unopenable_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(errors.DeviceError) as info:
        FlashObjectStore(tmp_path / "file" / "flash.img", *SMALL).initialize()
    assert "flash.img" in str(info.value)


def test_lost_lock_file_is_rebuilt(image: Path) -> None:
    store = open_store(image)
    handle = store.save_object(b"a", b"1")
    generation = store.generation()
    store.close()
    image.with_name("flash.img.lock").unlink()
    again = open_store(image)
    assert again.generation() == generation
    assert again.get_object_value(handle) == (b"1", False)
    again.close()


def test_repr_and_errors_carry_no_data(small: FlashObjectStore) -> None:
    handle = small.save_object(b"label", b"SECRET-RECORD")
    small.destroy_object(handle)
    with pytest.raises(errors.ObjectHandleInvalid) as info:
        small.get_object_value(handle)
    assert "SECRET" not in str(info.value) and "SECRET" not in repr(small)


def test_from_config(tmp_path: Path) -> None:
    store = from_config(tmp_path, {})
    assert store.image == tmp_path / "tokenport.flash"
    assert repr(store).endswith(", 64, 4096)")
    store = from_config(tmp_path, {"sectors": 16, "sector_size": 512, "image": "f.img"})
    store.initialize()
    assert store.info()["sectors"] == 16 and store.image == tmp_path / "f.img"
    store.close()
    bad_options: list[dict[str, object]] = [
        {"sectors": 3}, {"sectors": "64"}, {"sectors": True}, {"sector_size": 100},
        {"sector_size": 130}, {"sectors": 1 << 20, "sector_size": 4096}, {"image": "a/b"},
        {"image": ""}, {"size": 1},
    ]
    for bad in bad_options:
        with pytest.raises((ValueError, TypeError)):
            from_config(tmp_path, bad)
