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
    The directory is created with mode 0700 (only the last component; existing directories
    are left alone) and the database file with mode 0600 before SQLite opens it; SQLite
    gives its ``-wal`` and ``-shm`` files the mode of the database file. Existing files keep
    the mode an administrator gave them.

Errors (translated here, once)
    ``SQLITE_FULL`` -> ``DeviceMemory``; ``SQLITE_NOMEM`` -> ``HostMemory``; every other
    SQLite or OS failure -> ``DeviceError`` naming the file (never record contents); an
    unknown handle -> ``ObjectHandleInvalid``. A failed write is rolled back.

A store file changed from outside
    SQLite keeps writing through its open descriptors when the database or its ``-wal``
    file is deleted, replaced (a new file at the same path) or truncated, and every such
    write "succeeds" into a file nobody will read again. So each write transaction, once it
    holds the write lock, checks that the path still names the files it opened and that
    the database file did not shrink (a tokenport store never shrinks it: no VACUUM); reads
    check the same at most every ``IDENTITY_CHECK_INTERVAL`` seconds. Any mismatch makes
    this store object fail every later call with ``DeviceError`` (the application gets the
    same answer until it reinitializes; a new process opens what the path names then).

Threads and fork
    One connection per store object, shared by threads under one lock. A child process
    after ``fork()`` never touches the parent's connection (SQLite forbids it): the first
    call in the child opens a fresh connection and leaves the inherited one untouched.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from tokenport import errors
from tokenport.backends.pal_args import Bytes, check_handle, check_label, check_prefix
from tokenport.backends.private_dirs import make_private_dir
from tokenport.ports.storage import RevisionMismatch, StoredEntry

