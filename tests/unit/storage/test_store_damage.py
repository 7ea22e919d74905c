"""A damaged, shrunk or vanished store never kills the host and never reports a write it
did not make (issue 9 items 4 and 7): every backend answers DeviceError (CKR_DEVICE_ERROR)
when its files are truncated, deleted or replaced under an open store, and every directory
a backend creates is 0700 whatever the umask.

Scenarios that could kill the process (SIGBUS from a shrunk memory map) run in a child
interpreter, so a crash fails the test instead of killing pytest."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tokenport import errors
from tokenport.backends.storage_files import FileObjectStore
from tokenport.backends.storage_flash import FlashObjectStore
from tokenport.backends.storage_sqlite import SqliteObjectStore

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    previous = os.umask(0o022)
    os.umask(previous)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(previous)


# -- SQLite: the files SQLite writes through must still be the store's files ---------------------


def _sqlite(tmp_path: Path) -> SqliteObjectStore:
    store = SqliteObjectStore(tmp_path / "store" / "tokenport.sqlite3")
    store.initialize()
    store.save_object(b"t/x/o/1", b"first record")
    return store


def _delete(path: Path) -> None:
    for file in path.parent.glob(path.name + "*"):
        file.unlink()


def _replace(path: Path) -> None:
    shutil.copy(path, path.with_name("copy"))
    os.replace(path.with_name("copy"), path)


def _truncate(path: Path) -> None:
    os.truncate(path, 0)


@pytest.mark.parametrize("damage", [_delete, _replace, _truncate], ids=["deleted", "replaced", "truncated"])
def test_sqlite_refuses_to_write_into_a_file_nobody_will_read(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    store = _sqlite(tmp_path)
    store.close()  # checkpoint: the record is in the main file, which has a size to lose
    store = SqliteObjectStore(tmp_path / "store" / "tokenport.sqlite3")
    store.initialize()
    damage(store.path)
    with pytest.raises(errors.DeviceError):
        store.save_object(b"t/x/o/2", b"lost record")
    # and from now on every call says so, reads included
    with pytest.raises(errors.DeviceError):
        store.enumerate_objects(b"")
    with pytest.raises(errors.DeviceError):
        store.generation()
    store.close()


def test_sqlite_reopened_after_damage_sees_what_the_path_holds(tmp_path: Path) -> None:
    store = _sqlite(tmp_path)
    path = store.path
    _delete(path)
    with pytest.raises(errors.DeviceError):
        store.save_object(b"t/x/o/2", b"record")
    store.close()
    fresh = SqliteObjectStore(path)  # what C_Finalize + C_Initialize do
    fresh.initialize()
    assert fresh.enumerate_objects(b"") == []
    fresh.save_object(b"t/x/o/3", b"kept")
    assert [e.label for e in fresh.enumerate_objects(b"")] == [b"t/x/o/3"]
    fresh.close()


# -- flash: never a memory map, so a shrunk image is an error, not SIGBUS ---------------------------

FLASH_SCRIPT = r"""
import os, sys
from pathlib import Path
from tokenport import errors
from tokenport.backends.storage_flash import FlashObjectStore
home = Path(sys.argv[1])
store = FlashObjectStore(home / "tokenport.flash", sectors=16, sector_size=4096)
store.initialize()
store.save_object(b"t/x/o/1", b"first record")
store.enumerate_objects(b"")
os.truncate(home / "tokenport.flash", int(sys.argv[2]))
for call in (lambda: store.save_object(b"t/x/o/2", b"second"),
             lambda: store.destroy_object(1),
             lambda: store.get_object_value(1)):
    try:
        call()
        print("ok")
    except errors.PKCS11Error as exc:
        print(type(exc).__name__)
"""


@pytest.mark.parametrize("size", [0, 4096 * 3 + 17])
def test_flash_image_truncated_under_an_open_store(tmp_path: Path, size: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", FLASH_SCRIPT, str(tmp_path), str(size)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert proc.stdout.split() == ["DeviceError", "DeviceError", "DeviceError"]
    assert os.path.getsize(tmp_path / "tokenport.flash") == size  # nothing written


def test_flash_image_replaced_under_an_open_store(tmp_path: Path) -> None:
    image = tmp_path / "tokenport.flash"
    store = FlashObjectStore(image, sectors=16, sector_size=4096)
    store.initialize()
    store.save_object(b"t/x/o/1", b"first record")
    _replace(image)
    before = image.read_bytes()
    with pytest.raises(errors.DeviceError, match="replaced"):
        store.save_object(b"t/x/o/2", b"second")
    assert image.read_bytes() == before
    store.close()


def test_files_store_directory_deleted_under_an_open_store(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path / "store" / "objects")
    store.initialize()
    store.save_object(b"t/x/o/1", b"first record")
    shutil.rmtree(tmp_path / "store")
    with pytest.raises(errors.DeviceError):
        store.save_object(b"t/x/o/2", b"second")
    store.close()


# -- item 7: 0700 whatever the umask ------------------------------------------------------------


def _open_each(base: Path) -> list[Path]:
    """Open every backend under ``base/<name>/...``: the directories they create."""
    sqlite = SqliteObjectStore(base / "sqlite" / "deep" / "tokenport.sqlite3")
    files = FileObjectStore(base / "files" / "deep" / "objects")
    flash = FlashObjectStore(base / "flash" / "deep" / "tokenport.flash", sectors=8,
                             sector_size=4096)
    for store in (sqlite, files, flash):
        store.initialize()
        store.save_object(b"t/x/o/1", b"record")
        store.close()
    return [
        base / "sqlite", base / "sqlite" / "deep",
        base / "files", base / "files" / "deep", base / "files" / "deep" / "objects",
        base / "flash", base / "flash" / "deep",
    ]


@pytest.mark.parametrize("mask", [0o022, 0o000, 0o002])
def test_every_directory_a_backend_creates_is_0700(
    tmp_path: Path, umask: Callable[[int], None], mask: int
) -> None:
    umask(mask)
    for directory in _open_each(tmp_path):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert stat.S_IMODE(file.stat().st_mode) & 0o077 == 0, file


def test_an_existing_directory_keeps_the_mode_its_owner_gave(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    chosen.mkdir(mode=0o750)
    os.chmod(chosen, 0o750)
    store = SqliteObjectStore(chosen / "tokenport.sqlite3")
    store.initialize()
    store.close()
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o750
    assert stat.S_IMODE((chosen / "tokenport.sqlite3").stat().st_mode) == 0o600
