"""A damaged token record is reported, never taken for a free slot (issue 9, item 8).

The token keeps a slot (C_GetSlotInfo: token present), C_GetTokenInfo / C_OpenSession /
C_InitToken on it fail with CKR_DEVICE_ERROR, the free slot stays available, every object
record stays in the store, and repair or delete are explicit (PKCS #11 v2.40 s5.5).
"""

from __future__ import annotations

import logging
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKA, CKF, CKM, CKO, CKR, CKU
from tokenport.config import Config
from tokenport.core.directory import DAMAGED_SLOT_BASE, DAMAGED_SLOT_SPAN, TokenDamaged
from tokenport.core.module import Module
from tokenport.errors import DeviceError, SessionHandleInvalid
from tokenport.mechanisms.params import Mechanism
from tokenport.store_tools import ANY_TOKEN, check_store
from tokenport.wiring import build_module

from .conftest import RW, SO_PIN, USER_PIN
from .test_find_and_persistence import find
from .test_operations import P256_OID

NEW_SO_PIN = b"new-so-pin-1"


class Store:
    """One backend's store, opened by modules the way a process opens it."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        self.config = Config(store_backend=backend, store_dir=tmp_path, max_pin_attempts=3)
        self.memory = MemoryObjectStore() if backend == "memory" else None
        self.dir = tmp_path

    def module(self) -> Module:
        module = build_module(self.config, store=self.memory)
        module.initialize()
        return module

    def labels(self) -> set[bytes]:
        module = self.module()
        try:
            return {e.label for e in module.directory()._store.enumerate_objects(b"")}
        finally:
            module.finalize()

    def garble_info(self, serial: str, keep_slot: bool = False) -> None:
        """Damage the token record as a disk error or a stray write would."""
        label = b"t/" + serial.encode() + b"/info"
        if self.memory is not None:
            handle = self.memory.find_object(label)
            assert handle is not None
            data = self.memory.get_object_value(handle)[0]
            self.memory.save_object(label, _garbled(data, keep_slot))
        elif self.backend == "sqlite":
            with sqlite3.connect(self.dir / "tokenport.sqlite3") as db:
                (data,) = db.execute("SELECT data FROM records WHERE label = ?", (label,)).fetchone()
                db.execute("UPDATE records SET data = ? WHERE label = ?",
                           (_garbled(data, keep_slot), label))
        else:  # files: a few bytes of the record file flipped (its CRC then fails)
            (path,) = (self.dir / "objects").glob(f"*.{label.hex()}.obj")
            raw = bytearray(path.read_bytes())
            raw[60:70] = b"\xff" * 10
            path.write_bytes(bytes(raw))


def _garbled(data: bytes, keep_slot: bool) -> bytes:
    if keep_slot:  # the PIN records are gone, the slot ID and label survive
        start = data.index(b'"so_pin"')
        return data[:start] + b"\x00garbage\x00" + data[start + 40:]
    return b"\x17" * 20 + data[len(data) // 2:]


@pytest.fixture(params=["memory", "sqlite", "files"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return Store(request.param, tmp_path)


@pytest.fixture
def damaged(backend: Store) -> Iterator[tuple[Store, str]]:
    """A token "dev" in slot 0 with a public data object and an EC key pair; then its token
    record is damaged. Yields the store and the token's serial."""
    module = backend.module()
    module.init_token(0, SO_PIN, b"dev".ljust(32))
    session = module.open_session(0, RW)
    module.login(session, CKU.SO, SO_PIN)
    module.init_pin(session, USER_PIN)
    module.logout(session)
    module.login(session, CKU.USER, USER_PIN)
    module.create_object(session, [(CKA.CLASS, int(CKO.DATA)), (CKA.LABEL, b"public data"),
                                   (CKA.TOKEN, True), (CKA.PRIVATE, False)])
    module.generate_key_pair(
        session, Mechanism(CKM.EC_KEY_PAIR_GEN),
        [(CKA.EC_PARAMS, P256_OID), (CKA.LABEL, b"k"), (CKA.TOKEN, True)],
        [(CKA.LABEL, b"k"), (CKA.TOKEN, True)],
    )
    serial = module.get_token_info(0).serial_number
    module.finalize()
    yield backend, serial


def object_labels(store: Store, serial: str) -> set[bytes]:
    return {label for label in store.labels() if label.startswith(f"t/{serial}/o/".encode())}


def test_a_damaged_token_keeps_its_slot_and_refuses_use(
    damaged: tuple[Store, str], caplog: pytest.LogCaptureFixture,
) -> None:
    store, serial = damaged
    objects = object_labels(store, serial)
    assert len(objects) == 3
    store.garble_info(serial)
    module = store.module()
    slot = DAMAGED_SLOT_BASE + zlib.crc32(serial.encode()) % DAMAGED_SLOT_SPAN
    assert module.get_slot_list(True) == [0, slot]  # the free slot, and the damaged token
    assert module.get_slot_info(slot).flags & CKF.TOKEN_PRESENT
    with pytest.raises(TokenDamaged) as info:
        module.get_token_info(slot)
    assert info.value.rv == CKR.DEVICE_ERROR and info.value.serial == serial
    assert "is damaged" in caplog.text and serial in caplog.text
    with pytest.raises(DeviceError):
        module.open_session(slot, RW)
    with pytest.raises(DeviceError):
        module.init_token(slot, SO_PIN, b"over it".ljust(32))
    assert not module.get_token_info(0).flags & CKF.TOKEN_INITIALIZED
    module.init_token(0, SO_PIN, b"fresh".ljust(32))  # the free slot still works
    assert module.get_token_info(0).serial_number != serial
    assert module.get_slot_list(True) == [0, 1, slot]
    module.finalize()
    assert object_labels(store, serial) == objects  # nothing of the damaged token was lost
    module = store.module()  # another process sees the same
    assert module.get_slot_list(True) == [0, 1, slot]
    with pytest.raises(TokenDamaged):
        module.get_token_info(slot)
    module.finalize()


