"""A damaged, shrunk, vanished or read-only store never kills the host and never fakes
success (issue 9, item 4): every PAL call of the durable backends raises DeviceError once
the files a store opened were truncated, deleted or replaced behind its back, and a write
to a store made read-only fails before it changes anything.

Scenarios that used to kill the process (SIGBUS from a memory-mapped file that shrank) run
in a forked child, so that a regression fails the test instead of killing pytest.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import sqlite3
import stat
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tokenport import errors
from tokenport.backends.storage.files import FileObjectStore
from tokenport.backends.storage.flash import FlashObjectStore
from tokenport.backends.storage.flash_image import FlashError, NorFlash
from tokenport.backends.storage.sqlite import SqliteObjectStore
from tokenport.ports.storage import ObjectStore

from .test_sqlite_store import run_unprivileged

GEOMETRY = (64, 4096)



def make(backend: str, home: Path) -> ObjectStore:
    """An uninitialized store of ``backend`` in the store directory ``home``."""
    if backend == "sqlite":
        return SqliteObjectStore(home / "tokenport.sqlite3")
    if backend == "files":
        return FileObjectStore(home / "objects")
    return FlashObjectStore(home / "tokenport.flash", *GEOMETRY)


def main_file(backend: str, home: Path) -> Path:
    """The file (or, for files, the directory) that holds the records."""
    return home / {"sqlite": "tokenport.sqlite3", "files": "objects", "flash": "tokenport.flash"}[
        backend
    ]


def in_child(check: Callable[[], None]) -> None:
    """Run ``check`` in a forked child: the test fails (instead of pytest dying or hanging)
    when the child is killed by a signal or runs for a minute, and shows the child's
    traceback when it fails."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        status, message = 0, b""
        signal.alarm(60)  # a hang fails the test too (killed by SIGALRM)
        try:
            check()
        except BaseException:  # noqa: BLE001 - any failure goes to the parent
            status, message = 1, traceback.format_exc().encode()
        os.write(write_end, message[-60000:])
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code >= 0, f"the process was killed by {signal.Signals(-code).name}"
    assert code == 0, message.decode()


# Every PAL call that touches the store, on a store holding b"a" (handle h) and b"b".
CALLS: dict[str, Callable[[ObjectStore, int], object]] = {
    "initialize": lambda s, h: s.initialize(),
    "generation": lambda s, h: s.generation(),
    "find_object": lambda s, h: s.find_object(b"a"),
    "get_object_value": lambda s, h: s.get_object_value(h),
    "enumerate_objects": lambda s, h: s.enumerate_objects(),
    "save_object new": lambda s, h: s.save_object(b"new", b"3"),
    "save_object replace": lambda s, h: s.save_object(b"a", b"4"),
    "destroy_object": lambda s, h: s.destroy_object(h),
}


def every_call_is_a_device_error(store: ObjectStore, handle: int) -> None:
    outcomes = {}
    for name, call in CALLS.items():
        try:
            outcomes[name] = f"returned {call(store, handle)!r}"
        except errors.DeviceError as exc:
            outcomes[name] = "DeviceError"
            assert "b'" not in str(exc)  # names files, never record contents
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes[name] = f"raised {type(exc).__name__}: {exc}"
    wrong = {name: outcome for name, outcome in outcomes.items() if outcome != "DeviceError"}
    assert not wrong, wrong


def _copy_back(path: Path) -> None:
    """Replace ``path`` by a copy of itself: same contents, a new inode."""
    moved = path.with_name(path.name + ".moved")
    os.rename(path, moved)
    if moved.is_dir():
        shutil.copytree(moved, path)
    else:
        shutil.copyfile(moved, path)


