"""A lock for critical sections that a thread must never enter twice.

A call can re-enter tokenport on the thread that is already inside it: a Python host runs
its signal handlers in the main thread between any two bytecodes, including tokenport's
own; a handler that calls the module (closing sessions on SIGTERM, say) arrives in the
middle of the interrupted call. The core's state lock is re-entrant for that reason. The
critical sections below it are not safe to re-enter half-way: a DRBG in the middle of a
request would hand the same bytes out twice; a store in the middle of a transaction would
read or write through it. With a plain lock the re-entering call would wait for itself
forever. ``NoReentryLock`` refuses it instead: the inner call fails with
CKR_FUNCTION_FAILED and the interrupted call goes on unharmed. Other threads wait as with
any lock.
"""

from __future__ import annotations

import threading
from types import TracebackType

from tokenport.errors import FunctionFailed


class NoReentryLock:
    """``threading.Lock`` that raises FunctionFailed, instead of deadlocking, when a thread
    that holds it (or is about to) asks for it again.

    A signal handler can run between any two bytecodes, so the thread is marked *before*
    it takes the lock and unmarked only *after* it let go: a handler that interrupts either
    step is refused too (it would otherwise wait for a lock its own thread is taking).
    """

    __slots__ = ("_lock", "_threads", "_what")

    def __init__(self, what: str) -> None:
        self._lock = threading.Lock()
        self._threads: set[int] = set()  # threads holding or taking the lock
        self._what = what

    def acquire(self, blocking: bool = True) -> bool:
        me = threading.get_ident()
        threads = self._threads
        if me in threads:
            raise FunctionFailed(
                f"{self._what} is busy in this thread: a re-entrant call (a signal handler?)"
                " is refused"
            )
        threads.add(me)
        if self._lock.acquire(blocking):
            return True
        threads.discard(me)
        return False

    def release(self) -> None:
        self._lock.release()
        self._threads.discard(threading.get_ident())

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()
