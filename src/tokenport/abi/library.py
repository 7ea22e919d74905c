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

The length protocol's pending results (s5.2) belong to the core's operations, not here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from tokenport.core.module import Module
from tokenport.errors import CryptokiAlreadyInitialized, CryptokiNotInitialized


class Library:
    """The state of one loaded copy of the C library."""

    def __init__(self, factory: Callable[[], Module] = Module) -> None:
        self._factory = factory
        self._module: Module | None = None
        self._pid = os.getpid()
        self._calls = threading.RLock()
        self._abandoned: list[Module] = []

    def _check_fork(self) -> None:
        """Forget everything the parent process owned (a child must call C_Initialize)."""
        pid = os.getpid()
        if pid != self._pid:
            if self._module is not None:
                self._abandoned.append(self._module)
            self._module = None
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

    def finalize(self) -> None:
        """C_Finalize: stop the Module; the library is uninitialized afterwards, even on error."""
        with self.call_lock():
            module = self.module()
            try:
                module.finalize()
            finally:
                self._module = None

    def module(self) -> Module:
        """The initialized Module; CryptokiNotInitialized before C_Initialize, after
        C_Finalize, and in a forked child until it calls C_Initialize."""
        module = self._module
        if module is None:
            raise CryptokiNotInitialized()
        return module

    def end_operation(self, session: int, kind: str) -> None:
        """After a failed call that continues an operation: end it (s5.2). Never raises
        (the call already has its CK_RV)."""
        if self._module is not None:
            self._module.end_operation(session, kind)
