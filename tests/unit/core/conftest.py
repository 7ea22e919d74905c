"""Fixtures for unit tests of the Cryptoki core on the in-memory store (a real Module,
real crypto and mechanisms; only the storage port is the in-memory twin)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKF, CKU
from tokenport.config import Config
from tokenport.core.module import Module
from tokenport.wiring import build_module

SO_PIN = b"so-secret-1"
USER_PIN = b"user-pin-1"
RW = int(CKF.SERIAL_SESSION | CKF.RW_SESSION)
RO = int(CKF.SERIAL_SESSION)


@pytest.fixture
def store() -> MemoryObjectStore:
    return MemoryObjectStore()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(store_backend="memory", store_dir=tmp_path, max_pin_attempts=3)


def new_module(config: Config, store: MemoryObjectStore) -> Module:
    module = build_module(config, store=store)
    module.initialize()
    return module


@pytest.fixture
def module(config: Config, store: MemoryObjectStore) -> Iterator[Module]:
    module = new_module(config, store)
    yield module
    if module.initialized:
        module.finalize()


@pytest.fixture
def slot(module: Module) -> int:
    """Slot 0 with an initialized token whose user PIN is set."""
    module.init_token(0, SO_PIN, b"unit".ljust(32))
    session = module.open_session(0, RW)
    module.login(session, CKU.SO, SO_PIN)
    module.init_pin(session, USER_PIN)
    module.close_session(session)
    return 0


@pytest.fixture
def user(module: Module, slot: int) -> int:
    """A R/W session on the token with the user logged in."""
    session = module.open_session(slot, RW)
    module.login(session, CKU.USER, USER_PIN)
    return session
