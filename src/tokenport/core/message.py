"""Message-based operations (PKCS #11 v3.0 base specification s5.13-5.15: C_MessageEncryptInit
.. C_MessageVerifyFinal) as a service over CoreState.

AEAD (MESSAGE_ENCRYPT / MESSAGE_DECRYPT): the operation's context is the mechanism's
MessageAead (tokenport.mechanisms.aead: per-message parameters, IV generation and the counter
state). Ciphertext and plaintext are as long as their input, so the s5.2 length protocol
needs no kept result: a length query does nothing else. A message in parts (Begin, Next ..)
is buffered and done at the part flagged CKF_END_OF_MESSAGE, which produces all the output,
the tag and (encryption) the IV used.

Signatures (MESSAGE_SIGN / MESSAGE_VERIFY):
A message-based operation is started once with a mechanism and a key and then signs (or
verifies) any number of messages, each one signature with the same key, until its Final call.
It lives in its own operation slot (OpKind.MESSAGE_SIGN / MESSAGE_VERIFY), so a session can
run an ordinary sign operation beside it. Each message is a *detached* Operation (not in the
session's slots) built from the same factory as C_SignInit's: the s5.2 length protocol, the
one-call-at-a-time rule and the multi-part rules are Operation's. A message is either one call
(C_SignMessage / C_VerifyMessage) or Begin, Next .. with the last Next producing or checking
the signature.

Errors: a failed call ends the message it belongs to, never the message-based operation,
which stays active until its Final call (or C_SessionCancel, or the session's end); another
message can be started at once. An operation another thread's call is running answers
CKR_OPERATION_ACTIVE. No mechanism of tokenport's takes a per-message parameter for signing:
the ABI refuses one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

from tokenport.ck import CKA, CKF
from tokenport.core.crypto_calls import KEY_USE, REAUTHENTICATED, find_key
from tokenport.core.operation import Operation, OperationContext, OpKind, Produced, Step
from tokenport.errors import (
    DataLenRange,
    MechanismInvalid,
    MechanismParamInvalid,
    OperationActive,
    OperationNotInitialized,
)
from tokenport.mechanisms.base import MAX_DATA_LEN, MechanismSpec, MessageAead, Sealed
from tokenport.mechanisms.params import Mechanism, MessageParams

if TYPE_CHECKING:
    from tokenport.core.session import Session
    from tokenport.core.state import CoreState

R = TypeVar("R")

MESSAGE_OF: dict[OpKind, OpKind] = {
    OpKind.MESSAGE_SIGN: OpKind.SIGN,
    OpKind.MESSAGE_VERIFY: OpKind.VERIFY,
    OpKind.MESSAGE_ENCRYPT: OpKind.ENCRYPT,
    OpKind.MESSAGE_DECRYPT: OpKind.DECRYPT,
}
"""Each message-based kind and the ordinary kind whose factory, key classes and usage
attribute it uses."""


def message_flags(spec: MechanismSpec) -> int:
    """The CKF_MESSAGE_* flags C_GetMechanismInfo adds to a mechanism's own (v3.0 s3.5
    CK_MECHANISM_INFO): every mechanism that signs or verifies can do so message by
    message (MessageCalls uses the same factories), and the AEAD mechanisms of MESSAGE_AEAD
