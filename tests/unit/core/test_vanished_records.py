"""Routine multi-process use is quiet (issue 9, item 11): a record another process destroyed
between our listing and our read is normal -- DEBUG at most -- while a record that exists
but cannot be decoded is still an ERROR (once, not at every refresh).

Every backend raises ObjectHandleInvalid for the handle of a record destroyed meanwhile
(tests/unit/storage/test_pal_contract.py checks it for all four); VanishingStore plays the
other process on the in-memory twin.
"""

from __future__ import annotations

import logging

import pytest

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKA, CKO, CKU
from tokenport.config import Config
from tokenport.core.module import Module
from tokenport.errors import TokenNotPresent

from .conftest import RW, SO_PIN, USER_PIN, new_module
from .test_find_and_persistence import find


class VanishingStore(MemoryObjectStore):
    """Destroys a record named in ``vanish`` just before it is read, as another process
    would between our listing and our read."""

    def __init__(self) -> None:
        super().__init__()
        self.vanish: set[bytes] = set()

    def get_object_value(self, handle: int) -> tuple[bytes, bool]:
        for label in list(self.vanish):
            if self.find_object(label) == handle:
                self.vanish.discard(label)
                self.destroy_object(handle)
        return super().get_object_value(handle)


def data_object(module: Module, session: int, label: bytes) -> int:
    return module.create_object(session, [(CKA.CLASS, int(CKO.DATA)), (CKA.LABEL, label),
                                          (CKA.TOKEN, True), (CKA.PRIVATE, False)])


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_object_destroyed_between_listing_and_reading_is_no_error(
    config: Config, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="tokenport")
    store = VanishingStore()
    writer = new_module(config, store)
    writer.init_token(0, SO_PIN, b"quiet".ljust(32))
    session = writer.open_session(0, RW)
    for label in (b"stays", b"goes"):
        data_object(writer, session, label)
    (goes,) = [e.label for e in store.enumerate_objects(b"t/") if b"/o/" in e.label
               and b"goes" in store.get_object_value(e.handle)[0]]

    reader = new_module(config, store)
    reader_session = reader.open_session(0, RW)
    store.vanish.add(goes)
    assert len(find(reader, reader_session, [])) == 1
    assert errors(caplog) == []
    assert any("vanished" in r.getMessage() and r.levelno == logging.DEBUG
               for r in caplog.records)
    reader.finalize()
    writer.finalize()


def test_a_token_record_destroyed_between_listing_and_reading_is_no_error(
    config: Config, caplog: pytest.LogCaptureFixture,
) -> None:
    store = VanishingStore()
    writer = new_module(config, store)
    writer.init_token(0, SO_PIN, b"first".ljust(32))
    writer.init_token(1, SO_PIN, b"second".ljust(32))
    serial = writer.get_token_info(1).serial_number
    writer.finalize()
    store.vanish.add(b"t/" + serial.encode() + b"/info")  # deleted by another process
    reader = new_module(config, store)
    assert reader.get_slot_list(True) == [0, 1]  # token 0 and the free slot
    assert reader.get_token_info(0).label == "first"
    assert errors(caplog) == []
    reader.finalize()


def test_a_login_on_a_token_deleted_meanwhile_says_so(config: Config) -> None:
    """C_Login's counter update finds the token record gone: CKR_TOKEN_NOT_PRESENT, not an
    object handle error."""
    store = VanishingStore()
    module = new_module(config, store)
    module.init_token(0, SO_PIN, b"gone".ljust(32))
    session = module.open_session(0, RW)
    store.vanish.add(b"t/" + module.get_token_info(0).serial_number.encode() + b"/info")
    with pytest.raises(TokenNotPresent):
        module.login(session, CKU.USER, USER_PIN)
    module.finalize()


def test_a_damaged_record_is_an_error_once(
    config: Config, store: MemoryObjectStore, module: Module, user: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data_object(module, user, b"bad")
    (entry,) = [e for e in store.enumerate_objects(b"t/") if b"/o/" in e.label]
    data, private = store.get_object_value(entry.handle)
    store.save_object(entry.label, data[:-3], private=private)
    reader = new_module(config, store)
    session = reader.open_session(0, RW)
    for turn in range(3):  # the store changes under the reader: it refreshes each time
        data_object(module, user, b"other %d" % turn)
        assert find(reader, session, [(CKA.LABEL, b"bad")]) == []
    lines = [m for m in errors(caplog) if repr(entry.label) in m]
    assert len(lines) == 1 and "truncated" in lines[0]
    reader.finalize()


def test_reinitializing_a_token_never_read_does_not_look_for_its_old_objects(
    config: Config, caplog: pytest.LogCaptureFixture,
) -> None:
    """Found by the fuzzer: C_Initialize, C_InitToken on an initialized token, then a search
    read the records C_InitToken had just destroyed (the listing kept for the first load)."""
    store = MemoryObjectStore()
    first = new_module(config, store)
    first.init_token(0, SO_PIN, b"reinit".ljust(32))
    session = first.open_session(0, RW)
    data_object(first, session, b"old")
    first.finalize()

    caplog.set_level(logging.DEBUG, logger="tokenport")
    second = new_module(config, store)
    second.init_token(0, SO_PIN, b"reinit".ljust(32))
    session = second.open_session(0, RW)
    assert find(second, session, []) == []
    assert [r.getMessage() for r in caplog.records if "record" in r.getMessage()] == []
    second.finalize()