SCHEMA_VERSION = 1
APPLICATION_ID = int.from_bytes(b"TkPt", "big")
DEFAULT_BUSY_TIMEOUT = 30.0
IDENTITY_CHECK_INTERVAL = 0.1

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
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._pid = os.getpid()
        self._inherited: list[sqlite3.Connection] = []
        self._data_version: int | None = None
        self._generation = 0
        self._identity: dict[str, tuple[int, int]] = {}  # file suffix -> (st_dev, st_ino)
        self._least_size = 0  # the database file never shrinks below this
        self._checked_at = 0.0
        self._broken: str | None = None

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
        return bytes(row[0]), bool(row[1])

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
        return [StoredEntry(bytes(r[0]), int(r[1]), int(r[2])) for r in rows]

    def generation(self) -> int:
        # The hot path (called on many API calls): no closures, one cheap PRAGMA.
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            conn = self._conn if self._conn is not None else self._connect()
            if self._broken is not None or (
                time.monotonic() - self._checked_at > IDENTITY_CHECK_INTERVAL
            ):
                self._check_files()
            try:
                (version,) = conn.execute("PRAGMA data_version").fetchone()
                if version != self._data_version:
                    # data_version first: a commit landing between the two reads is then in
                    # the counter, and it changes data_version again for the next call.
                    (self._generation,) = conn.execute(SQL_COUNTER).fetchone()
                    self._data_version = version
            except sqlite3.Error as exc:
                raise self._translate(exc, "read generation") from exc
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
            conn, self._conn = self._conn, None
            self._closed = True
            if conn is None:
                return
            try:
                conn.execute("PRAGMA busy_timeout = 0")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.Error:
                pass  # best effort: another connection is busy; it will checkpoint later
            try:
                conn.close()
            except sqlite3.Error as exc:
                raise self._translate(exc, "close") from exc

    # -- plumbing ----------------------------------------------------------------------

    def _call(self, action: str, body: Callable[[sqlite3.Connection], _T]) -> _T:
        """``body(conn)`` under the lock, with SQLite errors translated."""
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            conn = self._conn if self._conn is not None else self._connect()
            if self._broken is not None or (
                time.monotonic() - self._checked_at > IDENTITY_CHECK_INTERVAL
            ):
                self._check_files()
            try:
                return body(conn)
            except sqlite3.Error as exc:
                raise self._translate(exc, action) from exc

    def _write(self, action: str, body: Callable[[sqlite3.Connection, int], _T]) -> _T:
        """``body(conn, new_revision)`` in one IMMEDIATE transaction that bumps the counter."""

        def transaction(conn: sqlite3.Connection) -> _T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._check_files()  # with the write lock: nobody else is writing now
                conn.execute(SQL_BUMP)
                row = conn.execute(SQL_COUNTER).fetchone()
                if row is None:
                    raise errors.DeviceError(f"tokenport store {self._path}: counter row is missing")
                (revision,) = row
                result = body(conn, revision)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass  # SQLite already rolled back, or the connection is broken
                raise
            self._generation = revision
            return result

        return self._call(action, transaction)

    def _connect(self) -> sqlite3.Connection:
        """Open the connection (lock held). Raises DeviceError after close()."""
        if self._closed:
            raise errors.DeviceError(f"tokenport store {self._path}: used after close()")
        if self._broken is not None:
            raise errors.DeviceError(f"tokenport store {self._path}: {self._broken}")
        try:
            self._conn = self._open()
        except sqlite3.Error as exc:
            raise self._translate(exc, "open") from exc
        self._identity = {}
        self._least_size = 0
        self._check_files()
        return self._conn

    def _check_files(self) -> None:
        """DeviceError (from now on) unless the path still names the files this connection
        uses and the database did not shrink (lock held; see "A store file changed from
        outside")."""
        if self._broken is not None:
            raise errors.DeviceError(f"tokenport store {self._path}: {self._broken}")
        problem = None
        for suffix in ("", "-wal"):
            try:
                info = os.stat(f"{self._path}{suffix}")
            except FileNotFoundError:
                if suffix == "" or suffix in self._identity:
                    problem = f"the file{suffix and ' ' + suffix} was deleted"
                    break
                continue
            except OSError as exc:
                problem = f"cannot check the file{suffix}: {exc.strerror or exc}"
                break
            identity = (info.st_dev, info.st_ino)
            known = self._identity.setdefault(suffix, identity)
            if known != identity:
                problem = f"the file{suffix and ' ' + suffix} was replaced"
                break
            if suffix == "":
                if info.st_size < self._least_size:
                    problem = "the file was truncated"
                    break
                self._least_size = max(self._least_size, info.st_size)
        if problem is not None:
            self._broken = f"{problem} while it was open; reinitialize to use the store again"
            raise errors.DeviceError(f"tokenport store {self._path}: {self._broken}")
        self._checked_at = time.monotonic()

    def _after_fork(self) -> None:
        # In a forked child: the parent's lock may be held by a thread that does not exist
        # here, and SQLite connections must not cross fork(). Keep the inherited connection
        # referenced (closing it here could disturb the parent's locks) and start afresh.
        self._pid = os.getpid()
        self._lock = threading.Lock()
        if self._conn is not None:
            self._inherited.append(self._conn)
            self._conn = None
        self._data_version = None
        self._identity = {}

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
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._data_version = None
        return conn

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
        directory = self._path.parent
        try:
            make_private_dir(directory)
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

    def _translate(self, exc: sqlite3.Error, action: str) -> errors.PKCS11Error:
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        if primary == sqlite3.SQLITE_FULL or (primary is None and "is full" in str(exc)):
            return errors.DeviceMemory(f"tokenport store {self._path}: {action}: store is full")
        if primary == sqlite3.SQLITE_NOMEM:
            return errors.HostMemory(f"tokenport store {self._path}: {action}: out of memory")
        return errors.DeviceError(f"tokenport store {self._path}: {action} failed: {exc} ({name})")


def _pragma_int(conn: sqlite3.Connection, name: str) -> int:
    return int(conn.execute(f"PRAGMA {name}").fetchone()[0])


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
