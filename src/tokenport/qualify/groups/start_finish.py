"""Full_PKCS11_StartFinish: loading, C_Initialize / C_Finalize, the slot list, sessions."""

from __future__ import annotations

from tokenport.ck import CKF, CKR
from tokenport.qualify.assertions import (
    expect_equal,
    expect_ok,
    expect_rv,
    expect_rv_in,
    expect_true,
)
from tokenport.qualify.context import RO_SESSION, Context
from tokenport.qualify.runner import Group, Test


def _known_state(ctx: Context) -> None:
    """Each test starts and ends with the library finalized (whatever a failure left)."""
    ctx.client.finalize()


def first_test(ctx: Context) -> None:
    rv, _table = ctx.client.get_function_list()
    expect_ok(rv, "C_GetFunctionList")
    expect_rv_in(ctx.client.finalize(), (CKR.OK, CKR.CRYPTOKI_NOT_INITIALIZED),
                 "C_Finalize(NULL) to reach a known state")


def get_function_list(ctx: Context) -> None:
    expect_rv(ctx.client.get_function_list_raw(None), CKR.ARGUMENTS_BAD, "C_GetFunctionList(NULL)")
    rv, table = ctx.client.get_function_list()
    expect_ok(rv, "C_GetFunctionList")
    expect_true(table != 0, "C_GetFunctionList returned CKR_OK and a NULL function list")
    # C_GetFunctionList: every function has an entry; an unsupported one points to a stub
    # that returns CKR_FUNCTION_NOT_SUPPORTED, never NULL.
    expect_equal(ctx.client.null_entries, [], "NULL entries of CK_FUNCTION_LIST")
    ctx.note(f"The function list is version {ctx.client.version[0]}.{ctx.client.version[1]}.")


def initialize_finalize(ctx: Context) -> None:
    expect_ok(ctx.client.initialize(), "C_Initialize")
    expect_rv(ctx.client.initialize(), CKR.CRYPTOKI_ALREADY_INITIALIZED, "second C_Initialize")
    expect_rv(ctx.client.finalize(0x1234), CKR.ARGUMENTS_BAD, "C_Finalize(0x1234)")
    expect_ok(ctx.client.finalize(), "C_Finalize(NULL)")
    expect_rv(ctx.client.finalize(), CKR.CRYPTOKI_NOT_INITIALIZED, "second C_Finalize")


def get_slot_list(ctx: Context) -> None:
    ctx.initialize()
    rv, count, _ = ctx.client.get_slot_list_raw(True, None)
    expect_ok(rv, "C_GetSlotList(pSlotList NULL)")
    expect_true(count > 0, "C_GetSlotList counts at least one slot with a token")
    rv, written, slots = ctx.client.get_slot_list_raw(True, count)
    expect_ok(rv, f"C_GetSlotList with a buffer of {count}")
    expect_equal(written, count, "*pulCount after C_GetSlotList")
    expect_true(ctx.slot in slots, f"the slot under test ({ctx.slot}) is in the slot list {slots}")
    rv, written, larger = ctx.client.get_slot_list_raw(True, count + 5)
    expect_ok(rv, f"C_GetSlotList with a buffer of {count + 5}")
    expect_equal(written, count, "*pulCount after C_GetSlotList with a larger buffer")
    expect_equal(larger, slots, "the slot list read with a larger buffer")
    rv, written, _ = ctx.client.get_slot_list_raw(True, 0)
    expect_rv(rv, CKR.BUFFER_TOO_SMALL, "C_GetSlotList with a zero-length buffer")
    expect_equal(written, count, "*pulCount after CKR_BUFFER_TOO_SMALL (set to the number of slots either way)")
    expect_ok(ctx.client.finalize(), "C_Finalize")


def open_session_close_session(ctx: Context) -> None:
    ctx.initialize()
    rv, session = ctx.client.open_session(ctx.slot, RO_SESSION)
    expect_ok(rv, "C_OpenSession(CKF_SERIAL_SESSION)")
    expect_true(session != 0, "C_OpenSession returned CKR_OK and the invalid handle 0")
    expect_ok(ctx.client.close_session(session), "C_CloseSession")
    expect_ok(ctx.client.finalize(), "C_Finalize")
    rv, _ = ctx.client.open_session(ctx.slot, int(CKF.SERIAL_SESSION))
    expect_rv(rv, CKR.CRYPTOKI_NOT_INITIALIZED, "C_OpenSession after C_Finalize")
    expect_rv(ctx.client.close_session(session), CKR.CRYPTOKI_NOT_INITIALIZED,
              "C_CloseSession after C_Finalize")


GROUP = Group(
    "Full_PKCS11_StartFinish",
    (
        Test("PKCS11_StartFinish_FirstTest", first_test),
        Test("PKCS11_GetFunctionList", get_function_list),
        Test("PKCS11_InitializeFinalize", initialize_finalize),
        Test("PKCS11_GetSlotList", get_slot_list),
        Test("PKCS11_OpenSessionCloseSession", open_session_close_session),
    ),
    setup=_known_state,
    teardown=_known_state,
)