def _delete(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


DAMAGE: dict[str, tuple[tuple[str, ...], Callable[[Path], None]]] = {
    "deleted": (("sqlite", "files", "flash"), _delete),
    "replaced": (("sqlite", "files", "flash"), _copy_back),
    "truncated to 0": (("sqlite", "flash"), lambda path: os.truncate(path, 0)),
    "truncated to 4096": (("sqlite", "flash"), lambda path: os.truncate(path, 4096)),
    "grown": (("flash",), lambda path: os.truncate(path, GEOMETRY[0] * GEOMETRY[1] + 4)),
}
CASES = [(backend, damage) for damage, (backends, _) in DAMAGE.items() for backend in backends]


@pytest.mark.parametrize(("backend", "damage"), CASES, ids=[f"{b}-{d}" for b, d in CASES])
def test_every_call_fails_with_device_error_after_damage(
    backend: str, damage: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"

    def scenario() -> None:
        store = make(backend, home)
        handle = store.save_object(b"a", b"1" * 3000)
        for i in range(20):
            store.save_object(b"b%d" % i, b"2" * 3000)
        store.close()  # (sqlite: the checkpoint moves everything into the database file)
        store = make(backend, home)
        assert store.get_object_value(handle) == (b"1" * 3000, False)
        DAMAGE[damage][1](main_file(backend, home))
        every_call_is_a_device_error(store, handle)
        every_call_is_a_device_error(store, handle)  # and it stays so
        store.close()

    in_child(scenario)


@pytest.mark.parametrize("backend", ["sqlite", "files", "flash"])
def test_store_opened_again_after_damage_works(backend: str, tmp_path: Path) -> None:
    """The error lasts until the store is closed; a new store object opens what the path
    names now (here: the copy that replaced the original)."""
    home = tmp_path / "home"
    store = make(backend, home)
    handle = store.save_object(b"a", b"1")
    store.close()
    store = make(backend, home)
    store.initialize()
    _copy_back(main_file(backend, home))
    with pytest.raises(errors.DeviceError):
        store.generation()
    store.close()
    again = make(backend, home)
    assert again.get_object_value(handle) == (b"1", False)
    again.save_object(b"c", b"3")
    again.close()


# -- flash: the image is never touched past its real end ------------------------------------


def test_nor_flash_read_of_a_truncated_image_is_an_error(tmp_path: Path) -> None:
    def scenario() -> None:
        flash = NorFlash(tmp_path / "nor.img", 4, 256)
        flash.open()
        os.truncate(tmp_path / "nor.img", 100)
        with pytest.raises(FlashError):
            flash.read(0, 256)
        with pytest.raises(FlashError):
            flash.verify()
        with pytest.raises(FlashError):
            flash.program(512, b"\x00")
        assert os.path.getsize(tmp_path / "nor.img") == 100  # never extended with a hole
        flash.close()

    in_child(scenario)


def test_nor_flash_verify_notices_a_replaced_image(tmp_path: Path) -> None:
    flash = NorFlash(tmp_path / "nor.img", 4, 256)
    flash.open()
    flash.verify()
    _copy_back(tmp_path / "nor.img")
    with pytest.raises(FlashError, match="replaced"):
        flash.verify()
    os.unlink(tmp_path / "nor.img")
    with pytest.raises(FlashError, match="deleted"):
        flash.verify()
    flash.close()


class FullDisk(NorFlash):
    """A NorFlash whose file system is full (a sparse or copy-on-write image file)."""

    full = False

    def _write(self, offset: int, data: bytes) -> None:
        if self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        super()._write(offset, data)


def test_flash_full_disk_is_device_memory_and_changes_nothing(tmp_path: Path) -> None:
    image = tmp_path / "flash.img"
    flash = FullDisk(image, *GEOMETRY)
    store = FlashObjectStore(image, *GEOMETRY, flash=flash)
    handle = store.save_object(b"a", b"1")
    generation = store.generation()
    flash.full = True
    with pytest.raises(errors.DeviceMemory):
        store.save_object(b"a", b"2")
    with pytest.raises(errors.DeviceMemory):
        store.destroy_object(handle)
    flash.full = False
    assert store.get_object_value(handle) == (b"1", False)
    assert store.generation() == generation
    store.close()
    again = FlashObjectStore(image, *GEOMETRY)
    assert again.get_object_value(handle) == (b"1", False)
    assert [e.label for e in again.enumerate_objects()] == [b"a"]
    again.close()


# -- the lock file is followed, not trusted blindly ------------------------------------------


@pytest.mark.parametrize("backend", ["files", "flash"])
def test_lock_file_deleted_while_open_is_followed(backend: str, tmp_path: Path) -> None:
    """A store opened before the lock file was deleted and one opened after it must still
    lock together and see each other's writes."""
    home = tmp_path / "home"
    first = make(backend, home)
    first.save_object(b"a", b"1")
    lock = {"files": home / "objects" / "tokenport-files.meta",
            "flash": home / "tokenport.flash.lock"}[backend]
    lock.unlink()
    second = make(backend, home)
    handle = second.save_object(b"b", b"2")
    assert lock.exists()
    assert first.find_object(b"b") == handle
    assert first.generation() == second.generation()
    other = first.save_object(b"c", b"3")
    assert second.get_object_value(other) == (b"3", False)
    assert first.generation() == second.generation()
    first.close()
    second.close()


# -- files: a record file deleted outside tokenport --------------------------------------------


def test_files_record_deleted_outside_tokenport_is_a_device_error(tmp_path: Path) -> None:
    where = tmp_path / "objects"
    store = FileObjectStore(where)
    handle = store.save_object(b"a", b"1")
    keep = store.save_object(b"b", b"2")
    (name,) = [n for n in os.listdir(where) if n.startswith(f"{handle:x}.")]
    os.unlink(where / name)
    with pytest.raises(errors.DeviceError, match="deleted outside tokenport"):
        store.get_object_value(handle)
    assert store.find_object(b"a") is None  # then it is absent
    assert store.get_object_value(keep) == (b"2", False)
    store.close()


def test_files_record_replaced_by_a_fifo_never_blocks(tmp_path: Path) -> None:
    def scenario() -> None:
        where = tmp_path / "objects"
        store = FileObjectStore(where)
        handle = store.save_object(b"a", b"1")
        long_label = b"L" * 200  # named by its hash: the file is read to learn its label
        store.save_object(long_label, b"2")
        store.close()
        for name in [n for n in os.listdir(where) if n.endswith(".obj")]:
            os.unlink(where / name)
            os.mkfifo(where / name)
        store = FileObjectStore(where)
        assert store.find_object(long_label) is None  # skipped: not a record
        with pytest.raises(errors.DeviceError, match="not a regular file"):
            store.get_object_value(handle)
        assert store.enumerate_objects() == []
        store.close()

    in_child(scenario)


def test_files_record_destroyed_by_another_process_is_not_damage(tmp_path: Path) -> None:
    where = tmp_path / "objects"
    first, second = FileObjectStore(where), FileObjectStore(where)
    handle = first.save_object(b"a", b"1")
    assert second.find_object(b"a") == handle
    first.destroy_object(handle)
    with pytest.raises(errors.ObjectHandleInvalid):
        second.get_object_value(handle)
    first.close()
    second.close()


# -- sqlite: its WAL and shared-memory index, damaged rows ------------------------------------


def _sqlite_store(tmp_path: Path) -> tuple[SqliteObjectStore, int, Path]:
    db = tmp_path / "home" / "tokenport.sqlite3"
    store = SqliteObjectStore(db)
    handle = store.save_object(b"a", b"1")
    return store, handle, db


def test_sqlite_truncated_shared_memory_index_never_kills(tmp_path: Path) -> None:
    def scenario() -> None:
        store, handle, db = _sqlite_store(tmp_path)
        shm = db.with_name(db.name + "-shm")
        size = shm.stat().st_size
        os.truncate(shm, 0)
        every_call_is_a_device_error(store, handle)
        assert shm.stat().st_size == size  # given back, so that no mapping of it can fault
        store.close()
        again = SqliteObjectStore(db)  # SQLite rebuilds the index from the WAL
        assert again.get_object_value(handle) == (b"1", False)
        again.close()

    in_child(scenario)


def test_sqlite_truncated_wal_fails_the_next_write(tmp_path: Path) -> None:
    store, _handle, db = _sqlite_store(tmp_path)
    os.truncate(db.with_name(db.name + "-wal"), 0)
    with pytest.raises(errors.DeviceError, match="-wal"):
        store.save_object(b"b", b"2")
    with pytest.raises(errors.DeviceError):
        store.generation()
    store.close()


def test_sqlite_database_replaced_during_the_wait_for_the_write_lock(tmp_path: Path) -> None:
    store, _handle, db = _sqlite_store(tmp_path)
    real = store._verify_files  # white-box: replace the file right after BEGIN IMMEDIATE
    calls = []

    def verify() -> None:
        calls.append(1)
        if len(calls) == 2:
            _copy_back(db)
        real()

    store._verify_files = verify  # type: ignore[method-assign]
    with pytest.raises(errors.DeviceError, match="replaced"):
        store.save_object(b"b", b"2")
    store.close()
    again = SqliteObjectStore(db.with_name(db.name + ".moved"))
    assert again.find_object(b"b") is None  # rolled back in the original, too
    again.close()


def _edit(db: Path, sql: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute(sql)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("sql", "call"),
    [
        ("DELETE FROM counter", lambda s: s.save_object(b"b", b"2")),
        ("DELETE FROM counter", lambda s: s.generation()),
        ("UPDATE counter SET value = 'x'", lambda s: s.generation()),
        ("UPDATE records SET data = 'text'", lambda s: s.get_object_value(1)),
        ("UPDATE records SET private = 'x'", lambda s: s.get_object_value(1)),
        ("UPDATE records SET label = 'text'", lambda s: s.enumerate_objects()),
        ("UPDATE records SET revision = 'x'", lambda s: s.enumerate_objects()),
        ("DROP TABLE records", lambda s: s.find_object(b"a")),
    ],
)
def test_sqlite_rows_edited_outside_tokenport_are_device_errors(
    tmp_path: Path, sql: str, call: Callable[[SqliteObjectStore], object]
) -> None:
    store, _handle, db = _sqlite_store(tmp_path)
    store.close()
    _edit(db, sql)
    again = SqliteObjectStore(db)
    with pytest.raises(errors.DeviceError):
        call(again)
    again.close()


@pytest.mark.parametrize("damage", ["header", "pages"])
def test_sqlite_corrupt_database_is_a_device_error(tmp_path: Path, damage: str) -> None:
    store, handle, db = _sqlite_store(tmp_path)
    for i in range(30):
        store.save_object(b"r%d" % i, os.urandom(2000))
    store.close()
    with open(db, "r+b") as file:
        if damage == "header":  # "file is not a database"
            file.write(b"\x5a" * 100)
        else:  # every page but the first: "database disk image is malformed"
            file.seek(4096)
            file.write(b"\x5a" * (db.stat().st_size - 4096))
    again = SqliteObjectStore(db)
    calls: list[Callable[[], object]] = [
        again.generation, again.enumerate_objects, lambda: again.find_object(b"a"),
        lambda: again.get_object_value(handle), lambda: again.save_object(b"x", b"1"),
    ]
    if damage == "header":  # (SQLite finds damaged pages when it reads them, not at open)
        calls.insert(0, again.initialize)
    for call in calls:
        with pytest.raises(errors.DeviceError):
            call()
    again.close()


# -- read-only (a read-only mount, simulated by permissions as an ordinary user) ---------------


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A directory that the unprivileged user of run_unprivileged owns."""
    path = Path(tempfile.mkdtemp(prefix="tokenport-ro-"))
    path.chmod(0o755)
    store_home = path / "home"
    store_home.mkdir()
    if os.geteuid() == 0:
        os.chown(store_home, 65534, 65534)
    yield store_home
    shutil.rmtree(path, ignore_errors=True)


def _make_read_only(backend: str, home: Path) -> Callable[[], None]:
    """chmod the store read-only; returns the function that undoes it."""
    if backend == "files":
        target, mode, back = home / "objects", 0o500, 0o700
    else:
        target, mode, back = main_file(backend, home), 0o400, 0o600
    target.chmod(mode)
    return lambda: target.chmod(back)


@pytest.mark.parametrize("backend", ["sqlite", "files", "flash"])
def test_write_to_a_store_made_read_only_while_open_changes_nothing(
    backend: str, nobody_dir: Path
) -> None:
    home = nobody_dir

    def check() -> None:
        store = make(backend, home)
        handle = store.save_object(b"a", b"1")
        store.save_object(b"b", b"2")
        generation = store.generation()
        undo = _make_read_only(backend, home)
        for write in (lambda: store.save_object(b"new", b"3"),
                      lambda: store.save_object(b"a", b"4"),
                      lambda: store.destroy_object(handle)):
            with pytest.raises(errors.DeviceError, match="read-only"):
                write()
        # reading a read-only store is fine
        assert store.get_object_value(handle) == (b"1", False)
        assert [e.label for e in store.enumerate_objects()] == [b"a", b"b"]
        assert store.generation() == generation
        store.close()
        # opened afresh while read-only: nothing is written. SQLite opens a write-protected
        # database for reading; files and flash repair at open, so they refuse to open.
        fresh = make(backend, home)
        if backend == "sqlite":
            for name in ("save_object new", "save_object replace", "destroy_object"):
                with pytest.raises(errors.DeviceError, match="read-only"):
                    CALLS[name](fresh, handle)
            assert fresh.get_object_value(handle) == (b"1", False)
            assert fresh.generation() == generation
        else:
            every_call_is_a_device_error(fresh, handle)
        fresh.close()
        undo()
        again = make(backend, home)
        assert {e.label: again.get_object_value(e.handle) for e in again.enumerate_objects()} \
            == {b"a": (b"1", False), b"b": (b"2", False)}
        assert again.generation() == generation
        again.close()

    run_unprivileged(check)
    assert stat.S_IMODE(main_file(backend, home).stat().st_mode) in (0o600, 0o700)


# -- random damage to a closed store ------------------------------------------------------------

PAL_ERRORS = (errors.DeviceError, errors.DeviceMemory, errors.ObjectHandleInvalid)


def _damage_at_random(rnd: random.Random, home: Path) -> None:
    files = sorted(p for p in home.rglob("*") if p.is_file() and p.stat().st_size)
    for _ in range(rnd.randint(1, 5)):
        path = rnd.choice(files)
        size = path.stat().st_size
        with open(path, "r+b") as file:
            if rnd.random() < 0.7:
                for _ in range(rnd.randint(1, 8)):
                    file.seek(rnd.randrange(size))
                    file.write(bytes([rnd.randrange(256)]))
            else:
                file.truncate(rnd.randrange(size))


@pytest.mark.parametrize("backend", ["sqlite", "files", "flash"])
def test_random_damage_gives_only_pal_errors(backend: str, tmp_path: Path) -> None:
    """Bytes flipped and files cut short in a closed store: opening and using it again
    gives results or the PAL's errors, never another exception (a CKR_GENERAL_ERROR)."""
    surprises = []
    for seed in range(SEEDS[backend]):
        rnd = random.Random(seed)
        home = tmp_path / f"s{seed}"
        store = make(backend, home)
        for _ in range(rnd.randint(1, 30)):
            store.save_object(b"l%d" % rnd.randint(0, 10), rnd.randbytes(rnd.randint(0, 600)))
        store.close()
        _damage_at_random(rnd, home)
        store = make(backend, home)
        for _ in range(20):
            label = b"l%d" % rnd.randint(0, 10)
            try:
                choice = rnd.random()
                if choice < 0.2:
                    store.generation()
                elif choice < 0.4:
                    for entry in store.enumerate_objects():
                        store.get_object_value(entry.handle)
                elif choice < 0.7:
                    store.save_object(label, rnd.randbytes(rnd.randint(0, 600)))
                elif choice < 0.8:
                    handle = store.find_object(label)
                    if handle is not None:
                        store.destroy_object(handle)
                else:
                    store.get_object_value(rnd.randint(1, 40))
            except PAL_ERRORS:
                pass
            except Exception as exc:  # noqa: BLE001 - collected and reported
                surprises.append(f"seed {seed}: {type(exc).__name__}: {exc}")
        store.close()
    assert not surprises, surprises


SEEDS = {"sqlite": 150, "files": 60, "flash": 60}
