"""The PAL contract (tokenport.ports.storage.ObjectStore), run against every backend.

Backends are listed in conftest.BACKENDS; every test here runs once per backend.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable

import pytest

from tokenport import errors
from tokenport.ports.storage import ObjectStore, StoredEntry

NewStore = Callable[[], ObjectStore]


def test_is_an_object_store(store: ObjectStore) -> None:
    assert isinstance(store, ObjectStore)


def test_empty_store(store: ObjectStore) -> None:
    assert store.enumerate_objects() == []
    assert store.find_object(b"nothing") is None
    store.initialize()  # idempotent
    assert store.enumerate_objects() == []


def test_save_find_get(store: ObjectStore) -> None:
    handle = store.save_object(b"t/1/o/a", b"record a", private=True)
    assert isinstance(handle, int) and handle > 0
    assert store.find_object(b"t/1/o/a") == handle
    assert store.get_object_value(handle) == (b"record a", True)
    other = store.save_object(b"t/1/o/b", b"record b")
    assert other != handle
    assert store.get_object_value(other) == (b"record b", False)  # private defaults to False


def test_save_same_label_replaces_keeping_handle(store: ObjectStore) -> None:
    handle = store.save_object(b"label", b"first", private=False)
    (before,) = store.enumerate_objects()
    assert store.save_object(b"label", b"second, longer", private=True) == handle
    (after,) = store.enumerate_objects()
    assert after.handle == before.handle == handle
    assert after.revision != before.revision
    assert store.get_object_value(handle) == (b"second, longer", True)
    assert store.save_object(b"label", b"", private=False) == handle
    assert store.get_object_value(handle) == (b"", False)


def test_every_save_gets_a_new_revision(store: ObjectStore) -> None:
    seen: set[int] = set()
    for i in range(5):
        store.save_object(b"a", b"%d" % i)
        store.save_object(b"b", b"%d" % i)
        revisions = {e.label: e.revision for e in store.enumerate_objects()}
        seen.update(revisions.values())
    assert len(seen) == 10


def test_cleanup(store: ObjectStore) -> None:
    handle = store.save_object(b"k", b"secret-ish")
    data, _ = store.get_object_value(handle)
    store.get_object_value_cleanup(data)
    assert store.get_object_value(handle) == (b"secret-ish", False)  # the store keeps its copy
    copy = bytearray(data)
    store.get_object_value_cleanup(copy)  # type: ignore[arg-type]  # mutable copies are wiped
    assert copy == bytearray(len(data))


def test_destroy(store: ObjectStore) -> None:
    keep = store.save_object(b"keep", b"1")
    gone = store.save_object(b"gone", b"2")
    store.destroy_object(gone)
    assert store.find_object(b"gone") is None
    with pytest.raises(errors.ObjectHandleInvalid):
        store.get_object_value(gone)
    with pytest.raises(errors.ObjectHandleInvalid):
        store.destroy_object(gone)
    assert [e.label for e in store.enumerate_objects()] == [b"keep"]
    assert store.get_object_value(keep) == (b"1", False)


def test_handles_are_not_reused(store: ObjectStore) -> None:
    first = store.save_object(b"x", b"1")
    store.destroy_object(first)
    second = store.save_object(b"x", b"2")
    assert second != first
    with pytest.raises(errors.ObjectHandleInvalid):
        store.get_object_value(first)


@pytest.mark.parametrize("handle", [0, -1, 2**31, 2**64 + 5])
def test_unknown_handle(store: ObjectStore, handle: int) -> None:
    store.save_object(b"x", b"1")
    with pytest.raises(errors.ObjectHandleInvalid):
        store.get_object_value(handle)
    with pytest.raises(errors.ObjectHandleInvalid):
        store.destroy_object(handle)


@pytest.mark.parametrize("label", [b"", "text"])
def test_bad_labels(store: ObjectStore, label: object) -> None:
    with pytest.raises(errors.ArgumentsBad):
        store.save_object(label, b"x")  # type: ignore[arg-type]
    with pytest.raises(errors.ArgumentsBad):
        store.find_object(label)  # type: ignore[arg-type]


def test_bad_prefix(store: ObjectStore) -> None:
    with pytest.raises(errors.ArgumentsBad):
        store.enumerate_objects("t/")  # type: ignore[arg-type]


@pytest.mark.parametrize("data", ["text", 5, None])
def test_bad_data(store: ObjectStore, data: object) -> None:
    with pytest.raises(errors.ArgumentsBad):
        store.save_object(b"x", data)  # type: ignore[arg-type]
    assert store.enumerate_objects() == []


def test_enumerate_with_and_without_prefix(store: ObjectStore) -> None:
    labels = [
        b"t/1/o/a",
        b"t/1/o/b",
        b"t/1/p",
        b"t/10/o/a",
        b"t/2/o/a",
        b"t/1",
        b"u",
        b"a\xff",
        b"a\xff\x00",
        b"a\xff\xff",
        b"a\xfe\xff",
        b"b",
        b"\xff",
        b"\xff\xff\x01",
    ]
    handles = {label: store.save_object(label, label * 2) for label in labels}
    everything = store.enumerate_objects()
    assert [e.label for e in everything] == sorted(labels)
    assert all(isinstance(e, StoredEntry) for e in everything)
    assert {e.label: e.handle for e in everything} == handles
    for prefix in [b"t/1", b"t/1/", b"t/1/o/", b"t/", b"a\xff", b"a\xfe", b"a", b"\xff", b"\xff\xff",
                   b"t/1/o/a", b"t/1/o/a/", b"zzz", b"\x00"]:  # fmt: skip
        got = [e.label for e in store.enumerate_objects(prefix)]
        assert got == sorted(x for x in labels if x.startswith(prefix)), prefix
    assert store.enumerate_objects(b"") == everything


def test_generation_changes_on_writes_only(store: ObjectStore) -> None:
    seen = [store.generation()]

    def changed() -> None:
        now = store.generation()
        assert now not in seen
        seen.append(now)

    def unchanged() -> None:
        assert store.generation() == seen[-1]

    handle = store.save_object(b"a", b"1")
    changed()
    store.save_object(b"a", b"2")  # replace
    changed()
    store.save_object(b"a", b"2")  # same bytes again: still a write
    changed()
    other = store.save_object(b"b", b"3", private=True)
    changed()
    store.find_object(b"a")
    store.find_object(b"missing")
    store.get_object_value(handle)
    store.enumerate_objects()
    store.enumerate_objects(b"a")
    unchanged()
    store.destroy_object(other)
    changed()
    with pytest.raises(errors.ObjectHandleInvalid):
        store.destroy_object(other)  # a failed write changes nothing
    unchanged()


def test_objects_up_to_64k(store: ObjectStore) -> None:
    rng = random.Random(1)
    sizes = [0, 1, 255, 256, 4095, 4096, 4097, 65535, 65536]
    records = {b"size/%d" % n: rng.randbytes(n) for n in sizes}
    handles = {label: store.save_object(label, data) for label, data in records.items()}
    for label, data in records.items():
        assert store.get_object_value(handles[label]) == (data, False)
    # shrink and grow in place
    big = b"size/65536"
    store.save_object(big, b"small")
    assert store.get_object_value(handles[big])[0] == b"small"
    store.save_object(big, records[big])
    assert store.get_object_value(handles[big])[0] == records[big]


def test_three_thousand_objects(store: ObjectStore) -> None:
    count = 3000
    handles = {}
    for i in range(count):
        label = b"t/1/o/%05d" % i
        handles[label] = store.save_object(label, os.urandom(32) + label, private=i % 3 == 0)
    assert len(set(handles.values())) == count
    entries = store.enumerate_objects(b"t/1/o/")
    assert len(entries) == count
    assert {e.label: e.handle for e in entries} == handles
    assert len(store.enumerate_objects(b"t/1/o/012")) == 100
    for label, handle in handles.items():
        assert store.find_object(label) == handle
    for i in range(0, count, 97):
        label = b"t/1/o/%05d" % i
        data, private = store.get_object_value(handles[label])
        assert data.endswith(label) and private == (i % 3 == 0)


def _odd_labels() -> list[bytes]:
    labels = [
        b"x",
        b"\x00",
        b"\xff",
        b"\x00\x00",
        b"\xff\xff",
        b"a\x00b",
        b"a\xffb",
        b"A" * 128,
        b"\x00" * 128,
        b"\xff" * 128,
        "Gerätezertifikat".encode(),
        "Clé privée du périphérique".encode(),
        "设备证书".encode(),
        "🔑 key".encode(),
        b"Device Priv TLS Key",
        bytes(range(128)),
        bytes(range(128, 256)),
    ]
    rng = random.Random(7)
    labels += [rng.randbytes(rng.randint(1, 128)) for _ in range(100)]
    return list(dict.fromkeys(labels))


def test_labels_any_bytes(store: ObjectStore) -> None:
    labels = _odd_labels()
    handles = {label: store.save_object(label, b"v:" + label) for label in labels}
    assert len(set(handles.values())) == len(labels)
    for label in labels:
        handle = store.find_object(label)
        assert handle == handles[label]
        assert store.get_object_value(handle)[0] == b"v:" + label
    assert [e.label for e in store.enumerate_objects()] == sorted(labels)
    for label in labels[:20]:
        got = [e.label for e in store.enumerate_objects(label)]
        assert got == sorted(x for x in labels if x.startswith(label))
    # a label that is a strict prefix of another does not match it
    assert store.find_object(b"\xff" * 127) is None


def test_threads(store: ObjectStore) -> None:
    workers, rounds = 8, 150
    failures: list[BaseException] = []
    start = threading.Barrier(workers + 1)

    def work(n: int) -> None:
        try:
            start.wait()
            mine: dict[bytes, int] = {}
            for i in range(rounds):
                label = b"w%d/%d" % (n, i % 20)
                handle = store.save_object(label, b"%d:%d" % (n, i), private=bool(i % 2))
                if label in mine:
                    assert mine[label] == handle
                mine[label] = handle
                assert store.find_object(label) == handle
                assert store.get_object_value(handle) == (b"%d:%d" % (n, i), bool(i % 2))
                if i % 7 == 0:
                    store.destroy_object(handle)
                    del mine[label]
                    assert store.find_object(label) is None
                store.generation()
                store.enumerate_objects(b"w%d/" % n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    def watch() -> None:  # generation() and enumeration while others write
        try:
            start.wait()
            while any(t.is_alive() for t in threads):
                store.generation()
                store.enumerate_objects()
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    watcher = threading.Thread(target=watch)
    for t in threads:
        t.start()
    watcher.start()
    for t in threads:
        t.join(timeout=120)
    watcher.join(timeout=120)
    assert not failures, failures[0]
    entries = store.enumerate_objects()
    assert len({e.revision for e in entries}) == len(entries)
    for n in range(workers):
        labels = {e.label for e in entries if e.label.startswith(b"w%d/" % n)}
        # slot i%20 ends on its last round; it is absent if that round destroyed it
        expected = set()
        for slot in range(20):
            last = max(i for i in range(rounds) if i % 20 == slot)
            if last % 7 != 0:
                expected.add(b"w%d/%d" % (n, slot))
        assert labels == expected


def test_close(new_store: NewStore) -> None:
    store = new_store()
    store.save_object(b"a", b"1")
    store.close()
    store.close()  # idempotent
    with pytest.raises(errors.DeviceError):
        store.find_object(b"a")
    with pytest.raises(errors.DeviceError):
        store.save_object(b"a", b"2")
    with pytest.raises(errors.DeviceError):
        store.generation()


def test_stores_are_independent(new_store: NewStore) -> None:
    one, two = new_store(), new_store()
    one.save_object(b"a", b"1")
    assert two.find_object(b"a") is None
    assert two.enumerate_objects() == []


def test_repr_has_no_data(store: ObjectStore) -> None:
    store.save_object(b"label-in-repr?", b"DATA-IN-REPR?")
    assert b"DATA-IN-REPR?".decode() not in repr(store)


def revision_of(store: ObjectStore, label: bytes) -> int:
    (entry,) = [e for e in store.enumerate_objects(label) if e.label == label]
    return entry.revision


def test_expected_revision_makes_save_a_compare_and_swap(store: ObjectStore) -> None:
    from tokenport.ports.storage import RevisionMismatch

    with pytest.raises(RevisionMismatch):
        store.save_object(b"cas", b"v1", expected_revision=5)  # absent, 5 expected
    assert store.find_object(b"cas") is None
    handle = store.save_object(b"cas", b"v1", expected_revision=0)  # "must not exist"
    first = revision_of(store, b"cas")
    generation = store.generation()
    with pytest.raises(RevisionMismatch):
        store.save_object(b"cas", b"v2", expected_revision=0)
    with pytest.raises(RevisionMismatch):
        store.save_object(b"cas", b"v2", expected_revision=first + 1)
    assert store.get_object_value(handle) == (b"v1", False)
    assert store.generation() == generation  # a refused save changes nothing
    assert store.save_object(b"cas", b"v2", expected_revision=first) == handle
    assert store.get_object_value(handle) == (b"v2", False)
    assert revision_of(store, b"cas") != first


def test_compare_and_swap_counts_every_racing_increment(store: ObjectStore) -> None:
    """Read-modify-write with expected_revision and retry loses no update under threads."""
    from tokenport.ports.storage import RevisionMismatch

    store.save_object(b"counter", b"0")

    def increment() -> None:
        for _ in range(25):
            while True:
                revision = revision_of(store, b"counter")
                handle = store.find_object(b"counter")
                assert handle is not None
                value = int(store.get_object_value(handle)[0])
                try:
                    store.save_object(b"counter", str(value + 1).encode(), expected_revision=revision)
                    break
                except RevisionMismatch:
                    continue

    threads = [threading.Thread(target=increment) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handle = store.find_object(b"counter")
    assert handle is not None
    assert store.get_object_value(handle)[0] == b"100"
