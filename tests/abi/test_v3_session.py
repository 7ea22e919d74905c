"""C_LoginUser and C_SessionCancel through the real module (PKCS #11 v3.0 s5.6)."""

from __future__ import annotations

import ctypes
import hashlib
import hmac

from tokenport.ck import CKA, CKF, CKK, CKM, CKO, CKR, CKU

from .helpers import USER_PIN, first_slot, open_session
from .p11ctypes import CK_SESSION_INFO, CK_ULONG, P11, template, ulong_bytes
from .test_calls_crypto import TRUE, mechanism

HMAC_KEY = b"k" * 32


def hmac_key(lib: P11, session: int) -> int:
    key = CK_ULONG()
    attrs = template(
        (int(CKA.CLASS), ulong_bytes(int(CKO.SECRET_KEY)), None),
        (int(CKA.KEY_TYPE), ulong_bytes(int(CKK.GENERIC_SECRET)), None),
        (int(CKA.VALUE), HMAC_KEY, None),
        (int(CKA.SIGN), TRUE, None),
        (int(CKA.VERIFY), TRUE, None),
    )
    assert lib.C_CreateObject(session, attrs, 5, ctypes.byref(key)) == 0
    return int(key.value)


def _state(lib: P11, session: int) -> int:
    info = CK_SESSION_INFO()
    assert lib.C_GetSessionInfo(session, ctypes.byref(info)) == 0
    return int(info.state)


def test_login_user_without_a_name_logs_the_user_in(session: int, lib: P11) -> None:
    assert lib.C_Logout(session) == 0
    assert lib.C_LoginUser(session, int(CKU.USER), USER_PIN, len(USER_PIN), None, 0) == 0
    assert _state(lib, session) == 3  # CKS_RW_USER_FUNCTIONS
    assert lib.C_Logout(session) == 0
    assert lib.C_LoginUser(session, int(CKU.USER), USER_PIN, len(USER_PIN), b"", 0) == 0
    assert lib.C_LoginUser(session, int(CKU.USER), USER_PIN, len(USER_PIN), None, 0) == (
        CKR.USER_ALREADY_LOGGED_IN
    )


def test_login_user_refuses_other_names_without_costing_a_pin_try(session: int, lib: P11) -> None:
    assert lib.C_Logout(session) == 0
    for _ in range(12):  # more than any PIN retry limit
        rv = lib.C_LoginUser(session, int(CKU.USER), USER_PIN, len(USER_PIN), b"alice", 5)
        assert rv == CKR.USER_PIN_NOT_INITIALIZED
    assert _state(lib, session) == 2  # CKS_RW_PUBLIC_SESSION
    assert lib.C_LoginUser(session, int(CKU.USER), b"wrong", 5, None, 0) == CKR.PIN_INCORRECT
    assert lib.C_LoginUser(session, int(CKU.USER), USER_PIN, len(USER_PIN), None, 0) == 0


def test_login_user_arguments(session: int, lib: P11) -> None:
    assert lib.C_Logout(session) == 0
    assert lib.C_LoginUser(session, int(CKU.USER), USER_PIN, len(USER_PIN), None, 3) == (
        CKR.ARGUMENTS_BAD
    )
    assert lib.C_LoginUser(session, int(CKU.USER), None, 4, None, 0) == CKR.ARGUMENTS_BAD
    assert lib.C_LoginUser(session + 1000, int(CKU.USER), USER_PIN, len(USER_PIN), b"x", 1) == (
        CKR.SESSION_HANDLE_INVALID
    )
    assert lib.C_LoginUser(session, 7, USER_PIN, len(USER_PIN), None, 0) == CKR.USER_TYPE_INVALID


def test_login_user_so_ignores_the_name(lib: P11) -> None:
    from .helpers import SO_PIN

    slot = first_slot(lib)
    assert lib.C_InitToken(slot, SO_PIN, len(SO_PIN), b"v3".ljust(32)) == 0
    handle = open_session(lib, slot)
    assert lib.C_LoginUser(handle, int(CKU.SO), SO_PIN, len(SO_PIN), b"admin", 5) == 0
    assert _state(lib, handle) == 4  # CKS_RW_SO_FUNCTIONS


def _sign_init(lib: P11, session: int, key: int) -> None:
    mech = mechanism(int(CKM.SHA256_HMAC))
    assert lib.C_SignInit(session, ctypes.byref(mech), key) == 0


def _sign(lib: P11, session: int, data: bytes) -> tuple[int, bytes]:
    out = ctypes.create_string_buffer(64)
    length = CK_ULONG(64)
    rv = lib.C_Sign(session, data, len(data), out, ctypes.byref(length))
    return int(rv), out.raw[: length.value]


def test_session_cancel_ends_a_sign_and_a_find(session: int, lib: P11) -> None:
    key = hmac_key(lib, session)
    _sign_init(lib, session, key)
    assert lib.C_FindObjectsInit(session, None, 0) == 0
    assert lib.C_SessionCancel(session, int(CKF.SIGN | CKF.FIND_OBJECTS)) == 0
    assert _sign(lib, session, b"x")[0] == CKR.OPERATION_NOT_INITIALIZED
    found = (CK_ULONG * 4)()
    count = CK_ULONG()
    assert lib.C_FindObjects(session, found, 4, ctypes.byref(count)) == (
        CKR.OPERATION_NOT_INITIALIZED
    )
    # new ones start and work
    _sign_init(lib, session, key)
    rv, signature = _sign(lib, session, b"data")
    assert rv == 0
    assert signature == hmac.new(HMAC_KEY, b"data", hashlib.sha256).digest()
    assert lib.C_FindObjectsInit(session, None, 0) == 0
    assert lib.C_FindObjects(session, found, 4, ctypes.byref(count)) == 0
    assert count.value == 1 and found[0] == key
    assert lib.C_FindObjectsFinal(session) == 0


def test_session_cancel_leaves_other_operations(session: int, lib: P11) -> None:
    key = hmac_key(lib, session)
    _sign_init(lib, session, key)
    digest = mechanism(int(CKM.SHA256))
    assert lib.C_DigestInit(session, ctypes.byref(digest)) == 0
    assert lib.C_SessionCancel(session, int(CKF.DIGEST | CKF.ENCRYPT | CKF.DERIVE)) == 0
    assert lib.C_DigestUpdate(session, b"x", 1) == CKR.OPERATION_NOT_INITIALIZED
    rv, signature = _sign(lib, session, b"still active")
    assert rv == 0 and signature == hmac.new(HMAC_KEY, b"still active", hashlib.sha256).digest()
    assert lib.C_SessionCancel(session, 0) == 0


def test_session_cancel_arguments(session: int, lib: P11) -> None:
    assert lib.C_SessionCancel(session, 0x1) == CKR.ARGUMENTS_BAD  # CKF_HW names no operation
    assert lib.C_SessionCancel(session, 1 << 40) == CKR.ARGUMENTS_BAD
    assert lib.C_SessionCancel(session + 1000, int(CKF.SIGN)) == CKR.SESSION_HANDLE_INVALID
