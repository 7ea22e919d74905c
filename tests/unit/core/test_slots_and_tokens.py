"""Slots, tokens and their persistence (PKCS #11 v2.40 s5.5)."""

from __future__ import annotations

import pytest

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKF
from tokenport.config import Config
from tokenport.core.module import Module
from tokenport.errors import (
    CryptokiAlreadyInitialized,
    CryptokiNotInitialized,
    PinIncorrect,
    PinLenRange,
    SessionExists,
    SlotIdInvalid,
    TokenNotRecognized,
)
from tokenport.wiring import build_module

from .conftest import RW, SO_PIN, new_module


def test_fresh_store_has_one_free_uninitialized_slot(module: Module) -> None:
    assert module.get_slot_list(True) == [0]
    info = module.get_token_info(0)
    assert not info.flags & CKF.TOKEN_INITIALIZED
    assert info.flags & CKF.RNG
    assert module.get_slot_info(0).flags & CKF.TOKEN_PRESENT


def test_init_token_makes_a_new_free_slot_appear(module: Module) -> None:
    module.init_token(0, SO_PIN, b"first".ljust(32))
    assert module.get_slot_list(True) == [0, 1]
    info = module.get_token_info(0)
    assert info.label == "first"
    assert info.flags & CKF.TOKEN_INITIALIZED
    assert not info.flags & CKF.USER_PIN_INITIALIZED
    assert len(info.serial_number) == 16
    module.init_token(1, SO_PIN, b"second".ljust(32))
    assert module.get_slot_list(True) == [0, 1, 2]
    assert module.get_token_info(1).label == "second"


def test_slot_ids_and_serials_survive_a_restart(config: Config, store: MemoryObjectStore) -> None:
    first = new_module(config, store)
    first.init_token(0, SO_PIN, b"a".ljust(32))
    first.init_token(1, SO_PIN, b"b".ljust(32))
    serials = [first.get_token_info(s).serial_number for s in (0, 1)]
    first.finalize()
    second = new_module(config, store)
    assert second.get_slot_list(True) == [0, 1, 2]
    assert [second.get_token_info(s).serial_number for s in (0, 1)] == serials
    assert second.get_token_info(1).label == "b"


def test_second_module_sees_a_token_created_by_the_first(config: Config, store: MemoryObjectStore) -> None:
    first = new_module(config, store)
    second = new_module(config, store)
    first.init_token(0, SO_PIN, b"shared".ljust(32))
    assert second.get_token_info(0).label == "shared"
    assert second.get_slot_list(True) == [0, 1]


def test_reinit_needs_the_so_pin_and_no_sessions(module: Module, slot: int) -> None:
    with pytest.raises(PinIncorrect):
        module.init_token(slot, b"wrong-pin", b"x".ljust(32))
    session = module.open_session(slot, RW)
    with pytest.raises(SessionExists):
        module.init_token(slot, SO_PIN, b"x".ljust(32))
    module.close_session(session)
    module.init_token(slot, SO_PIN, b"renamed".ljust(32))
    info = module.get_token_info(slot)
    assert info.label == "renamed"
    assert not info.flags & CKF.USER_PIN_INITIALIZED


def test_bad_slot_and_uninitialized_token(module: Module) -> None:
    with pytest.raises(SlotIdInvalid):
        module.get_token_info(7)
    with pytest.raises(TokenNotRecognized):
        module.open_session(0, RW)
    with pytest.raises(PinLenRange):
        module.init_token(0, b"12", b"short".ljust(32))


def test_initialize_and_finalize_order(config: Config, store: MemoryObjectStore) -> None:
    module = build_module(config, store=store)
    with pytest.raises(CryptokiNotInitialized):
        module.get_slot_list(True)
    module.initialize()
    with pytest.raises(CryptokiAlreadyInitialized):
        module.initialize()
    module.finalize()
    with pytest.raises(CryptokiNotInitialized):
        module.finalize()


def test_mechanisms_are_listed_with_info(module: Module) -> None:
    mechanisms = module.get_mechanism_list(0)
    assert len(mechanisms) >= 40
    for mechanism in mechanisms:
        info = module.get_mechanism_info(0, mechanism)
        assert info.flags
        assert info.min_key_size <= info.max_key_size


def test_delete_token_frees_its_slot(module: Module, slot: int) -> None:
    module.delete_token(slot)
    assert module.get_slot_list(True) == [0]
    assert not module.get_token_info(0).flags & CKF.TOKEN_INITIALIZED


def test_info_texts_fit_their_fixed_size_fields(module: Module) -> None:
    """CK_INFO.libraryDescription and manufacturerID are 32 bytes (s3.1): nothing is cut."""
    info = module.get_info()
    assert len(info.library_description.encode()) <= 32
    assert len(info.manufacturer_id.encode()) <= 32
