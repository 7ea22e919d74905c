"""The durable storage port (the PAL) on one SQLite database file (stdlib sqlite3).

Layout and durability
    The database is opened in WAL mode with ``synchronous=FULL``: when ``save_object`` or
    ``destroy_object`` returns, the change is in the fsync'ed write-ahead log and survives
    a crash or power loss. ``secure_delete`` overwrites freed pages with zeros; old page
    images can stay in the ``-wal`` file until a checkpoint, so ``close()`` tries a
    truncating checkpoint (private records are encrypted above the PAL in any case).

Several processes
    Any number of processes (and store objects) may open the same file. Writes take the
    write lock up front (``BEGIN IMMEDIATE``) and wait up to ``busy_timeout`` seconds for
    it. ``generation()`` sees commits of other connections without reopening: it asks
    SQLite for ``PRAGMA data_version`` (which changes when *another* connection commits)
    and re-reads the store-wide counter row only then; this connection's own writes set the
    cached counter directly. The value returned is the counter itself, so it is the same
    number in every process looking at the same file.

Schema (``PRAGMA user_version`` = 1, ``PRAGMA application_id`` marks a tokenport store)
    ``records(handle INTEGER PRIMARY KEY AUTOINCREMENT, label BLOB UNIQUE NOT NULL,
    private INTEGER, revision INTEGER, data BLOB)``: handles are never reused (AUTOINCREMENT),
    so a stale handle in another process can never name a different record. ``data`` is the
    last column so that reading label/handle/revision stops at the row's first page and
    never walks a large record's overflow chain. The UNIQUE constraint indexes ``label``;
    lookups and prefix scans (``label >= prefix AND label < upper``, BLOBs compare as
    unsigned bytes) search that index. ``counter(id = 0, value)`` is the one-row store-wide
    counter: each write bumps it in the same transaction, and a saved record takes the new
    value as its revision.

Files
    The directory (and any missing parent) is created with mode 0700 whatever the umask
    (existing directories are left alone: storage.paths) and the database file with mode
    0600 before SQLite opens it; SQLite gives its ``-wal`` and ``-shm`` files the mode of
    the database file. Existing files keep the mode an administrator gave them.

A damaged or vanished database (issue 9)
    SQLite keeps using the files it opened: if the database is deleted or replaced under
    an open connection, every write still "succeeds" into a file no one will open again;
    if its ``-shm`` index (which SQLite memory-maps) is truncated, the next access kills
    the process with SIGBUS. So before every call, with the store's lock held, the store
    compares the three paths with the files it opened (one ``stat`` each: device, inode,
    and a size that can only grow while a connection is open, for the database and the
    index). On a mismatch the store is *broken*: this call and every later one raise
    ``DeviceError`` without touching SQLite, until the store is closed and a new one is
    opened (C_Finalize, C_Initialize). A truncated index is first extended back to its
    size (with zeros; SQLite rebuilds it from the WAL), so that no mapping of it, here or
    in another process, can fault. ``PRAGMA mmap_size = 0``: the database itself is never
    mapped. A write to a database that was made read-only is refused before it starts.
    The paths are checked again inside the write transaction and after its commit, and a
    non-empty WAL must still start with its header: a WAL truncated under an open
    connection makes the next commit land after a hole that readers ignore, so that write
    raises ``DeviceError`` (its outcome is unknown) and the store is broken. Damage that
    SQLite finds (``file is not a database``, ``database disk image is malformed``), text
    that is not UTF-8 and rows of the wrong type are ``DeviceError`` too. Limit: replacing
    a database while processes have it open mispairs it with their WAL, which SQLite cannot
    survive in every case; tokenport reports it and writes nothing more, the repair is the
    administrator's. (A rollback journal would avoid the memory-mapped index altogether,
    at the price of readers waiting for writers and more fsyncs per write; WAL stays.)

The cheap change check (issue 10)
    ``generation()``, called by nearly every PKCS #11 call, does not repeat those checks
    while nothing happened in the store's directory: an inotify watch on it (see
    backends.storage.watch, which says what it covers and what it must never miss)
    reports every write, truncation, deletion, rename and attribute change there, by any
    process. With no notice since the last full check, and that check less than
    ``FULL_CHECK_INTERVAL`` old, ``generation()`` answers from it (under a microsecond
    instead of about five); any notice makes it check the files and ask SQLite again.
    Each commit is announced after it completes (a touch of the ``-wal`` file). The other
    PAL calls always check the files. Without inotify, every call checks, as before.

Errors (translated here, once)
    ``SQLITE_FULL`` -> ``DeviceMemory``; ``SQLITE_NOMEM`` -> ``HostMemory``; every other
    SQLite or OS failure -> ``DeviceError`` naming the file (never record contents); an
    unknown handle -> ``ObjectHandleInvalid``. A failed write is rolled back.

Threads and fork
    One connection per store object, shared by threads under one lock. A child process
    after ``fork()`` never touches the parent's connection (SQLite forbids it): the first
    call in the child opens a fresh connection and leaves the inherited one untouched.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from time import monotonic
from typing import Any, TypeVar

from tokenport import errors
from tokenport.backends.storage.pal_args import Bytes, check_handle, check_label, check_prefix
from tokenport.backends.storage.paths import FileIdentity, make_private_dirs, writable
from tokenport.backends.storage.watch import FULL_CHECK_INTERVAL, DirectoryWatch, announce
from tokenport.ports.storage import RevisionMismatch, StoredEntry
from tokenport.reentry import NoReentryLock

SCHEMA_VERSION = 1
APPLICATION_ID = int.from_bytes(b"TkPt", "big")
DEFAULT_BUSY_TIMEOUT = 30.0

_SCHEMA = (
    (
        "CREATE TABLE records ("
        " handle INTEGER PRIMARY KEY AUTOINCREMENT,"
        " label BLOB UNIQUE NOT NULL,"
        " private INTEGER NOT NULL DEFAULT 0,"
        " revision INTEGER NOT NULL,"
        " data BLOB NOT NULL)"
    ),
    "CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 0), value INTEGER NOT NULL)",
    "INSERT INTO counter (id, value) VALUES (0, 0)",
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

SQL_FIND = "SELECT handle FROM records WHERE label = ?"
SQL_FIND_REVISION = "SELECT handle, revision FROM records WHERE label = ?"
SQL_GET = "SELECT data, private FROM records WHERE handle = ?"
SQL_INSERT = "INSERT INTO records (label, private, revision, data) VALUES (?, ?, ?, ?)"
SQL_UPDATE = "UPDATE records SET private = ?, revision = ?, data = ? WHERE handle = ?"
SQL_DELETE = "DELETE FROM records WHERE handle = ?"
SQL_BUMP = "UPDATE counter SET value = value + 1 WHERE id = 0"
SQL_COUNTER = "SELECT value FROM counter WHERE id = 0"
SQL_ENUM_ALL = "SELECT label, handle, revision FROM records ORDER BY label"
SQL_ENUM_FROM = "SELECT label, handle, revision FROM records WHERE label >= ? ORDER BY label"
SQL_ENUM_RANGE = (
    "SELECT label, handle, revision FROM records WHERE label >= ? AND label < ? ORDER BY label"
)

_T = TypeVar("_T")
_WAL_MAGIC = (0x377F0682, 0x377F0683)  # the first four bytes of a WAL file (big-endian)
# What SQLite raises: its own errors, and (for damaged text, even in an error message)
# the decoding error of the sqlite3 module.
SQLITE_ERRORS = (sqlite3.Error, UnicodeDecodeError)


def prefix_upper_bound(prefix: bytes) -> bytes | None:
    """The least byte string greater than every string that starts with ``prefix``.

    None when there is none (``prefix`` is empty or all 0xFF bytes): then every label
    ``>= prefix`` starts with it.
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


