"""Cryptographic calls (PKCS #11 v2.40 s5.8-5.15): operations, key management, random.

Every operation starts with *Init, which checks mechanism, key and usage in the spec's
order and asks the mechanism for a context; the calls that follow run that context. Any
error other than CKR_BUFFER_TOO_SMALL (which only the C ABI produces) ends the operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from tokenport.attributes.kinds import AttrValue, Template
from tokenport.attributes.schema import schema_for
from tokenport.attributes.template import Origin, template_dict
from tokenport.ck import CKA, CKK, CKM, CKO
from tokenport.core import wrap_policy
from tokenport.core.access import check_write
from tokenport.core.session import (
    ActiveOperation,
    OperationContext,
    OpKind,
    PendingOutput,
    Produced,
    Session,
    Step,
)
from tokenport.core.state import ModuleState, synchronized
from tokenport.errors import (
    KeyFunctionNotPermitted,
    KeyHandleInvalid,
    KeyIndigestible,
    KeyNotWrappable,
    KeyTypeInconsistent,
    KeyUnextractable,
    MechanismInvalid,
    ObjectHandleInvalid,
    OperationActive,
    OperationNotInitialized,
    PKCS11Error,
    TemplateIncomplete,
    TemplateInconsistent,
    UnwrappingKeyHandleInvalid,
    UnwrappingKeyTypeInconsistent,
    UserNotLoggedIn,
    WrappingKeyHandleInvalid,
    WrappingKeyTypeInconsistent,
)
from tokenport.mechanisms.base import (
    CipherContext,
    DigestContext,
    MechanismSpec,
    SignContext,
    VerifyContext,
)
from tokenport.mechanisms.params import Mechanism
from tokenport.objects.model import TokenObject

R = TypeVar("R")
UNLIMITED = 1 << 62
"""A capacity no output reaches: the Python API takes whole results."""


class _Producer(Protocol):
    """A context with a single-part and a final call that return output."""

    def once(self, data: bytes) -> bytes: ...
    def final(self) -> bytes: ...


def _cipher(context: object) -> CipherContext:
    return cast(CipherContext, context)


def _digest(context: object) -> DigestContext:
    return cast(DigestContext, context)


def _signer(context: object) -> SignContext:
    return cast(SignContext, context)


def _verifier(context: object) -> VerifyContext:
    return cast(VerifyContext, context)

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
                     CKK.SHA384_HMAC, CKK.SHA512_HMAC)
)


def _refuse_unauthenticated_use(key: TokenObject) -> None:
    """C_UnwrapKey and C_DeriveKey are single calls: no context-specific login can precede
    them, and an unwrap or a derivation with a private key is a decryption by another name
    (the result can be an extractable key). A CKA_ALWAYS_AUTHENTICATE key does neither."""
    if key.attrs.get(CKA.ALWAYS_AUTHENTICATE) is True:
        raise KeyFunctionNotPermitted(
            "a CKA_ALWAYS_AUTHENTICATE key is used only by operations with a context-specific"
            " login (C_SignInit, C_DecryptInit)"
        )


class CryptoCalls(ModuleState):
    """C_EncryptInit .. C_GenerateRandom."""

    # -- shared machinery -----------------------------------------------------------------

    def _spec(self, mechanism: Mechanism, operation: str) -> MechanismSpec:
        spec = self._registry.get(mechanism.type)
        if spec is None or getattr(spec, operation) is None:
            raise MechanismInvalid(f"mechanism 0x{mechanism.type:x} cannot {operation}")
        return spec

    def _key(
        self, session: Session, handle: int, spec: MechanismSpec, classes: frozenset[int],
        usage: int, invalid: type[PKCS11Error] = KeyHandleInvalid,
        inconsistent: type[PKCS11Error] = KeyTypeInconsistent,
    ) -> TokenObject:
        """The key for an operation, checked in the order of s5.1: handle, type, usage."""
        try:
            key = self._object(session, handle)
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

    def _init(self, session: int, kind: OpKind, mechanism: Mechanism, key: int) -> None:
        current = self._session(session)
        if kind in current.operations:
            raise OperationActive(f"a {kind.value} operation is already active")
        spec = self._spec(mechanism, kind.value)
        classes, usage = KEY_USE[kind]
        obj = self._key(current, key, spec, classes, usage)
        factory = getattr(spec, kind.value)
        mech_context = self._mechanism_context(current.token)
        view = self._view(current, obj)
        param = mechanism.param

        def restart() -> OperationContext:
            return cast(OperationContext, factory(mech_context, view, param))

        needs_login = kind in REAUTHENTICATED and obj.attrs.get(CKA.ALWAYS_AUTHENTICATE) is True
        current.operations[kind] = ActiveOperation(
            mechanism.type, restart(), restart, needs_login=needs_login
        )

    def _operation(self, current: Session, kind: OpKind) -> ActiveOperation:
        operation = current.operations.get(kind)
        if operation is None:
            raise OperationNotInitialized(f"no {kind.value} operation is active")
        if operation.needs_login:
            raise UserNotLoggedIn("the key needs C_Login(CKU_CONTEXT_SPECIFIC) for this operation")
        return operation

    @staticmethod
    def _settle(operation: ActiveOperation, step: Step | None, data: bytes) -> bytes | None:
        """Apply a kept length-query result (s5.2) before ``step`` runs with ``data``: the
        result itself for the same step and input; otherwise the context goes back to its
        Init state (nothing was handed out), which a finished multi-part context cannot."""
        pending = operation.pending
        if pending is None:
            return None
        if pending.step is step and pending.data == data:
            return pending.output
        if operation.multipart or operation.restart is None:
            raise OperationActive("the pending final result must be collected by the same call")
        operation.pending = None
        operation.context = operation.restart()
        return None

    def _run(self, session: int, kind: OpKind, step: Callable[[Any], R], *, last: bool,
             single: bool = False) -> R:
        """Run one step without output for the length protocol (updates, verification);
        errors and final steps end the operation."""
        current = self._session(session)
        try:
            operation = self._operation(current, kind)
            self._settle(operation, None, b"")
            if single and operation.multipart:
                raise OperationActive("a multi-part operation cannot end with a single-part call")
            if not last:
                operation.multipart = True
            result = step(operation.context)
        except BaseException:
            current.operations.pop(kind, None)
            raise
        if last:
            current.operations.pop(kind, None)
        return result

    @synchronized
    def produce(
        self, session: int, kind: OpKind, step: Step, data: bytes, capacity: int | None
    ) -> Produced:
        """One output-producing call with the s5.2 length protocol: ``capacity`` is the
        caller's buffer size (None: no buffer, a length query).

        A single-part or final result that does not fit is computed once and kept for the
        same call with the same input; an update is measured without consuming its input.
        The operation stays active until its output is handed out; any error ends it.
        """
        current = self._session(session)
        try:
            operation = self._operation(current, kind)
            output = self._settle(operation, step, data)
            if output is None:
                if step is Step.ONCE and operation.multipart:
                    raise OperationActive("a multi-part operation cannot end with a single-part call")
                context = operation.context
                if step is Step.UPDATE:
                    length = _cipher(context).update_length(len(data))
                    if capacity is None or capacity < length:
                        return Produced(length, None)
                    operation.multipart = True
                    output = _cipher(context).update(data)
                elif step is Step.ONCE:
                    output = cast(_Producer, context).once(data)
                else:
                    output = cast(_Producer, context).final()
            if capacity is None or capacity < len(output):
                operation.pending = PendingOutput(step, data, output)
                return Produced(len(output), None)
        except BaseException:
            current.operations.pop(kind, None)
            raise
        operation.pending = None
        if step is not Step.UPDATE:
            current.operations.pop(kind, None)
        return Produced(len(output), output)

    def _whole(self, session: int, kind: OpKind, step: Step, data: bytes = b"") -> bytes:
        output = self.produce(session, kind, step, data, UNLIMITED).output
        assert output is not None
        return output

    @synchronized
    def end_operation(self, session: int, kind: str) -> None:
        """End the active ``kind`` operation ("encrypt", "sign", ...) of ``session``, if any:
        for a call the C ABI refused before it reached the core (s5.2). Never raises."""
        current = self._sessions.get(session)
        if current is not None:
            current.operations.pop(OpKind(kind), None)

    # -- s5.8 / s5.9 encryption and decryption -------------------------------------------------

    @synchronized
    def encrypt_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self._init(session, OpKind.ENCRYPT, mechanism, key)

    def encrypt(self, session: int, data: bytes) -> bytes:
        return self._whole(session, OpKind.ENCRYPT, Step.ONCE, data)

    def encrypt_update(self, session: int, data: bytes) -> bytes:
        return self._whole(session, OpKind.ENCRYPT, Step.UPDATE, data)

    def encrypt_final(self, session: int) -> bytes:
        return self._whole(session, OpKind.ENCRYPT, Step.FINAL)

    @synchronized
    def decrypt_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self._init(session, OpKind.DECRYPT, mechanism, key)

    def decrypt(self, session: int, data: bytes) -> bytes:
        return self._whole(session, OpKind.DECRYPT, Step.ONCE, data)

    def decrypt_update(self, session: int, data: bytes) -> bytes:
        return self._whole(session, OpKind.DECRYPT, Step.UPDATE, data)

    def decrypt_final(self, session: int) -> bytes:
        return self._whole(session, OpKind.DECRYPT, Step.FINAL)

    # -- s5.10 digests ---------------------------------------------------------------------

    @synchronized
    def digest_init(self, session: int, mechanism: Mechanism) -> None:
        current = self._session(session)
        if OpKind.DIGEST in current.operations:
            raise OperationActive("a digest operation is already active")
        spec = self._spec(mechanism, "digest")
        factory = spec.digest
        assert factory is not None
        mech_context = self._mechanism_context(current.token)
        param = mechanism.param

        def restart() -> OperationContext:
            return factory(mech_context, param)

        current.operations[OpKind.DIGEST] = ActiveOperation(mechanism.type, restart(), restart)

    def digest(self, session: int, data: bytes) -> bytes:
        return self._whole(session, OpKind.DIGEST, Step.ONCE, data)

    @synchronized
    def digest_update(self, session: int, data: bytes) -> None:
        self._run(session, OpKind.DIGEST, lambda c: _digest(c).update(data), last=False)

    @synchronized
    def digest_key(self, session: int, key: int) -> None:
        """C_DigestKey: feed a secret key's value into the active digest."""
        current = self._session(session)
        if OpKind.DIGEST not in current.operations:
            raise OperationNotInitialized("no digest operation is active")

        def feed(context: Any) -> None:
            try:
                obj = self._object(current, key)
            except ObjectHandleInvalid:
                raise KeyHandleInvalid() from None
            if obj.object_class != CKO.SECRET_KEY:
                raise KeyIndigestible("only secret keys can be digested")
            context.update(self._view(current, obj).require(CKA.VALUE))

        self._run(session, OpKind.DIGEST, feed, last=False)

    def digest_final(self, session: int) -> bytes:
        return self._whole(session, OpKind.DIGEST, Step.FINAL)

    # -- s5.11 / s5.12 signatures and MACs ----------------------------------------------------

    @synchronized
    def sign_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self._init(session, OpKind.SIGN, mechanism, key)

    def sign(self, session: int, data: bytes) -> bytes:
        return self._whole(session, OpKind.SIGN, Step.ONCE, data)

    @synchronized
    def sign_update(self, session: int, data: bytes) -> None:
        self._run(session, OpKind.SIGN, lambda c: _signer(c).update(data), last=False)

    def sign_final(self, session: int) -> bytes:
        return self._whole(session, OpKind.SIGN, Step.FINAL)

    @synchronized
    def verify_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self._init(session, OpKind.VERIFY, mechanism, key)

    @synchronized
    def verify(self, session: int, data: bytes, signature: bytes) -> None:
        self._run(session, OpKind.VERIFY, lambda c: _verifier(c).once(data, signature), last=True, single=True)

    @synchronized
    def verify_update(self, session: int, data: bytes) -> None:
        self._run(session, OpKind.VERIFY, lambda c: _verifier(c).update(data), last=False)

    @synchronized
    def verify_final(self, session: int, signature: bytes) -> None:
        self._run(session, OpKind.VERIFY, lambda c: _verifier(c).final(signature), last=True)

    # -- s5.14 key management ----------------------------------------------------------------

    def _access_of(self, session: Session, template: dict[int, AttrValue], object_class: int,
                   key_type: int) -> None:
        schema = schema_for(object_class, key_type)
        default_private = schema is not None and schema.rules[CKA.PRIVATE].default is True
        private = template.get(CKA.PRIVATE, default_private) is True
        check_write(session.state, template.get(CKA.TOKEN) is True, private)

    def _store_new(self, session: Session, obj: TokenObject) -> int:
        if not obj.is_token:
            obj.owner_session = session.handle
        session.token.objects.add(obj)
        return self._handle(session.token, obj)

    @synchronized
    def generate_key(self, session: int, mechanism: Mechanism, template: Template) -> int:
        """C_GenerateKey (s5.14): a new secret key."""
        current = self._session(session)
        spec = self._spec(mechanism, "generate_key")
        assert spec.generate_key is not None and spec.generated_key_type is not None
        wanted = template_dict(template)
        key_type = spec.generated_key_type
        asked = wanted.get(CKA.KEY_TYPE)
        if mechanism.type == CKM.GENERIC_SECRET_KEY_GEN and asked in GENERIC_SECRET_TYPES:
            assert isinstance(asked, int)
            key_type = asked
        fixed: dict[int, AttrValue] = {CKA.CLASS: int(CKO.SECRET_KEY), CKA.KEY_TYPE: key_type}
        is_so = self._is_so(current)
        schema = self._factory.prepare(Origin.GENERATE, wanted, fixed, is_so=is_so)
        self._access_of(current, wanted, CKO.SECRET_KEY, key_type)
        material = spec.generate_key(
            self._mechanism_context(current.token), mechanism.param, wanted
        )
        obj = self._factory.build(
            schema, Origin.GENERATE, wanted, {**fixed, **material}, is_so=is_so,
            mechanism=mechanism.type,
        )
        return self._store_new(current, obj)

    @synchronized
    def generate_key_pair(
        self, session: int, mechanism: Mechanism, public_template: Template,
        private_template: Template,
    ) -> tuple[int, int]:
        """C_GenerateKeyPair (s5.14): a public/private key pair; the private key is stored
        first, and removed again if storing the public key fails."""
        current = self._session(session)
        spec = self._spec(mechanism, "generate_key_pair")
        assert spec.generate_key_pair is not None and spec.generated_key_type is not None
        key_type = spec.generated_key_type
        pub_t, priv_t = template_dict(public_template), template_dict(private_template)
        pub_fixed: dict[int, AttrValue] = {CKA.CLASS: int(CKO.PUBLIC_KEY), CKA.KEY_TYPE: key_type}
        priv_fixed: dict[int, AttrValue] = {CKA.CLASS: int(CKO.PRIVATE_KEY), CKA.KEY_TYPE: key_type}
        tolerated = dict(priv_fixed)
        if CKA.EC_PARAMS in pub_t:
            tolerated[CKA.EC_PARAMS] = pub_t[CKA.EC_PARAMS]
        is_so = self._is_so(current)
        pub_schema = self._factory.prepare(Origin.GENERATE, pub_t, pub_fixed, is_so=is_so)
        priv_schema = self._factory.prepare(Origin.GENERATE, priv_t, tolerated, is_so=is_so)
        self._access_of(current, pub_t, CKO.PUBLIC_KEY, key_type)
        self._access_of(current, priv_t, CKO.PRIVATE_KEY, key_type)
        pub_material, priv_material = spec.generate_key_pair(
            self._mechanism_context(current.token), mechanism.param, pub_t, priv_t
        )
        public = self._factory.build(
            pub_schema, Origin.GENERATE, pub_t, {**pub_fixed, **pub_material}, is_so=is_so,
            mechanism=mechanism.type,
        )
        private = self._factory.build(
            priv_schema, Origin.GENERATE, priv_t, {**priv_fixed, **priv_material}, is_so=is_so,
            mechanism=mechanism.type,
        )
        private_handle = self._store_new(current, private)
        try:
            public_handle = self._store_new(current, public)
        except BaseException:
            current.token.objects.remove(private)
            self._handles.forget(current.token.serial, private.uid)
            raise
        return public_handle, private_handle

    @synchronized
    def wrap_key(self, session: int, mechanism: Mechanism, wrapping_key: int, key: int) -> bytes:
        """C_WrapKey (s5.14): secret keys as their value, private keys as PKCS #8."""
        from tokenport.mechanisms.keyformats import encode_private_key_pkcs8

        current = self._session(session)
        spec = self._spec(mechanism, "wrap")
        assert spec.wrap is not None
        wrapper = self._key(
            current, wrapping_key, spec, PUBLIC_SIDE, int(CKA.WRAP),
            WrappingKeyHandleInvalid, WrappingKeyTypeInconsistent,
        )
        try:
            target = self._object(current, key)
        except ObjectHandleInvalid:
            raise KeyHandleInvalid() from None
        if target.attrs.get(CKA.EXTRACTABLE) is not True:
            raise KeyUnextractable("the key is not extractable")
        if target.attrs.get(CKA.WRAP_WITH_TRUSTED) is True and wrapper.attrs.get(CKA.TRUSTED) is not True:
            raise KeyNotWrappable("the key may only be wrapped with a trusted key")
        if target.attrs.get(CKA.SENSITIVE) is True and not self._config.allow_wrap_with_decrypt_key:
            wrap_policy.check_wrap(
                wrapper, self._keys_of(current, CKO.SECRET_KEY),
                self._keys_of(current, CKO.PRIVATE_KEY), self._value_of(current),
            )
        view = self._view(current, target)
        if target.object_class == CKO.SECRET_KEY:
            encoded = view.require(CKA.VALUE)
            assert isinstance(encoded, bytes)
        elif target.object_class == CKO.PRIVATE_KEY:
            encoded = encode_private_key_pkcs8(self._crypto, view)
        else:
            raise KeyNotWrappable("only secret and private keys can be wrapped")
        return spec.wrap(
            self._mechanism_context(current.token), self._view(current, wrapper),
            mechanism.param, encoded,
        )

    def _keys_of(self, session: Session, object_class: int) -> list[TokenObject]:
        return list(session.token.objects.candidates({int(CKA.CLASS): object_class}))

    def _value_of(self, session: Session) -> Callable[[TokenObject], AttrValue | None]:
        return lambda obj: self._view(session, obj).get(CKA.VALUE)

    @synchronized
    def unwrap_key(
        self, session: int, mechanism: Mechanism, unwrapping_key: int, wrapped_key: bytes,
        template: Template,
    ) -> int:
        """C_UnwrapKey (s5.14): a secret key from its value or a private key from PKCS #8."""
        from tokenport.mechanisms.keyformats import decode_private_key_pkcs8

        current = self._session(session)
        spec = self._spec(mechanism, "unwrap")
        assert spec.unwrap is not None
        unwrapper = self._key(
            current, unwrapping_key, spec, PRIVATE_SIDE, int(CKA.UNWRAP),
            UnwrappingKeyHandleInvalid, UnwrappingKeyTypeInconsistent,
        )
        _refuse_unauthenticated_use(unwrapper)
        wanted = template_dict(template)
        if not self._config.allow_wrap_with_decrypt_key:
            wrap_policy.check_unwrap(
                unwrapper, wanted, self._keys_of(current, CKO.SECRET_KEY), self._value_of(current)
            )
        object_class = wanted.get(CKA.CLASS)
        if not isinstance(object_class, int):
            raise TemplateIncomplete("CKA_CLASS is missing")
        is_so = self._is_so(current)
        plain = spec.unwrap(
            self._mechanism_context(current.token), self._view(current, unwrapper),
            mechanism.param, wrapped_key,
        )
        material: dict[int, AttrValue]
        if object_class == CKO.SECRET_KEY:
            if CKA.KEY_TYPE not in wanted:
                raise TemplateIncomplete("CKA_KEY_TYPE is missing")
            length = wanted.get(CKA.VALUE_LEN)
            if length is not None and length != len(plain):
                raise TemplateInconsistent("CKA_VALUE_LEN does not match the unwrapped key")
            key_type = wanted[CKA.KEY_TYPE]
            material = {CKA.VALUE: plain}
        elif object_class == CKO.PRIVATE_KEY:
            key_type, material = decode_private_key_pkcs8(self._crypto, plain)
        else:
            raise TemplateInconsistent("only secret and private keys can be unwrapped")
        assert isinstance(key_type, int)
        fixed: dict[int, AttrValue] = {CKA.CLASS: object_class, CKA.KEY_TYPE: key_type}
        schema = self._factory.prepare(Origin.UNWRAP, wanted, fixed, is_so=is_so)
        self._access_of(current, wanted, object_class, key_type)
        obj = self._factory.build(schema, Origin.UNWRAP, wanted, {**fixed, **material}, is_so=is_so)
        return self._store_new(current, obj)

    @synchronized
    def derive_key(self, session: int, mechanism: Mechanism, base_key: int, template: Template) -> int:
        """C_DeriveKey (s5.14): a secret key from the mechanism's output (CKA_VALUE_LEN bytes
        when given; the mechanism truncates as its specification says)."""
        current = self._session(session)
        spec = self._spec(mechanism, "derive")
        assert spec.derive is not None
        base = self._key(current, base_key, spec, PRIVATE_SIDE, int(CKA.DERIVE))
        _refuse_unauthenticated_use(base)
        wanted = template_dict(template)
        key_type = wanted.get(CKA.KEY_TYPE, int(CKK.GENERIC_SECRET))
        assert isinstance(key_type, int)
        fixed: dict[int, AttrValue] = {CKA.CLASS: int(CKO.SECRET_KEY), CKA.KEY_TYPE: key_type}
        is_so = self._is_so(current)
        schema = self._factory.prepare(Origin.DERIVE, wanted, fixed, is_so=is_so)
        self._access_of(current, wanted, CKO.SECRET_KEY, key_type)
        length = wanted.get(CKA.VALUE_LEN)
        assert length is None or isinstance(length, int)
        secret = spec.derive(
            self._mechanism_context(current.token), self._view(current, base),
            mechanism.param, length,
        )
        if length is not None and len(secret) != length:
            raise TemplateInconsistent("the mechanism cannot derive CKA_VALUE_LEN bytes")
        material: dict[int, AttrValue] = {CKA.VALUE: secret}
        obj = self._factory.build(
            schema, Origin.DERIVE, wanted, {**fixed, **material}, is_so=is_so, base=base
        )
        return self._store_new(current, obj)

    # -- s5.15 random numbers ----------------------------------------------------------------

    @synchronized
    def seed_random(self, session: int, seed: bytes) -> None:
        self._session(session).token.random.seed(seed)

    @synchronized
    def generate_random(self, session: int, length: int) -> bytes:
        return self._session(session).token.random_bytes(length)
