"""MemoryObjectStore beyond the PAL contract: the capacity limit (a full device)."""

from __future__ import annotations

import pytest

from tokenport import errors
from tokenport.backends.storage.memory import MemoryObjectStore


def test_capacity_raises_device_memory_and_keeps_state() -> None:
    store = MemoryObjectStore(capacity=100)
    handle = store.save_object(b"k", b"x" * 50)  # 51 bytes used
    generation = store.generation()
    with pytest.raises(errors.DeviceMemory):
        store.save_object(b"k", b"y" * 100)
    with pytest.raises(errors.DeviceMemory):
        store.save_object(b"other", b"z" * 50)
    assert store.get_object_value(handle) == (b"x" * 50, False)
    assert store.find_object(b"other") is None
    assert store.generation() == generation
    assert store.save_object(b"k", b"y" * 99) == handle  # a replacement reuses its space
    store.destroy_object(handle)
    assert store.save_object(b"other", b"z" * 94) > handle  # destroyed space is free again


def test_negative_capacity() -> None:
    with pytest.raises(errors.ArgumentsBad):
        MemoryObjectStore(capacity=-1)


def test_stored_copies_are_wiped_on_destroy() -> None:
    store = MemoryObjectStore()
    handle = store.save_object(b"k", b"secret")
    kept = store._records[handle].data  # white-box: the store's own buffer
    store.destroy_object(handle)
    assert kept == bytearray(6)


def test_caller_buffers_are_copied() -> None:
    store = MemoryObjectStore()
    buffer = bytearray(b"abc")
    handle = store.save_object(bytearray(b"label"), buffer)
    buffer[0] = 0
    assert store.get_object_value(handle) == (b"abc", False)
    assert store.find_object(memoryview(b"label")) == handle
