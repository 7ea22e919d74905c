"""tokenport.reentry.NoReentryLock: a second entry by the same thread is refused with
CKR_FUNCTION_FAILED (never a deadlock); other threads wait as for any lock."""

from __future__ import annotations

import threading

import pytest

from tokenport.ck import CKR
from tokenport.errors import FunctionFailed
from tokenport.reentry import NoReentryLock


def test_the_same_thread_is_refused_and_the_holder_keeps_the_lock() -> None:
    lock = NoReentryLock("the thing")
    with lock:
        with pytest.raises(FunctionFailed) as refused:
            lock.acquire()
        assert refused.value.rv == CKR.FUNCTION_FAILED
        assert "the thing" in str(refused.value)
        assert lock.locked()
    assert not lock.locked()
    with lock:  # usable again once released
        pass


def test_other_threads_wait_for_the_holder() -> None:
    lock = NoReentryLock("the thing")
    order: list[str] = []
    lock.acquire()
    assert not _in_thread(lambda: lock.acquire(blocking=False))

    def waiter() -> None:
        with lock:
            order.append("waiter")

    thread = threading.Thread(target=waiter)
    thread.start()
    thread.join(0.2)
    assert thread.is_alive() and order == []
    order.append("holder")
    lock.release()
    thread.join(10)
    assert order == ["holder", "waiter"]


def _in_thread(call: object) -> object:
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(call()))  # type: ignore[operator]
    thread.start()
    thread.join(10)
    return result[0]
