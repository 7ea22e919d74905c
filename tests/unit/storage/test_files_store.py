"""FileObjectStore beyond the PAL contract: layout, recovery, damage, errors, permissions."""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tokenport import errors
from tokenport.backends.storage.files import (
    CORRUPT_DIR,
    META_NAME,
    FileObjectStore,
    Syscalls,
    encode_record,
    from_config,
    label_key,
    record_name,
)

from .test_sqlite_store import run_unprivileged, shared_dir  # noqa: F401 - fixture


@pytest.fixture
def where(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store(where: Path) -> Iterator[FileObjectStore]:
    s = FileObjectStore(where)
    s.initialize()
    yield s
    s.close()


def records(where: Path) -> list[str]:
    return sorted(n for n in os.listdir(where) if n.endswith(".obj"))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0, 0o022])
def test_file_modes(tmp_path: Path, umask: int) -> None:
    where = tmp_path / "a" / "store"
    old = os.umask(umask)
    try:
        s = FileObjectStore(where)
        s.save_object(b"x", b"1")
        s.close()
    finally:
        os.umask(old)
    assert _mode(where) == 0o700
    assert _mode(where / META_NAME) == 0o600
    for name in records(where):
        assert _mode(where / name) == 0o600


def test_one_file_per_record_named_by_handle_revision_and_label(
    store: FileObjectStore, where: Path
) -> None:
    a = store.save_object(b"Device Cert", b"cert")
    long_label = "Schlüssel/".encode() * 20  # 220 bytes: named by its hash
    b = store.save_object(long_label, b"long")
    assert records(where) == sorted(
        [record_name(a, 1, b"Device Cert"), record_name(b, 2, long_label)]
    )
    assert label_key(long_label).startswith("_")
    store.save_object(b"Device Cert", b"cert 2")  # the old revision's file is gone
    assert record_name(a, 3, b"Device Cert") in records(where)
    assert record_name(a, 1, b"Device Cert") not in records(where)
    again = FileObjectStore(where)
    assert again.find_object(long_label) == b
    assert [e.label for e in again.enumerate_objects()] == [b"Device Cert", long_label]
    again.close()


def test_foreign_files_are_ignored(store: FileObjectStore, where: Path) -> None:
    handle = store.save_object(b"a", b"1")
    (where / "README.txt").write_text("hello")
    (where / "zz.obj").write_bytes(b"not ours")
    (where / "1.1.6.obj").write_bytes(b"odd-length hex: not a name of ours")
    (where / "9.1.6263.obj").write_bytes(b"our kind of name, foreign content")
    again = FileObjectStore(where)
    assert [e.label for e in again.enumerate_objects()] == [b"a", b"bc"]
    with pytest.raises(errors.DeviceError, match="corrupt"):
        again.get_object_value(9)  # found out when read, then skipped
    assert [e.label for e in again.enumerate_objects()] == [b"a"]
    assert again.get_object_value(handle) == (b"1", False)
    again.close()


def test_a_handle_claimed_twice_keeps_the_newer_record(store: FileObjectStore,
                                                        where: Path) -> None:
    handle = store.save_object(b"a", b"1")
    (where / record_name(handle, 5, b"b")).write_bytes(encode_record(handle, 5, b"b", b"2", False))
    again = FileObjectStore(where)
    assert [e.label for e in again.enumerate_objects()] == [b"b"]
    assert again.get_object_value(handle) == (b"2", False)
    again.close()


def test_a_corrupt_record_is_reported_moved_aside_and_skipped(
    store: FileObjectStore, where: Path, caplog: pytest.LogCaptureFixture
) -> None:
    victim = store.save_object(b"victim", b"value" * 100)
    store.save_object(b"bystander", b"fine")
    (name,) = [n for n in records(where) if n.endswith(label_key(b"victim") + ".obj")]
    raw = bytearray((where / name).read_bytes())
    raw[60] ^= 1
    (where / name).write_bytes(bytes(raw))
    other = FileObjectStore(where)  # another process's view
    assert other.find_object(b"victim") == victim  # listing does not read records
    generation = store.generation()
    with caplog.at_level(logging.ERROR, logger="tokenport"), pytest.raises(
        errors.DeviceError, match="corrupt"
    ):
        store.get_object_value(victim)
    assert "corrupt" in caplog.text
    assert (where / CORRUPT_DIR / name).exists()
    assert store.find_object(b"victim") is None  # skipped from now on
    assert store.generation() == generation + 1
    assert other.find_object(b"victim") is None
    assert other.get_object_value(other.find_object(b"bystander") or 0) == (b"fine", False)
    other.close()


def test_leftovers_are_cleaned_at_open(store: FileObjectStore, where: Path) -> None:
    handle = store.save_object(b"k", b"old")
    store.save_object(b"k", b"new")
    generation = store.generation()
    store.close()
    # a writer that died: a temporary file and an older revision that was never unlinked
    (where / ".tmp-1-abc").write_bytes(b"partial")
    older = record_name(handle, 1, b"k")
    assert older not in records(where)
    (where / older).write_bytes(encode_record(handle, 1, b"k", b"old", False))
    again = FileObjectStore(where)
    assert again.get_object_value(handle) == (b"new", False)
    assert not (where / ".tmp-1-abc").exists()
    assert not (where / older).exists()
    assert again.generation() == generation
    again.close()


