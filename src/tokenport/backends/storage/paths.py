"""Directories and files of the durable store backends (sqlite, files, flash).

Two rules every backend follows, in one place:

Private modes, whatever the umask
    Every directory a backend creates (the store directory, any missing parent of it, its
    own sub-directories) gets mode 0700, every file 0600: the mode is set explicitly after
    creating, because ``mkdir``'s and ``open``'s modes are filtered by the umask (a umask of
    0 would otherwise leave 0777 directories, a umask of 0o277 unwritable ones). A
    directory that already exists keeps its mode: it may be one the user chose (the store
    directory, ``TOKENPORT_HOME``, or a parent) and tokenport does not change modes it did
    not set. The one exception is a backend's *own* sub-directory (the files backend's
    record directory and its ``corrupt/``): it holds nothing but tokenport's files, so a
    looser mode found there is tightened to 0700 (``tighten_private_dir``).

A store that changes behind an open store object
    An open file descriptor keeps pointing at the file that was opened: when the path is
    deleted or replaced (a new inode under the same name), reads keep returning the old
    contents and writes "succeed" into a file no one will ever open again. A backend
    therefore remembers the identity (device, inode) of each file it opened and compares it
    with the path before every PAL call (``FileIdentity.verify``, one ``stat``), and checks
    sizes that can only grow while it is open (a truncated file). A mismatch is a
    ``DeviceError`` (CKR_DEVICE_ERROR), never a silent success; the store object stays
    unusable for that file until it is closed and opened again (C_Finalize/C_Initialize).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tokenport import errors

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and every missing parent with mode 0700 (raises OSError).

    Directories that already exist are left as they are (see the module docstring); one
    that another process creates at the same moment is that process's to set up.
    """
    missing: list[Path] = []
    current = directory
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, PRIVATE_DIR_MODE)
        except FileExistsError:
            if path.is_dir():
                continue  # created concurrently by another process
            raise
        set_dir_mode(path, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask


def set_dir_mode(path: Path | str, mode: int, *, dir_fd: int | None = None) -> None:
    """chmod a directory without following a symbolic link put in its place."""
    fd = os.open(path, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def tighten_private_dir(fd: int) -> None:
    """Remove group and other permissions from a backend's own directory (open as ``fd``)
    when this process owns it; best effort (a directory we cannot chmod is left as it is)."""
    info = os.fstat(fd)
    if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
        try:
            os.fchmod(fd, stat.S_IMODE(info.st_mode) & PRIVATE_DIR_MODE)
        except OSError:
            pass


def writable(path: Path) -> bool:
    """Whether this process may write ``path`` (its permissions say so; a read-only mount
    shows up as EROFS when writing). Always True for root, as the kernel sees it."""
    if os.access in os.supports_effective_ids:
        return os.access(path, os.W_OK, effective_ids=True)
    return os.access(path, os.W_OK)  # pragma: no cover - every POSIX system we run on


class FileIdentity:
    """The identity (device, inode) of a file a store opened, checked against its path.

    ``min_size``: the file may only grow while the store has it open (a SQLite database
    without VACUUM, its shared-memory index, a flash image of fixed size); a smaller size
    means someone truncated it, and a backend that maps the file must then not touch it.
    """

    def __init__(self, path: Path, info: os.stat_result, *, track_size: bool = False) -> None:
        self.path = path
        self._os_path = os.fspath(path)  # stat() takes it as is (no __fspath__ per check)
        self.dev = info.st_dev
        self.ino = info.st_ino
        self.min_size = info.st_size if track_size else None

    @classmethod
    def of_fd(cls, path: Path, fd: int, *, track_size: bool = False) -> FileIdentity:
        return cls(path, os.fstat(fd), track_size=track_size)

    @classmethod
    def of_path(cls, path: Path, *, track_size: bool = False) -> FileIdentity | None:
        """The identity of the file at ``path`` now, or None when there is none."""
        try:
            return cls(path, os.stat(path), track_size=track_size)
        except FileNotFoundError:
            return None

    def same(self, info: os.stat_result) -> bool:
        return (info.st_dev, info.st_ino) == (self.dev, self.ino)

    def problem(self) -> str | None:
        """What is wrong with the file at ``path`` (one ``stat``), or None when it is still
        the file that was opened and (when tracked) did not shrink. Raises OSError when
        the path cannot be looked at (a directory made unsearchable): not a verdict."""
        try:
            info = os.stat(self._os_path)
        except FileNotFoundError:
            return f"{self.path.name} was deleted while the store was open"
        if info.st_ino != self.ino or info.st_dev != self.dev:
            return f"{self.path.name} was replaced by another file while the store was open"
        if self.min_size is not None:
            if info.st_size < self.min_size:
                return (f"{self.path.name} shrank from {self.min_size} to {info.st_size} bytes"
                        " while the store was open (truncated?)")
            self.min_size = info.st_size
        return None

    def verify(self, store: Path) -> None:
        """DeviceError (naming ``store``) unless ``problem()`` finds nothing."""
        problem = self.problem()
        if problem is not None:
            raise errors.DeviceError(f"tokenport store {store}: {problem}")
