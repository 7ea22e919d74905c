"""Fixtures of the provisioning tests: a Module on the in-memory store (API tests), the
tokenport command with its store in a temporary TOKENPORT_HOME (CLI tests), and a test PKI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKA, CKF, CKR, CKU
from tokenport.config import Config
from tokenport.core.module import Module
from tokenport.wiring import build_module

from ..cli.test_cli import Cli
from .pki import TestPki

SO_PIN = b"so-secret-1"
USER_PIN = b"user-pin-1"
RW = int(CKF.SERIAL_SESSION | CKF.RW_SESSION)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def module(tmp_path: Path) -> Iterator[Module]:
    """A Module on the in-memory store with an initialized token in slot 0."""
    module = build_module(Config(store_backend="memory", store_dir=tmp_path), store=MemoryObjectStore())
    module.initialize()
    module.init_token(0, SO_PIN, b"factory".ljust(32))
    session = module.open_session(0, RW)
    module.login(session, CKU.SO, SO_PIN)
    module.init_pin(session, USER_PIN)
    module.close_session(session)
    yield module
    module.finalize()


@pytest.fixture
def session(module: Module) -> int:
    """A R/W session with the user logged in."""
    handle = module.open_session(0, RW)
    module.login(handle, CKU.USER, USER_PIN)
    return handle


def snapshot(module: Module, session: int) -> list[tuple[object, ...]]:
    """Every object the session sees, as comparable values (class, label, id, value/key)."""
    module.find_objects_init(session, [])
    handles = module.find_objects(session, 1000)
    module.find_objects_final(session)
    rows = []
    for handle in handles:
        results = module.get_attribute_value(
            session, handle, [CKA.CLASS, CKA.LABEL, CKA.ID, CKA.VALUE, CKA.PUBLIC_KEY_INFO])
        rows.append(tuple(r.value if r.error == CKR.OK else None for r in results))
    return sorted(rows, key=repr)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The installed tokenport command on an empty store."""
    home = tmp_path / "home"
    home.mkdir()
    return Cli(home)


@pytest.fixture
def token(cli: Cli) -> Cli:
    """... with a token "dev" (PINs in TOKENPORT_SO_PIN / TOKENPORT_PIN)."""
    cli.run("token", "init", "--label", "dev")
    return cli
