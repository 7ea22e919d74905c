"""Sessions (PKCS #11 v2.40 s5.6): the state machine inputs and the operation slots.

A session has at most one active operation of each kind (encrypt, decrypt, digest, sign,
verify) and one object search. Any error other than CKR_BUFFER_TOO_SMALL ends the active
operation (s5.2); the core enforces that around every operation call.
"""

from __future__ import annotations

from collections.abc import Callable
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


class Step(Enum):
    """Which call of an operation produces output: the single-part call (C_Encrypt ..),
    an update (C_EncryptUpdate ..) or the final call (C_EncryptFinal ..)."""

    ONCE = "once"
    UPDATE = "update"
    FINAL = "final"


OperationContext = CipherContext | DigestContext | SignContext | VerifyContext


@dataclass(frozen=True)
class PendingOutput:
    """A result computed for a length query (s5.2) and not yet handed out: it answers only
    the same step with the same input."""

    step: Step
    data: bytes
    output: bytes


@dataclass(frozen=True)
class Produced:
    """What an output-producing call gives the C ABI: the output's length, and the output
    itself when the caller's buffer (``capacity``) holds it (None: length query or
    CKR_BUFFER_TOO_SMALL; the operation stays active)."""

    length: int
    output: bytes | None


@dataclass
class ActiveOperation:
    """An operation started by a *Init call; ``multipart`` once an Update has been done.

    ``restart`` rebuilds the context as the *Init call left it: a length query computes
    the single-part result with the context (kept in ``pending``); a following call with
    other input, or another step, starts again from the Init state, as nothing was handed
    out. ``needs_login`` is set when the key has CKA_ALWAYS_AUTHENTICATE TRUE (s4.9 table
    32): the operation produces nothing until C_Login(CKU_CONTEXT_SPECIFIC) succeeds on the
    session, and every new operation needs a login of its own (s5.6 C_Login).
    """

    mechanism: int
    context: OperationContext
    restart: Callable[[], OperationContext] | None = None
    multipart: bool = False
    needs_login: bool = False
    pending: PendingOutput | None = None


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
