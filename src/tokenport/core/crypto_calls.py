"""Cryptographic operations (PKCS #11 v2.40 s5.8-5.12) as a service over CoreState.

Every operation starts with *Init, which checks mechanism, key and usage in the spec's order
(under the state lock: the key is shared state) and asks the mechanism for a context; the
calls that follow find the session's ``Operation`` (tokenport.core.operation) and run it with
no state lock held, so that calls on different sessions run in parallel and the crypto
library can release the GIL. The Operation implements the s5.2 length protocol and ends
itself on errors.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from tokenport.ck import CKA, CKK, CKO
from tokenport.core.operation import Operation, OperationContext, OpKind, Produced, Step
from tokenport.core.session import Session
from tokenport.core.state import CoreState
from tokenport.errors import (
    KeyFunctionNotPermitted,
    KeyHandleInvalid,
    KeyIndigestible,
    KeyTypeInconsistent,
    MechanismInvalid,
    ObjectHandleInvalid,
    OperationActive,
    PKCS11Error,
)
from tokenport.mechanisms.base import MechanismSpec
from tokenport.mechanisms.params import Mechanism
from tokenport.objects.model import TokenObject

UNLIMITED = 1 << 62
"""A capacity no output reaches: the Python API takes whole results."""

_NAME: dict[OpKind, str] = {kind: kind.value for kind in OpKind}
"""Each kind's name, which is also the MechanismSpec field of its context factory."""

PRIVATE_SIDE = frozenset({int(CKO.PRIVATE_KEY), int(CKO.SECRET_KEY)})
PUBLIC_SIDE = frozenset({int(CKO.PUBLIC_KEY), int(CKO.SECRET_KEY)})

# operation kind -> (key classes allowed, usage attribute)
KEY_USE: dict[OpKind, tuple[frozenset[int], int]] = {
    OpKind.ENCRYPT: (PUBLIC_SIDE, int(CKA.ENCRYPT)),
    OpKind.DECRYPT: (PRIVATE_SIDE, int(CKA.DECRYPT)),
    OpKind.SIGN: (PRIVATE_SIDE, int(CKA.SIGN)),
    OpKind.VERIFY: (PUBLIC_SIDE, int(CKA.VERIFY)),
}
REAUTHENTICATED = frozenset({OpKind.SIGN, OpKind.DECRYPT})
"""Operations that a CKA_ALWAYS_AUTHENTICATE key allows only after a context-specific
login (s4.9 table 32: "the user has to supply the PIN for each use (sign or decrypt)")."""
GENERIC_SECRET_TYPES = frozenset(
    int(k) for k in (CKK.GENERIC_SECRET, CKK.SHA_1_HMAC, CKK.SHA224_HMAC, CKK.SHA256_HMAC,
                     CKK.SHA384_HMAC, CKK.SHA512_HMAC, CKK.SHA512_224_HMAC,
                     CKK.SHA512_256_HMAC, CKK.SHA3_224_HMAC, CKK.SHA3_256_HMAC,
                     CKK.SHA3_384_HMAC, CKK.SHA3_512_HMAC, CKK.HKDF)
)


def find_spec(state: CoreState, mechanism: Mechanism, operation: str) -> MechanismSpec:
    """The registered mechanism, if it can do ``operation`` (else CKR_MECHANISM_INVALID)."""
    spec = state.registry.get(mechanism.type)
    if spec is None or getattr(spec, operation) is None:
        raise MechanismInvalid(f"mechanism 0x{mechanism.type:x} cannot {operation}")
    return spec


def find_key(
    state: CoreState, session: Session, handle: int, spec: MechanismSpec,
    classes: frozenset[int], usage: int, invalid: type[PKCS11Error] = KeyHandleInvalid,
    inconsistent: type[PKCS11Error] = KeyTypeInconsistent,
) -> TokenObject:
    """The key for an operation, checked in the order of s5.1: handle, type, usage.
    Call with the state lock held."""
    try:
        key = state.object(session, handle)
    except ObjectHandleInvalid:
        raise invalid() from None
    if key.object_class not in classes:
        raise inconsistent("the key's class does not fit the operation")
    if spec.key_types and key.attrs.get(CKA.KEY_TYPE) not in spec.key_types:
        raise inconsistent("the key's type does not fit the mechanism")
    if key.attrs.get(usage) is not True:
        raise KeyFunctionNotPermitted(f"the key does not allow this use (0x{usage:x})")
    allowed = key.attrs.get(CKA.ALLOWED_MECHANISMS)
    if allowed and spec.mechanism not in allowed:  # type: ignore[operator]
        raise MechanismInvalid("the key does not allow this mechanism")
    return key


