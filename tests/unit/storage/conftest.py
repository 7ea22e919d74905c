"""Fixtures for the PAL contract suite: one fresh store per backend.

To add a backend, add one entry to BACKENDS: a name and a factory that builds an
uninitialized store whose files (if any) live under the given temporary directory. Calling
the factory again with the same directory must reopen the same store; backends that keep
nothing across that (``memory``) are listed in VOLATILE.

A porter runs the suite against their own class without editing anything here (see
README.md in this directory)::

    TOKENPORT_PAL=mypackage.mystore:MyStore python -m pytest tests/unit/storage/test_pal_*.py

``TOKENPORT_PAL`` names ``module:attribute``, a class or function taking the directory
(a ``pathlib.Path``) and returning an uninitialized ObjectStore; it then replaces the
built-in backends. ``TOKENPORT_PAL_VOLATILE=1`` marks it as keeping nothing across
reopening (the persistence and multi-process tests are skipped for it).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tokenport.backends.storage.files import FileObjectStore
from tokenport.backends.storage.flash import FlashObjectStore
from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.backends.storage.sqlite import SqliteObjectStore
from tokenport.ports.storage import ObjectStore

StoreFactory = Callable[[Path], ObjectStore]

BACKENDS: dict[str, StoreFactory] = {
    "memory": lambda tmp: MemoryObjectStore(),
    "sqlite": lambda tmp: SqliteObjectStore(tmp / "store" / "tokenport.sqlite3"),
    "files": lambda tmp: FileObjectStore(tmp / "store"),
    # 1 MiB images: the suite keeps 3,000 records, and records of 64 KiB, at once.
    "flash": lambda tmp: FlashObjectStore(tmp / "store" / "flash.img", 256, 4096),
    # small sectors: most records span sectors, garbage collection runs often
    "flash-512": lambda tmp: FlashObjectStore(tmp / "store" / "flash.img", 2048, 512),
}
VOLATILE = {"memory"}


def _custom_backend(spec: str) -> StoreFactory:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise pytest.UsageError(f"TOKENPORT_PAL={spec!r}: expected module:attribute")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise pytest.UsageError(f"TOKENPORT_PAL={spec!r}: cannot load it: {exc}") from exc
    if not callable(factory):
        raise pytest.UsageError(f"TOKENPORT_PAL={spec!r} is not callable")
    return lambda tmp: factory(tmp / "store")


if os.environ.get("TOKENPORT_PAL"):
    BACKENDS = {"custom": _custom_backend(os.environ["TOKENPORT_PAL"])}
    VOLATILE = {"custom"} if os.environ.get("TOKENPORT_PAL_VOLATILE") == "1" else set()

DURABLE = sorted(name for name in BACKENDS if name not in VOLATILE)


@pytest.fixture(params=sorted(BACKENDS))
def new_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], ObjectStore]]:
    """A function that makes fresh, initialized stores of one backend; all closed afterwards."""
    factory = BACKENDS[request.param]
    made: list[ObjectStore] = []

    def make() -> ObjectStore:
        store = factory(tmp_path / f"s{len(made)}")
        store.initialize()
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(new_store: Callable[[], ObjectStore]) -> ObjectStore:
    """One fresh, initialized store of each backend."""
    return new_store()


class Reopener:
    """Opens one durable store as often as a test likes (in this or a forked process)."""

    def __init__(self, name: str, factory: StoreFactory, where: Path) -> None:
        self.name = name
        self._factory = factory
        self.where = where
        self.opened: list[ObjectStore] = []

    def open(self) -> ObjectStore:
        """A new store object on the same store, initialized."""
        store = self._factory(self.where)
        store.initialize()
        self.opened.append(store)
        return store

    def open_in_child(self) -> ObjectStore:
        """In a forked child: a store object that the parent's cleanup does not touch."""
        store = self._factory(self.where)
        store.initialize()
        return store

    def close_all(self) -> None:
        for store in self.opened:
            store.close()


@pytest.fixture(params=DURABLE)
def durable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Reopener]:
    """One store of each durable backend that a test can open again and again."""
    reopener = Reopener(request.param, BACKENDS[request.param], tmp_path / "durable")
    yield reopener
    reopener.close_all()
