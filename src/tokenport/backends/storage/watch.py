"""Change notices for a store's directory (Linux inotify), so that a store can skip its
per-call checks of the files while nothing in that directory changed.

A durable store checks before each call that its files are still the ones it opened and
asks SQLite whether another connection committed (backends.storage.sqlite). Those checks
cost a few microseconds per call: three ``stat`` calls and a ``PRAGMA``. Every way the files
can change goes through the kernel: another process's commit writes the ``-wal`` file, a
truncation, deletion, rename or ``chmod`` is one system call. inotify reports each of them
on the directory before that call returns, so "no notice since the last full check" means
"the files are as the last full check saw them", and the store may answer from that check.

What this must never do: let a change go unseen. Hence:

* any notice at all (a file of the directory written, created, deleted, renamed, its
  attributes changed; the directory itself moved or deleted; the kernel's queue overflowed)
  makes the next call do the full check;
* a watch that cannot be set up (not Linux, inotify limits reached) is simply absent: the
  store then checks on every call as before;
* the notices are read only by the process that set the watch up (a forked child gets a
  watch of its own), and only under the store's lock;
* the writer announces each commit after it is complete (``announce``), so that a reader
  who took the notices of a commit's first writes before the commit became visible gets
  another notice once it is;
* the store does a full check at least every ``FULL_CHECK_INTERVAL`` seconds anyway, a net
  under anything the kernel does not report (a writer that died between its commit and its
  announcement, a store on a network file system changed from another host).
"""

from __future__ import annotations

import os
import select
import struct
from pathlib import Path

FULL_CHECK_INTERVAL = 0.1
"""Seconds after which a store checks its files even without a notice."""

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000

WATCHED_EVENTS = (IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
                  | IN_DELETE_SELF | IN_MOVE_SELF)
_EVENT_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len
_READ_SIZE = 64 * 1024


class DirectoryWatch:
    """An inotify watch on one directory; ``quiet()`` says whether anything happened there."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self._gone = False  # the watch was removed (directory deleted) or events were lost

    @classmethod
    def open(cls, directory: Path) -> DirectoryWatch | None:
        """A watch on ``directory``, or None where inotify is not available."""
        try:
            import ctypes
        except ImportError:  # pragma: no cover - CPython without ctypes
            return None
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            init1 = libc.inotify_init1
            add_watch = libc.inotify_add_watch
        except (OSError, AttributeError):
            return None  # not Linux
        add_watch.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        fd = int(init1(os.O_NONBLOCK | os.O_CLOEXEC))
        if fd < 0:
            return None  # e.g. EMFILE: fs.inotify.max_user_instances reached
        if add_watch(fd, os.fsencode(directory), WATCHED_EVENTS) < 0:
            os.close(fd)  # e.g. ENOSPC: fs.inotify.max_user_watches reached
            return None
        return cls(fd)

    def quiet(self) -> bool:
        """True when nothing happened in the directory since the previous call; else False,
        after taking every pending notice (the caller then checks everything)."""
        if self._gone:
            return False
        if not self._poll.poll(0):
            return True
        self._drain()
        return False

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                self._gone = True
                return
            offset = 0
            while offset + _EVENT_HEADER.size <= len(data):
                _, mask, _, length = _EVENT_HEADER.unpack_from(data, offset)
                if mask & (IN_IGNORED | IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF):
                    self._gone = True  # from now on: a full check on every call
                offset += _EVENT_HEADER.size + length

    def close(self) -> None:
        """Release the inotify descriptor (idempotent)."""
        if self._fd >= 0:
            try:
                self._poll.unregister(self._fd)
            except (KeyError, ValueError):
                pass
            os.close(self._fd)
            self._fd = -1
            self._gone = True


def announce(path: Path) -> None:
    """Tell every watcher of ``path``'s directory that a commit is complete (an attribute
    change of ``path``: it touches no data). Best effort: a failure here only costs the
    watchers their next fast answer, which the full-check interval bounds."""
    try:
        os.utime(path)
    except OSError:
        pass
