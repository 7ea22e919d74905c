"""Store directories are 0700 and store files 0600 on every durable backend, whatever the
umask (issue 9, item 7); directories that already exist are never loosened, and only a
backend's own sub-directory is tightened (storage_paths documents the choice)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tokenport import errors
from tokenport.backends.storage import files as storage_files
from tokenport.backends.storage import flash as storage_flash
from tokenport.backends.storage import sqlite as storage_sqlite
from tokenport.backends.storage.paths import make_private_dirs
from tokenport.ports.storage import ObjectStore

FROM_CONFIG: dict[str, Callable[[Path, dict[str, Any]], ObjectStore]] = {
    "sqlite": storage_sqlite.from_config,
    "files": storage_files.from_config,
    "flash": storage_flash.from_config,
}
OPTIONS: dict[str, dict[str, Any]] = {
    "sqlite": {}, "files": {}, "flash": {"sectors": 8, "sector_size": 512},
}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _use(store: ObjectStore) -> None:
    """Create every file and directory the backend makes in normal use."""
    handle = store.save_object(b"a", b"1")
    store.save_object(b"a", b"2")
    store.save_object(b"b", b"3")
    store.destroy_object(handle)
    if isinstance(store, storage_files.FileObjectStore):
        # a damaged record is moved to corrupt/, a directory of its own
        (name,) = [n for n in os.listdir(store.directory) if n.endswith(".obj")]
        with open(store.directory / name, "r+b") as file:
            file.write(b"XXXX")
        with pytest.raises(errors.DeviceError):
            store.get_object_value(store.enumerate_objects()[0].handle)
        assert (store.directory / storage_files.CORRUPT_DIR).is_dir()


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077, 0o277], ids=oct)
@pytest.mark.parametrize("backend", sorted(FROM_CONFIG))
def test_everything_created_is_private(backend: str, umask: int, tmp_path: Path) -> None:
    home = tmp_path / "missing" / "tokenport"  # neither exists yet

    def modes() -> dict[str, int]:
        return {str(path.relative_to(tmp_path)): _mode(path)
                for path in [tmp_path / "missing", home, *sorted(home.rglob("*"))]}

    old = os.umask(umask)
    try:
        store = FROM_CONFIG[backend](home, OPTIONS[backend])
        store.initialize()
        _use(store)
        found = modes()  # while open (SQLite removes its -wal and -shm files at close)
        store.close()
        found.update(modes())
    finally:
        os.umask(old)
    wrong = {
        name: oct(mode) for name, mode in found.items()
        if mode != (0o700 if (tmp_path / name).is_dir() else 0o600)
    }
    assert not wrong, wrong
    assert len(found) > 3, found  # the store made files


@pytest.mark.parametrize("backend", sorted(FROM_CONFIG))
@pytest.mark.parametrize("mode", [0o755, 0o750, 0o700])
def test_an_existing_store_directory_keeps_its_mode(
    backend: str, mode: int, tmp_path: Path
) -> None:
    """The store directory may be one the user chose (TOKENPORT_HOME, [store] path):
    tokenport neither loosens nor tightens it."""
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(mode)
    store = FROM_CONFIG[backend](home, OPTIONS[backend])
    _use(store)
    store.close()
    assert _mode(home) == mode


def test_the_files_record_directory_is_tightened(tmp_path: Path) -> None:
    """The files backend's record directory holds nothing but its records: a looser mode
    (from an older version, or a umask) is tightened to 0700 when the store opens."""
    home = tmp_path / "home"
    (home / "objects").mkdir(parents=True)
    (home / "objects").chmod(0o755)
    home.chmod(0o755)
    store = storage_files.from_config(home, {})
    store.initialize()
    store.close()
    assert _mode(home / "objects") == 0o700
    assert _mode(home) == 0o755


def test_make_private_dirs(tmp_path: Path) -> None:
    old = os.umask(0o777)  # even a umask that leaves nothing
    try:
        make_private_dirs(tmp_path / "a" / "b" / "c")
        make_private_dirs(tmp_path / "a" / "b" / "c")  # idempotent
    finally:
        os.umask(old)
    for path in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert _mode(path) == 0o700
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(OSError):
        make_private_dirs(tmp_path / "file" / "x")
