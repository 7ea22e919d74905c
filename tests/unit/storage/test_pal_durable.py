"""The PAL contract, durable part: persistence across reopening, several processes.

Runs once per durable backend (conftest.DURABLE); the ``memory`` backend keeps nothing
across reopening and is not listed. Other processes are forked, so they build their store
with the same factory as the test.
"""

from __future__ import annotations

import multiprocessing
import os
import random
from collections.abc import Callable

import pytest

from tokenport import errors
from tokenport.ports.storage import RevisionMismatch

from .conftest import Reopener

_fork = multiprocessing.get_context("fork")


def run_in_child(body: Callable[[], None], timeout: float = 120) -> None:
    """Run ``body`` in a forked process; fail if it raises or hangs."""
    process = _fork.Process(target=body)
    process.start()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        pytest.fail("child process hung")
    assert process.exitcode == 0, "child process failed (its traceback is above)"


def test_persists_across_reopen(durable: Reopener) -> None:
    first = durable.open()
    big = random.Random(3).randbytes(65536)
    a = first.save_object(b"a", b"alpha", private=True)
    b = first.save_object(b"b", big)
    first.save_object(b"b", big[::-1])  # replaced
    c = first.save_object("Gerätezertifikat".encode(), b"cert")
    gone = first.save_object(b"gone", b"x")
    first.destroy_object(gone)
    entries, generation = first.enumerate_objects(), first.generation()
    first.close()

    again = durable.open()
    assert again.enumerate_objects() == entries
    assert again.generation() == generation
    assert again.get_object_value(a) == (b"alpha", True)
    assert again.get_object_value(b) == (big[::-1], False)
    assert again.get_object_value(c) == (b"cert", False)
    assert again.find_object(b"gone") is None
    with pytest.raises(errors.ObjectHandleInvalid):
        again.get_object_value(gone)
    assert again.save_object(b"a", b"alpha2") == a  # same handle after reopening
    assert again.generation() == generation + 1
    new = again.save_object(b"gone", b"back")
    assert new not in (a, b, c, gone)  # handles are never reused, not even after reopening


def test_two_store_objects_in_one_process(durable: Reopener) -> None:
    one, two = durable.open(), durable.open()
    handle = one.save_object(b"k", b"1")
    assert two.find_object(b"k") == handle
    assert two.generation() == one.generation()
    two.save_object(b"k", b"2")
    assert one.get_object_value(handle) == (b"2", False)
    two.destroy_object(handle)
    assert one.find_object(b"k") is None
    assert one.generation() == two.generation()


def test_another_process_sees_changes_without_reopening(durable: Reopener) -> None:
    store = durable.open()
    kept = store.save_object(b"kept", b"k")
    replaced = store.save_object(b"replaced", b"old")
    destroyed = store.save_object(b"destroyed", b"d")
    before = store.generation()

    def child() -> None:
        other = durable.open_in_child()
        assert other.generation() == before  # the same number in every process
        assert other.get_object_value(kept) == (b"k", False)
        other.save_object(b"created", b"new", private=True)
        assert other.save_object(b"replaced", b"new value") == replaced
        other.destroy_object(destroyed)
        other.close()

    run_in_child(child)
    assert store.generation() == before + 3
    created = store.find_object(b"created")
    assert created is not None and created not in (kept, replaced, destroyed)
    assert store.get_object_value(created) == (b"new", True)
    assert store.get_object_value(replaced) == (b"new value", False)
    assert store.find_object(b"destroyed") is None
    assert [e.label for e in store.enumerate_objects()] == [b"created", b"kept", b"replaced"]

    # and back: the parent writes, a child sees it
    store.save_object(b"kept", b"k2")
    generation = store.generation()

    def check() -> None:
        other = durable.open_in_child()
        assert other.generation() == generation
        assert other.get_object_value(kept) == (b"k2", False)
        other.close()

    run_in_child(check)


def test_processes_write_at_once(durable: Reopener) -> None:
    store = durable.open()
    store.save_object(b"counter", b"0")
    per_process, increments, processes = 150, 30, 3

    def work(n: int) -> Callable[[], None]:
        def body() -> None:
            mine = durable.open_in_child()
            rng = random.Random(n)
            done = 0
            for i in range(per_process):
                mine.save_object(b"p%d/%03d" % (n, i), b"%d:%d" % (n, i) * rng.randint(1, 40))
                if i % 5 == 0 and done < increments:
                    while True:  # read-modify-write with compare-and-swap
                        (entry,) = mine.enumerate_objects(b"counter")
                        value = int(mine.get_object_value(entry.handle)[0])
                        try:
                            mine.save_object(b"counter", b"%d" % (value + 1),
                                             expected_revision=entry.revision)
                            break
                        except RevisionMismatch:
                            continue
                    done += 1
            mine.close()
        return body

    children = [_fork.Process(target=work(n)) for n in range(processes)]
    for child in children:
        child.start()
    for i in range(100):  # the parent reads while they write
        store.generation()
        store.enumerate_objects(b"p")
        handle = store.find_object(b"counter")
        assert handle is not None
        int(store.get_object_value(handle)[0])
    for child in children:
        child.join(180)
        assert child.exitcode == 0
    entries = store.enumerate_objects()
    assert len(entries) == processes * per_process + 1
    assert len({e.revision for e in entries}) == len(entries)
    for n in range(processes):
        rng = random.Random(n)
        for i in range(per_process):
            handle = store.find_object(b"p%d/%03d" % (n, i))
            assert handle is not None
            assert store.get_object_value(handle)[0] == b"%d:%d" % (n, i) * rng.randint(1, 40)
    handle = store.find_object(b"counter")
    assert handle is not None
    assert store.get_object_value(handle)[0] == b"%d" % (processes * increments)
    # one generation step per successful save, whichever process made it
    assert store.generation() == 1 + processes * (per_process + increments)


def test_forked_child_uses_the_inherited_store(durable: Reopener) -> None:
    store = durable.open()
    handle = store.save_object(b"before fork", b"1")

    def child() -> None:
        assert store.get_object_value(handle) == (b"1", False)
        store.save_object(b"from child", b"2")

    run_in_child(child)
    found = store.find_object(b"from child")
    assert found is not None and store.get_object_value(found) == (b"2", False)
    assert store.save_object(b"after fork", b"3") not in (handle, found)


def test_reopen_keeps_many_records_and_their_handles(durable: Reopener) -> None:
    store = durable.open()
    handles = {}
    for i in range(1000):
        label = b"t/x/o/%04d" % i
        handles[label] = store.save_object(label, os.urandom(16) + label)
    for i in range(0, 1000, 3):  # churn: replace a third, destroy a third
        label = b"t/x/o/%04d" % i
        store.save_object(label, b"again" + label)
        other = b"t/x/o/%04d" % (i + 1)
        if other in handles:
            store.destroy_object(handles.pop(other))
    entries, generation = store.enumerate_objects(), store.generation()
    store.close()
    again = durable.open()
    assert again.enumerate_objects() == entries
    assert again.generation() == generation
    for label, handle in handles.items():
        assert again.find_object(label) == handle
        data, _ = again.get_object_value(handle)
        assert data.endswith(label)

