"""Object handles (PKCS #11 v2.40 s2.? "object handles"): small per-process integers.

A handle names an object by (token serial, object uid), so it survives the object being
re-read from the store after another process changed it; it dies with the object.
"""

from __future__ import annotations


class HandleTable:
    """Maps object handles to (token serial, uid) and back."""

    def __init__(self) -> None:
        self._next = 1
        self._by_handle: dict[int, tuple[str, str]] = {}
        self._by_key: dict[tuple[str, str], int] = {}

    def handle_for(self, serial: str, uid: str) -> int:
        key = (serial, uid)
        handle = self._by_key.get(key)
        if handle is None:
            handle = self._next
            self._next += 1
            self._by_key[key] = handle
            self._by_handle[handle] = key
        return handle

    def lookup(self, handle: int) -> tuple[str, str] | None:
        return self._by_handle.get(handle)

    def forget(self, serial: str, uid: str) -> None:
        handle = self._by_key.pop((serial, uid), None)
        if handle is not None:
            del self._by_handle[handle]

    def forget_token(self, serial: str) -> None:
        for key in [k for k in self._by_key if k[0] == serial]:
            self.forget(*key)
