"""A lock is a fact, not a setting (issue 9, item 5): once CKF_USER_PIN_LOCKED or
CKF_SO_PIN_LOCKED is set it stays set, whatever max_pin_attempts says later, until C_InitPIN
(user) or C_InitToken (PKCS #11 v2.40 s5.6 C_Login, s3.2 table 9)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKF, CKU
from tokenport.config import Config
from tokenport.core.module import Module
from tokenport.errors import PinIncorrect, PinLocked
from tokenport.storage_format import TokenRecord

from .conftest import RW, SO_PIN, USER_PIN, new_module
from .records import token_record


def with_limit(config: Config, store: MemoryObjectStore, limit: int) -> Module:
    """A new process whose config says ``max_pin_attempts = limit``."""
    return new_module(dataclasses.replace(config, max_pin_attempts=limit), store)


def wrong_logins(module: Module, role: int, count: int) -> None:
    session = module.open_session(0, RW)
    for _ in range(count):
        with pytest.raises(PinIncorrect):
            module.login(session, role, b"wrong-pin")
    module.close_session(session)


def test_raising_the_limit_does_not_unlock_the_user_pin(
    config: Config, store: MemoryObjectStore, module: Module, slot: int,
) -> None:
    wrong_logins(module, CKU.USER, 3)  # max_pin_attempts = 3
    assert module.get_token_info(0).flags & CKF.USER_PIN_LOCKED
    module.finalize()

    raised = with_limit(config, store, 10)
    flags = raised.get_token_info(0).flags
    assert flags & CKF.USER_PIN_LOCKED and flags & CKF.USER_PIN_FINAL_TRY
    session = raised.open_session(0, RW)
    with pytest.raises(PinLocked):
        raised.login(session, CKU.USER, USER_PIN)
    raised.login(session, CKU.SO, SO_PIN)  # only the SO unlocks it
    raised.init_pin(session, b"new-user-pin")
    raised.logout(session)
    assert not raised.get_token_info(0).flags & (CKF.USER_PIN_LOCKED | CKF.USER_PIN_COUNT_LOW)
    raised.login(session, CKU.USER, b"new-user-pin")
    raised.finalize()


def test_raising_the_limit_does_not_unlock_the_so_pin(
    config: Config, store: MemoryObjectStore, module: Module, slot: int,
) -> None:
    wrong_logins(module, CKU.SO, 3)
    assert module.get_token_info(0).flags & CKF.SO_PIN_LOCKED
    module.finalize()

    raised = with_limit(config, store, 10)
    assert raised.get_token_info(0).flags & CKF.SO_PIN_LOCKED
    session = raised.open_session(0, RW)
    with pytest.raises(PinLocked):
        raised.login(session, CKU.SO, SO_PIN)
    raised.close_session(session)
    with pytest.raises(PinLocked):  # nor can the token be re-initialized with it
        raised.init_token(0, SO_PIN, b"again".ljust(32))
    session = raised.open_session(0, RW)
    raised.login(session, CKU.USER, USER_PIN)  # the user is not affected
    raised.finalize()


def test_the_final_try_with_the_right_pin_leaves_no_lock(
    config: Config, store: MemoryObjectStore, module: Module, slot: int,
) -> None:
    wrong_logins(module, CKU.USER, 2)
    session = module.open_session(0, RW)
    module.login(session, CKU.USER, USER_PIN)
    _entry, record = token_record(store)
    assert (record.user_failures, record.user_locked) == (0, False)
    assert not module.get_token_info(0).flags & (CKF.USER_PIN_LOCKED | CKF.USER_PIN_FINAL_TRY)


def test_a_count_at_the_limit_locks_and_lowering_the_limit_locks_for_good(
    config: Config, store: MemoryObjectStore, module: Module, slot: int,
) -> None:
    wrong_logins(module, CKU.USER, 2)  # not locked with 3 attempts
    module.finalize()
    lowered = with_limit(config, store, 2)  # a lower limit locks: the count reaches it
    assert lowered.get_token_info(0).flags & CKF.USER_PIN_LOCKED
    session = lowered.open_session(0, RW)
    with pytest.raises(PinLocked):
        lowered.login(session, CKU.USER, USER_PIN)  # ... and that attempt stores the lock
    lowered.finalize()
    assert token_record(store)[1].user_locked
    raised = with_limit(config, store, 10)
    assert raised.get_token_info(0).flags & CKF.USER_PIN_LOCKED
    session = raised.open_session(0, RW)
    with pytest.raises(PinLocked):
        raised.login(session, CKU.USER, USER_PIN)
    raised.finalize()


def test_records_without_lock_fields_still_decode(store: MemoryObjectStore, slot: int) -> None:
    """Token records written before locks were stored: the counter alone says locked."""
    _entry, record = token_record(store)
    raw = json.loads(record.encode())
    for key in ("so_locked", "user_locked", "authenticated_records"):
        del raw[key]
    raw["user_failures"] = 3
    old = TokenRecord.decode(json.dumps(raw).encode())
    assert (old.user_locked, old.so_locked, old.user_failures) == (False, False, 3)
