"""The storage port (the PAL) as one file per record in a directory (the ``files`` backend).

This is the layout of corePKCS11's POSIX PAL (one file per object) made safe for a general
token: any number of labels, atomic replacement, several processes.

Directory layout (the directory and its missing parents are created with mode 0700, every
file with mode 0600, whatever the umask; see storage.paths. The record directory is the
backend's own: if it exists with group or other permissions, they are removed when the
store opens. The store directory above it is left as the user made it.)
    ``<handle>.<revision>.<key>.obj``  one record; handle and revision in lower-case hex,
        ``key`` the label in lower-case hex when it is at most 100 bytes long (the name
        then stays under the 255-byte limit of common file systems), else ``_`` and the
        SHA-256 of the label in hex (the label is in the file and read once per process).
        A name is never reused (revisions are never reused), so a file's content never
        changes after it appears under its name.
    ``tokenport-files.meta``  the lock-and-counter file (``storage.lock``): the advisory lock
        of all processes, the store generation and the next handle.
    ``.tmp-*``  a record being written; ``corrupt/``  records found damaged, moved aside.

Record file
    32-byte header ``<4sB3xQQII``: magic ``TPO1``, flags (bit 0: private), handle,
    revision, label length, data length; then the label, the data, and a CRC-32 of all of
    it. A file whose CRC, lengths or header disagree with its name is corrupt.

Writing (under the exclusive lock, see storage.lock for the session protocol)
    save: write ``.tmp-*`` (O_EXCL, 0600), fsync it, rename it to its final name, fsync the
    directory, then unlink the previous revision's file. The rename is the commit: before
    it the old record is intact, after it (and the directory fsync) the new one is durable.
    destroy: unlink, fsync the directory. Then the counter record is updated.

Reading
    Each process keeps an index (label -> handle, revision, file name) built from one
    ``listdir``; it is rebuilt when the counter record's ``serial`` changes (names seen
    before are not parsed again). ``find_object``
    and ``enumerate_objects`` read nothing but the counter record and the index;
    ``get_object_value`` opens the record file without the lock (file contents never change)
    and falls back to a fresh index if a writer replaced it meanwhile.

Recovery (at open, and whenever a process finds a session left ``dirty``)
    Leftover ``.tmp-*`` files are removed; when two revisions of one label exist (a writer
    died between rename and unlink) the older file is removed; the generation becomes
    ``max(counter, highest revision on disk)`` (``counter + 1`` after a dirty session, which
    may have destroyed a record) and the next handle
    ``max(counter, highest handle + 1)``: a record's revision is the truth, the counter is
    repaired from it. Whatever a crash interrupts, each label reads back as its complete old
    or its complete new record.

Errors (translated here, once)
    ENOSPC/EDQUOT -> ``DeviceMemory``; ENOMEM -> ``HostMemory``; every other OS error ->
    ``DeviceError`` naming the directory; an unknown handle -> ``ObjectHandleInvalid``; a
    corrupt record is logged, moved to ``corrupt/`` (so it is skipped from then on) and that
    read raises ``DeviceError``. A failed write leaves the store as it was.

A damaged or vanished store (issue 9)
    Before every operation the store checks, with one ``stat`` of the lock file's path,
    that its directory is still the one it opened: a directory deleted or replaced under a
    running process gives ``DeviceError`` for every call (the store is never silently
    recreated empty), until the store is closed and opened again. A lock file deleted or
    replaced alone is followed (storage.lock). A record file deleted outside tokenport (its
    read fails while the counter says no writer ran) is a ``DeviceError`` for that read,
    then absent. A write to a directory made read-only is refused before anything changes.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import secrets
import stat
import struct
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenport import errors
from tokenport.backends.storage.base import CountedStore, check_options, plain_name
from tokenport.backends.storage.lock import MetaFile, MetaState, fresh_serial
from tokenport.backends.storage.pal_args import (
    Bytes,
    check_handle,
    check_label,
)
from tokenport.backends.storage.paths import (
    FileIdentity,
    make_private_dirs,
    set_dir_mode,
    tighten_private_dir,
)
from tokenport.ports.storage import RevisionMismatch

log = logging.getLogger("tokenport")

DEFAULT_DIRECTORY = "objects"  # inside the store directory, see from_config
META_NAME = "tokenport-files.meta"
CORRUPT_DIR = "corrupt"
TMP_PREFIX = ".tmp-"
RECORD_MAGIC = b"TPO1"
NAME_LABEL_MAX = 100  # longer labels are named by their hash

_HEADER = struct.Struct("<4sB3xQQII")  # magic, flags, handle, revision, label len, data len
_CRC = struct.Struct("<I")
_NAME = re.compile(r"([0-9a-f]{1,16})\.([0-9a-f]{1,16})\.((?:[0-9a-f]{2})+|_[0-9a-f]{64})\.obj")
# O_NONBLOCK: a FIFO put where a record belongs must not block the host forever
_OPEN_READ = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
_OPEN_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW


@dataclass(frozen=True)
class _Entry:
    label: bytes
    handle: int
    revision: int
    name: str


class _Corrupt(Exception):
    """A record file that fails its checks (never leaves this module)."""


class Syscalls:
    """The system calls that change the store, in one place.

    A store calls these and nothing else to modify files, so a test can wrap them to stop a
    write at any step or tear it (tests/crash). Reads go to ``os`` directly.
    """

    def create(self, name: str, dir_fd: int) -> int:
        return os.open(name, _OPEN_NEW, 0o600, dir_fd=dir_fd)

    def write(self, fd: int, data: memoryview) -> int:
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def close(self, fd: int) -> None:
        os.close(fd)

    def rename(self, src: str, dst: str, dir_fd: int) -> None:
        os.rename(src, dst, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)

    def unlink(self, name: str, dir_fd: int) -> None:
        os.unlink(name, dir_fd=dir_fd)


def label_key(label: bytes) -> str:
    """The file-name component that stands for ``label``."""
    if len(label) <= NAME_LABEL_MAX:
        return label.hex()
    return "_" + hashlib.sha256(label).hexdigest()


def record_name(handle: int, revision: int, label: bytes) -> str:
    return f"{handle:x}.{revision:x}.{label_key(label)}.obj"


def encode_record(handle: int, revision: int, label: bytes, data: bytes, private: bool) -> bytes:
    body = _HEADER.pack(RECORD_MAGIC, int(private), handle, revision, len(label), len(data))
    body += label + data
    return body + _CRC.pack(zlib.crc32(body))


def decode_record(raw: bytes) -> tuple[int, int, bytes, bytes, bool]:
    """(handle, revision, label, data, private) of a record file; raises _Corrupt."""
    if len(raw) < _HEADER.size + _CRC.size:
        raise _Corrupt("file too short")
    magic, flags, handle, revision, label_len, data_len = _HEADER.unpack_from(raw)
    if magic != RECORD_MAGIC:
        raise _Corrupt("bad magic")
    if _HEADER.size + label_len + data_len + _CRC.size != len(raw):
        raise _Corrupt("lengths do not match the file size")
    (crc,) = _CRC.unpack_from(raw, len(raw) - _CRC.size)
    if zlib.crc32(memoryview(raw)[: len(raw) - _CRC.size]) != crc:
        raise _Corrupt("CRC mismatch")
    label = raw[_HEADER.size : _HEADER.size + label_len]
    data = raw[_HEADER.size + label_len : len(raw) - _CRC.size]
    return handle, revision, label, data, bool(flags & 1)


class FileObjectStore(CountedStore[_Entry]):
    """An ObjectStore keeping one file per record in ``directory`` (created on first use).

    ``read_only``: inspection only, no repair, no quarantine, no write (store check)."""

    syscalls: Syscalls = Syscalls()  # stateless; tests replace it on an instance
    _what = "directory"

    def __init__(self, directory: Path | str, *, read_only: bool = False) -> None:
        self._dir = self._where = Path(directory).absolute()
        super().__init__(MetaFile(self._dir / META_NAME), read_only=read_only)
        self._dir_fd: int | None = None
        self._dir_identity: FileIdentity | None = None
        self._reset_view()

    def __repr__(self) -> str:
        return f"FileObjectStore({str(self._dir)!r})"

    @property
    def directory(self) -> Path:
        return self._dir

    def _reset_view(self) -> None:
        self._serial: int | None = None  # the counter serial the index reflects
        self._generation = 0
        self._next_handle = 1
        self._index: dict[bytes, _Entry] = {}
        self._by_handle: dict[int, bytes] = {}
        self._sorted: list[bytes] | None = None
        self._parsed: dict[str, _Entry | None] = {}  # file name -> what it stands for

    # -- the PAL (initialize, find_object, enumerate_objects, generation: CountedStore) ----

    def save_object(
        self, label: Bytes, data: Bytes, *, private: bool = False,
        expected_revision: int | None = None,
    ) -> int:
        key = check_label(label)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise errors.ArgumentsBad("record data must be bytes")
        value = bytes(data)
        with self._lock, self._guard("save"):
            self._ready()
            with self._writing() as state:
                old = self._index.get(key)
                if expected_revision is not None and (
                    (old.revision if old else 0) != expected_revision
                ):
                    raise RevisionMismatch("the record changed since it was read")
                revision = state.generation + 1
                handle = old.handle if old else state.next_handle
                next_handle = state.next_handle if old else state.next_handle + 1
                name = record_name(handle, revision, key)
                content = encode_record(handle, revision, key, value, bool(private))
                self._begin(state)
                try:
                    self._put(name, content)
                except Exception:
                    self._abort(state)
                    raise
                if old is not None:
                    self._unlink_quietly(old.name)
                self._finish(state, revision, next_handle)
                entry = _Entry(key, handle, revision, name)
                self._set(entry)
                self._parsed[name] = entry
                return handle

    def get_object_value(self, handle: int) -> tuple[bytes, bool]:
        number = check_handle(handle)
        with self._lock, self._guard("read"):
            self._ready()
            self._view()
            for _ in range(3):
                label = self._by_handle.get(number)
                if label is None:
                    break
                entry = self._index[label]
                try:
                    got_handle, got_revision, got_label, data, private = decode_record(
                        self._read(entry.name)
                    )
                    if (got_handle, got_revision, got_label) != (
                        entry.handle, entry.revision, entry.label
                    ):
                        raise _Corrupt("header does not match the file name")
                except FileNotFoundError:
                    # Replaced or destroyed by another process since our last look (the
                    # counter moved), or deleted behind the store's back (it did not).
                    self._vanished(entry)
                    self._serial = None
                    self._view()
                    continue
                except _Corrupt as exc:
                    self._quarantine(entry, str(exc))
                    raise errors.DeviceError(
                        f"tokenport store {self._dir}: record {entry.name} is corrupt ({exc});"
                        f" moved to {CORRUPT_DIR}/"
                    ) from None
                return data, private
        raise errors.ObjectHandleInvalid(f"tokenport store: no record with handle {handle}")

    def _vanished(self, entry: _Entry) -> None:
        """DeviceError when the record file of ``entry`` is gone although no writer ran
        since the index was built (every writer moves the counter first): someone deleted
        it outside tokenport. The index is rebuilt on the next call."""
        state = self._meta.read()
        if state is not None and not state.dirty and state.serial == self._serial:
            self._serial = None
            log.error("tokenport store %s: record file %s was deleted outside tokenport",
                      self._dir, entry.name)
            raise errors.DeviceError(
                f"tokenport store {self._dir}: record file {entry.name} was deleted"
                " outside tokenport"
            )

    def destroy_object(self, handle: int) -> None:
        number = check_handle(handle)
        with self._lock, self._guard("destroy"):
            self._ready()
            with self._writing() as state:
                label = self._by_handle.get(number)
                if label is None:
                    raise errors.ObjectHandleInvalid(
                        f"tokenport store: no record with handle {handle}"
                    )
                entry = self._index[label]
                self._begin(state)
                try:
                    self.syscalls.unlink(entry.name, self._dirfd())
                except FileNotFoundError:
                    pass  # already gone: the result is the same
                except Exception:
                    self._abort(state)
                    raise
                self.syscalls.fsync(self._dirfd())
                self._finish(state, state.generation + 1, state.next_handle)
                self._unset(label)

    def check(self) -> list[tuple[bytes | None, str]]:
        """Read-only verification for ``tokenport store check``: every record file's CRC,
        lengths and header against its name (nothing is moved or repaired), and the
        records quarantined earlier. One (label or None, problem) per problem."""
        problems: list[tuple[bytes | None, str]] = []
        with self._lock, self._guard("check"):
            self._ready()
            self._view()
            for label, entry in sorted(self._index.items()):
                try:
                    got = decode_record(self._read(entry.name))
                    if got[:3] != (entry.handle, entry.revision, entry.label):
                        raise _Corrupt("header does not match the file name")
                except FileNotFoundError:
                    problems.append((label, f"record file {entry.name} vanished during the check"))
                except _Corrupt as exc:
                    problems.append((label, f"record file {entry.name} is corrupt: {exc}"))
            quarantined = self._dir / CORRUPT_DIR
            if quarantined.is_dir():
                problems += [
                    (None, (f"record file {name} was found corrupt earlier and moved to "
                           f"{CORRUPT_DIR}/"))
                    for name in sorted(p.name for p in quarantined.iterdir())
                ]
        return problems

    def info(self) -> dict[str, Any]:
        """What ``tokenport store info`` shows for this backend."""
        with self._lock, self._guard("info"):
            self._ready()
            self._view()
            return {
                "backend": "files",
                "directory": str(self._dir),
                "records": len(self._index),
                "generation": self._generation,
                "next_handle": self._next_handle,
            }

    # -- opening (the hooks of CountedStore) ------------------------------------------------

    def _is_open(self) -> bool:
        return self._dir_fd is not None

    def _open(self) -> None:
        """Open the store on first use (lock held); repairs it if a writer died."""
        if self._read_only:
            self._open_read_only()
            return
        self._create_directory()
        try:
            fd = os.open(self._dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            tighten_private_dir(fd)  # our own directory: 0700 (storage.paths)
            identity = FileIdentity.of_fd(self._dir, fd)
        except OSError as exc:
            raise _translate(exc, self._dir, "open", hint=True) from exc
        if not os.access(self._dir, os.W_OK | os.X_OK):
            os.close(fd)
            raise errors.DeviceError(
                f"tokenport store {self._dir}: cannot open: the directory is not writable"
                " (is the store read-only?)"
            )
        try:
            self._meta.open()
            with self._meta.exclusive():
                self._dir_fd, self._dir_identity = fd, identity
                self._refresh(self._meta.read(), repair=True)
        except BaseException as exc:
            self._dir_fd = None
            self._meta.close()
            os.close(fd)
            if isinstance(exc, OSError):
                raise _translate(exc, self._dir, "open", hint=True) from exc
            raise

    def _open_read_only(self) -> None:
        """Open an existing store for inspection (store check): no repair, no write."""
        try:
            fd = os.open(self._dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            identity = FileIdentity.of_fd(self._dir, fd)
        except OSError as exc:
            raise _translate(exc, self._dir, "open", hint=True) from exc
        try:
            self._meta.open()
            with self._meta.shared():
                self._dir_fd, self._dir_identity = fd, identity
                self._refresh(self._meta.read(), repair=False)
        except BaseException as exc:
            self._dir_fd = None
            self._meta.close()
            os.close(fd)
            if isinstance(exc, OSError):
                raise _translate(exc, self._dir, "open", hint=True) from exc
            raise

    def _create_directory(self) -> None:
        try:
            make_private_dirs(self._dir)  # 0700, parents too, whatever the umask
        except OSError as exc:
            raise _translate(exc, self._dir, "create", hint=True) from exc

    def _check_files(self) -> None:
        """Before every operation of an open store: one ``stat`` of the lock file's path.
        When it no longer names our lock file, either the directory was deleted or
        replaced (DeviceError, every call, until the store is closed and opened again:
        tokenport never recreates a vanished store under a running process) or only the
        lock file was (followed: storage.lock). Raises OSError or DeviceError."""
        if self._meta.path_matches():
            return
        assert self._dir_identity is not None
        self._dir_identity.verify(self._dir)
        if self._meta.follow_path():
            self._serial = None

    def _close_files(self) -> None:
        fd, self._dir_fd, self._dir_identity = self._dir_fd, None, None
        if fd is not None:
            os.close(fd)

    def _dirfd(self) -> int:
        assert self._dir_fd is not None
        return self._dir_fd

    # -- the index ---------------------------------------------------------------------

    def _reload(self) -> None:
        self._refresh(self._meta.read(), repair=False)

    def _follow(self, state: MetaState) -> None:
        self._refresh(state, repair=False)

    def _repair(self) -> None:
        with self._meta.exclusive():
            self._refresh(self._meta.read(), repair=True)

    def _revision(self, entry: _Entry) -> int:
        return entry.revision

    def _known_generation(self) -> int:
        return self._generation

    def _io_error(self, exc: Exception, action: str) -> errors.PKCS11Error:
        assert isinstance(exc, OSError)
        return _translate(exc, self._dir, action)

    @contextmanager
    def _writing(self) -> Iterator[MetaState]:
        """The exclusive lock, with the index current; yields the counter record."""
        self._check_writable()
        with self._meta.exclusive():
            state = self._meta.read()
            if state is None or state.dirty or state.serial != self._serial:
                state = self._refresh(state, repair=True)
            yield state

    def _refresh(self, state: MetaState | None, *, repair: bool) -> MetaState:
        """Rebuild the index from the directory. With ``repair`` (exclusive lock held):
        remove leftovers of dead writers and repair the counter record.

        A file's name never changes meaning, so names parsed by an earlier refresh are
        reused: only new names are parsed."""
        found: dict[bytes, _Entry] = {}
        stale: list[str] = []
        top_revision = 0
        top_handle = 0
        known = self._parsed
        parsed: dict[str, _Entry | None] = {}
        for name in os.listdir(self._dirfd()):
            entry = known[name] if name in known else self._parse_name(name, repair)
            if entry is None:
                if name.startswith(TMP_PREFIX):
                    stale.append(name)
                    continue
                if _NAME.fullmatch(name) is None:
                    parsed[name] = None  # not ours, for good
                continue  # (unreadable long-label records are looked at again)
            parsed[name] = entry
            top_revision = max(top_revision, entry.revision)
            top_handle = max(top_handle, entry.handle)
            other = found.get(entry.label)
            if other is None or other.revision < entry.revision:
                found[entry.label] = entry
                if other is not None:
                    stale.append(other.name)
            else:
                stale.append(name)
        self._parsed = parsed
        missing = state is None
        if state is None:  # a new store (or a lost counter file: the records tell)
            state = MetaState(fresh_serial(), 0, 1, False)
        if repair:
            for name in stale:
                self._unlink_quietly(name)
            generation = max(state.generation + int(state.dirty), top_revision)
            next_handle = max(state.next_handle, top_handle + 1)
            if missing or state.dirty or (
                (generation, next_handle) != (state.generation, state.next_handle)
            ):
                if state.dirty and stale:
                    self.syscalls.fsync(self._dirfd())
                state = MetaState(state.serial + 1, generation, next_handle, False)
                self._meta.write(state)
        by_handle: dict[int, bytes] = {}
        for label, entry in sorted(found.items(), key=lambda item: item[1].revision):
            clash = by_handle.get(entry.handle)
            if clash is not None:  # only foreign or damaged files can do this
                log.error("tokenport store %s: handle %d is claimed twice; skipping %s",
                          self._dir, entry.handle, found[clash].name)
                del found[clash]
            by_handle[entry.handle] = label
        self._index = found
        self._by_handle = by_handle
        self._sorted = None
        self._serial = state.serial
        self._generation = state.generation
        self._next_handle = state.next_handle
        return state

    def _parse_name(self, name: str, repair: bool) -> _Entry | None:
        """The record a file name stands for (reading the file for a long label), or None
        for names that are not records of this backend and unreadable long-label files."""
        match = _NAME.fullmatch(name)
        if match is None:
            return None
        handle, revision, key = int(match[1], 16), int(match[2], 16), match[3]
        if not key.startswith("_"):
            label = bytes.fromhex(key)  # the pattern admits only even-length lower-case hex
            if len(label) > NAME_LABEL_MAX:
                return None
            return _Entry(label, handle, revision, name)
        try:
            label = decode_record(self._read(name))[2]
            if label_key(label) != key:
                raise _Corrupt("label does not match the file name")
        except FileNotFoundError:
            return None
        except _Corrupt as exc:
            log.error("tokenport store %s: skipping corrupt record %s: %s", self._dir, name, exc)
            return None
        return _Entry(label, handle, revision, name)

    def _set(self, entry: _Entry) -> None:
        if entry.label not in self._index:
            self._sorted = None
        self._index[entry.label] = entry
        self._by_handle[entry.handle] = entry.label

    def _unset(self, label: bytes) -> None:
        entry = self._index.pop(label)
        del self._by_handle[entry.handle]
        self._parsed.pop(entry.name, None)
        self._sorted = None

    # -- files ---------------------------------------------------------------------------

    def _read(self, name: str) -> bytes:
        """A record file's bytes; _Corrupt when it is not a regular file (a FIFO or a
        device in its place would block or never end)."""
        fd = os.open(name, _OPEN_READ, dir_fd=self._dirfd())
        with os.fdopen(fd, "rb", buffering=0) as file:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise _Corrupt("not a regular file")
            return file.read()

    def _put(self, name: str, content: bytes) -> None:
        """Write ``content`` durably under ``name``: temporary file, fsync, rename, fsync.

        Cleanup runs for errors (``Exception``), not for a simulated power loss
        (a ``BaseException`` in tests/crash), which must leave everything as it is.
        """
        calls, dir_fd = self.syscalls, self._dirfd()
        tmp = f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        fd = calls.create(tmp, dir_fd)
        try:
            try:
                os.fchmod(fd, 0o600)  # the umask may have filtered the mode
                view = memoryview(content)
                while view:
                    view = view[calls.write(fd, view):]
                calls.fsync(fd)
            finally:
                calls.close(fd)
            calls.rename(tmp, name, dir_fd)
        except Exception:
            self._unlink_quietly(tmp)
            raise
        try:
            calls.fsync(dir_fd)
        except Exception:
            self._unlink_quietly(name)  # not known to be durable: take it back
            raise

    def _unlink_quietly(self, name: str) -> None:
        try:
            self.syscalls.unlink(name, self._dirfd())
        except OSError:
            pass  # a leftover is removed by the next recovery

    # -- sessions ----------------------------------------------------------------------

    def _begin(self, state: MetaState) -> None:
        self._meta.write(MetaState(state.serial + 1, state.generation, state.next_handle, True))

    def _abort(self, state: MetaState) -> None:
        """After a failed write: the store is as it was; say so if we still can."""
        try:
            clean = MetaState(state.serial + 2, state.generation, state.next_handle, False)
            self._meta.write(clean)
            self._serial = clean.serial
        except OSError:
            self._serial = None  # left dirty: the next session repairs

    def _finish(self, state: MetaState, generation: int, next_handle: int) -> None:
        """The change is durable: record it in the counter. If even that fails, the
        counter stays dirty and the next session repairs it from the records."""
        done = MetaState(state.serial + 2, generation, next_handle, False)
        try:
            self._meta.write(done)
        except OSError as exc:
            log.error("tokenport store %s: cannot update %s: %s", self._dir, META_NAME, exc)
            self._serial = None
        else:
            self._serial = done.serial
        self._generation = generation
        self._next_handle = next_handle

    def _quarantine(self, entry: _Entry, reason: str) -> None:
        """Move a corrupt record file aside (it is skipped from then on); best effort."""
        if self._read_only:
            return
        log.error(
            "tokenport store %s: record %s is corrupt (%s); moving it to %s/",
            self._dir, entry.name, reason, CORRUPT_DIR,
        )
        dir_fd = self._dirfd()
        try:
            with self._writing() as state:
                try:
                    raw = self._read(entry.name)
                    if decode_record(raw)[:3] == (entry.handle, entry.revision, entry.label):
                        return  # it reads fine now
                except _Corrupt:
                    pass
                except FileNotFoundError:
                    return  # replaced meanwhile
                try:
                    os.mkdir(CORRUPT_DIR, 0o700, dir_fd=dir_fd)
                except FileExistsError:
                    pass
                else:  # mkdir's mode is filtered by the umask
                    set_dir_mode(CORRUPT_DIR, 0o700, dir_fd=dir_fd)
                self._begin(state)
                try:
                    self.syscalls.rename(entry.name, f"{CORRUPT_DIR}/{entry.name}", dir_fd)
                    self.syscalls.fsync(dir_fd)
                except Exception:
                    self._serial = None
                    raise
                self._finish(state, state.generation + 1, state.next_handle)
                if entry.label in self._index and self._index[entry.label].name == entry.name:
                    self._unset(entry.label)
        except (OSError, errors.PKCS11Error) as exc:
            log.error("tokenport store %s: cannot move %s aside: %s", self._dir, entry.name, exc)


def from_config(store_dir: Path, options: Mapping[str, Any]) -> FileObjectStore:
    """The ``files`` storage port: ``[store.files] directory = "name"`` (default
    ``objects``), a directory inside the store directory holding one file per record."""
    check_options(options, ("directory", "read_only"))
    name = plain_name(options, "directory", DEFAULT_DIRECTORY,
                      "directory must be a plain directory name")
    return FileObjectStore(store_dir / name, read_only=bool(options.get("read_only", False)))


def _translate(
    exc: OSError, where: Path, action: str, *, hint: bool = False
) -> errors.PKCS11Error:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return errors.DeviceMemory(f"tokenport store {where}: {action}: store is full ({reason})")
    if exc.errno == errno.ENOMEM:
        return errors.HostMemory(f"tokenport store {where}: {action}: out of memory")
    if hint and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason += " (is the store read-only?)"
    return errors.DeviceError(f"tokenport store {where}: {action} failed: {reason}")
