"""The state of the loaded C library: one Module between C_Initialize and C_Finalize.

A PKCS #11 library is a process singleton by nature (PKCS #11 v2.40 s5.4: C_Initialize
initializes "the Cryptoki library", once per process). Each loaded copy of the shared
library has exactly one ``Library``: tokenport.abi.entry.attach creates it and the init code
keeps it on the cffi module object (``tokenport._pkcs11.library``); the core keeps no global
state at all.

Calls: every call runs under one re-entrant *call lock* (the Module serializes calls
anyway). Fork hooks take that lock before the process forks, so a fork never happens while
a thread is inside the core: such a thread may hold a C library's lock with the GIL
released (sqlite, OpenSSL), and a child inheriting that lock would deadlock.

Fork (s6.7.1 "Applications and processes"): a child must call C_Initialize before using
the library. In a forked child (the fork hooks tell it; C_Initialize also compares the pid)
it drops the Module (never closing it: the parent still owns the store, and the object is
kept referenced so no finalizer runs in the child) and behaves as not initialized.

The Library also keeps the "pending output" of the length protocol (s5.2): a byte string
computed by a call whose caller passed a NULL or too small buffer, handed back by the next
call of the same function on the same session (rules in the section below).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from tokenport.abi.functions import INIT_OF, OPERATION_OF
from tokenport.core.module import Module
from tokenport.errors import CryptokiAlreadyInitialized, CryptokiNotInitialized, OperationActive


class Library:
    """The state of one loaded copy of the C library."""

    def __init__(self, factory: Callable[[], Module] = Module) -> None:
        self._factory = factory
        self._module: Module | None = None
        self._pid = os.getpid()
        self._calls = threading.RLock()
        self._pending: dict[tuple[int, str], tuple[str, bytes]] = {}
        self._abandoned: list[Module] = []

    def _check_fork(self) -> None:
        """Forget everything the parent process owned (a child must call C_Initialize)."""
        pid = os.getpid()
        if pid != self._pid:
            if self._module is not None:
                self._abandoned.append(self._module)
            self._module = None
            self._pending = {}
            self._calls = threading.RLock()  # a parent thread may have held the old one
            self._pid = pid

    def call_lock(self) -> threading.RLock:
        """The lock every call holds while it runs (fresh in a forked child).

        Forks are noticed by the fork hooks (CPython runs them around os.fork in a Python
        host, and the module's pthread_atfork handlers around fork() in a C host), so no
        call pays for a getpid() of its own.
        """
        return self._calls

    # -- fork hooks (os.register_at_fork; run by PyOS_BeforeFork / PyOS_AfterFork_*) ---------

    def before_fork(self) -> None:
        """Wait until no thread is inside a call (the GIL is released while waiting)."""
        self._calls.acquire()

    def after_fork_parent(self) -> None:
        """Let calls run again in the parent."""
        self._calls.release()

    def after_fork_child(self) -> None:
        """Drop the parent's state in the child (its call lock stays with the parent)."""
        self._check_fork()

    # -- s5.4 ----------------------------------------------------------------------------------

    def initialize(self) -> None:
        """C_Initialize: create ``Module()`` (configuration from the environment) and start it."""
        self._check_fork()
        with self.call_lock():
            if self._module is not None:
                raise CryptokiAlreadyInitialized()
            module = self._factory()
            module.initialize()
            self._module = module
            self._pending = {}

    def finalize(self) -> None:
        """C_Finalize: stop the Module; the library is uninitialized afterwards, even on error."""
        with self.call_lock():
            module = self.module()
            try:
                module.finalize()
            finally:
                self._module = None
                self._pending = {}

    def module(self) -> Module:
        """The initialized Module; CryptokiNotInitialized before C_Initialize, after
        C_Finalize, and in a forked child until it calls C_Initialize."""
        module = self._module
        if module is None:
            raise CryptokiNotInitialized()
        return module

    def end_operation(self, session: int, kind: str) -> None:
        """After a failed call that continues an operation: end it (s5.2), and drop any
        pending output of that operation. Never raises (the call already has its CK_RV)."""
        self._pending.pop((session, kind), None)
        if self._module is not None:
            self._module.end_operation(session, kind)

    # -- pending output of the length protocol (s5.2) ----------------------------------------
    #
    # The core computes whole results, so a length query (NULL or too-short buffer) computes
    # the output once and keeps it, per session and operation kind, until the same function
    # collects it. For the application the operation is still active meanwhile: unrelated
    # calls on the session leave it alone, a new *Init of that kind is refused with
    # CKR_OPERATION_ACTIVE, and a different call continuing that operation drops it.

    def note_call(self, session: int, function: str) -> None:
        """Apply the pending-output rules before ``function`` runs on ``session``."""
        if not self._pending:
            return
        kind = INIT_OF.get(function)
        if kind is not None and (session, kind) in self._pending:
            raise OperationActive("an operation of this kind is still active (length query)")
        kind = OPERATION_OF.get(function)
        if kind is not None:
            pending = self._pending.get((session, kind))
            if pending is not None and pending[0] != function:
                del self._pending[(session, kind)]

    def pending_output(self, session: int, function: str) -> bytes | None:
        """The output kept for the next call of ``function`` on ``session``, if any."""
        kind = OPERATION_OF.get(function)
        pending = self._pending.get((session, kind)) if kind is not None else None
        if pending is not None and pending[0] == function:
            return pending[1]
        return None

    def keep_output(self, session: int, function: str, data: bytes) -> None:
        """Keep ``data`` for the next call of ``function`` on ``session`` (only for calls
        that continue an operation; stateless ones such as C_WrapKey compute again)."""
        kind = OPERATION_OF.get(function)
        if kind is not None:
            self._pending[(session, kind)] = (function, data)

    def collected_output(self, session: int, function: str) -> None:
        """``function`` delivered its output: nothing is pending for its operation now."""
        kind = OPERATION_OF.get(function)
        if kind is not None:
            self._pending.pop((session, kind), None)

    def discard_output(self, session: int | None = None) -> None:
        """Forget the pending output of ``session`` (of every session when None)."""
        if session is None:
            self._pending = {}
        else:
            for key in [k for k in self._pending if k[0] == session]:
                del self._pending[key]
