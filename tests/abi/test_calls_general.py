"""General, slot, session and object functions through the C ABI (s5.4-5.7), driven by ctypes
from this process: argument validation, the counted-list convention, info structures."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from tokenport.abi.functions import C_ONLY, FUNCTION_LIST
from tokenport.ck import CKA, CKF, CKO, CKR

from .helpers import first_slot
from .p11ctypes import (
    CK_C_INITIALIZE_ARGS,
    CK_INFO,
    CK_SESSION_INFO,
    CK_SLOT_INFO,
    CK_TOKEN_INFO,
    CK_ULONG,
    P11,
    _ctype,
    template,
    text,
    ulong_bytes,
)

NOT_INITIALIZED = int(CKR.CRYPTOKI_NOT_INITIALIZED)
BAD = int(CKR.ARGUMENTS_BAD)


def _zero_args(p11: P11, name: str) -> list[object]:
    types = dict(p11.signatures)[name]
    return [None if _ctype(t) is ctypes.c_void_p else 0 for t in types]


def test_every_call_before_initialize_is_not_initialized(p11: P11, token_home: Path) -> None:
    for name in FUNCTION_LIST:
        if name in C_ONLY or name == "C_Initialize":
            continue
        rv = getattr(p11, name)(*_zero_args(p11, name))
        assert rv == NOT_INITIALIZED, f"{name} returned {rv:#x}"


def test_initialize_arguments(p11: P11, token_home: Path) -> None:
    args = CK_C_INITIALIZE_ARGS()
    args.pReserved = 1
    assert p11.C_Initialize(ctypes.byref(args)) == BAD
    args = CK_C_INITIALIZE_ARGS()
    args.CreateMutex = 0x1000  # one callback without the other three
    assert p11.C_Initialize(ctypes.byref(args)) == BAD
    args = CK_C_INITIALIZE_ARGS()
    args.flags = int(CKF.OS_LOCKING_OK | CKF.LIBRARY_CANT_CREATE_OS_THREADS)
    assert p11.C_Initialize(ctypes.byref(args)) == 0
    try:
        assert p11.C_Initialize(None) == CKR.CRYPTOKI_ALREADY_INITIALIZED
        assert p11.C_Finalize(ctypes.c_void_p(1)) == BAD
    finally:
        assert p11.C_Finalize(None) == 0
    assert p11.C_Finalize(None) == NOT_INITIALIZED


def test_initialize_accepts_mutex_callbacks(p11: P11, token_home: Path) -> None:
    args = CK_C_INITIALIZE_ARGS()
    args.CreateMutex = args.DestroyMutex = args.LockMutex = args.UnlockMutex = 0x1000
    assert p11.C_Initialize(ctypes.byref(args)) == 0  # never called: the library locks itself
    assert p11.C_Finalize(None) == 0


def test_null_output_pointers_are_arguments_bad(lib: P11) -> None:
    slot = first_slot(lib)
    assert lib.C_GetInfo(None) == BAD
    assert lib.C_GetSlotList(0, None, None) == BAD
    assert lib.C_GetSlotInfo(slot, None) == BAD
    assert lib.C_GetTokenInfo(slot, None) == BAD
    assert lib.C_GetMechanismList(slot, None, None) == BAD
    assert lib.C_GetMechanismInfo(slot, 0x250, None) == BAD
    assert lib.C_OpenSession(slot, int(CKF.SERIAL_SESSION), None, None, None) == BAD
    assert lib.C_InitToken(slot, b"1234", 4, None) == BAD
    assert lib.C_InitToken(slot, None, 4, b" " * 32) == BAD
    assert lib.C_WaitForSlotEvent(int(CKF.DONT_BLOCK), None, None) == BAD
    slot_out = CK_ULONG()
    assert lib.C_WaitForSlotEvent(int(CKF.DONT_BLOCK), ctypes.byref(slot_out), 1) == BAD


def test_slot_list_count_protocol(lib: P11) -> None:
    count = CK_ULONG(0)
    assert lib.C_GetSlotList(0, None, ctypes.byref(count)) == 0
    total = count.value
    assert total >= 1
    short = CK_ULONG(0)
    buffer = (CK_ULONG * (total + 2))()
    assert lib.C_GetSlotList(0, buffer, ctypes.byref(short)) == CKR.BUFFER_TOO_SMALL
    assert short.value == total
    count = CK_ULONG(total + 2)
    assert lib.C_GetSlotList(0, buffer, ctypes.byref(count)) == 0
    assert count.value == total


def test_mechanism_list_count_protocol(lib: P11) -> None:
    slot = first_slot(lib)
    count = CK_ULONG(0)
    assert lib.C_GetMechanismList(slot, None, ctypes.byref(count)) == 0
    assert count.value > 0
    mechanisms = (CK_ULONG * count.value)()
    short = CK_ULONG(count.value - 1)
    assert lib.C_GetMechanismList(slot, mechanisms, ctypes.byref(short)) == CKR.BUFFER_TOO_SMALL
    assert short.value == count.value
    assert lib.C_GetMechanismList(slot, mechanisms, ctypes.byref(count)) == 0
    assert len(set(mechanisms)) == count.value


def test_info_structures_are_blank_padded(lib: P11) -> None:
    info = CK_INFO()
    assert lib.C_GetInfo(ctypes.byref(info)) == 0
    assert (info.cryptokiVersion.major, info.cryptokiVersion.minor) == (2, 40)
    for field in (info.manufacturerID, info.libraryDescription):
        raw = bytes(field)
        assert b"\x00" not in raw and raw == raw.rstrip(b" ").ljust(len(raw), b" ")
    assert text(info.manufacturerID)
    slot = first_slot(lib)
    slot_info = CK_SLOT_INFO()
    assert lib.C_GetSlotInfo(slot, ctypes.byref(slot_info)) == 0
    assert slot_info.flags & CKF.TOKEN_PRESENT
    assert b"\x00" not in bytes(slot_info.slotDescription)
    token = CK_TOKEN_INFO()
    assert lib.C_GetTokenInfo(slot, ctypes.byref(token)) == 0
    assert b"\x00" not in bytes(token.label) + bytes(token.serialNumber) + bytes(token.model)


def test_init_token_label_is_32_bytes_blank_padded(lib: P11) -> None:
    slot = first_slot(lib)
    label = "tökén label".encode().ljust(32)
    assert lib.C_InitToken(slot, b"so-pin-1234", 11, label) == 0
    token = CK_TOKEN_INFO()
    assert lib.C_GetTokenInfo(slot, ctypes.byref(token)) == 0
    assert bytes(token.label) == label
    assert text(token.label) == "tökén label"


def test_invalid_handles(session: int, lib: P11) -> None:
    info = CK_SESSION_INFO()
    assert lib.C_GetSessionInfo(session + 1000, ctypes.byref(info)) == CKR.SESSION_HANDLE_INVALID
    assert lib.C_CloseSession(session + 1000) == CKR.SESSION_HANDLE_INVALID
    assert lib.C_DestroyObject(session, 0xDEAD) == CKR.OBJECT_HANDLE_INVALID
    attrs = template((int(CKA.LABEL), None, 0))
    assert lib.C_GetAttributeValue(session, 0xDEAD, attrs, 1) == CKR.OBJECT_HANDLE_INVALID
    assert lib.C_GetSessionInfo(session, None) == BAD
    assert lib.C_GetSessionInfo(session, ctypes.byref(info)) == 0


def test_templates_are_validated(session: int, lib: P11) -> None:
    handle = CK_ULONG()
    data = ulong_bytes(int(CKO.DATA))
    assert lib.C_CreateObject(session, None, 2, ctypes.byref(handle)) == BAD
    assert lib.C_CreateObject(session, template((int(CKA.CLASS), data, None)), 1, None) == BAD
    assert lib.C_FindObjectsInit(session, None, 1) == BAD
    wrong_size = template((int(CKA.CLASS), data[:4], None))
    assert lib.C_CreateObject(session, wrong_size, 1, ctypes.byref(handle)) == (
        CKR.ATTRIBUTE_VALUE_INVALID
    )
    null_value = template((int(CKA.CLASS), data, None), (int(CKA.LABEL), None, 5))
    assert lib.C_CreateObject(session, null_value, 2, ctypes.byref(handle)) == (
        CKR.ATTRIBUTE_VALUE_INVALID
    )
    bad_bool = template((int(CKA.CLASS), data, None), (int(CKA.TOKEN), b"\x01\x00", None))
    assert lib.C_CreateObject(session, bad_bool, 2, ctypes.byref(handle)) == (
        CKR.ATTRIBUTE_VALUE_INVALID
    )
    nested = template((int(CKA.CLASS), data, None), (int(CKA.WRAP_TEMPLATE), b"\x00" * 24, None))
    assert lib.C_CreateObject(session, nested, 2, ctypes.byref(handle)) == (
        CKR.ATTRIBUTE_TYPE_INVALID
    )


def test_find_objects(session: int, lib: P11) -> None:
    handle = CK_ULONG()
    data_object = template(
        (int(CKA.CLASS), ulong_bytes(int(CKO.DATA)), None),
        (int(CKA.LABEL), b"find-me", None),
        (int(CKA.VALUE), b"payload", None),
    )
    assert lib.C_CreateObject(session, data_object, 3, ctypes.byref(handle)) == 0
    assert lib.C_FindObjectsInit(session, None, 0) == 0  # NULL template, count 0: all objects
    found = (CK_ULONG * 8)()
    count = CK_ULONG()
    assert lib.C_FindObjects(session, found, 8, None) == BAD
    assert lib.C_FindObjects(session, None, 8, ctypes.byref(count)) == BAD
    assert lib.C_FindObjects(session, found, 8, ctypes.byref(count)) == 0
    assert handle.value in list(found)[: count.value]
    assert lib.C_FindObjectsFinal(session) == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("C_GetOperationState", CKR.FUNCTION_NOT_SUPPORTED),
        ("C_SetOperationState", CKR.FUNCTION_NOT_SUPPORTED),
        ("C_SignRecoverInit", CKR.FUNCTION_NOT_SUPPORTED),
        ("C_SignRecover", CKR.FUNCTION_NOT_SUPPORTED),
        ("C_VerifyRecoverInit", CKR.FUNCTION_NOT_SUPPORTED),
        ("C_VerifyRecover", CKR.FUNCTION_NOT_SUPPORTED),
        ("C_DigestEncryptUpdate", CKR.FUNCTION_NOT_SUPPORTED),
        ("C_DecryptDigestUpdate", CKR.FUNCTION_NOT_SUPPORTED),
        ("C_SignEncryptUpdate", CKR.FUNCTION_NOT_SUPPORTED),
        ("C_DecryptVerifyUpdate", CKR.FUNCTION_NOT_SUPPORTED),
        ("C_GetFunctionStatus", CKR.FUNCTION_NOT_PARALLEL),
        ("C_CancelFunction", CKR.FUNCTION_NOT_PARALLEL),
    ],
)
def test_functions_outside_v1(lib: P11, name: str, expected: int) -> None:
    assert getattr(lib, name)(*_zero_args(lib, name)) == expected
