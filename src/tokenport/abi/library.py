"""The state of the loaded C library: one Module between C_Initialize and C_Finalize.

A PKCS #11 library is a process singleton by nature (PKCS #11 v2.40 s5.4: C_Initialize
initializes "the Cryptoki library", once per process). Each loaded copy of the shared
library has exactly one ``Library``: tokenport.abi.entry.attach creates it and the init code
keeps it on the cffi module object (``tokenport._pkcs11.library``); the core keeps no global
state at all.

Calls: there is no lock around calls (calls on different sessions run in parallel; the
core's fine-grained locks guard its shared state). Only C_Initialize and C_Finalize take the
library's own lock, against each other. Forks are handled by the call gate of the C shim
(shim.c): the fork hooks below close it, so a fork happens only when no thread is inside a
call, and open it again in the parent.

Fork (s6.7.1 "Applications and processes"): a child must call C_Initialize before using
the library. In a forked child (the fork hooks tell it; C_Initialize also compares the pid)
it drops the Module (never closing it: the parent still owns the store, and the object is
kept referenced so no finalizer runs in the child) and behaves as not initialized.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from tokenport.errors import CryptokiAlreadyInitialized, CryptokiNotInitialized
from tokenport.reentry import NoReentryLock

if TYPE_CHECKING:
    from tokenport.core.module import Module


class Gate(Protocol):
    """The call gate of the C shim (``lib`` of tokenport._pkcs11)."""

    def tp_gate_close(self) -> None: ...
    def tp_gate_open(self) -> None: ...
    def tp_gate_after_fork_child(self) -> None: ...


def _build_module() -> Module:
    from tokenport.wiring import build_module

    return build_module()


class Library:
    """The state of one loaded copy of the C library."""

    def __init__(self, factory: Callable[[], Module] = _build_module,
                 gate: Gate | None = None) -> None:
        self._factory = factory
        self._gate = gate
        self._module: Module | None = None
        self._pid = os.getpid()
        self._lifecycle = NoReentryLock("C_Initialize/C_Finalize")
        self._abandoned: list[Module] = []

    def _check_fork(self) -> None:
        """Forget everything the parent process owned (a child must call C_Initialize)."""
        pid = os.getpid()
        if pid != self._pid:
            if self._module is not None:
                self._abandoned.append(self._module)
            self._module = None
            self._lifecycle = NoReentryLock("C_Initialize/C_Finalize")  # the parent's may be held
            self._pid = pid

    def lifecycle_lock(self) -> NoReentryLock:
        """The lock C_Initialize and C_Finalize hold (fresh in a forked child)."""
        return self._lifecycle

    # -- fork hooks (os.register_at_fork; run by PyOS_BeforeFork / PyOS_AfterFork_*) ---------

    def before_fork(self) -> None:
        """Wait until no thread is inside a call (the GIL is released while waiting)."""
        if self._gate is not None:
            self._gate.tp_gate_close()

    def after_fork_parent(self) -> None:
        """Let calls run again in the parent."""
        if self._gate is not None:
            self._gate.tp_gate_open()

    def after_fork_child(self) -> None:
        """Drop the parent's state in the child; the child's gate starts open."""
        if self._gate is not None:
            self._gate.tp_gate_after_fork_child()
        self._check_fork()

    # -- s5.4 ----------------------------------------------------------------------------------

    def initialize(self) -> None:
        """C_Initialize: build the Module (configuration from the environment) and start it."""
        self._check_fork()
        with self._lifecycle:
            if self._module is not None:
                raise CryptokiAlreadyInitialized()
            module = self._factory()
            module.initialize()
            module.prepare_calls()
            self._module = module

    def finalize(self) -> None:
        """C_Finalize: stop the Module; the library is uninitialized afterwards, even on error."""
        with self._lifecycle:
            module = self.module()
            self._module = None
            module.finalize()

    def module(self) -> Module:
        """The initialized Module; CryptokiNotInitialized before C_Initialize, after
        C_Finalize, and in a forked child until it calls C_Initialize."""
        module = self._module
        if module is None:
            raise CryptokiNotInitialized()
        return module
