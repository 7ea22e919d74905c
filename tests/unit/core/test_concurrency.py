"""The core under threads (DESIGN.md "The C ABI", concurrency): calls on different sessions run
in parallel with no module-wide lock; two threads in one operation never corrupt it.

What the core must never do: hand one session's result to another, lose or duplicate an
object under concurrent creates and destroys, deadlock when a call runs while the state lock
is held by the same thread, or let a second thread disturb an operation in the middle of a
call (it gets CKR_OPERATION_ACTIVE and the running call still delivers its result).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from tokenport.ck import CKA, CKM, CKO, CKU
from tokenport.core.module import Module
from tokenport.core.operation import OpKind
from tokenport.errors import OperationActive, OperationNotInitialized, SignatureInvalid
from tokenport.mechanisms.params import Mechanism

from .conftest import RW, USER_PIN

P256 = bytes.fromhex("06082a8648ce3d030107")
ECDSA = Mechanism(int(CKM.ECDSA))
THREADS = 8


def _key_pair(module: Module, session: int) -> tuple[int, int]:
    return module.generate_key_pair(
        session, Mechanism(int(CKM.EC_KEY_PAIR_GEN)),
        [(CKA.EC_PARAMS, P256), (CKA.VERIFY, True), (CKA.TOKEN, True)],
        [(CKA.SIGN, True), (CKA.TOKEN, True), (CKA.PRIVATE, True)],
    )


def _run_threads(target: Callable[[int], None], count: int = THREADS) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def body(index: int) -> None:
        try:
            start.wait()
            target(index)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a thread hung (deadlock?)"
    return errors


def test_threads_on_their_own_sessions_sign_and_verify(module: Module, user: int) -> None:
    public, private = _key_pair(module, user)
    sessions = [module.open_session(0, RW) for _ in range(THREADS)]

    def work(index: int) -> None:
        session = sessions[index]
        for round_ in range(40):
            message = bytes([index, round_]) * 16  # never starts with 0xff
            module.sign_init(session, ECDSA, private)
            signature = module.sign(session, message)
            module.verify_init(session, ECDSA, public)
            module.verify(session, message, signature)
            module.verify_init(session, ECDSA, public)
            with pytest.raises(SignatureInvalid):
                module.verify(session, b"\xff" + message[1:], signature)

    assert _run_threads(work) == []


def test_concurrent_creates_and_destroys_lose_and_duplicate_nothing(
    module: Module, user: int
) -> None:
    sessions = [module.open_session(0, RW) for _ in range(THREADS)]
    kept: dict[int, set[bytes]] = {i: set() for i in range(THREADS)}

    def work(index: int) -> None:
        session = sessions[index]
        for n in range(30):
            ident = b"t%d-%d" % (index, n)
            handle = module.create_object(session, [
                (CKA.CLASS, int(CKO.DATA)), (CKA.TOKEN, True), (CKA.PRIVATE, False),
                (CKA.LABEL, b"concurrent"), (CKA.OBJECT_ID, ident),
            ])
            if n % 3 == 0:
                module.destroy_object(session, handle)
            else:
                kept[index].add(ident)

    assert _run_threads(work) == []
    module.find_objects_init(user, [(CKA.LABEL, b"concurrent")])
    handles = module.find_objects(user, 10_000)
    module.find_objects_final(user)
    found = [
        module.get_attribute_value(user, h, [int(CKA.OBJECT_ID)])[0].value for h in handles
    ]
    expected = set().union(*kept.values())
    assert len(found) == len(expected) == THREADS * 20
    assert set(found) == expected


def test_a_second_thread_in_a_running_operation_gets_operation_active(
    module: Module, user: int
) -> None:
    _, private = _key_pair(module, user)
    module.sign_init(user, ECDSA, private)
    operation = module.state.session(user).operation(OpKind.SIGN)
    inside, release = threading.Event(), threading.Event()
    real_once = operation.context.once  # type: ignore[union-attr]

    def slow_once(data: bytes) -> bytes:
        inside.set()
        assert release.wait(30)
        return real_once(data)  # type: ignore[no-any-return]

    operation.context.once = slow_once  # type: ignore[method-assign,union-attr]
    results: list[Any] = []
    first = threading.Thread(target=lambda: results.append(module.sign(user, b"m" * 32)))
    first.start()
    assert inside.wait(30)
    with pytest.raises(OperationActive):
        module.sign(user, b"other" * 8)
    module.end_operation(user, OpKind.SIGN)  # the ABI's abort: the running call is kept
    release.set()
    first.join(30)
    assert len(results) == 1 and len(results[0]) == 64
    with pytest.raises(OperationNotInitialized):  # the finished call ended the operation
        module.sign(user, b"m" * 32)


def test_a_call_on_the_thread_holding_the_state_lock_does_not_deadlock(
    module: Module, user: int
) -> None:
    """Re-entrancy: a host callback (or a finalizer) running a call while this thread is
    inside another call that holds the state lock."""
    with module.state.lock:
        session = module.open_session(0, RW)
        assert module.get_session_info(session).slot_id == 0
        module.close_session(session)


def test_login_state_is_shared_and_seen_by_every_thread(module: Module, slot: int) -> None:
    sessions = [module.open_session(slot, RW) for _ in range(THREADS)]
    module.login(sessions[0], CKU.USER, USER_PIN)
    seen: list[int] = []

    def work(index: int) -> None:
        seen.append(module.get_session_info(sessions[index]).state)

    assert _run_threads(work) == []
    assert len(set(seen)) == 1 and seen[0] == module.get_session_info(sessions[0]).state
