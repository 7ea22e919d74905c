"""Python bodies of the PKCS #11 v2.40 general, slot, session and object functions (s5.4-5.7).

Each ``C_*`` handler takes the Library and the C arguments, validates pointers, converts
them, calls the Module and writes the outputs; it returns a CK_RV or raises a PKCS11Error
(tokenport.abi.entry's guard turns exceptions into CK_RV). Order of checks everywhere:
initialization (CKR_CRYPTOKI_NOT_INITIALIZED), then arguments, then the core's own checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from tokenport.abi.library import Library
from tokenport.abi.marshal import (
    NULL,
    CData,
    read_attribute_types,
    read_fixed,
    read_init_args,
    read_pin,
    read_template,
    require,
    return_ulongs,
    write_attribute_values,
    write_info,
    write_mechanism_info,
    write_session_info,
    write_slot_info,
    write_token_info,
    write_ulong,
)
from tokenport.ck import CKR
from tokenport.errors import ArgumentsBad, FunctionNotSupported, GeneralError

OK = int(CKR.OK)
Handler = Callable[..., int]

# -- s5.4 general-purpose functions --------------------------------------------------------------


def C_Initialize(lib: Library, init_args: CData) -> int:
    """s5.4 C_Initialize: validate CK_C_INITIALIZE_ARGS, then create and start the Module.

    pReserved must be NULL; the four mutex callbacks are all NULL or all non-NULL (the
    library always uses its own OS locking, which CKF_OS_LOCKING_OK permits and which is
    equivalent for callers that supply callbacks). CKF_LIBRARY_CANT_CREATE_OS_THREADS is
    accepted: the library creates no threads that call back into the application.
    """
    if init_args != NULL:
        args = read_init_args(init_args)
        if args.pReserved != NULL:
            raise ArgumentsBad("CK_C_INITIALIZE_ARGS.pReserved must be NULL")
        callbacks = (args.CreateMutex, args.DestroyMutex, args.LockMutex, args.UnlockMutex)
        supplied = [cb != NULL for cb in callbacks]
        if any(supplied) and not all(supplied):
            raise ArgumentsBad("mutex callbacks must be all NULL or all supplied")
    lib.initialize()
    return OK


def C_Finalize(lib: Library, reserved: CData) -> int:
    """s5.4 C_Finalize: pReserved must be NULL."""
    if reserved != NULL:
        raise ArgumentsBad("C_Finalize pReserved must be NULL")
    lib.finalize()
    return OK


def C_GetInfo(lib: Library, info: CData) -> int:
    """s5.4 C_GetInfo."""
    module = lib.module()
    require(info)
    write_info(info, module.session_calls.get_info())
    return OK


# -- s5.5 slot and token management ------------------------------------------------------------


def C_GetSlotList(lib: Library, token_present: int, slot_list: CData, count: CData) -> int:
    """s5.5 C_GetSlotList, with the counted-list convention."""
    module = lib.module()
    require(count)
    return return_ulongs(module.session_calls.get_slot_list(bool(token_present)), slot_list, count)


def C_GetSlotInfo(lib: Library, slot: int, info: CData) -> int:
    """s5.5 C_GetSlotInfo."""
    module = lib.module()
    require(info)
    write_slot_info(info, module.session_calls.get_slot_info(slot))
    return OK


def C_GetTokenInfo(lib: Library, slot: int, info: CData) -> int:
    """s5.5 C_GetTokenInfo."""
    module = lib.module()
    require(info)
    write_token_info(info, module.session_calls.get_token_info(slot))
    return OK


def C_WaitForSlotEvent(lib: Library, flags: int, slot: CData, reserved: CData) -> int:
    """s5.5 C_WaitForSlotEvent: delegated to the Module (CKF_DONT_BLOCK or blocking)."""
    module = lib.module()
    require(slot)
    if reserved != NULL:
        raise ArgumentsBad("C_WaitForSlotEvent pReserved must be NULL")
    write_ulong(slot, module.session_calls.wait_for_slot_event(flags))
    return OK


def C_GetMechanismList(lib: Library, slot: int, mechanisms: CData, count: CData) -> int:
    """s5.5 C_GetMechanismList, with the counted-list convention."""
    module = lib.module()
    require(count)
    return return_ulongs(module.session_calls.get_mechanism_list(slot), mechanisms, count)


def C_GetMechanismInfo(lib: Library, slot: int, mechanism: int, info: CData) -> int:
    """s5.5 C_GetMechanismInfo."""
    module = lib.module()
    require(info)
    write_mechanism_info(info, module.session_calls.get_mechanism_info(slot, mechanism))
    return OK


def C_InitToken(lib: Library, slot: int, pin: CData, pin_len: int, label: CData) -> int:
    """s5.5 C_InitToken: pLabel is 32 bytes, blank-padded (passed on as bytes)."""
    module = lib.module()
    so_pin = read_pin(pin, pin_len)
    module.session_calls.init_token(slot, so_pin, read_fixed(label, 32))
    return OK


def C_InitPIN(lib: Library, session: int, pin: CData, pin_len: int) -> int:
    """s5.5 C_InitPIN."""
    module = lib.module()
    module.session_calls.init_pin(session, read_pin(pin, pin_len))
    return OK


def C_SetPIN(lib: Library, session: int, old: CData, old_len: int, new: CData, new_len: int) -> int:
    """s5.5 C_SetPIN."""
    module = lib.module()
    module.session_calls.set_pin(session, read_pin(old, old_len), read_pin(new, new_len))
    return OK


# -- s5.6 session management -------------------------------------------------------------------


def C_OpenSession(
    lib: Library, slot: int, flags: int, application: CData, notify: CData, session: CData
) -> int:
    """s5.6 C_OpenSession (notification callbacks are accepted and never called)."""
    module = lib.module()
    require(session)
    write_ulong(session, module.session_calls.open_session(slot, flags))
    return OK


def C_CloseSession(lib: Library, session: int) -> int:
    """s5.6 C_CloseSession."""
    module = lib.module()
    module.session_calls.close_session(session)
    return OK


def C_CloseAllSessions(lib: Library, slot: int) -> int:
    """s5.6 C_CloseAllSessions."""
    module = lib.module()
    module.session_calls.close_all_sessions(slot)
    return OK


def C_GetSessionInfo(lib: Library, session: int, info: CData) -> int:
    """s5.6 C_GetSessionInfo."""
    module = lib.module()
    require(info)
    write_session_info(info, module.session_calls.get_session_info(session))
    return OK


def C_GetOperationState(lib: Library, session: int, state: CData, state_len: CData) -> int:
    """s5.6 C_GetOperationState: not supported in v1."""
    lib.module()
    raise FunctionNotSupported()


def C_SetOperationState(
    lib: Library, session: int, state: CData, state_len: int, enc_key: int, auth_key: int
) -> int:
    """s5.6 C_SetOperationState: not supported in v1."""
    lib.module()
    raise FunctionNotSupported()


def C_Login(lib: Library, session: int, user_type: int, pin: CData, pin_len: int) -> int:
    """s5.6 C_Login (a NULL PIN of length 0 is passed on as b"")."""
    module = lib.module()
    module.session_calls.login(session, user_type, read_pin(pin, pin_len))
    return OK


def C_Logout(lib: Library, session: int) -> int:
    """s5.6 C_Logout."""
    lib.module().session_calls.logout(session)
    return OK


# -- s5.7 object management ----------------------------------------------------------------------


def C_CreateObject(lib: Library, session: int, template: CData, count: int, handle: CData) -> int:
    """s5.7 C_CreateObject."""
    module = lib.module()
    require(handle)
    write_ulong(handle, module.object_calls.create_object(session, read_template(template, count)))
    return OK


def C_CopyObject(
    lib: Library, session: int, obj: int, template: CData, count: int, handle: CData
) -> int:
    """s5.7 C_CopyObject."""
    module = lib.module()
    require(handle)
    write_ulong(handle, module.object_calls.copy_object(session, obj, read_template(template, count)))
    return OK


def C_DestroyObject(lib: Library, session: int, obj: int) -> int:
    """s5.7 C_DestroyObject."""
    lib.module().object_calls.destroy_object(session, obj)
    return OK


def C_GetObjectSize(lib: Library, session: int, obj: int, size: CData) -> int:
    """s5.7 C_GetObjectSize."""
    module = lib.module()
    require(size)
    write_ulong(size, module.object_calls.get_object_size(session, obj))
    return OK


def C_GetAttributeValue(lib: Library, session: int, obj: int, template: CData, count: int) -> int:
    """s5.7 C_GetAttributeValue: per-attribute lengths and errors, every entry processed."""
    module = lib.module()
    types = read_attribute_types(template, count)
    results = module.object_calls.get_attribute_value(session, obj, types)
    return write_attribute_values(template, count, results)


def C_SetAttributeValue(lib: Library, session: int, obj: int, template: CData, count: int) -> int:
    """s5.7 C_SetAttributeValue."""
    module = lib.module()
    module.object_calls.set_attribute_value(session, obj, read_template(template, count))
    return OK


def C_FindObjectsInit(lib: Library, session: int, template: CData, count: int) -> int:
    """s5.7 C_FindObjectsInit (NULL template with count 0 matches every object)."""
    module = lib.module()
    module.object_calls.find_objects_init(session, read_template(template, count))
    return OK


def C_FindObjects(lib: Library, session: int, handles: CData, max_count: int, count: CData) -> int:
    """s5.7 C_FindObjects: at most ulMaxObjectCount handles."""
    module = lib.module()
    require(count)
    if max_count and handles == NULL:
        raise ArgumentsBad("phObject is NULL")
    found = module.object_calls.find_objects(session, max_count)
    if len(found) > max_count:
        raise GeneralError("the core returned more handles than asked for")
    for i, handle in enumerate(found):
        handles[i] = handle
    count[0] = len(found)
    return OK


def C_FindObjectsFinal(lib: Library, session: int) -> int:
    """s5.7 C_FindObjectsFinal."""
    lib.module().object_calls.find_objects_final(session)
    return OK


HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        handler.__name__: handler
        for handler in (
            C_Initialize,
            C_Finalize,
            C_GetInfo,
            C_GetSlotList,
            C_GetSlotInfo,
            C_GetTokenInfo,
            C_WaitForSlotEvent,
            C_GetMechanismList,
            C_GetMechanismInfo,
            C_InitToken,
            C_InitPIN,
            C_SetPIN,
            C_OpenSession,
            C_CloseSession,
            C_CloseAllSessions,
            C_GetSessionInfo,
            C_GetOperationState,
            C_SetOperationState,
            C_Login,
            C_Logout,
            C_CreateObject,
            C_CopyObject,
            C_DestroyObject,
            C_GetObjectSize,
            C_GetAttributeValue,
            C_SetAttributeValue,
            C_FindObjectsInit,
            C_FindObjects,
            C_FindObjectsFinal,
        )
    }
)
"""The handlers of this module by C function name."""
