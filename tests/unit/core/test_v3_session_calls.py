"""C_LoginUser and C_SessionCancel in the core (PKCS #11 v3.0 s5.6)."""

from __future__ import annotations

import pytest

from tokenport.ck import CKF, CKM, CKU
from tokenport.core.module import Module
from tokenport.core.operation import OpKind
from tokenport.errors import (
    ArgumentsBad,
    OperationCancelFailed,
    OperationNotInitialized,
    PinIncorrect,
    UserPinNotInitialized,
)
from tokenport.mechanisms.params import Mechanism

from .conftest import USER_PIN
from .test_operations import ec_pair


def test_login_user_names(module: Module, slot: int) -> None:
    session = module.open_session(slot, int(CKF.SERIAL_SESSION | CKF.RW_SESSION))
    with pytest.raises(UserPinNotInitialized):
        module.login_user(session, CKU.USER, USER_PIN, b"bob")
    with pytest.raises(PinIncorrect):
        module.login_user(session, CKU.USER, b"not-the-pin", b"")
    module.login_user(session, CKU.USER, USER_PIN, b"")
    assert module.get_session_info(session).state == 3


def test_cancel_fails_for_an_operation_running_in_another_call(module: Module, user: int) -> None:
    _, private = ec_pair(module, user)
    module.sign_init(user, Mechanism(CKM.ECDSA_SHA256), private)
    module.digest_init(user, Mechanism(CKM.SHA256))
    operation = module.crypto_calls.operation(user, OpKind.SIGN)
    operation._running.acquire()  # another thread's call is inside the sign operation
    try:
        with pytest.raises(OperationCancelFailed):
            module.session_cancel(user, int(CKF.SIGN | CKF.DIGEST))
    finally:
        operation._running.release()
    with pytest.raises(OperationNotInitialized):
        module.digest(user, b"x")  # the digest was cancelled all the same
    assert len(module.sign(user, b"x")) == 64  # the sign operation survived


def test_cancel_rejects_unknown_flags(module: Module, user: int) -> None:
    with pytest.raises(ArgumentsBad):
        module.session_cancel(user, 0x1)


def test_message_signing_through_the_module(module: Module, user: int) -> None:
    """v3.0 s5.14-5.15 in the Python API: each message one signature with the same key; a
    bad signature raises and leaves the operation active; Final ends it."""
    from tokenport.errors import SignatureInvalid

    public, private = ec_pair(module, user)
    mech = Mechanism(CKM.ECDSA_SHA256)
    module.message_sign_init(user, mech, private)
    module.sign_init(user, mech, private)  # an ordinary sign operation beside it
    signatures = [module.sign_message(user, m) for m in (b"one", b"two")]
    assert len(module.sign(user, b"ordinary")) == 64
    module.message_verify_init(user, mech, public)
    module.verify_message(user, b"one", signatures[0])
    with pytest.raises(SignatureInvalid):
        module.verify_message(user, b"one", signatures[1])
    module.verify_message(user, b"two", signatures[1])
    module.message_verify_final(user)
    module.message_sign_final(user)
    with pytest.raises(OperationNotInitialized):
        module.sign_message(user, b"three")
