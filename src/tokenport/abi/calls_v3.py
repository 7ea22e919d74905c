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
from tokenport.abi.marshal import CData, read_pin
from tokenport.ck import CKR
from tokenport.errors import FunctionNotSupported

OK = int(CKR.OK)

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


HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        **{name: _not_supported(name) for name in sorted(NOT_SUPPORTED)},
        **{handler.__name__: handler for handler in (C_LoginUser, C_SessionCancel)},
    }
)
"""The handlers of this module by C function name."""
