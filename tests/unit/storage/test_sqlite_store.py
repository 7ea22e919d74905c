"""SqliteObjectStore beyond the PAL contract: durability, other processes, files, errors."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tokenport
from tokenport import errors
from tokenport.backends.storage import sqlite as storage_sqlite
from tokenport.backends.storage.sqlite import SqliteObjectStore, prefix_upper_bound

# A store in another process, driven by JSON lines on stdin: [command, args...] -> result.
WORKER = textwrap.dedent(
    """
    import json, sys
    from tokenport.backends.storage.sqlite import SqliteObjectStore
    store = SqliteObjectStore(sys.argv[1])
    store.initialize()
    for line in sys.stdin:
        cmd, *args = json.loads(line)
        if cmd == "save":
            out = store.save_object(bytes.fromhex(args[0]), bytes.fromhex(args[1]))
        elif cmd == "save_many":
            for i in range(args[1]):
                store.save_object(("%s/%d" % (args[0], i)).encode(), b"x" * 100)
            out = None
        elif cmd == "find":
            out = store.find_object(bytes.fromhex(args[0]))
        elif cmd == "get":
            out = store.get_object_value(args[0])[0].hex()
        elif cmd == "destroy":
            out = store.destroy_object(args[0])
        elif cmd == "gen":
            out = store.generation()
        elif cmd == "labels":
            out = [e.label.hex() for e in store.enumerate_objects()]
        print(json.dumps(out), flush=True)
    store.close()
    """
)


class Worker:
    def __init__(self, db: Path) -> None:
        env = dict(os.environ)
        src = str(Path(tokenport.__file__).parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def __call__(self, *command: Any) -> Any:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "worker died"
        return json.loads(line)

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        assert self.proc.wait(timeout=60) == 0


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store" / "tokenport.sqlite3"


@pytest.fixture
def store(db: Path) -> Iterator[SqliteObjectStore]:
    s = SqliteObjectStore(db)
    s.initialize()
    yield s
    s.close()


@pytest.fixture
def worker(db: Path, store: SqliteObjectStore) -> Iterator[Worker]:
    w = Worker(db)
    yield w
    w.close()


def test_persists_across_close_and_reopen(db: Path) -> None:
    first = SqliteObjectStore(db)
    a = first.save_object(b"a", b"alpha", private=True)
    b = first.save_object(b"b", b"beta" * 10000)
    first.destroy_object(first.save_object(b"c", b"gone"))
    entries, generation = first.enumerate_objects(), first.generation()
    first.close()
    again = SqliteObjectStore(db)
    try:
        assert again.enumerate_objects() == entries
        assert again.generation() == generation
        assert again.get_object_value(a) == (b"alpha", True)
        assert again.get_object_value(b) == (b"beta" * 10000, False)
        assert again.find_object(b"c") is None
        assert again.save_object(b"a", b"alpha2") == a  # same handle after reopen
        assert again.save_object(b"d", b"new") not in (a, b)
    finally:
        again.close()


def test_used_without_initialize(db: Path) -> None:
    store = SqliteObjectStore(db)
    try:
        assert store.generation() == 0
        assert store.save_object(b"x", b"1") > 0
    finally:
        store.close()


def test_another_process_sees_writes_without_reopening(
    store: SqliteObjectStore, worker: Worker
) -> None:
    # first -> second
    handle = store.save_object(b"Device Cert", b"cert-bytes")
    assert worker("find", b"Device Cert".hex()) == handle
    assert bytes.fromhex(worker("get", handle)) == b"cert-bytes"
    seen = worker("gen")
    assert seen == store.generation()  # the counter itself: the same number everywhere
    store.save_object(b"Device Cert", b"cert-bytes-2")
    assert worker("gen") != seen
    assert bytes.fromhex(worker("get", handle)) == b"cert-bytes-2"
    seen = worker("gen")
    store.destroy_object(handle)
    assert worker("gen") != seen
    assert worker("find", b"Device Cert".hex()) is None

    # second -> first
    before = store.generation()
    other = worker("save", b"Root Cert".hex(), b"root".hex())
    assert store.generation() != before
    assert store.find_object(b"Root Cert") == other
    assert store.get_object_value(other) == (b"root", False)
    before = store.generation()
    worker("destroy", other)
    assert store.generation() != before
    assert store.find_object(b"Root Cert") is None
    # reads in the other process change nothing here
    before = store.generation()
    worker("labels")
    worker("find", b"Root Cert".hex())
    assert store.generation() == before


def test_two_processes_write_at_once(db: Path, store: SqliteObjectStore) -> None:
    workers = [Worker(db) for _ in range(3)]
    try:
        for n, w in enumerate(workers):
            assert w.proc.stdin
            w.proc.stdin.write(json.dumps(["save_many", f"p{n}", 200]) + "\n")
            w.proc.stdin.flush()
        for i in range(200):
            store.save_object(b"main/%d" % i, b"y")
        for w in workers:
            assert w.proc.stdout
            assert json.loads(w.proc.stdout.readline()) is None
    finally:
        for w in workers:
            w.close()
    entries = store.enumerate_objects()
    assert len(entries) == 800
    assert len({e.revision for e in entries}) == 800
    assert store.generation() == 800  # one counter step per save


def test_fork_child_uses_its_own_connection(store: SqliteObjectStore) -> None:
    handle = store.save_object(b"before fork", b"1")
    pid = os.fork()
    if pid == 0:  # child: must not use the parent's connection, yet must work
        code = 1
        try:
            ok = store.get_object_value(handle) == (b"1", False)
            store.save_object(b"from child", b"2")
            code = 0 if ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.find_object(b"from child") is not None
    assert store.save_object(b"after fork", b"3") > 0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_file_modes(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "tokenport.sqlite3"
    old = os.umask(0o022)
    try:
        store = SqliteObjectStore(db)
        store.save_object(b"x", b"1")
        assert _mode(db.parent) == 0o700
        assert _mode(db) == 0o600
        for suffix in ("-wal", "-shm"):
            side = db.with_name(db.name + suffix)
            assert side.exists(), suffix
            assert _mode(side) == 0o600, suffix
        store.close()
    finally:
        os.umask(old)


def test_file_modes_with_permissive_umask(tmp_path: Path) -> None:
    db = tmp_path / "store" / "tokenport.sqlite3"
    old = os.umask(0)
    try:
        store = SqliteObjectStore(db)
        store.save_object(b"x", b"1")
        assert _mode(db.parent) == 0o700
        assert _mode(db) == 0o600
        assert _mode(db.with_name(db.name + "-wal")) == 0o600
        store.close()
    finally:
        os.umask(old)


def test_existing_directory_mode_is_left_alone(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    store = SqliteObjectStore(tmp_path / "tokenport.sqlite3")
    store.initialize()
    store.close()
    assert _mode(tmp_path) == 0o755
    assert _mode(tmp_path / "tokenport.sqlite3") == 0o600


def test_pragmas_and_schema(store: SqliteObjectStore, db: Path) -> None:
    store.save_object(b"x", b"1")
    conn = store._conn  # white-box: the settings of the live connection
    assert conn is not None
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
    assert conn.execute("PRAGMA user_version").fetchone()[0] == storage_sqlite.SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == storage_sqlite.APPLICATION_ID


@pytest.mark.parametrize(
    ("sql", "args"),
    [
        (storage_sqlite.SQL_FIND, (b"t/1/o/5",)),
        (storage_sqlite.SQL_ENUM_RANGE, (b"t/1/", b"t/10")),
        (storage_sqlite.SQL_ENUM_FROM, (b"\xff",)),
        (storage_sqlite.SQL_GET, (5,)),
    ],
)
def test_lookups_use_an_index(
    store: SqliteObjectStore, db: Path, sql: str, args: tuple[Any, ...]
) -> None:
    for i in range(50):
        store.save_object(b"t/1/o/%d" % i, b"x")
    conn = sqlite3.connect(db)
    try:
        plan = " | ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args))
    finally:
        conn.close()
    assert "SEARCH" in plan and "SCAN" not in plan, plan


def test_prefix_upper_bound() -> None:
    assert prefix_upper_bound(b"") is None
    assert prefix_upper_bound(b"\xff\xff") is None
    assert prefix_upper_bound(b"a") == b"b"
    assert prefix_upper_bound(b"t/1/") == b"t/10"
    assert prefix_upper_bound(b"a\xff") == b"b"
    assert prefix_upper_bound(b"a\xfe\xff\xff") == b"a\xff"
    assert prefix_upper_bound(b"\x00") == b"\x01"


def test_full_store_raises_device_memory_and_keeps_state(store: SqliteObjectStore) -> None:
    handle = store.save_object(b"keep", b"old value")
    generation = store.generation()
    conn = store._conn  # white-box: cap the file at its current size to simulate a full disk
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(errors.DeviceMemory) as info:
        store.save_object(b"keep", os.urandom(65536))
    assert "keep" not in str(info.value)
    with pytest.raises(errors.DeviceMemory):
        store.save_object(b"new", os.urandom(65536))
    assert store.get_object_value(handle) == (b"old value", False)
    assert store.find_object(b"new") is None
    assert store.generation() == generation
    conn.execute("PRAGMA max_page_count = 1073741823")
    assert store.save_object(b"new", b"fits now") > handle


def test_unopenable_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    path = tmp_path / "file" / "store" / "tokenport.sqlite3"
    store = SqliteObjectStore(path)
    with pytest.raises(errors.DeviceError) as info:
        store.initialize()
    assert str(path) in str(info.value)


def test_unopenable_path_is_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "tokenport.sqlite3"
    path.mkdir()
    with pytest.raises(errors.DeviceError) as info:
        SqliteObjectStore(path).initialize()
    assert str(path) in str(info.value)


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "tokenport.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(errors.DeviceError) as info:
        SqliteObjectStore(path).find_object(b"x")
    assert str(path) in str(info.value)
    assert path.read_bytes() == b"this is not sqlite" * 100


def test_foreign_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(errors.DeviceError, match="not a tokenport store"):
        SqliteObjectStore(path).initialize()


def test_newer_schema_is_refused(db: Path) -> None:
    store = SqliteObjectStore(db)
    store.initialize()
    store.close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(errors.DeviceError, match="newer"):
        SqliteObjectStore(db).initialize()


def run_unprivileged(check: Callable[[], None]) -> None:
    """Run ``check`` as an ordinary user: root ignores file permissions, so as root the
    check runs in a forked child that first drops to uid/gid 65534 (nobody)."""
    if os.geteuid() != 0:
        check()
        return
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        status, message = 0, b""
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            check()
        except BaseException as exc:  # noqa: BLE001 - any failure goes to the parent
            status, message = 1, repr(exc).encode()
        os.write(write_end, message)
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, message.decode()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A root-owned directory everyone may read but only its owner may write."""
    path = Path(tempfile.mkdtemp(prefix="tokenport-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_read_only_store(shared_dir: Path) -> None:
    db = shared_dir / "tokenport.sqlite3"
    store = SqliteObjectStore(db)
    store.save_object(b"x", b"1")
    store.close()
    db.chmod(0o444)
    shared_dir.chmod(0o555)

    def check() -> None:
        with pytest.raises(errors.DeviceError) as info:
            SqliteObjectStore(db).save_object(b"y", b"2")
        assert str(db) in str(info.value)

    try:
        run_unprivileged(check)
    finally:
        shared_dir.chmod(0o755)


def test_unwritable_directory(shared_dir: Path) -> None:
    shared_dir.chmod(0o555)

    def check() -> None:
        with pytest.raises(errors.DeviceError):
            SqliteObjectStore(shared_dir / "store" / "tokenport.sqlite3").initialize()

    try:
        run_unprivileged(check)
    finally:
        shared_dir.chmod(0o755)


def test_error_messages_carry_no_data(store: SqliteObjectStore) -> None:
    handle = store.save_object(b"label", b"SECRET-RECORD")
    store.destroy_object(handle)
    with pytest.raises(errors.ObjectHandleInvalid) as info:
        store.get_object_value(handle)
    assert "SECRET" not in str(info.value)


def test_processes_create_the_same_store_at_once(db: Path) -> None:
    workers = [Worker(db) for _ in range(4)]  # each initializes a fresh file concurrently
    try:
        handles = [w("save", b"shared".hex(), b"v".hex()) for w in workers]
        assert len(set(handles)) == 1
        assert all(w("gen") == 4 for w in workers)
    finally:
        for w in workers:
            w.close()
