"""The Python side of the C entry points: one guard, one Library, every callback registered.

The embedded init code of tokenport._pkcs11 (build.py) calls ``attach`` the first time any
C_* function is called: it creates the Library of that loaded copy of the C library,
attaches a Python callback to every ``extern "Python"`` declaration, registers the
Library's fork hooks (run by CPython's fork helpers: os.fork in a Python host, the module's
pthread_atfork handlers in a C host) and tells the C side it is done. If a handler is
missing, ``attach`` raises and every C wrapper returns CKR_GENERAL_ERROR (an unattached
callback would otherwise return 0 = CKR_OK). Importing this module has no side effects.

The guard is the single place where exceptions become CK_RV values (PKCS #11 v2.40 s5.1):
a PKCS11Error gives its ``rv``; anything else is logged to the "tokenport" logger (the
traceback only: no arguments, so no key bytes or PINs) and gives CKR_GENERAL_ERROR.

In a Python host every callback, and the first call's init code, runs with the host's cyclic
garbage collector paused by the C wrappers (shim.c, "pausing the cyclic GC"): no host
finalizer runs inside a call. The pause starts before cffi builds the callback's arguments,
which is why it lives in C and not in the guard; ``attach`` only registers its reset for a
forked child.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from tokenport.abi import calls_crypto, calls_general, calls_message, calls_v3
from tokenport.abi.functions import (
    CALLBACK_PREFIX,
    MESSAGE_CALLS,
    OPERATION_OF,
    PYTHON_FUNCTIONS,
)
from tokenport.abi.library import Library
from tokenport.ck import CKR
from tokenport.core.operation import OpKind
from tokenport.errors import PKCS11Error
from tokenport.logs import log as _log

Handler = Callable[..., int]


_GENERAL_ERROR = int(CKR.GENERAL_ERROR)
_BUFFER_TOO_SMALL = int(CKR.BUFFER_TOO_SMALL)


def _abort_operation(library: Library, session: int, kind: OpKind) -> None:
    """After a failed call that continues an operation: the core ends it (s5.2), also when
    the ABI refused the call's arguments before the core saw it. Never raises."""
    try:
        library.module().crypto_calls.abort(session, kind)
    except PKCS11Error:
        pass


def _drop_message(library: Library, session: int, kind: OpKind) -> None:
    """After a failed call about one message of a message-based operation: that message
    ends, the operation stays (v3.0 s5.13-5.15). Never raises."""
    try:
        library.module().message_calls.drop_message(session, kind)
    except PKCS11Error:
        pass


def guard(name: str, handler: Handler, library: Library) -> Callable[..., int]:
    """Wrap ``handler`` as the callback of C function ``name``: never raises, returns a CK_RV.

    No lock is taken here (the C shim's gate only keeps forks out). A failed call that
    continues an operation ends it, unless it failed with CKR_BUFFER_TOO_SMALL (s5.2).
    """

    kind = OpKind(OPERATION_OF[name]) if name in OPERATION_OF else None
    message = OpKind(MESSAGE_CALLS[name]) if name in MESSAGE_CALLS else None

    def callback(*args: Any) -> int:
        try:
            return handler(library, *args)
        except PKCS11Error as exc:
            rv = int(exc.rv) or _GENERAL_ERROR
        except Exception:  # noqa: BLE001 - the one place every other error becomes a CK_RV
            _log.exception("%s failed with an unexpected error", name)
            rv = _GENERAL_ERROR
        if kind is not None and rv != _BUFFER_TOO_SMALL:
            _abort_operation(library, int(args[0]), kind)
        elif message is not None and rv != _BUFFER_TOO_SMALL:
            _drop_message(library, int(args[0]), message)
        return rv

    callback.__name__ = name
    callback.__qualname__ = name
    return callback


def handlers() -> Mapping[str, Handler]:
    """Every handler by C function name; exactly the Python-implemented function list entries."""
    table = {
        **calls_general.HANDLERS,
        **calls_crypto.HANDLERS,
        **calls_message.HANDLERS,
        **calls_v3.HANDLERS,
    }
    missing = set(PYTHON_FUNCTIONS) - set(table)
    extra = set(table) - set(PYTHON_FUNCTIONS)
    if missing or extra:
        raise ImportError(f"PKCS #11 handlers missing {sorted(missing)}, unknown {sorted(extra)}")
    return table


def attach(ffi: Any, lib: Any) -> Library:
    """Attach every callback of one loaded copy of the C library (its cffi ``ffi`` and
    ``lib``); returns the copy's Library, the one holder of its state."""
    library = Library(gate=lib)
    table = handlers()
    for name in PYTHON_FUNCTIONS:
        callback = guard(name, table[name], library)
        ffi.def_extern(name=CALLBACK_PREFIX + name, error=int(CKR.GENERAL_ERROR))(callback)
    os.register_at_fork(
        before=library.before_fork,
        after_in_parent=library.after_fork_parent,
        after_in_child=library.after_fork_child,
    )
    # the child has no call in flight: end a GC pause inherited from other threads' calls
    os.register_at_fork(after_in_child=lib.tp_gc_pause_after_fork_child)
    lib.tp_mark_attached()
    return library