@pytest.mark.parametrize("backend", ["memory", "sqlite"], indirect=True)  # (files: no
def test_the_slot_id_and_label_survive_where_they_can(  # record failing its CRC is read)
    damaged: tuple[Store, str],
) -> None:
    store, serial = damaged
    store.garble_info(serial, keep_slot=True)
    module = store.module()
    assert module.get_slot_list(True) == [0, 1]
    with pytest.raises(TokenDamaged) as info:
        module.get_token_info(0)
    assert (info.value.slot_id, info.value.label) == (0, "dev")
    assert not module.get_token_info(1).flags & CKF.TOKEN_INITIALIZED
    module.finalize()


def test_repair_keeps_public_objects_and_reports_private_ones(
    damaged: tuple[Store, str],
) -> None:
    store, serial = damaged
    store.garble_info(serial)
    module = store.module()
    report = module.directory().repair_token(serial, NEW_SO_PIN)
    assert sorted(report.kept) == ["CKO_DATA 'public data'", "CKO_PUBLIC_KEY 'k'"]
    assert report.lost == ["CKO_PRIVATE_KEY 'k'"]
    assert (report.slot_id, report.label) == (0, "repaired")  # the free slot: 0
    info = module.get_token_info(0)
    assert info.serial_number == serial and info.label == "repaired"
    assert not info.flags & CKF.USER_PIN_INITIALIZED
    session = module.open_session(0, RW)
    module.login(session, CKU.SO, NEW_SO_PIN)
    module.init_pin(session, USER_PIN)
    module.logout(session)
    module.login(session, CKU.USER, USER_PIN)
    assert len(find(module, session, [])) == 2
    assert find(module, session, [(CKA.CLASS, int(CKO.PRIVATE_KEY))]) == []
    module.finalize()
    module = store.module()
    report = check_store(module.directory()._store, module.crypto, {ANY_TOKEN: USER_PIN})
    assert all("moved to corrupt/" in p for p in report.problems), report.problems  # (files)
    assert report.tokens == {serial: "repaired"}
    module.finalize()


def test_a_damaged_token_can_be_deleted(damaged: tuple[Store, str]) -> None:
    store, serial = damaged
    store.garble_info(serial)
    module = store.module()
    (slot,) = [s for s in module.get_slot_list(True) if s != 0]
    module.delete_token(slot)
    assert module.get_slot_list(True) == [0]
    module.finalize()
    assert not {label for label in store.labels() if serial.encode() in label}


def test_objects_without_their_token_record_are_a_damaged_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store("memory", tmp_path)
    module = store.module()
    module.init_token(0, SO_PIN, b"dev".ljust(32))
    session = module.open_session(0, RW)
    module.create_object(session, [(CKA.CLASS, int(CKO.DATA)), (CKA.LABEL, b"x"),
                                   (CKA.TOKEN, True), (CKA.PRIVATE, False)])
    serial = module.get_token_info(0).serial_number
    module.finalize()
    assert store.memory is not None
    handle = store.memory.find_object(b"t/" + serial.encode() + b"/info")
    assert handle is not None
    store.memory.destroy_object(handle)
    module = store.module()
    damaged = [s for s in module.get_slot_list(True) if s != 0]
    assert len(damaged) == 1
    with pytest.raises(TokenDamaged, match="token record is missing"):
        module.get_token_info(damaged[0])
    report = check_store(store.memory, module.crypto)
    assert any("without a token record" in p and "token repair" in p for p in report.problems)
    module.finalize()


def test_store_check_reports_a_damaged_token_record(damaged: tuple[Store, str]) -> None:
    store, serial = damaged
    store.garble_info(serial)
    module = store.module()
    module.finalize()  # (the files backend has moved the record aside by now)
    module = store.module()
    report = check_store(module.directory()._store, module.crypto)
    assert not report.ok
    assert any(serial in p and "token repair --serial" in p for p in report.problems), \
        report.problems
    module.finalize()


def test_sessions_of_a_token_that_becomes_damaged_end(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    store = Store("memory", tmp_path)
    module = store.module()
    module.init_token(0, SO_PIN, b"dev".ljust(32))
    session = module.open_session(0, RW)
    module.login(session, CKU.SO, SO_PIN)
    serial = module.get_token_info(0).serial_number
    token = module.directory().token_by_serial(serial)
    assert token is not None and token.key_available()
    store.garble_info(serial)  # by another process
    with pytest.raises(TokenDamaged):
        module.get_token_info(module.get_slot_list(True)[1])
    with pytest.raises(SessionHandleInvalid):
        module.get_session_info(session)
    assert not token.key_available()  # the master key left memory with the token
    module.finalize()
