"""Sessions, login, PINs and lockout (PKCS #11 v2.40 s5.5-5.6)."""

from __future__ import annotations

import pytest

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKF, CKS, CKU
from tokenport.config import Config
from tokenport.core.module import Module
from tokenport.errors import (
    PinIncorrect,
    PinLocked,
    SessionHandleInvalid,
    SessionParallelNotSupported,
    SessionReadOnly,
    SessionReadOnlyExists,
    SessionReadWriteSoExists,
    UserAlreadyLoggedIn,
    UserAnotherAlreadyLoggedIn,
    UserNotLoggedIn,
    UserPinNotInitialized,
    UserTypeInvalid,
)

from .conftest import RO, RW, SO_PIN, USER_PIN, new_module


def test_session_states_follow_login(module: Module, slot: int) -> None:
    ro = module.open_session(slot, RO)
    rw = module.open_session(slot, RW)
    assert module.get_session_info(ro).state == CKS.RO_PUBLIC_SESSION
    assert module.get_session_info(rw).state == CKS.RW_PUBLIC_SESSION
    module.login(rw, CKU.USER, USER_PIN)
    assert module.get_session_info(ro).state == CKS.RO_USER_FUNCTIONS
    assert module.get_session_info(rw).state == CKS.RW_USER_FUNCTIONS
    with pytest.raises(UserAlreadyLoggedIn):
        module.login(ro, CKU.USER, USER_PIN)
    with pytest.raises(UserAnotherAlreadyLoggedIn):
        module.login(ro, CKU.SO, SO_PIN)
    module.logout(ro)
    assert module.get_session_info(rw).state == CKS.RW_PUBLIC_SESSION
    with pytest.raises(UserNotLoggedIn):
        module.logout(rw)


def test_so_login_rules(module: Module, slot: int) -> None:
    ro = module.open_session(slot, RO)
    rw = module.open_session(slot, RW)
    with pytest.raises(SessionReadOnlyExists):
        module.login(rw, CKU.SO, SO_PIN)
    module.close_session(ro)
    module.login(rw, CKU.SO, SO_PIN)
    assert module.get_session_info(rw).state == CKS.RW_SO_FUNCTIONS
    with pytest.raises(SessionReadWriteSoExists):
        module.open_session(slot, RO)


def test_bad_session_arguments(module: Module, slot: int) -> None:
    with pytest.raises(SessionParallelNotSupported):
        module.open_session(slot, int(CKF.RW_SESSION))
    with pytest.raises(SessionHandleInvalid):
        module.get_session_info(999)
    session = module.open_session(slot, RW)
    with pytest.raises(UserTypeInvalid):
        module.login(session, 7, USER_PIN)
    module.close_session(session)
    with pytest.raises(SessionHandleInvalid):
        module.close_session(session)


def test_closing_the_last_session_logs_out(module: Module, slot: int) -> None:
    session = module.open_session(slot, RW)
    module.login(session, CKU.USER, USER_PIN)
    module.close_all_sessions(slot)
    session = module.open_session(slot, RW)
    assert module.get_session_info(session).state == CKS.RW_PUBLIC_SESSION


def test_user_pin_must_be_initialized(module: Module) -> None:
    module.init_token(0, SO_PIN, b"nouser".ljust(32))
    session = module.open_session(0, RW)
    with pytest.raises(UserPinNotInitialized):
        module.login(session, CKU.USER, USER_PIN)
    with pytest.raises(UserNotLoggedIn):
        module.init_pin(session, USER_PIN)