encrypt and decrypt messages."""
    from tokenport.mechanisms.aead import MESSAGE_AEAD  # a family: loaded on first use

    flags = 0
    if spec.mechanism in MESSAGE_AEAD:
        flags |= CKF.MESSAGE_ENCRYPT | CKF.MESSAGE_DECRYPT
    if spec.sign is not None:
        flags |= CKF.MESSAGE_SIGN
    if spec.verify is not None:
        flags |= CKF.MESSAGE_VERIFY
    return int(flags)


class MessageOperation(Operation):
    """A message-based operation (see the module docstring); ``message`` is the message in
    progress (a length query of a single-part call, or a Begin .. Next sequence)."""

    __slots__ = ("aad", "final_data", "in_parts", "message", "parts", "start")

    def __init__(self, session: Session, kind: OpKind, mechanism: int,
                 restart: Callable[[], OperationContext], *, needs_login: bool = False) -> None:
        super().__init__(session, kind, mechanism, restart, needs_login=needs_login)
        self.message: Operation | None = None
        self.in_parts = False
        self.final_data: bytes | None = None
        self.parts = bytearray()  # AEAD: the message in parts so far
        self.aad = b""
        self.start: MessageParams | None = None

    def _call(self, body: Callable[[], R]) -> R:
        """Run one call of this operation: one call at a time; an error ends the message
        in progress (``body`` raised), not the operation."""
        self._enter()
        try:
            return body()
        except BaseException:
            self._forget()
            raise
        finally:
            self._running.release()

    def _forget(self) -> None:
        self.message, self.in_parts, self.final_data = None, False, None
        self.parts, self.aad, self.start = bytearray(), b"", None

    def _fresh(self) -> Operation:
        # detached: never in the session's slots, so its end() leaves them alone
        return Operation(self.session, self.kind, self.mechanism, self.restart)

    def _single(self) -> Operation:
        if self.in_parts:
            raise OperationActive("a message begun with C_*MessageBegin is in progress")
        if self.message is None:
            self.message = self._fresh()
        return self.message

    def _part(self) -> Operation:
        if not self.in_parts or self.message is None:
            raise OperationNotInitialized("no message was begun (C_*MessageBegin)")
        return self.message

    def drop_message(self) -> None:
        """End the message in progress after a call the ABI refused (not the operation)."""
        if self._running.acquire(blocking=False):
            try:
                self._forget()
            finally:
                self._running.release()

    # -- one message, one call ----------------------------------------------------------------

    def sign(self, data: bytes, capacity: int | None) -> Produced:
        """C_SignMessage: one signature, with the s5.2 length protocol."""

        def body() -> Produced:
            produced = self._single().produce(Step.ONCE, data, capacity)
            if produced.output is not None:
                self._forget()
            return produced

        return self._call(body)

    def verify(self, data: bytes, signature: bytes) -> None:
        """C_VerifyMessage: raises SignatureInvalid (or SignatureLenRange) on a bad one."""

        def body() -> None:
            message = self._single()
            self._forget()
            message.run(lambda c: c.once(data, signature), last=True, single=True)

        self._call(body)

    # -- one message, in parts ------------------------------------------------------------------

    def begin(self) -> None:
        """C_SignMessageBegin / C_VerifyMessageBegin: start a message in parts (a length
        query of a single-part call still pending is dropped)."""

        def body() -> None:
            if self.in_parts:
                raise OperationActive("a message begun with C_*MessageBegin is in progress")
            self.message, self.in_parts, self.final_data = self._fresh(), True, None

        self._call(body)

    def update(self, data: bytes) -> None:
        """C_SignMessageNext / C_VerifyMessageNext that is not the last part."""

        def body() -> None:
            message = self._part()
            if self.final_data is not None:
                raise OperationActive("the pending signature must be collected first")
            message.run(lambda c: c.update(data), last=False)

        self._call(body)

    def sign_last(self, data: bytes, capacity: int | None) -> Produced:
        """The last C_SignMessageNext: its data, then the signature (s5.2 length protocol:
        a length query keeps the signature for the same call with the same data)."""

        def body() -> Produced:
            message = self._part()
            if self.final_data is None:
                message.run(lambda c: c.update(data), last=False)
                self.final_data = data
            elif self.final_data != data:
                raise OperationActive("the pending signature must be collected by the same call")
            produced = message.produce(Step.FINAL, b"", capacity)
            if produced.output is not None:
                self._forget()
            return produced

        return self._call(body)

    def verify_last(self, data: bytes, signature: bytes) -> None:
        """The last C_VerifyMessageNext: its data, then the signature check."""

        def body() -> None:
            message = self._part()
            self._forget()
            message.run(lambda c: c.update(data), last=False)
            message.run(lambda c: c.final(signature), last=True)

        self._call(body)

    # -- AEAD (MESSAGE_ENCRYPT / MESSAGE_DECRYPT) ----------------------------------------------

    def _aead(self) -> MessageAead:
        return cast(MessageAead, self.context)

    def _crypt(self, params: MessageParams, aad: bytes, data: bytes) -> tuple[bytes, Sealed]:
        if self.kind is OpKind.MESSAGE_ENCRYPT:
            sealed = self._aead().encrypt(params, aad, data)
            return sealed.ciphertext, sealed
        plain = self._aead().decrypt(params, aad, data)
        return plain, Sealed(plain, params.nonce, params.tag)

    def crypt(self, params: MessageParams, aad: bytes, data: bytes,
              capacity: int | None) -> tuple[Produced, Sealed | None]:
        """C_EncryptMessage / C_DecryptMessage: the output, and (encryption) the IV used and
        the tag; a length query (no or too small a buffer) only measures."""

        def body() -> tuple[Produced, Sealed | None]:
            if self.in_parts:
                raise OperationActive("a message begun with C_*MessageBegin is in progress")
            if capacity is None or capacity < len(data):
                return Produced(len(data), None), None
            output, sealed = self._crypt(params, aad, data)
            return Produced(len(output), output), sealed

        return self._call(body)

    def begin_parts(self, params: MessageParams, aad: bytes) -> None:
        """C_EncryptMessageBegin / C_DecryptMessageBegin: the message's parameter and
        associated data; its parts follow."""

        def body() -> None:
            if self.in_parts:
                raise OperationActive("a message begun with C_*MessageBegin is in progress")
            self._forget()
            self.in_parts, self.start, self.aad = True, params, aad

        self._call(body)

    def crypt_part(self, params: MessageParams, data: bytes, capacity: int | None,
                   last: bool) -> tuple[Produced, Sealed | None]:
        """C_EncryptMessageNext / C_DecryptMessageNext: a part (no output until the last);
        the last part (CKF_END_OF_MESSAGE) gives the whole output, with the s5.2 length
        protocol (a length query consumes nothing). The tag to check comes with the last
        part's parameter; the IV is the Begin one's (generated at the end, written to the last
        part's parameter, whose IV and tag lengths must be Begin's)."""

        def body() -> tuple[Produced, Sealed | None]:
            start = self.start
            if not self.in_parts or start is None:
                raise OperationNotInitialized("no message was begun (C_*MessageBegin)")
            if len(self.parts) + len(data) > MAX_DATA_LEN:
                raise DataLenRange("an AEAD message holds at most MAX_DATA_LEN bytes")
            if not last:
                self.parts += data
                return Produced(0, b""), None
            if len(params.nonce) != len(start.nonce) or params.tag_len != start.tag_len:
                raise MechanismParamInvalid("the last part's parameter differs from Begin's")
            whole = bytes(self.parts) + data
            if capacity is None or capacity < len(whole):
                return Produced(len(whole), None), None
            use = MessageParams(start.nonce, start.tag_len, start.fixed_bits, start.generator,
                                params.tag or start.tag, start.data_len)
            aad = self.aad
            self._forget()
            output, sealed = self._crypt(use, aad, whole)
            return Produced(len(output), output), sealed

        return self._call(body)

    def finish(self) -> None:
        """C_MessageSignFinal / C_MessageVerifyFinal: end the operation (and any message)."""

        def body() -> None:
            self._forget()
            self.end()

        self._call(body)


class MessageCalls:
    """C_MessageSignInit .. C_MessageVerifyFinal."""

    def __init__(self, state: CoreState) -> None:
        self._state = state

    def init(self, session: int, kind: OpKind, mechanism: Mechanism, key: int) -> None:
        """C_Message<kind>Init: the checks of the ordinary *Init (mechanism, key class and
        type, usage attribute, allowed mechanisms), then the operation in its own slot."""
        state = self._state
        current = state.session(session)
        if kind in current.operations:
            raise OperationActive(f"a {kind.value} operation is already active")
        plain = MESSAGE_OF[kind]
        spec = state.registry.get(mechanism.type)
        factory: Any = None if spec is None else getattr(spec, plain.value)
        aead = kind in (OpKind.MESSAGE_ENCRYPT, OpKind.MESSAGE_DECRYPT)
        if aead:
            from tokenport.mechanisms.aead import MESSAGE_AEAD  # a family: loaded on first use

            factory = MESSAGE_AEAD.get(mechanism.type) if factory is not None else None
        if spec is None or factory is None:
            raise MechanismInvalid(f"mechanism 0x{mechanism.type:x} cannot {kind.value}")
        classes, usage = KEY_USE[plain]
        with state.lock:
            obj = find_key(state, current, key, spec, classes, usage)
        view = state.view(current, obj)
        needs_login = plain in REAUTHENTICATED and obj.attrs.get(CKA.ALWAYS_AUTHENTICATE) is True
        restart: Callable[[], OperationContext]
        restart = partial(factory, state.mechanism_context(current.token), view, mechanism.param)
        if aead:  # one MessageAead for the whole operation: it keeps the IV counter
            context = restart()
            restart = cast(Callable[[], OperationContext], lambda: context)
        operation = MessageOperation(current, kind, mechanism.type, restart,
                                     needs_login=needs_login)
        if current.operations.setdefault(kind, operation) is not operation:  # atomic
            raise OperationActive(f"a {kind.value} operation is already active")

    def operation(self, session: int, kind: OpKind) -> MessageOperation:
        """The session's active message-based ``kind`` operation."""
        operation = self._state.session(session).operation(kind)
        assert isinstance(operation, MessageOperation)
        return operation

    def drop_message(self, session: int, kind: OpKind) -> None:
        """After a call the ABI refused: end the message in progress. Never raises."""
        current = self._state.sessions.get(session)
        if current is not None:
            operation = current.operations.get(kind)
            if isinstance(operation, MessageOperation):
                operation.drop_message()
