"""Key management and random numbers (PKCS #11 v2.40 s5.14-5.15; C_EncapsulateKey and
C_DecapsulateKey of v3.2 s5.18) as a service over CoreState.

The checks, the object factory and the store run under the state lock; the mechanism's work
(key generation, wrapping, unwrapping, derivation) runs without it, so a slow RSA key
generation never holds up calls on other sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

from tokenport.attributes.kinds import AttrValue, Template
from tokenport.attributes.schema import Schema, schema_for
from tokenport.attributes.template import Origin, template_dict
from tokenport.ck import CKA, CKK, CKM, CKO
from tokenport.core import wrap_policy
from tokenport.core.access import check_write
from tokenport.core.crypto_calls import (
    GENERIC_SECRET_TYPES,
    PRIVATE_SIDE,
    PUBLIC_SIDE,
    find_key,
    find_spec,
)
from tokenport.core.session import Session
from tokenport.core.state import CoreState
from tokenport.errors import (
    KeyFunctionNotPermitted,
    KeyHandleInvalid,
    KeyNotWrappable,
    KeyTypeInconsistent,
    KeyUnextractable,
    ObjectHandleInvalid,
    SessionClosed,
    TemplateIncomplete,
    TemplateInconsistent,
    UnwrappingKeyHandleInvalid,
    UnwrappingKeyTypeInconsistent,
    WrappingKeyHandleInvalid,
    WrappingKeyTypeInconsistent,
)
from tokenport.mechanisms.base import KeyView, MechanismSpec
from tokenport.mechanisms.params import KeyHandleParam, KeyValueParam, Mechanism
from tokenport.objects.model import TokenObject


def _refuse_unauthenticated_use(key: TokenObject) -> None:
    """C_UnwrapKey and C_DeriveKey are single calls: no context-specific login can precede
    them, and an unwrap or a derivation with a private key is a decryption by another name
    (the result can be an extractable key). A CKA_ALWAYS_AUTHENTICATE key does neither."""
    if key.attrs.get(CKA.ALWAYS_AUTHENTICATE) is True:
        raise KeyFunctionNotPermitted(
            "a CKA_ALWAYS_AUTHENTICATE key is used only by operations with a context-specific"
            " login (C_SignInit, C_DecryptInit)"
        )


class KeyCalls:
    """C_GenerateKey .. C_DeriveKey, C_SeedRandom, C_GenerateRandom."""

    def __init__(self, state: CoreState) -> None:
        self._state = state

    def _access_of(self, session: Session, template: dict[int, AttrValue], object_class: int,
                   key_type: int | None) -> None:
        schema = schema_for(object_class, key_type)
        default_private = schema is not None and schema.rules[CKA.PRIVATE].default is True
        private = template.get(CKA.PRIVATE, default_private) is True
        check_write(session.state, template.get(CKA.TOKEN) is True, private)

    def _store_new(self, session: Session, obj: TokenObject) -> int:
        if self._state.sessions.get(session.handle) is not session:
            raise SessionClosed("the session was closed while the key was generated")
        if not obj.is_token:
            obj.owner_session = session.handle
        session.token.objects.add(obj)
        return self._state.handle(session.token, obj)

    def generate_key(self, session: int, mechanism: Mechanism, template: Template) -> int:
        """C_GenerateKey (s5.14): a new secret key, or domain parameters (v2.40 s4.11) for
        the mechanisms that make them (CKM_DSA_PARAMETER_GEN ...)."""
        with self._state.lock:
            current = self._state.session(session)
            spec = find_spec(self._state, mechanism, "generate_key")
            assert spec.generate_key is not None and spec.generated_key_type is not None
            wanted = template_dict(template)
            key_type = spec.generated_key_type
            asked = wanted.get(CKA.KEY_TYPE)
            if mechanism.type == CKM.GENERIC_SECRET_KEY_GEN and asked in GENERIC_SECRET_TYPES:
                assert isinstance(asked, int)
                key_type = asked
            elif spec.key_type_from_template:  # CKM_PKCS5_PBKD2: any secret key type
                if asked is None:
                    raise TemplateIncomplete("CKA_KEY_TYPE is missing")
                assert isinstance(asked, int)
                key_type = asked
            object_class = spec.generated_class
            fixed: dict[int, AttrValue] = {CKA.CLASS: object_class, CKA.KEY_TYPE: key_type}
            is_so = self._state.is_so(current)
            schema = self._state.factory.prepare(Origin.GENERATE, wanted, fixed, is_so=is_so)
            self._access_of(current, wanted, object_class, key_type)
        material = spec.generate_key(
            self._state.mechanism_context(current.token), mechanism.param, wanted
        )
        with self._state.lock:
            self._access_of(current, wanted, object_class, key_type)  # a logout meanwhile
            obj = self._state.factory.build(
                schema, Origin.GENERATE, wanted, {**fixed, **material}, is_so=is_so,
                mechanism=mechanism.type,
            )
            return self._store_new(current, obj)

    def generate_key_pair(
        self, session: int, mechanism: Mechanism, public_template: Template,
        private_template: Template,
    ) -> tuple[int, int]:
        """C_GenerateKeyPair (s5.14): a public/private key pair; the private key is stored
        first, and removed again if storing the public key fails."""
        from tokenport.mechanisms import hwkeys

        with self._state.lock:
            current = self._state.session(session)
            spec = find_spec(self._state, mechanism, "generate_key_pair")
            assert spec.generate_key_pair is not None and spec.generated_key_type is not None
            key_type = spec.generated_key_type
            pub_t, priv_t = template_dict(public_template), template_dict(private_template)
            pub_fixed: dict[int, AttrValue] = {CKA.CLASS: int(CKO.PUBLIC_KEY), CKA.KEY_TYPE: key_type}
            priv_fixed: dict[int, AttrValue] = {CKA.CLASS: int(CKO.PRIVATE_KEY), CKA.KEY_TYPE: key_type}
            tolerated = dict(priv_fixed)
            if CKA.EC_PARAMS in pub_t:
                tolerated[CKA.EC_PARAMS] = pub_t[CKA.EC_PARAMS]
            is_so = self._state.is_so(current)
            pub_schema = self._state.factory.prepare(Origin.GENERATE, pub_t, pub_fixed, is_so=is_so)
            priv_schema = self._state.factory.prepare(Origin.GENERATE, priv_t, tolerated, is_so=is_so)
            self._access_of(current, pub_t, CKO.PUBLIC_KEY, key_type)
            self._access_of(current, priv_t, CKO.PRIVATE_KEY, key_type)
        pub_material, priv_material = spec.generate_key_pair(
            self._state.mechanism_context(current.token), mechanism.param, pub_t, priv_t
        )
        with self._state.lock:
            self._access_of(current, pub_t, CKO.PUBLIC_KEY, key_type)  # a logout meanwhile
            self._access_of(current, priv_t, CKO.PRIVATE_KEY, key_type)
            public = self._state.factory.build(
                pub_schema, Origin.GENERATE, pub_t, {**pub_fixed, **pub_material}, is_so=is_so,
                mechanism=mechanism.type,
            )
            private = self._state.factory.build(
                priv_schema, Origin.GENERATE, priv_t, {**priv_fixed, **priv_material}, is_so=is_so,
                mechanism=mechanism.type,
            )
            hwkeys.mark_software(self._state.mechanism_context(current.token),
                                 private.object_class, private.attrs)
            private_handle = self._store_new(current, private)
            try:
                public_handle = self._store_new(current, public)
            except BaseException:
                current.token.objects.remove(private)
                self._state.handles.forget(current.token.serial, private.uid)
                raise
            return public_handle, private_handle

    def wrap_key(self, session: int, mechanism: Mechanism, wrapping_key: int, key: int) -> bytes:
        """C_WrapKey (s5.14): secret keys as their value, private keys as PKCS #8."""
        from tokenport.mechanisms.keyformats import encode_private_key_pkcs8

        with self._state.lock:
            current = self._state.session(session)
            spec = find_spec(self._state, mechanism, "wrap")
            assert spec.wrap is not None
            wrapper = find_key(
                self._state, current, wrapping_key, spec, PUBLIC_SIDE, int(CKA.WRAP),
                WrappingKeyHandleInvalid, WrappingKeyTypeInconsistent,
            )
            try:
                target = self._state.object(current, key)
            except ObjectHandleInvalid:
                raise KeyHandleInvalid() from None
            if target.attrs.get(CKA.EXTRACTABLE) is not True:
                raise KeyUnextractable("the key is not extractable")
            if target.attrs.get(CKA.WRAP_WITH_TRUSTED) is True and wrapper.attrs.get(CKA.TRUSTED) is not True:
                raise KeyNotWrappable("the key may only be wrapped with a trusted key")
            if target.attrs.get(CKA.SENSITIVE) is True and not self._state.settings.allow_wrap_with_decrypt_key:
                wrap_policy.check_wrap(
                    wrapper, self._keys_of(current, CKO.SECRET_KEY),
                    self._keys_of(current, CKO.PRIVATE_KEY), self._value_of(current),
                )
            if target.object_class not in (CKO.SECRET_KEY, CKO.PRIVATE_KEY):
                raise KeyNotWrappable("only secret and private keys can be wrapped")
            view = self._state.view(current, target)
            wrapper_view = self._state.view(current, wrapper)
            context = self._state.mechanism_context(current.token)
        # the encoding and the wrapping run without the lock (as every crypto operation)
        if target.object_class == CKO.SECRET_KEY:
            encoded = view.require(CKA.VALUE)
            assert isinstance(encoded, bytes)
        else:
            encoded = encode_private_key_pkcs8(self._state.crypto, view)
        return spec.wrap(context, wrapper_view, mechanism.param, encoded)

    def _keys_of(self, session: Session, object_class: int) -> list[TokenObject]:
        return list(session.token.objects.candidates({int(CKA.CLASS): object_class}))

    def _value_of(self, session: Session) -> Callable[[TokenObject], AttrValue | None]:
        return lambda obj: self._state.view(session, obj).get(CKA.VALUE)

    def unwrap_key(
        self, session: int, mechanism: Mechanism, unwrapping_key: int, wrapped_key: bytes,
        template: Template,
    ) -> int:
        """C_UnwrapKey (s5.14): a secret key from its value or a private key from PKCS #8."""
        from tokenport.mechanisms import hwkeys
        from tokenport.mechanisms.keyformats import decode_private_key_pkcs8

        with self._state.lock:
            current = self._state.session(session)
            spec = find_spec(self._state, mechanism, "unwrap")
            assert spec.unwrap is not None
            unwrapper = find_key(
                self._state, current, unwrapping_key, spec, PRIVATE_SIDE, int(CKA.UNWRAP),
                UnwrappingKeyHandleInvalid, UnwrappingKeyTypeInconsistent,
            )
            _refuse_unauthenticated_use(unwrapper)
            wanted = template_dict(template)
            if not self._state.settings.allow_wrap_with_decrypt_key:
                wrap_policy.check_unwrap(
                    unwrapper, wanted, self._keys_of(current, CKO.SECRET_KEY), self._value_of(current)
                )
            object_class = wanted.get(CKA.CLASS)
            if not isinstance(object_class, int):
                raise TemplateIncomplete("CKA_CLASS is missing")
            if object_class not in (CKO.SECRET_KEY, CKO.PRIVATE_KEY):
                raise TemplateInconsistent("only secret and private keys can be unwrapped")
            if object_class == CKO.SECRET_KEY and CKA.KEY_TYPE not in wanted:
                raise TemplateIncomplete("CKA_KEY_TYPE is missing")
            is_so = self._state.is_so(current)
            unwrapper_view = self._state.view(current, unwrapper)
            context = self._state.mechanism_context(current.token)
        # the unwrapping and the decoding run without the lock (as every crypto operation)
        plain = spec.unwrap(context, unwrapper_view, mechanism.param, wrapped_key)
        material: dict[int, AttrValue]
        if object_class == CKO.SECRET_KEY:
            length = wanted.get(CKA.VALUE_LEN)
            if length is not None and length != len(plain):
                raise TemplateInconsistent("CKA_VALUE_LEN does not match the unwrapped key")
            key_type = wanted[CKA.KEY_TYPE]
            material = {CKA.VALUE: plain}
        else:
            key_type, material = decode_private_key_pkcs8(self._state.crypto, plain)
        assert isinstance(key_type, int)
        with self._state.lock:
            fixed: dict[int, AttrValue] = {CKA.CLASS: object_class, CKA.KEY_TYPE: key_type}
            schema = self._state.factory.prepare(Origin.UNWRAP, wanted, fixed, is_so=is_so)
            self._access_of(current, wanted, object_class, key_type)
            obj = self._state.factory.build(schema, Origin.UNWRAP, wanted, {**fixed, **material}, is_so=is_so)
            hwkeys.adopt(self._state.mechanism_context(current.token), object_class, key_type,
                         obj.attrs)  # a hardware key port imports it (TPM2_Import)
            return self._store_new(current, obj)

    def derive_key(self, session: int, mechanism: Mechanism, base_key: int, template: Template) -> int:
        """C_DeriveKey (s5.14): a secret key from the mechanism's output (CKA_VALUE_LEN bytes
        when given; the mechanism truncates as its specification says), or a CKO_DATA object
        for a mechanism that derives data (CKM_HKDF_DATA, PKCS #11 v3.0)."""
        # imported here: C_Initialize does not load mechanism families (issue 10)
        from tokenport.mechanisms.derive_data import check_protection
        from tokenport.mechanisms.des import DES_KEY_LENGTHS

        with self._state.lock:
            current = self._state.session(session)
            spec = find_spec(self._state, mechanism, "derive")
            assert spec.derive is not None
            base = self._derivation_base(current, spec, base_key)
            _refuse_unauthenticated_use(base)
            param, other = mechanism.param, None
            if isinstance(param, KeyHandleParam):  # CKM_CONCATENATE_BASE_AND_KEY's second key
                other = find_key(self._state, current, param.handle, spec, PRIVATE_SIDE, int(CKA.DERIVE))
                _refuse_unauthenticated_use(other)
                value = self._state.view(current, other).require(CKA.VALUE)
                assert isinstance(value, bytes)
                param = KeyValueParam(value)
            wanted = template_dict(template)
            if spec.derive_keeps_protection:
                check_protection(wanted, [b.attrs for b in (base, other) if b is not None])
            fixed: dict[int, AttrValue]
            if spec.derives_data:
                length = wanted.pop(CKA.VALUE_LEN, None)  # the output length, not an attribute
                object_class, key_type = int(CKO.DATA), None
                # data objects are public by default; one derived from a private key is not
                wanted.setdefault(CKA.PRIVATE, base.attrs.get(CKA.PRIVATE) is True)
                fixed = {CKA.CLASS: object_class}
            else:
                object_class = int(CKO.SECRET_KEY)
                asked = wanted.get(CKA.KEY_TYPE, int(CKK.GENERIC_SECRET))
                assert isinstance(asked, int)
                key_type = asked
                length = wanted.get(CKA.VALUE_LEN, DES_KEY_LENGTHS.get(key_type))
                fixed = {CKA.CLASS: object_class, CKA.KEY_TYPE: key_type}
            is_so = self._state.is_so(current)
            schema = self._state.factory.prepare(Origin.DERIVE, wanted, fixed, is_so=is_so)
            self._access_of(current, wanted, object_class, key_type)
            assert length is None or isinstance(length, int)
            context = replace(
                self._state.mechanism_context(current.token),
                key_lookup=partial(self._other_key, current),
            )
            base_view = self._state.view(current, base)
        # the derivation runs without the lock (as every crypto operation); a further key it
        # looks up (an HKDF salt key) takes the lock for the lookup only
        secret = spec.derive(context, base_view, param, length)
        if length is not None and len(secret) != length:
            raise TemplateInconsistent("the mechanism cannot derive CKA_VALUE_LEN bytes")
        material: dict[int, AttrValue] = {CKA.VALUE: secret}
        with self._state.lock:
            self._access_of(current, wanted, object_class, key_type)  # a logout meanwhile
            obj = self._state.factory.build(
                schema, Origin.DERIVE, wanted, {**fixed, **material}, is_so=is_so, base=base
            )
            if other is not None:  # CONCATENATE_BASE_AND_KEY: the second key's history counts too
                for attr in (CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE):
                    obj.attrs[attr] = obj.attrs.get(attr) is True and other.attrs.get(attr) is True
            return self._store_new(current, obj)

    # -- PKCS #11 v3.2 s5.18 C_EncapsulateKey / C_DecapsulateKey --------------------------------

    def _kem_start(
        self, session: int, mechanism: Mechanism, key: int, operation: str, key_class: int,
        usage: int, template: Template,
    ) -> tuple[Session, MechanismSpec, TokenObject, dict[int, AttrValue], dict[int, AttrValue],
               Schema, bool]:
        """The checks of both calls, in the order of C_DeriveKey (call with the lock held):
        mechanism, key (handle, class and type, usage flag), then the new key's template
        (a secret key, CKK_GENERIC_SECRET unless the template names another type; template
        rules as for derived keys)."""
        current = self._state.session(session)
        spec = find_spec(self._state, mechanism, operation)
        found = find_key(self._state, current, key, spec, frozenset({key_class}), usage)
        wanted = template_dict(template)
        key_type = wanted.get(CKA.KEY_TYPE, int(CKK.GENERIC_SECRET))
        assert isinstance(key_type, int)
        fixed: dict[int, AttrValue] = {CKA.CLASS: int(CKO.SECRET_KEY), CKA.KEY_TYPE: key_type}
        is_so = self._state.is_so(current)
        schema = self._state.factory.prepare(Origin.DERIVE, wanted, fixed, is_so=is_so)
        self._access_of(current, wanted, CKO.SECRET_KEY, key_type)
        return current, spec, found, wanted, fixed, schema, is_so

    def _store_shared_secret(
        self, current: Session, secret: bytes, wanted: dict[int, AttrValue],
        fixed: dict[int, AttrValue], schema: Schema, is_so: bool, base: TokenObject | None,
    ) -> int:
        """The secret key holding a KEM's shared secret (call with the lock held)."""
        length = wanted.get(CKA.VALUE_LEN)
        if length is not None and length != len(secret):
            raise TemplateInconsistent("CKA_VALUE_LEN differs from the shared secret's length")
        key_type = fixed[CKA.KEY_TYPE]
        assert isinstance(key_type, int)
        self._access_of(current, wanted, CKO.SECRET_KEY, key_type)  # a logout meanwhile
        obj = self._state.factory.build(
            schema, Origin.DERIVE, wanted, {**fixed, CKA.VALUE: secret}, is_so=is_so, base=base
        )
        return self._store_new(current, obj)

    def ciphertext_length(self, session: int, mechanism: Mechanism, public_key: int) -> int:
        """The ciphertext length C_EncapsulateKey gives with this key (its length query:
        pCiphertext NULL), after the same mechanism and key checks."""
        with self._state.lock:
            current = self._state.session(session)
            spec = find_spec(self._state, mechanism, "encapsulate")
            key = find_key(self._state, current, public_key, spec,
                           frozenset({int(CKO.PUBLIC_KEY)}), int(CKA.ENCAPSULATE))
            view = self._state.view(current, key)
        assert spec.ciphertext_length is not None
        return spec.ciphertext_length(
            self._state.mechanism_context(current.token), view, mechanism.param
        )

    def encapsulate_key(self, session: int, mechanism: Mechanism, public_key: int,
                        template: Template) -> tuple[int, bytes]:
        """C_EncapsulateKey (PKCS #11 v3.2 s5.18): a new secret key holding the shared
        secret, and the ciphertext. The key needs CKA_ENCAPSULATE TRUE; the new key is not
        CKA_LOCAL and neither CKA_ALWAYS_SENSITIVE nor CKA_NEVER_EXTRACTABLE (its value is
        known to whoever holds the private key). The encapsulation runs without the lock."""
        with self._state.lock:
            current, spec, key, wanted, fixed, schema, is_so = self._kem_start(
                session, mechanism, public_key, "encapsulate", int(CKO.PUBLIC_KEY),
                int(CKA.ENCAPSULATE), template,
            )
            view = self._state.view(current, key)
        assert spec.encapsulate is not None
        secret, ciphertext = spec.encapsulate(
            self._state.mechanism_context(current.token), view, mechanism.param
        )
        with self._state.lock:
            handle = self._store_shared_secret(current, secret, wanted, fixed, schema, is_so, None)
        return handle, ciphertext

    def decapsulate_key(self, session: int, mechanism: Mechanism, private_key: int,
                        template: Template, ciphertext: bytes) -> int:
        """C_DecapsulateKey (PKCS #11 v3.2 s5.18): the secret key of ``ciphertext``. The key
        needs CKA_DECAPSULATE TRUE and no CKA_ALWAYS_AUTHENTICATE (a single call, as
        C_UnwrapKey); the new key's CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE follow the
        private key's, as for C_DeriveKey."""
        with self._state.lock:
            current, spec, key, wanted, fixed, schema, is_so = self._kem_start(
                session, mechanism, private_key, "decapsulate", int(CKO.PRIVATE_KEY),
                int(CKA.DECAPSULATE), template,
            )
            _refuse_unauthenticated_use(key)
            view = self._state.view(current, key)
        assert spec.decapsulate is not None
        secret = spec.decapsulate(
            self._state.mechanism_context(current.token), view, mechanism.param, ciphertext
        )
        with self._state.lock:
            return self._store_shared_secret(current, secret, wanted, fixed, schema, is_so, key)
    def _derivation_base(self, session: Session, spec: MechanismSpec, handle: int) -> TokenObject:
        """The base key of C_DeriveKey (handle, class and type, CKA_DERIVE: s5.1 order), or a
        CKO_DATA object for a mechanism that takes one (MechanismSpec.data_base)."""
        try:
            return find_key(self._state, session, handle, spec, PRIVATE_SIDE, int(CKA.DERIVE))
        except KeyTypeInconsistent:
            if spec.data_base:
                obj = self._state.object(session, handle)
                if obj.object_class == CKO.DATA:
                    return obj
            raise

    def _other_key(self, session: Session, handle: int) -> KeyView:
        """A further key of a derivation (MechanismContext.key_lookup), looked up under the
        state lock."""
        with self._state.lock:
            try:
                obj = self._state.object(session, handle)
            except ObjectHandleInvalid:
                raise KeyHandleInvalid() from None
            return self._state.view(session, obj)

    # -- s5.15 random numbers ----------------------------------------------------------------

    def seed_random(self, session: int, seed: bytes) -> None:
        self._state.session(session).token.random.seed(seed)

    def generate_random(self, session: int, length: int) -> bytes:
        return self._state.session(session).token.random_bytes(length)
