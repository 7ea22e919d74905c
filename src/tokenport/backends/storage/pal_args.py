"""Argument checks and the sorted prefix scan shared by the storage backends (the PAL).

Every backend checks its arguments the same way, so a porter's backend and the built-in
ones raise the same errors for the same bad input (the contract suite tests them).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence

from tokenport import errors

Bytes = bytes | bytearray | memoryview
"""What the PAL accepts where it takes bytes."""


def check_label(label: Bytes, max_length: int | None = None) -> bytes:
    """A storage label as bytes; ArgumentsBad unless it is non-empty bytes (and not longer
    than ``max_length``, for backends with a limit)."""
    if not isinstance(label, (bytes, bytearray, memoryview)):
        raise errors.ArgumentsBad("storage label must be bytes")
    key = bytes(label)
    if not key:
        raise errors.ArgumentsBad("storage label must not be empty")
    if max_length is not None and len(key) > max_length:
        raise errors.ArgumentsBad(f"storage label longer than {max_length} bytes")
    return key


def check_prefix(prefix: Bytes) -> bytes:
    """An enumeration prefix as bytes; ArgumentsBad unless it is bytes."""
    if not isinstance(prefix, (bytes, bytearray, memoryview)):
        raise errors.ArgumentsBad("storage label prefix must be bytes")
    return bytes(prefix)


def check_handle(handle: int) -> int:
    """A record handle; ObjectHandleInvalid unless it is a positive 63-bit integer."""
    if isinstance(handle, bool) or not isinstance(handle, int):
        raise errors.ObjectHandleInvalid("tokenport store: handle must be an integer")
    if not 0 < handle < 2**63:
        raise errors.ObjectHandleInvalid(f"tokenport store: no record with handle {handle}")
    return handle


def labels_with_prefix(sorted_labels: Sequence[bytes], prefix: bytes) -> Iterator[bytes]:
    """The labels of a sorted sequence that start with ``prefix`` (binary search, then a
    scan of the matches only)."""
    for i in range(bisect.bisect_left(sorted_labels, prefix), len(sorted_labels)):
        label = sorted_labels[i]
        if not label.startswith(prefix):
            return
        yield label
