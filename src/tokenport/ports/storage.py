"""The storage port: the porting guide's PAL (PKCS11_PAL_*), one instance per store.

The PAL keeps opaque records under storage labels. It never interprets a record and never
sees a PIN; the core serializes whole objects (storage_format) and encrypts the secret
attributes of private objects before they reach this layer.

The six calls keep the porting guide's names and meaning; ``enumerate_objects`` and
``generation`` are the two calls a general multi-object, multi-process token needs in
addition. Storage labels are byte strings chosen by the core (for example
``b"t/<serial>/o/<uid>"``); they are not CKA_LABEL values.

Errors: a backend translates its own exceptions here, once, into tokenport.errors:
``DeviceMemory`` when the store is full, ``DeviceError`` for I/O failure or a store that
cannot be opened, ``ObjectHandleInvalid`` for an unknown handle. A failed write leaves the
previous record (or its absence) intact. A store whose files were truncated, deleted,
replaced or made read-only behind its back raises ``DeviceError``: it never kills the
process (no memory map of a file that can shrink) and never reports success for a write
that went into a file no one will open again (docs/porting.md, "Storage port").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from tokenport.errors import FunctionFailed


class RevisionMismatch(FunctionFailed):
    """save_object(expected_revision=...) found another revision: nothing was written.

    The caller re-reads the record and tries again (optimistic concurrency between
    processes sharing a store); it reaches an application only if retries run out.
    """


@dataclass(frozen=True)
class StoredEntry:
    """One record as listed by ``enumerate_objects``.

    ``revision`` changes every time the record under ``label`` is saved again, so a cache
    can tell a replaced record from an unchanged one without reading it.
    """

    label: bytes
    handle: int
    revision: int


@runtime_checkable
class ObjectStore(Protocol):
    """The PAL: durable storage of labelled records for one store."""

    def initialize(self) -> None:
        """PKCS11_PAL_Initialize: open or create the store. Idempotent."""
        ...

    def save_object(
        self, label: bytes, data: bytes, *, private: bool = False,
        expected_revision: int | None = None,
    ) -> int:
        """PKCS11_PAL_SaveObject: write ``data`` durably under ``label``; same label replaces.

        Returns the handle of the record (stable for a label while it exists). When this
        returns, the record survives a crash; when it raises, the store is as it was.
        ``private`` is stored with the record and returned by ``get_object_value``.

        ``expected_revision`` makes the save a compare-and-swap, checked atomically with
        the write: 0 means "``label`` must not exist", n > 0 "its revision must be n";
        otherwise RevisionMismatch is raised and nothing changes. None saves unconditionally.
        """
        ...

    def find_object(self, label: bytes) -> int | None:
        """PKCS11_PAL_FindObject: the handle of the record under ``label``, or None."""
        ...

    def get_object_value(self, handle: int) -> tuple[bytes, bool]:
        """PKCS11_PAL_GetObjectValue: the record's bytes and its private flag."""
        ...

    def get_object_value_cleanup(self, data: bytes) -> None:
        """PKCS11_PAL_GetObjectValueCleanup: wipe what get_object_value handed out.

        A no-op where nothing can or needs to be wiped (immutable bytes).
        """
        ...

    def destroy_object(self, handle: int) -> None:
        """PKCS11_PAL_DestroyObject: remove the record durably."""
        ...

    def enumerate_objects(self, prefix: bytes = b"") -> list[StoredEntry]:
        """Every stored record whose label starts with ``prefix``, without reading its data."""
        ...

    def generation(self) -> int:
        """A cheap counter that changes whenever any process changes the store.

        Callers compare it with the value they saw last to decide whether to re-enumerate.
        It must not read the records.
        """
        ...

    def close(self) -> None:
        """Release files and connections. The object is unusable afterwards."""
        ...