class SqliteObjectStore:
    """An ObjectStore on the SQLite database file ``path`` (created on first use)."""

    def __init__(self, path: Path | str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self._path = Path(path).absolute()
        self._busy_timeout = busy_timeout
        self._lock = NoReentryLock("the store")
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._pid = os.getpid()
        self._inherited: list[sqlite3.Connection] = []
        self._data_version: int | None = None
        self._generation = 0
        self._files: list[FileIdentity] = []  # database, -wal, -shm as opened
        self._broken: str | None = None  # why the files are no longer the opened ones
        self._watch: DirectoryWatch | None = None  # change notices of the directory
        self._watch_tried = False
        self._next_full_check = 0.0  # monotonic time after which generation() checks anyway

    def __repr__(self) -> str:
        return f"SqliteObjectStore({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    # -- the PAL ------------------------------------------------------------------------

    def initialize(self) -> None:
        self._call("open", lambda conn: None)

    def save_object(
        self, label: Bytes, data: Bytes, *, private: bool = False,
        expected_revision: int | None = None,
    ) -> int:
        key = check_label(label)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise errors.ArgumentsBad("record data must be bytes")
        value = bytes(data)
        flag = int(bool(private))

        def write(conn: sqlite3.Connection, revision: int) -> int:
            row = conn.execute(SQL_FIND_REVISION, (key,)).fetchone()
            if expected_revision is not None and (row[1] if row else 0) != expected_revision:
                raise RevisionMismatch("the record changed since it was read")
            if row is None:
                handle = conn.execute(SQL_INSERT, (key, flag, revision, value)).lastrowid
                assert handle is not None
                return handle
            conn.execute(SQL_UPDATE, (flag, revision, value, row[0]))
            return int(row[0])

        return self._write("save", write)

    def find_object(self, label: Bytes) -> int | None:
        key = (check_label(label),)
        row = self._call("find", lambda conn: conn.execute(SQL_FIND, key).fetchone())
        return None if row is None else int(row[0])

    def get_object_value(self, handle: int) -> tuple[bytes, bool]:
        key = (check_handle(handle),)
        row = self._call("read", lambda conn: conn.execute(SQL_GET, key).fetchone())
        if row is None:
            raise errors.ObjectHandleInvalid(f"tokenport store: no record with handle {handle}")
        if not isinstance(row[0], bytes) or not isinstance(row[1], int):
            raise self._damaged(f"record {handle}")
        return row[0], bool(row[1])

    def get_object_value_cleanup(self, data: bytes | bytearray) -> None:
        # SQLite hands out immutable bytes: nothing to wipe. A caller's mutable copy is zeroed.
        if isinstance(data, bytearray):
            data[:] = bytes(len(data))

    def destroy_object(self, handle: int) -> None:
        key = (check_handle(handle),)

        def write(conn: sqlite3.Connection, revision: int) -> None:
            if conn.execute(SQL_DELETE, key).rowcount != 1:
                raise errors.ObjectHandleInvalid(f"tokenport store: no record with handle {handle}")

        self._write("destroy", write)

    def enumerate_objects(self, prefix: Bytes = b"") -> list[StoredEntry]:
        start = check_prefix(prefix)
        upper = prefix_upper_bound(start)

        def scan(conn: sqlite3.Connection) -> list[Any]:
            if not start:
                return conn.execute(SQL_ENUM_ALL).fetchall()
            if upper is None:
                return conn.execute(SQL_ENUM_FROM, (start,)).fetchall()
            return conn.execute(SQL_ENUM_RANGE, (start, upper)).fetchall()

        rows = self._call("enumerate", scan)
        if not all(isinstance(r[0], bytes) and isinstance(r[2], int) for r in rows):
            raise self._damaged("a record label or revision")
        return [StoredEntry(r[0], int(r[1]), r[2]) for r in rows]

    def generation(self) -> int:
        # The hot path (called on many API calls): no closures. With a directory watch
        # (backends.storage.watch) and no notice since the last full check, the answer is
        # that check's; else the files are checked and SQLite asked for data_version.
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            watch = self._watch
            if (watch is not None and self._broken is None and self._conn is not None
                    and monotonic() < self._next_full_check and watch.quiet()):
                return self._generation
            conn = self._connection()
            if watch is None and not self._watch_tried:
                # set up before the full check below, so nothing falls between the two
                self._watch_tried = True
                self._watch = DirectoryWatch.open(self._path.parent)
            try:
                (version,) = conn.execute("PRAGMA data_version").fetchone()
                if version != self._data_version:
                    # data_version first: a commit landing between the two reads is then in
                    # the counter, and it changes data_version again for the next call.
                    self._generation = self._counter(conn)
                    self._data_version = version
            except SQLITE_ERRORS as exc:
                raise self._translate(exc, "read generation") from exc
            self._next_full_check = monotonic() + FULL_CHECK_INTERVAL
            return self._generation

    def check(self) -> list[tuple[bytes | None, str]]:
        """Read-only verification for ``tokenport store check``: SQLite's integrity check
        of the file (pages, indexes)."""
        rows = self._call("check", lambda conn: conn.execute("PRAGMA integrity_check").fetchall())
        return [(None, f"sqlite: {row[0]}") for row in rows if row[0] != "ok"]

    def info(self) -> dict[str, Any]:
        """What ``tokenport store info`` shows for this backend."""
        count = self._call(
            "info", lambda conn: conn.execute("SELECT COUNT(*) FROM records").fetchone()
        )
        return {"backend": "sqlite", "file": str(self._path), "records": int(count[0]),
                "generation": self.generation()}

    def close(self) -> None:
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            if self._conn is not None and self._broken is None:
                self._check_files()
            conn, self._conn = self._conn, None
            self._closed = True
            if self._watch is not None:
                self._watch.close()
                self._watch = None
            if conn is None:
                return
            if self._broken is not None:
                conn.close()  # no checkpoint into files that are no longer the store's
                return
            try:
                conn.execute("PRAGMA busy_timeout = 0")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except SQLITE_ERRORS:
                pass  # best effort: another connection is busy; it will checkpoint later
            try:
                conn.close()
            except SQLITE_ERRORS as exc:
                raise self._translate(exc, "close") from exc

    # -- plumbing ----------------------------------------------------------------------

    def _call(self, action: str, body: Callable[[sqlite3.Connection], _T]) -> _T:
        """``body(conn)`` under the lock, with SQLite errors translated."""
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            conn = self._connection()
            try:
                return body(conn)
            except SQLITE_ERRORS as exc:
                raise self._translate(exc, action) from exc

    def _connection(self) -> sqlite3.Connection:
        """The connection (lock held), opened on first use; DeviceError when the files
        are no longer the ones it opened (see the module docstring)."""
        if self._conn is None:
            return self._connect()
        self._verify_files()
        return self._conn

    def _verify_files(self) -> None:
        """DeviceError when the store is (or now turns out) broken."""
        if self._broken is None:
            self._check_files()
        if self._broken is not None:
            raise errors.DeviceError(f"tokenport store {self._path}: {self._broken}")

    def _check_wal_header(self) -> None:
        """After a commit: a WAL that is not empty must start with a WAL header. SQLite
        writes the header only with the first frame, so a WAL truncated under an open
        connection gets frames after a hole of zeros, which every later reader ignores:
        the commit is lost. (An empty WAL is normal: a checkpoint truncates it. The WAL
        carries no locks, so opening and closing it here cannot drop SQLite's.)"""
        wal = self._files[1].path
        try:
            fd = os.open(wal, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise errors.DeviceError(
                f"tokenport store {self._path}: cannot check {wal.name}: {exc.strerror or exc}"
            ) from exc
        try:
            magic = os.pread(fd, 4, 0)
        finally:
            os.close(fd)
        if magic and int.from_bytes(magic.ljust(4, b"\0"), "big") not in _WAL_MAGIC:
            self._broken = (f"{wal.name} lost its header (truncated while the store was open);"
                            " the last change may be lost; close and reopen the store")
            raise errors.DeviceError(f"tokenport store {self._path}: {self._broken}")

    def _check_files(self) -> None:
        """Compare the database, -wal and -shm paths with the files opened (lock held);
        on a mismatch, mark the store broken (a truncated -shm is first extended back)."""
        for identity in self._files:
            try:
                problem = identity.problem()
            except OSError as exc:
                raise errors.DeviceError(
                    f"tokenport store {self._path}: cannot check {identity.path.name}:"
                    f" {exc.strerror or exc}"
                ) from exc
            if problem is None:
                continue
            if identity.path.name.endswith("-shm") and identity.min_size is not None:
                _extend_back(identity)
            self._broken = problem + "; close and reopen the store (C_Finalize, C_Initialize)"
            return

    def _write(self, action: str, body: Callable[[sqlite3.Connection, int], _T]) -> _T:
        """``body(conn, new_revision)`` in one IMMEDIATE transaction that bumps the counter."""

        def transaction(conn: sqlite3.Connection) -> _T:
            if not writable(self._path):  # made read-only while open: as a read-only mount
                raise errors.DeviceError(
                    f"tokenport store {self._path}: the database is read-only; nothing written"
                )
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._verify_files()  # again: BEGIN may have waited for another writer
                conn.execute(SQL_BUMP)
                revision = self._counter(conn)
                result = body(conn, revision)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except SQLITE_ERRORS:
                        pass  # SQLite already rolled back, or the connection is broken
                raise
            # Committed, but into the files at the path? (Also records the database's
            # new size, after an automatic checkpoint grew it.)
            self._verify_files()
            self._check_wal_header()
            announce(self._files[1].path)  # to the watchers: this commit is now visible
            self._generation = revision
            return result

        return self._call(action, transaction)

    def _connect(self) -> sqlite3.Connection:
        """Open the connection (lock held). Raises DeviceError after close()."""
        if self._closed:
            raise errors.DeviceError(f"tokenport store {self._path}: used after close()")
        try:
            self._conn = self._open()
        except SQLITE_ERRORS as exc:
            raise self._translate(exc, "open") from exc
        return self._conn

    def _after_fork(self) -> None:
        # In a forked child: the parent's lock may be held by a thread that does not exist
        # here, and SQLite connections must not cross fork(). Keep the inherited connection
        # referenced (closing it here could disturb the parent's locks) and start afresh.
        self._pid = os.getpid()
        self._lock = NoReentryLock("the store")
        if self._conn is not None:
            self._inherited.append(self._conn)
            self._conn = None
        self._data_version = None
        self._files, self._broken = [], None
        if self._watch is not None:
            self._watch.close()  # this process's copy only; the parent keeps its watch
        self._watch, self._watch_tried = None, False

    def _open(self) -> sqlite3.Connection:
        self._create_files()
        uri = "file:" + urllib.parse.quote(os.fspath(self._path)) + "?mode=rw"
        conn = sqlite3.connect(
            uri,
            uri=True,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if str(mode).lower() != "wal":
                raise errors.DeviceError(
                    f"tokenport store {self._path}: cannot use WAL journal mode (got {mode});"
                    " is the file on a network file system?"
                )
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA trusted_schema = OFF")
            conn.execute("PRAGMA mmap_size = 0")  # read with read(2): a shrunk file cannot fault
            self._migrate(conn)
            self._files = self._opened_files()
        except BaseException:
            conn.close()
            raise
        self._data_version = None
        return conn

    def _opened_files(self) -> list[FileIdentity]:
        """The identities of the files the new connection uses (WAL mode: all three exist
        while any connection is open); the database and the -shm only grow meanwhile."""
        found = []
        for suffix, track_size in (("", True), ("-wal", False), ("-shm", True)):
            path = self._path.with_name(self._path.name + suffix)
            identity = FileIdentity.of_path(path, track_size=track_size)
            if identity is None:
                raise errors.DeviceError(f"tokenport store {self._path}: {path.name} is missing")
            found.append(identity)
        return found

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = _pragma_int(conn, "user_version")
        if version == 0:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-read under the write lock: another process may have just created it.
                if _pragma_int(conn, "user_version") == 0:
                    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                    if tables or _pragma_int(conn, "application_id") not in (0, APPLICATION_ID):
                        raise errors.DeviceError(
                            f"tokenport store {self._path}: not a tokenport store"
                        )
                    for statement in _SCHEMA:
                        conn.execute(statement)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            version = _pragma_int(conn, "user_version")
        if _pragma_int(conn, "application_id") != APPLICATION_ID:
            raise errors.DeviceError(f"tokenport store {self._path}: not a tokenport store")
        if version > SCHEMA_VERSION:
            raise errors.DeviceError(
                f"tokenport store {self._path}: schema version {version} is newer than this"
                f" tokenport supports ({SCHEMA_VERSION}); upgrade tokenport"
            )
        # Future schema versions migrate here, one step per version, inside BEGIN IMMEDIATE.

    def _create_files(self) -> None:
        try:
            make_private_dirs(self._path.parent)  # 0700, parents too, whatever the umask
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
            try:
                fd = os.open(self._path, flags, 0o600)
            except FileExistsError:
                return
            try:
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
        except OSError as exc:
            raise errors.DeviceError(
                f"tokenport store {self._path}: cannot create: {exc.strerror or exc}"
            ) from exc

    def _translate(self, exc: Exception, action: str) -> errors.PKCS11Error:
        if isinstance(exc, UnicodeDecodeError):  # damaged text: in a value, or in a message
            return errors.DeviceError(
                f"tokenport store {self._path}: {action} failed: the database holds text that"
                " is not UTF-8 (damaged?)"
            )
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        if primary == sqlite3.SQLITE_FULL or (primary is None and "is full" in str(exc)):
            return errors.DeviceMemory(f"tokenport store {self._path}: {action}: store is full")
        if primary == sqlite3.SQLITE_NOMEM:
            return errors.HostMemory(f"tokenport store {self._path}: {action}: out of memory")
        return errors.DeviceError(f"tokenport store {self._path}: {action} failed: {exc} ({name})")

    def _counter(self, conn: sqlite3.Connection) -> int:
        """The store-wide counter; DeviceError when its row is missing or not a number."""
        row = conn.execute(SQL_COUNTER).fetchone()
        if row is None or not isinstance(row[0], int):
            raise self._damaged("the counter row")
        return row[0]

    def _damaged(self, what: str) -> errors.DeviceError:
        return errors.DeviceError(
            f"tokenport store {self._path}: {what} is missing or has the wrong type: the"
            " database was changed outside tokenport"
        )


def _pragma_int(conn: sqlite3.Connection, name: str) -> int:
    return int(conn.execute(f"PRAGMA {name}").fetchone()[0])


def _extend_back(identity: FileIdentity) -> None:
    """Give a truncated -shm file its size back (zeros, which SQLite takes for an index to
    rebuild), so that no process's mapping of it faults; best effort. By path, not through
    a descriptor of our own: closing any descriptor of a file drops every POSIX lock this
    process holds on it, SQLite's included."""
    try:
        info = os.stat(identity.path)
        if identity.min_size and identity.same(info) and info.st_size < identity.min_size:
            os.truncate(identity.path, identity.min_size)
    except OSError:
        pass


STORE_FILE_NAME = "tokenport.sqlite3"


def from_config(store_dir: Path, options: Mapping[str, Any]) -> SqliteObjectStore:
    """The ``sqlite`` storage port: ``[store.sqlite] file = "name"`` (default
    tokenport.sqlite3) inside the store directory. ``read_only`` (store check) changes
    nothing here: the check only reads, and SQLite's own journal keeps the content intact."""
    unknown = set(options) - {"file", "read_only"}
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(sorted(unknown))} (allowed: file, read_only)"
        )
    name = options.get("file", STORE_FILE_NAME)
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError("file must be a plain file name")
    return SqliteObjectStore(store_dir / name)
