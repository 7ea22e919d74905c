"""Faults injected at every step of a ``files`` write, including torn writes.

The files backend makes every change through ``FileObjectStore.syscalls`` (create, write,
fsync, close, rename, unlink). FaultySyscalls stops the write before step k+1, for every k,
in two models:

* crash: the process dies; everything done so far stays (the page cache survives);
* power loss: in addition, directory changes since the last fsync of the directory are
  undone (a create vanishes, a rename is reverted, an unlinked file comes back), as a file
  system without ordering guarantees may do; this is also applied right after an
  operation returns (the replaced revision's file can come back).

When the stop falls on a write, torn variants write part of the buffer first. After each
fault the next process opens the store (which recovers it) and checks that every other
record is unchanged, the record under write is complete (old or new value, the new one if
the operation returned), the store is clean (no temporary files, nothing reported corrupt)
and keeps working.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tokenport.backends.storage.files import CORRUPT_DIR, TMP_PREFIX, FileObjectStore, Syscalls

from .conftest import Tally

Contents = dict[bytes, tuple[bytes, bool]]
LONG = b"L" * 150  # named by hash


class PowerCut(BaseException):
    """The process (or the power) went away: no cleanup code handles it."""


@dataclass
class FaultySyscalls(Syscalls):
    budget: int | None = None
    power_loss: bool = False
    tear: int | None = None  # bytes of the cut write that still reach the file
    used: int = 0
    calls: list[str] = field(default_factory=list)
    _pending: list[tuple[str, str, str]] = field(default_factory=list)
    _files: set[int] = field(default_factory=set)
    _dir_fd: int = -1
    _backups: int = 0

    def _spend(self, name: str) -> None:
        if self.budget is not None and self.used >= self.budget:
            self._cut()
        self.used += 1
        self.calls.append(name)

    def _cut(self) -> None:
        self.lose_unsynced()
        raise PowerCut()

    def lose_unsynced(self) -> None:
        """The power goes: in the power-loss model, unsynced directory changes are undone."""
        if self.power_loss:
            for kind, first, second in reversed(self._pending):
                if kind == "create":
                    _quiet(os.unlink, first, dir_fd=self._dir_fd)
                elif kind == "rename":
                    os.rename(second, first, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
                else:  # unlink: the backup link brings the file back
                    os.rename(second, first, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        else:
            self._drop_backups()

    def _drop_backups(self) -> None:
        for kind, _, backup in self._pending:
            if kind == "unlink":
                _quiet(os.unlink, backup, dir_fd=self._dir_fd)
        self._pending.clear()

    def create(self, name: str, dir_fd: int) -> int:
        self._spend("create")
        self._dir_fd = dir_fd
        fd = super().create(name, dir_fd)
        self._files.add(fd)
        self._pending.append(("create", name, ""))
        return fd

    def write(self, fd: int, data: memoryview) -> int:
        if self.budget is not None and self.used >= self.budget and self.tear is not None:
            os.write(fd, data[: min(self.tear, len(data))])
        self._spend("write")
        return super().write(fd, data)

    def fsync(self, fd: int) -> None:
        self._spend("fsync")
        super().fsync(fd)
        if fd not in self._files:  # the directory
            self._drop_backups()

    def close(self, fd: int) -> None:
        self._spend("close")
        self._files.discard(fd)
        super().close(fd)

    def rename(self, src: str, dst: str, dir_fd: int) -> None:
        self._spend("rename")
        self._dir_fd = dir_fd
        super().rename(src, dst, dir_fd)
        self._pending = [
            ("create", dst, "") if (kind, first) == ("create", src) else (kind, first, second)
            for kind, first, second in self._pending
        ]
        if not any(kind == "create" and first == dst for kind, first, _ in self._pending):
            self._pending.append(("rename", src, dst))

    def unlink(self, name: str, dir_fd: int) -> None:
        self._spend("unlink")
        self._dir_fd = dir_fd
        self._backups += 1
        backup = f".bak-{self._backups}"
        os.link(name, backup, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        try:
            super().unlink(name, dir_fd)
        except BaseException:
            os.unlink(backup, dir_fd=dir_fd)
            raise
        self._pending.append(("unlink", name, backup))


def _quiet(call: Callable[..., object], *args: object, **kwargs: object) -> None:
    try:
        call(*args, **kwargs)
    except FileNotFoundError:
        pass


@dataclass
class Scenario:
    name: str
    op: Callable[[FileObjectStore], object]
    target: bytes
    new: tuple[bytes, bool] | None


def _build(store: FileObjectStore) -> None:
    rng = random.Random(4)
    for i in range(5):
        store.save_object(b"rec/%d" % i, rng.randbytes(rng.randint(0, 300)), private=i % 2 == 0)
    store.save_object(b"big", rng.randbytes(65536))
    store.save_object(LONG, b"long label")
    store.save_object(b"rec/1", b"replaced once")
    store.destroy_object(store.find_object(b"rec/4") or 0)


BIG = bytes(range(256)) * 256


def scenarios() -> list[Scenario]:
    return [
        Scenario("save-new", lambda s: s.save_object(b"new", b"N" * 40, private=True),
                 b"new", (b"N" * 40, True)),
        Scenario("replace", lambda s: s.save_object(b"rec/2", b"R" * 90), b"rec/2",
                 (b"R" * 90, False)),
        Scenario("replace-64k", lambda s: s.save_object(b"big", BIG), b"big", (BIG, False)),
        Scenario("replace-long-label", lambda s: s.save_object(LONG, b"L2", private=True),
                 LONG, (b"L2", True)),
        Scenario("destroy", lambda s: s.destroy_object(s.find_object(b"rec/0") or 0),
                 b"rec/0", None),
    ]


def contents(store: FileObjectStore) -> Contents:
    return {e.label: store.get_object_value(e.handle) for e in store.enumerate_objects()}


def _abandon(store: FileObjectStore) -> None:
    """What the kernel does for a dead process: close its descriptors, nothing else."""
    store._meta.close()
    if store._dir_fd is not None:
        os.close(store._dir_fd)
        store._dir_fd = None


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: s.name)
def test_fault_at_every_step(tmp_path: Path, scenario: Scenario, tally: Tally) -> None:
    base, work = tmp_path / "base", tmp_path / "work"
    store = FileObjectStore(base)
    _build(store)
    before = contents(store)
    handles = {e.label: e.handle for e in store.enumerate_objects()}
    generation = store.generation()
    store.close()

    def run(calls: FaultySyscalls) -> bool:
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(base, work)
        victim = FileObjectStore(work)
        victim.initialize()
        victim.syscalls = calls
        try:
            scenario.op(victim)
            calls.lose_unsynced()  # the power goes right after the acknowledgement
            return True
        except PowerCut:
            return False
        finally:
            _abandon(victim)

    measured = FaultySyscalls()
    assert run(measured)
    total = measured.used
    tried = 0
    for k in range(total + 1):
        variants: list[int | None] = [None]
        if k < total and measured.calls[k] == "write":
            size = len(BIG) + 200 if scenario.name == "replace-64k" else 200
            variants += [0, 1, size // 2]
        for power_loss in (False, True):
            for tear in variants:
                finished = run(FaultySyscalls(budget=k, power_loss=power_loss, tear=tear))
                assert finished == (k >= total)
                _check(work, before, handles, generation, scenario, finished)
                tried += 1
    tally.add("files", "injected faults", tried)


def _check(work: Path, before: Contents, handles: dict[bytes, int], generation: int,
           scenario: Scenario, finished: bool) -> None:
    store = FileObjectStore(work)
    store.initialize()
    got = contents(store)
    allowed = [scenario.new] if finished else [before.get(scenario.target), scenario.new]
    assert got.get(scenario.target) in allowed
    assert {k: v for k, v in got.items() if k != scenario.target} == {
        k: v for k, v in before.items() if k != scenario.target
    }
    for entry in store.enumerate_objects():
        if entry.label in handles:
            assert entry.handle == handles[entry.label]
    assert store.generation() >= generation
    names = os.listdir(work)
    assert not [n for n in names if n.startswith(TMP_PREFIX)], names
    assert CORRUPT_DIR not in names
    store.save_object(b"after", b"fine")
    store.close()
    again = FileObjectStore(work)
    assert contents(again) == {**got, b"after": (b"fine", False)}
    again.close()