def test_lockout_flags_persistence_and_so_unlock(config: Config, store: MemoryObjectStore) -> None:
    module = new_module(config, store)  # max_pin_attempts = 3
    module.init_token(0, SO_PIN, b"lock".ljust(32))
    session = module.open_session(0, RW)
    module.login(session, CKU.SO, SO_PIN)
    module.init_pin(session, USER_PIN)
    module.logout(session)

    with pytest.raises(PinIncorrect):
        module.login(session, CKU.USER, b"bad-pin-1")
    flags = module.get_token_info(0).flags
    assert flags & CKF.USER_PIN_COUNT_LOW and not flags & CKF.USER_PIN_FINAL_TRY
    with pytest.raises(PinIncorrect):
        module.login(session, CKU.USER, b"bad-pin-2")
    assert module.get_token_info(0).flags & CKF.USER_PIN_FINAL_TRY
    module.finalize()

    module = new_module(config, store)  # the counter survives a restart
    session = module.open_session(0, RW)
    with pytest.raises(PinIncorrect):
        module.login(session, CKU.USER, b"bad-pin-3")
    flags = module.get_token_info(0).flags
    assert flags & CKF.USER_PIN_LOCKED
    assert flags & CKF.USER_PIN_COUNT_LOW and flags & CKF.USER_PIN_FINAL_TRY
    with pytest.raises(PinLocked):
        module.login(session, CKU.USER, USER_PIN)

    module.login(session, CKU.SO, SO_PIN)
    module.init_pin(session, b"new-user-pin")
    module.logout(session)
    assert not module.get_token_info(0).flags & CKF.USER_PIN_LOCKED
    module.login(session, CKU.USER, b"new-user-pin")
    assert not module.get_token_info(0).flags & CKF.USER_PIN_COUNT_LOW
    module.finalize()


def test_successful_login_resets_the_counter(module: Module, slot: int) -> None:
    session = module.open_session(slot, RW)
    with pytest.raises(PinIncorrect):
        module.login(session, CKU.USER, b"bad-pin-1")
    module.login(session, CKU.USER, USER_PIN)
    assert not module.get_token_info(slot).flags & CKF.USER_PIN_COUNT_LOW


def test_set_pin_changes_user_and_so_pins(module: Module, slot: int) -> None:
    ro = module.open_session(slot, RO)
    with pytest.raises(SessionReadOnly):
        module.set_pin(ro, USER_PIN, b"other-pin")
    module.close_session(ro)
    session = module.open_session(slot, RW)
    with pytest.raises(PinIncorrect):
        module.set_pin(session, b"not-the-pin", b"other-pin")
    module.set_pin(session, USER_PIN, b"other-pin")
    with pytest.raises(PinIncorrect):
        module.login(session, CKU.USER, USER_PIN)
    module.login(session, CKU.USER, b"other-pin")
    module.logout(session)
    module.login(session, CKU.SO, SO_PIN)
    module.set_pin(session, SO_PIN, b"new-so-pin")
    module.logout(session)
    module.login(session, CKU.SO, b"new-so-pin")


def test_parallel_wrong_pins_from_several_modules_are_all_counted(
    config: Config, store: MemoryObjectStore
) -> None:
    """Ten library instances sharing the store (as ten processes would) guess at once:
    exactly max_pin_attempts (3) guesses are checked, the rest find the PIN locked."""
    import threading

    setup = new_module(config, store)
    setup.init_token(0, SO_PIN, b"race".ljust(32))
    session = setup.open_session(0, RW)
    setup.login(session, CKU.SO, SO_PIN)
    setup.init_pin(session, USER_PIN)
    setup.finalize()
    modules = [new_module(config, store) for _ in range(10)]
    sessions = [m.open_session(0, RW) for m in modules]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(modules))

    def guess(module: Module, handle: int) -> None:
        barrier.wait()
        try:
            module.login(handle, CKU.USER, b"wrong-guess")
        except (PinIncorrect, PinLocked) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(modules, sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["PinIncorrect"] * 3 + ["PinLocked"] * 7
    with pytest.raises(PinLocked):
        modules[0].login(sessions[0], CKU.USER, USER_PIN)
    for module in modules:
        module.finalize()


def test_a_login_never_writes_back_a_pin_that_another_module_changed(
    config: Config, store: MemoryObjectStore
) -> None:
    first = new_module(config, store)
    first.init_token(0, SO_PIN, b"pins".ljust(32))
    session = first.open_session(0, RW)
    first.login(session, CKU.SO, SO_PIN)
    first.init_pin(session, USER_PIN)
    first.logout(session)
    first.login(session, CKU.USER, USER_PIN)  # first now holds a copy of the old record
    first.logout(session)

    second = new_module(config, store)
    other = second.open_session(0, RW)
    second.set_pin(other, USER_PIN, b"changed-pin")

    with pytest.raises(PinIncorrect):  # the old PIN is checked against the stored record
        first.login(session, CKU.USER, USER_PIN)
    first.login(session, CKU.USER, b"changed-pin")
    first.logout(session)
    with pytest.raises(PinIncorrect):
        second.login(other, CKU.USER, USER_PIN)
    second.login(other, CKU.USER, b"changed-pin")
    first.finalize()
    second.finalize()