def test_counter_is_repaired_from_the_records(store: FileObjectStore, where: Path) -> None:
    store.save_object(b"a", b"1")
    gone = store.save_object(b"b", b"2")
    store.destroy_object(gone)
    store.close()
    # a writer died after its rename but before updating the counter
    (where / record_name(7, 9, b"c")).write_bytes(encode_record(7, 9, b"c", b"3", True))
    again = FileObjectStore(where)
    assert again.generation() == 9
    assert again.get_object_value(7) == (b"3", True)
    assert again.save_object(b"d", b"4") == 8  # handles continue after the highest
    again.close()
    # and a lost counter file: rebuilt from the records, handles still not reused
    (where / META_NAME).unlink()
    third = FileObjectStore(where)
    assert third.generation() == 10
    assert third.save_object(b"e", b"5") == 9
    third.close()


class Failing(Syscalls):
    def __init__(self, call: str, code: int, after: int = 0) -> None:
        self.call, self.code, self.after = call, code, after

    def _maybe(self, call: str) -> None:
        if call == self.call:
            if self.after == 0:
                raise OSError(self.code, os.strerror(self.code))
            self.after -= 1

    def write(self, fd: int, data: memoryview) -> int:
        self._maybe("write")
        return super().write(fd, data)

    def fsync(self, fd: int) -> None:
        self._maybe("fsync")
        super().fsync(fd)

    def rename(self, src: str, dst: str, dir_fd: int) -> None:
        self._maybe("rename")
        super().rename(src, dst, dir_fd)

    def unlink(self, name: str, dir_fd: int) -> None:
        self._maybe("unlink")
        super().unlink(name, dir_fd)


@pytest.mark.parametrize(
    ("failing", "raised"),
    [
        (Failing("write", errno.ENOSPC), errors.DeviceMemory),
        (Failing("write", errno.EDQUOT), errors.DeviceMemory),
        (Failing("fsync", errno.EIO), errors.DeviceError),
        (Failing("rename", errno.EIO), errors.DeviceError),
        (Failing("fsync", errno.EIO, after=1), errors.DeviceError),  # the directory fsync
    ],
    ids=["ENOSPC", "EDQUOT", "fsync", "rename", "dir-fsync"],
)
def test_a_failed_write_leaves_the_store_as_it_was(
    store: FileObjectStore, where: Path, failing: Failing, raised: type[Exception]
) -> None:
    handle = store.save_object(b"keep", b"old value")
    generation = store.generation()
    before = sorted(os.listdir(where))
    store.syscalls = failing
    with pytest.raises(raised) as info:
        store.save_object(b"keep", b"new value")
    assert str(where) in str(info.value) and "value" not in str(info.value)
    with pytest.raises(raised):
        store.save_object(b"new", b"x")
    assert sorted(os.listdir(where)) == before  # nothing left behind
    assert store.generation() == generation
    assert store.get_object_value(handle) == (b"old value", False)
    assert store.find_object(b"new") is None
    other = FileObjectStore(where)  # and another process sees the same
    assert other.generation() == generation
    assert other.get_object_value(handle) == (b"old value", False)
    other.close()
    del store.syscalls  # back to the class's real system calls
    assert store.save_object(b"keep", b"newer") == handle
    assert store.generation() == generation + 1


def test_a_failed_destroy_changes_nothing(store: FileObjectStore, where: Path) -> None:
    handle = store.save_object(b"keep", b"v")
    generation = store.generation()
    store.syscalls = Failing("unlink", errno.EACCES)
    with pytest.raises(errors.DeviceError):
        store.destroy_object(handle)
    assert store.generation() == generation
    assert store.get_object_value(handle) == (b"v", False)


def test_unopenable_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(errors.DeviceError) as info:
        FileObjectStore(tmp_path / "file" / "store").initialize()
    assert "store" in str(info.value)


def test_read_only_store(shared_dir: Path) -> None:  # noqa: F811
    where = shared_dir / "store"
    s = FileObjectStore(where)
    s.save_object(b"x", b"1")
    s.close()
    where.chmod(0o555)

    def check() -> None:
        with pytest.raises(errors.DeviceError, match="read-only"):
            FileObjectStore(where).initialize()

    try:
        run_unprivileged(check)
    finally:
        where.chmod(0o700)


def test_unwritable_parent(shared_dir: Path) -> None:  # noqa: F811
    shared_dir.chmod(0o555)

    def check() -> None:
        with pytest.raises(errors.DeviceError):
            FileObjectStore(shared_dir / "store").initialize()

    try:
        run_unprivileged(check)
    finally:
        shared_dir.chmod(0o755)


def test_generation_reads_only_the_counter(store: FileObjectStore, where: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    store.save_object(b"a", b"1")
    calls = []
    real = os.listdir

    def listdir(*args: Any) -> list[str]:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(os, "listdir", listdir)
    for _ in range(100):
        store.generation()
        store.find_object(b"a")
    assert calls == []


def test_from_config(tmp_path: Path) -> None:
    store = from_config(tmp_path, {})
    assert store.directory == tmp_path / "objects"
    assert from_config(tmp_path, {"directory": "mine"}).directory == tmp_path / "mine"
    for bad in ({"directory": "a/b"}, {"directory": ".."}, {"directory": 3}, {"dir": "x"}):
        with pytest.raises(ValueError):
            from_config(tmp_path, bad)
