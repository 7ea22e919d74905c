"""Fixtures for the PAL contract suite: one fresh store per backend.

To add a backend, add one entry to BACKENDS: a name and a factory that builds an
uninitialized store whose files (if any) live under the given temporary directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tokenport.backends.storage_memory import MemoryObjectStore
from tokenport.backends.storage_sqlite import SqliteObjectStore
from tokenport.ports.storage import ObjectStore

StoreFactory = Callable[[Path], ObjectStore]

BACKENDS: dict[str, StoreFactory] = {
    "memory": lambda tmp: MemoryObjectStore(),
    "sqlite": lambda tmp: SqliteObjectStore(tmp / "store" / "tokenport.sqlite3"),
}


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
