"""The SQLite store's cheap change check (backends.storage.watch, issue 10).

Must never: miss another connection's or process's commit, miss damage to the files, let a
forked child take the parent's notices, or depend on inotify being there (without it every
call checks, as before). The fast answer is only taken while nothing happened.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tokenport import errors
from tokenport.backends.storage import sqlite as sqlite_module
from tokenport.backends.storage.paths import FileIdentity
from tokenport.backends.storage.sqlite import SqliteObjectStore
from tokenport.backends.storage.watch import DirectoryWatch, announce


@pytest.fixture
def store(tmp_path: Path) -> SqliteObjectStore:
    store = SqliteObjectStore(tmp_path / "store" / "t.sqlite3")
    store.save_object(b"a", b"1")
    store.generation()  # sets up the watch
    assert store._watch is not None, "inotify is available on the test machines"
    return store


def count_file_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    checked: list[str] = []
    original = FileIdentity.problem

    def counting(self: FileIdentity) -> str | None:
        checked.append(self.path.name)
        return original(self)

    monkeypatch.setattr(FileIdentity, "problem", counting)
    return checked


def test_quiet_directory_gives_the_answer_without_checking_files(
    store: SqliteObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store.generation()
    checked = count_file_checks(monkeypatch)
    for _ in range(100):
        assert store.generation() == before
    assert len(checked) <= 3 * 2  # at most a periodic full check or two, not one per call


def test_commit_of_another_connection_is_seen_at_once(tmp_path: Path,
                                                      store: SqliteObjectStore) -> None:
    before = store.generation()
    other = SqliteObjectStore(store.path)
    other.save_object(b"b", b"2")
    assert store.generation() > before
    assert store.find_object(b"b") is not None
    other.close()


def test_commit_of_another_process_is_seen_at_once(store: SqliteObjectStore) -> None:
    before = store.generation()
    pid = os.fork()
    if pid == 0:  # the child: its own connection and its own watch
        code = 1
        try:
            store.generation()
            code = 0 if store._watch is not None else 2
            store.save_object(b"from child", b"x")
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert store.generation() > before
    assert store.find_object(b"from child") is not None


def test_child_never_reads_the_parents_notices(store: SqliteObjectStore) -> None:
    parent_watch = store._watch
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_fd)
            store.generation()  # the child: a fresh watch, the inherited one closed
            code = 0 if store._watch is not parent_watch else 3
            os.write(write_fd, b"k")
            time.sleep(0.3)  # while the parent's notice below is pending
            store.generation()
        finally:
            os._exit(code)
    os.close(write_fd)
    assert os.read(read_fd, 1) == b"k"
    before = store.generation()
    other = SqliteObjectStore(store.path)
    other.save_object(b"late", b"1")
    other.close()
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert store.generation() > before  # the child did not take the notice


def test_damage_is_seen_by_the_next_call(store: SqliteObjectStore) -> None:
    store.generation()
    replacement = store.path.with_suffix(".copy")
    replacement.write_bytes(store.path.read_bytes())
    os.replace(replacement, store.path)
    with pytest.raises(errors.DeviceError, match="replaced"):
        store.generation()
    with pytest.raises(errors.DeviceError):
        store.generation()  # and it stays so
    store.close()


def test_a_notice_taken_elsewhere_is_caught_by_the_periodic_full_check(
    store: SqliteObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "FULL_CHECK_INTERVAL", 0.2)
    before = store.generation()
    other = SqliteObjectStore(store.path)
    other.save_object(b"unseen", b"1")
    other.close()
    assert store._watch is not None
    assert not store._watch.quiet()  # the test takes the notices: the store cannot see them
    deadline = time.monotonic() + 5
    while store.generation() == before:
        assert time.monotonic() < deadline, "the periodic full check never came"
        time.sleep(0.02)


def test_without_inotify_every_call_checks(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DirectoryWatch, "open", classmethod(lambda cls, directory: None))
    store = SqliteObjectStore(tmp_path / "t.sqlite3")
    store.save_object(b"a", b"1")
    store.generation()
    assert store._watch is None
    checked = count_file_checks(monkeypatch)
    for _ in range(10):
        store.generation()
    assert len(checked) == 30  # database, -wal, -shm on every call
    other = SqliteObjectStore(store.path)
    before = store.generation()
    other.save_object(b"b", b"2")
    assert store.generation() > before
    other.close()
    store.close()


def test_announce_is_a_notice_and_close_releases_the_watch(tmp_path: Path) -> None:
    watched = tmp_path / "dir"
    watched.mkdir()
    target = watched / "f"
    target.write_bytes(b"")
    watch = DirectoryWatch.open(watched)
    assert watch is not None
    assert watch.quiet()
    announce(target)
    assert not watch.quiet()
    assert watch.quiet()  # each notice is reported once
    watch.close()
    assert not watch.quiet()  # a closed watch never claims quiet
    watch.close()


def test_deleted_directory_ends_the_fast_answers(tmp_path: Path) -> None:
    watched = tmp_path / "dir"
    watched.mkdir()
    watch = DirectoryWatch.open(watched)
    assert watch is not None
    watched.rmdir()
    assert not watch.quiet()
    assert not watch.quiet()  # gone for good: every later call checks
    watch.close()
