"""The in-memory twin of the storage port (the PAL): nothing survives ``close()``.

Used by the core's unit tests and by the ``memory`` store backend. It follows the same
contract as the durable backends (tests/unit/storage run one suite over all of them):

* handles start at 1 and are never reused, even after a record is destroyed;
* every write (save or destroy) bumps a store-wide counter; a saved record gets the new
  counter value as its revision, and ``generation()`` returns the counter;
* reads never change ``generation()``.

``capacity`` (bytes of labels plus data) simulates a full device: a save that would exceed
it raises ``DeviceMemory`` and leaves the store as it was. Records are kept in bytearrays
that are zeroed when replaced, destroyed or closed; ``get_object_value`` hands out copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenport import errors
from tokenport.backends.storage.pal_args import check_label, check_prefix
from tokenport.ports.storage import RevisionMismatch, StoredEntry
from tokenport.reentry import NoReentryLock


@dataclass
class _Record:
    label: bytes
    data: bytearray
    private: bool
    revision: int


def _wipe(buffer: bytearray) -> None:
    buffer[:] = bytes(len(buffer))


class MemoryObjectStore:
    """A thread-safe, process-local ObjectStore."""

    def __init__(self, *, capacity: int | None = None) -> None:
        if capacity is not None and capacity < 0:
            raise errors.ArgumentsBad("capacity must be non-negative")
        self._capacity = capacity
        self._lock = NoReentryLock("the store")
        self._records: dict[int, _Record] = {}
        self._by_label: dict[bytes, int] = {}
        self._next_handle = 1
        self._counter = 0
        self._used = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryObjectStore(records={len(self._records)}, generation={self._counter})"

    def _check_open(self) -> None:
        if self._closed:
            raise errors.DeviceError("memory store: used after close()")

    def initialize(self) -> None:
        with self._lock:
            self._check_open()

    def save_object(
        self,
        label: bytes | bytearray | memoryview,
        data: bytes | bytearray | memoryview,
        *,
        private: bool = False,
        expected_revision: int | None = None,
    ) -> int:
        key = check_label(label)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise errors.ArgumentsBad("record data must be bytes")
        value = bytearray(data)
        with self._lock:
            self._check_open()
            handle = self._by_label.get(key)
            old = self._records.get(handle) if handle is not None else None
            if expected_revision is not None and (old.revision if old else 0) != expected_revision:
                _wipe(value)
                raise RevisionMismatch("the record changed since it was read")
            if old is None:
                used = self._used + len(key) + len(value)
            else:
                used = self._used - len(old.data) + len(value)
            if self._capacity is not None and used > self._capacity:
                _wipe(value)
                raise errors.DeviceMemory(
                    f"memory store: full ({self._capacity} bytes); record not saved"
                )
            self._counter += 1
            record = _Record(key, value, bool(private), self._counter)
            if old is not None and handle is not None:
                _wipe(old.data)
            else:
                handle = self._next_handle
                self._next_handle += 1
                self._by_label[key] = handle
            self._records[handle] = record
            self._used = used
            return handle

    def find_object(self, label: bytes | bytearray | memoryview) -> int | None:
        key = check_label(label)
        with self._lock:
            self._check_open()
            return self._by_label.get(key)

    def get_object_value(self, handle: int) -> tuple[bytes, bool]:
        with self._lock:
            self._check_open()
            record = self._records.get(handle)
            if record is None:
                raise errors.ObjectHandleInvalid(f"memory store: no record with handle {handle}")
            return bytes(record.data), record.private

    def get_object_value_cleanup(self, data: bytes | bytearray) -> None:
        # bytes are immutable: nothing to wipe. A caller that copied the value into a
        # bytearray may hand that in and have it zeroed.
        if isinstance(data, bytearray):
            _wipe(data)

    def destroy_object(self, handle: int) -> None:
        with self._lock:
            self._check_open()
            record = self._records.pop(handle, None)
            if record is None:
                raise errors.ObjectHandleInvalid(f"memory store: no record with handle {handle}")
            del self._by_label[record.label]
            self._used -= len(record.label) + len(record.data)
            _wipe(record.data)
            self._counter += 1

    def enumerate_objects(self, prefix: bytes | bytearray | memoryview = b"") -> list[StoredEntry]:
        start = check_prefix(prefix)
        with self._lock:
            self._check_open()
            entries = [
                StoredEntry(r.label, h, r.revision)
                for h, r in self._records.items()
                if r.label.startswith(start)
            ]
        entries.sort(key=lambda e: e.label)
        return entries

    def generation(self) -> int:
        with self._lock:
            self._check_open()
            return self._counter

    def check(self) -> list[tuple[bytes | None, str]]:
        """Nothing can be damaged in memory."""
        return []

    def info(self) -> dict[str, Any]:
        """What ``tokenport store info`` shows for this backend."""
        with self._lock:
            return {"backend": "memory", "records": len(self._records),
                    "generation": self._counter, "capacity_bytes": self._capacity}

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            for record in self._records.values():
                _wipe(record.data)
            self._records.clear()
            self._by_label.clear()
            self._closed = True


def from_config(store_dir: Path, options: Mapping[str, Any]) -> MemoryObjectStore:
    """The ``memory`` storage port (nothing persists): ``[store.memory] capacity = bytes``."""
    unknown = set(options) - {"capacity", "read_only"}
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(sorted(unknown))} (allowed: capacity, read_only)"
        )
    capacity = options.get("capacity")
    if capacity is not None and (not isinstance(capacity, int) or capacity <= 0):
        raise ValueError("capacity must be a positive number of bytes")
    return MemoryObjectStore(capacity=capacity)