class CryptoCalls:
    """C_EncryptInit .. C_VerifyFinal, C_Digest*."""

    def __init__(self, state: CoreState) -> None:
        self._state = state

    # -- starting and ending ------------------------------------------------------------------

    def start(self, session: int, kind: OpKind, mechanism: Mechanism, key: int | None) -> None:
        """C_<kind>Init: check mechanism and key (none for digests), then start the operation.

        Only the key lookup takes the state lock (the key is shared state); the context (a
        loaded key, a hash) is built without it.
        """
        state = self._state
        current = state.session(session)
        if kind in current.operations:
            raise OperationActive(f"a {_NAME[kind]} operation is already active")
        spec = state.registry.get(mechanism.type)
        factory: Any = None if spec is None else getattr(spec, _NAME[kind])
        if factory is None:
            raise MechanismInvalid(f"mechanism 0x{mechanism.type:x} cannot {_NAME[kind]}")
        mech_context = state.mechanism_context(current.token)
        needs_login = False
        restart: Callable[[], OperationContext]
        if key is None:
            restart = partial(factory, mech_context, mechanism.param)
        else:
            classes, usage = KEY_USE[kind]
            with state.lock:
                obj = find_key(state, current, key, spec, classes, usage)  # type: ignore[arg-type]
            view = state.view(current, obj)
            needs_login = kind in REAUTHENTICATED and obj.attrs.get(CKA.ALWAYS_AUTHENTICATE) is True
            restart = partial(factory, mech_context, view, mechanism.param)
        operation = Operation(current, kind, mechanism.type, restart, needs_login=needs_login)
        if current.operations.setdefault(kind, operation) is not operation:  # atomic
            raise OperationActive(f"a {_NAME[kind]} operation is already active")

    def operation(self, session: int, kind: OpKind) -> Operation:
        """The session's active ``kind`` operation."""
        return self._state.session(session).operation(kind)

    def produce(
        self, session: int, kind: OpKind, step: Step, data: bytes, capacity: int | None
    ) -> Produced:
        """One output-producing call (Operation.produce: the s5.2 length protocol)."""
        return self._state.session(session).operation(kind).produce(step, data, capacity)

    def abort(self, session: int, kind: OpKind) -> None:
        """End the active ``kind`` operation of ``session``, if any: for a call the C ABI
        refused before it reached the core (s5.2). Never raises."""
        current = self._state.sessions.get(session)
        if current is not None:
            operation = current.operations.get(kind)
            if operation is not None:
                operation.abort()

    def _whole(self, session: int, kind: OpKind, step: Step, data: bytes = b"") -> bytes:
        output = self.produce(session, kind, step, data, UNLIMITED).output
        assert output is not None
        return output

    # -- s5.8 / s5.9 encryption and decryption -------------------------------------------------

    def encrypt_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self.start(session, OpKind.ENCRYPT, mechanism, key)

    def encrypt(self, session: int, data: bytes) -> bytes:
        return self._whole(session, OpKind.ENCRYPT, Step.ONCE, data)

    def encrypt_update(self, session: int, data: bytes) -> bytes:
        return self._whole(session, OpKind.ENCRYPT, Step.UPDATE, data)

    def encrypt_final(self, session: int) -> bytes:
        return self._whole(session, OpKind.ENCRYPT, Step.FINAL)

    def decrypt_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self.start(session, OpKind.DECRYPT, mechanism, key)

    def decrypt(self, session: int, data: bytes) -> bytes:
        return self._whole(session, OpKind.DECRYPT, Step.ONCE, data)

    def decrypt_update(self, session: int, data: bytes) -> bytes:
        return self._whole(session, OpKind.DECRYPT, Step.UPDATE, data)

    def decrypt_final(self, session: int) -> bytes:
        return self._whole(session, OpKind.DECRYPT, Step.FINAL)

    # -- s5.10 digests ---------------------------------------------------------------------

    def digest_init(self, session: int, mechanism: Mechanism) -> None:
        self.start(session, OpKind.DIGEST, mechanism, None)

    def digest(self, session: int, data: bytes) -> bytes:
        return self._whole(session, OpKind.DIGEST, Step.ONCE, data)

    def digest_update(self, session: int, data: bytes) -> None:
        self.operation(session, OpKind.DIGEST).run(lambda c: c.update(data), last=False)

    def digest_key(self, session: int, key: int) -> None:
        """C_DigestKey: feed a secret key's value into the active digest."""
        state = self._state
        current = state.session(session)
        operation = current.operation(OpKind.DIGEST)

        def feed(context: Any) -> None:
            with state.lock:
                try:
                    obj = state.object(current, key)
                except ObjectHandleInvalid:
                    raise KeyHandleInvalid() from None
                if obj.object_class != CKO.SECRET_KEY:
                    raise KeyIndigestible("only secret keys can be digested")
                value = state.view(current, obj).require(CKA.VALUE)
            context.update(value)

        operation.run(feed, last=False)

    def digest_final(self, session: int) -> bytes:
        return self._whole(session, OpKind.DIGEST, Step.FINAL)

    # -- s5.11 / s5.12 signatures and MACs ----------------------------------------------------

    def sign_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self.start(session, OpKind.SIGN, mechanism, key)

    def sign(self, session: int, data: bytes) -> bytes:
        return self._whole(session, OpKind.SIGN, Step.ONCE, data)

    def sign_update(self, session: int, data: bytes) -> None:
        self.operation(session, OpKind.SIGN).run(lambda c: c.update(data), last=False)

    def sign_final(self, session: int) -> bytes:
        return self._whole(session, OpKind.SIGN, Step.FINAL)

    def verify_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self.start(session, OpKind.VERIFY, mechanism, key)

    def verify(self, session: int, data: bytes, signature: bytes) -> None:
        self.operation(session, OpKind.VERIFY).run(
            lambda c: c.once(data, signature), last=True, single=True)

    def verify_update(self, session: int, data: bytes) -> None:
        self.operation(session, OpKind.VERIFY).run(lambda c: c.update(data), last=False)

    def verify_final(self, session: int, signature: bytes) -> None:
        self.operation(session, OpKind.VERIFY).run(lambda c: c.final(signature), last=True)
