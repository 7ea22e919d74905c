"""Python bodies of the PKCS #11 v3.0 and v3.2 functions (v3.0 s5.4-5.16, v3.2 s5).

Every entry of the 3.0 and 3.2 function lists is an exported symbol with a handler. Those
tokenport does not implement (abi/functions.py NOT_SUPPORTED) share one body: like every
other call, CKR_CRYPTOKI_NOT_INITIALIZED before C_Initialize (v3.0 s5.1.6 gives no precedence
among its codes; this is the order of every other handler), then CKR_FUNCTION_NOT_SUPPORTED.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from tokenport.abi.functions import NOT_SUPPORTED
from tokenport.abi.library import Library
from tokenport.abi.marshal import (
    NULL,
    CData,
    read_data,
    read_mechanism,
    read_pin,
    read_template,
    require,
    write_bytes,
)
from tokenport.ck import CKR
from tokenport.errors import FunctionNotSupported, GeneralError

OK = int(CKR.OK)
BUFFER_TOO_SMALL = int(CKR.BUFFER_TOO_SMALL)

Handler = Callable[..., int]


def _not_supported(name: str) -> Handler:
    """The handler of an entry tokenport does not implement."""

    def handler(lib: Library, *args: Any) -> int:
        lib.module()
        raise FunctionNotSupported()

    handler.__name__ = name
    handler.__qualname__ = name
    handler.__doc__ = f"{name}: not implemented (CKR_FUNCTION_NOT_SUPPORTED)."
    return handler


# -- v3.0 s5.6 session management ----------------------------------------------------------


def C_LoginUser(
    lib: Library, session: int, user_type: int, pin: CData, pin_len: int, username: CData,
    username_len: int,
) -> int:
    """v3.0 s5.6 C_LoginUser: C_Login with a user name (SessionCalls.login_user says which
    names a tokenport token knows). NULL with a non-zero length is CKR_ARGUMENTS_BAD for the
    PIN and the name alike."""
    module = lib.module()
    name = read_pin(username, username_len)
    module.session_calls.login_user(session, user_type, read_pin(pin, pin_len), name)
    return OK


def C_SessionCancel(lib: Library, session: int, flags: int) -> int:
    """v3.0 s5.6 C_SessionCancel: end the active operations ``flags`` names."""
    lib.module().session_calls.session_cancel(session, flags)
    return OK


# -- v3.2 s5.18 key encapsulation ----------------------------------------------------------------

def C_EncapsulateKey(
    lib: Library, session: int, mechanism: CData, public_key: int, template: CData,
    count: int, ciphertext: CData, ciphertext_len: CData, key: CData,
) -> int:
    """v3.2 C_EncapsulateKey: a new secret key and its ciphertext under ``public_key``.

    The s5.2 length protocol on the ciphertext: a NULL pCiphertext gets the length in
    *pulCiphertextLen (CKR_OK), too small a buffer CKR_BUFFER_TOO_SMALL with the length;
    neither makes a key. NULL pMechanism, pulCiphertextLen or phKey is CKR_ARGUMENTS_BAD.
    """
    module = lib.module()
    mech = read_mechanism(mechanism)
    attrs = read_template(template, count)
    require(ciphertext_len, key)
    module.get_session_info(session)  # CKR_SESSION_HANDLE_INVALID before anything else
    length = int(module.ciphertext_length(session, mech, public_key))
    if ciphertext == NULL:
        ciphertext_len[0] = length
        return OK
    capacity = int(ciphertext_len[0])
    if capacity < length:
        ciphertext_len[0] = length
        return BUFFER_TOO_SMALL
    handle, data = module.encapsulate_key(session, mech, public_key, attrs)
    if len(data) > capacity:
        module.destroy_object(session, handle)
        raise GeneralError("the ciphertext is longer than ciphertext_length said")
    write_bytes(ciphertext, data)
    ciphertext_len[0] = len(data)
    key[0] = handle
    return OK


def C_DecapsulateKey(
    lib: Library, session: int, mechanism: CData, private_key: int, template: CData,
    count: int, ciphertext: CData, ciphertext_len: int, key: CData,
) -> int:
    """v3.2 C_DecapsulateKey: the secret key a ciphertext carries, as a new object.
    NULL pMechanism or phKey, or NULL pCiphertext with a length, is CKR_ARGUMENTS_BAD."""
    module = lib.module()
    mech = read_mechanism(mechanism)
    attrs = read_template(template, count)
    require(key)
    data = read_data(ciphertext, ciphertext_len)
    module.get_session_info(session)
    key[0] = int(module.decapsulate_key(session, mech, private_key, attrs, data))
    return OK


HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        **{name: _not_supported(name) for name in sorted(NOT_SUPPORTED)},
        **{
            handler.__name__: handler
            for handler in (C_LoginUser, C_SessionCancel, C_EncapsulateKey, C_DecapsulateKey)
        },
    }
)
"""The handlers of this module by C function name."""
