"""Sessions (PKCS #11 v2.40 s5.6): the state machine inputs and the operation slots.

A session has at most one active operation of each kind (encrypt, decrypt, digest, sign,
verify) and one object search. Any error other than CKR_BUFFER_TOO_SMALL ends the active
operation (s5.2); the core enforces that around every operation call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from tokenport.core.access import session_state
from tokenport.mechanisms.base import CipherContext, DigestContext, SignContext, VerifyContext

if TYPE_CHECKING:
    from tokenport.core.token import Token


class OpKind(Enum):
    """The operation slots of a session."""

    ENCRYPT = "encrypt"
    DECRYPT = "decrypt"
    DIGEST = "digest"
    SIGN = "sign"
    VERIFY = "verify"


OperationContext = CipherContext | DigestContext | SignContext | VerifyContext


@dataclass
class ActiveOperation:
    """An operation started by a *Init call; ``multipart`` once an Update has been done."""

    mechanism: int
    context: OperationContext
    multipart: bool = False


@dataclass
class Session:
    """One open session of this application."""

    handle: int
    slot_id: int
    token: Token
    read_write: bool
    operations: dict[OpKind, ActiveOperation] = field(default_factory=dict)
    found: list[int] | None = None

    @property
    def state(self) -> int:
        return session_state(self.read_write, self.token.logged_in)
