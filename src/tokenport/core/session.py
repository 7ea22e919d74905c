"""Sessions (PKCS #11 v2.40 s5.6): the state machine inputs, the operation slots and the search.

A session has at most one active operation of each kind (encrypt, decrypt, digest, sign,
verify; tokenport.core.operation) and one object search (``FindCursor``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tokenport.core.access import session_state
from tokenport.core.operation import Operation, OpKind
from tokenport.errors import OperationNotInitialized

if TYPE_CHECKING:
    from tokenport.core.token import Token


class FindCursor:
    """The result of C_FindObjectsInit (s5.7), handed out by C_FindObjects in order.

    The position moves forward; nothing is copied per call, so each C_FindObjects costs the
    same however many matches the search has.
    """

    __slots__ = ("_handles", "_next")

    def __init__(self, handles: list[int]) -> None:
        self._handles = handles
        self._next = 0

    def take(self, max_count: int) -> list[int]:
        start = self._next
        end = min(len(self._handles), start + max(0, max_count))
        self._next = end
        return self._handles[start:end]


@dataclass(eq=False)
class Session:
    """One open session of this application."""

    handle: int
    slot_id: int
    token: Token
    read_write: bool
    operations: dict[OpKind, Operation] = field(default_factory=dict)
    found: FindCursor | None = None

    @property
    def state(self) -> int:
        return session_state(self.read_write, self.token.logged_in)

    def operation(self, kind: OpKind) -> Operation:
        """The active ``kind`` operation (else CKR_OPERATION_NOT_INITIALIZED)."""
        operation = self.operations.get(kind)
        if operation is None:
            raise OperationNotInitialized(f"no {kind.value} operation is active")
        return operation
