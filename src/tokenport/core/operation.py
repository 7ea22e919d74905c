"""One cryptographic operation of a session (PKCS #11 v2.40 s5.2, s5.8-5.12).

An ``Operation`` is started by a *Init call and held by its session until it ends. It owns
the rules of its own life:

* active until a final step, a single-part call, or any error other than
  CKR_BUFFER_TOO_SMALL (s5.2) ends it;
* a single-part call cannot follow an update ("multi-part");
* the s5.2 length protocol: a call without a big enough buffer gets the output length and
  the output is kept (``pending``) for the same step with the same input; a call with other
  input, or another step, starts the operation again from its Init state (``restart``), as
  nothing was handed out. An update's length query consumes nothing;
* a CKA_ALWAYS_AUTHENTICATE key (s4.9 table 32) makes ``needs_login`` true until
  C_Login(CKU_CONTEXT_SPECIFIC) on the session;
* one call at a time: a second thread calling into the same operation while a call runs
  gets CKR_OPERATION_ACTIVE (the running call is not disturbed). The cryptography itself
  runs with no other tokenport lock held.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar, cast

from tokenport.errors import OperationActive, UserNotLoggedIn

if TYPE_CHECKING:  # the mechanism layer loads with the first operation, not with the core
    from tokenport.core.session import Session
    from tokenport.mechanisms.base import CipherContext, DigestContext, SignContext, VerifyContext

R = TypeVar("R")


class OpKind(str, Enum):
    """The operation slots of a session (a str enum: hashing it runs no Python code)."""

    ENCRYPT = "encrypt"
    DECRYPT = "decrypt"
    DIGEST = "digest"
    SIGN = "sign"
    VERIFY = "verify"
    # v3.0 message-based operations (tokenport.core.message): slots of their own, so a
    # session may run C_SignInit .. and C_MessageSignInit .. side by side
    MESSAGE_ENCRYPT = "message_encrypt"
    MESSAGE_DECRYPT = "message_decrypt"
    MESSAGE_SIGN = "message_sign"
    MESSAGE_VERIFY = "message_verify"


class Step(str, Enum):
    """Which call of an operation produces output: the single-part call (C_Encrypt ..),
    an update (C_EncryptUpdate ..) or the final call (C_EncryptFinal ..)."""

    ONCE = "once"
    UPDATE = "update"
    FINAL = "final"


OperationContext: TypeAlias = "CipherContext | DigestContext | SignContext | VerifyContext"


class _Producer(Protocol):
    """A context with a single-part and a final call that return output."""

    def once(self, data: bytes) -> bytes: ...
    def final(self) -> bytes: ...


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


class Operation:
    """An active operation of ``kind`` on ``session`` (see the module docstring)."""

    __slots__ = (
        "_running",
        "context",
        "kind",
        "mechanism",
        "multipart",
        "needs_login",
        "pending",
        "restart",
        "session",
    )

    def __init__(self, session: Session, kind: OpKind, mechanism: int,
                 restart: Callable[[], OperationContext], *, needs_login: bool = False) -> None:
        self.session = session
        self.kind = kind
        self.mechanism = mechanism
        self.restart = restart
        self.context: OperationContext = restart()
        self.multipart = False
        self.needs_login = needs_login
        self.pending: PendingOutput | None = None
        self._running = threading.Lock()

    # -- life -------------------------------------------------------------------------------

    def end(self) -> None:
        """End the operation (idempotent; a newer operation of the same kind stays)."""
        if self.session.operations.get(self.kind) is self:
            del self.session.operations[self.kind]

    def abort(self) -> bool:
        """End the operation after a failed call that the core did not see (the C ABI
        refused its arguments, s5.2), or for C_SessionCancel (v3.0 s5.6), unless another
        thread's call is running it; True when it ended."""
        if self._running.acquire(blocking=False):
            try:
                self.end()
            finally:
                self._running.release()
            return True
        return False

    def _enter(self) -> None:
        if not self._running.acquire(blocking=False):
            raise OperationActive(f"another call of this {self.kind.value} operation is running")
        if self.needs_login:
            self._running.release()
            self.end()
            raise UserNotLoggedIn("the key needs C_Login(CKU_CONTEXT_SPECIFIC) for this operation")

    # -- calls ------------------------------------------------------------------------------

    def _settle(self, step: Step | None, data: bytes) -> bytes | None:
        """Apply a kept length-query result before ``step`` runs with ``data``: the result
        itself for the same step and input; otherwise the context goes back to its Init
        state, which a finished multi-part context cannot."""
        pending = self.pending
        if pending is None:
            return None
        if pending.step is step and pending.data == data:
            return pending.output
        if self.multipart:
            raise OperationActive("the pending final result must be collected by the same call")
        self.pending = None
        self.context = self.restart()
        return None

    def produce(self, step: Step, data: bytes, capacity: int | None) -> Produced:
        """One output-producing call with the s5.2 length protocol: ``capacity`` is the
        caller's buffer size (None: no buffer, a length query). The operation stays active
        until its output is handed out; any error ends it."""
        self._enter()
        try:
            output = self._settle(step, data)
            if output is None:
                context = self.context
                if step is Step.UPDATE:
                    cipher = cast("CipherContext", context)
                    length = cipher.update_length(len(data))
                    if capacity is None or capacity < length:
                        return Produced(length, None)
                    self.multipart = True
                    output = cipher.update(data)
                elif step is Step.ONCE:
                    if self.multipart:
                        raise OperationActive(
                            "a multi-part operation cannot end with a single-part call")
                    output = cast(_Producer, context).once(data)
                else:
                    output = cast(_Producer, context).final()
            if capacity is None or capacity < len(output):
                self.pending = PendingOutput(step, data, output)
                return Produced(len(output), None)
            self.pending = None
            if step is not Step.UPDATE:
                self.end()
            return Produced(len(output), output)
        except BaseException:
            self.end()
            raise
        finally:
            self._running.release()

    def run(self, call: Callable[[Any], R], *, last: bool, single: bool = False) -> R:
        """One call without output for the length protocol (an update, a verification):
        ``call`` gets the context; ``last`` calls end the operation, errors always do."""
        self._enter()
        try:
            self._settle(None, b"")
            if single and self.multipart:
                raise OperationActive("a multi-part operation cannot end with a single-part call")
            if not last:
                self.multipart = True
            result = call(self.context)
            if last:
                self.end()
            return result
        except BaseException:
            self.end()
            raise
        finally:
            self._running.release()
