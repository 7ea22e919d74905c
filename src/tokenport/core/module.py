"""The library: PKCS #11 v2.40 s5.4-5.15 as a Python object (no module-level state).

A ``Module`` is built from the outside (tokenport.wiring.build_module reads the configuration
and opens the ports); the core never imports the configuration or a backend. It holds one
``CoreState`` and four call services over it:

* ``session_calls``: slots, tokens, sessions and login (s5.4-5.6, tokenport.core.session_calls);
* ``object_calls``: objects and searches (s5.7, tokenport.core.object_calls);
* ``crypto_calls``: encrypt, decrypt, digest, sign, verify operations (s5.8-5.12,
  tokenport.core.crypto_calls, over tokenport.core.operation);
* ``key_calls``: key management and random numbers (s5.14-5.15, tokenport.core.key_calls).

The C ABI calls the services directly; the methods below are the same calls for Python users
(the CLI, provisioning, tests), with Python values in and out. Every method raises
tokenport.errors on failure. There is no module-wide lock: see tokenport.core.state.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from tokenport.attributes.kinds import Template
from tokenport.coerce import PinLike, pin_bytes
from tokenport.core.directory import RepairReport, TokenDirectory
from tokenport.core.handles import HandleTable
from tokenport.core.info import (
    AttributeResult,
    LibraryInfo,
    MechanismInfo,
    SessionInfo,
    SlotInfo,
    TokenInfo,
)
from tokenport.core.object_calls import ObjectCalls
from tokenport.core.operation import OpKind
from tokenport.core.session_calls import SessionCalls
from tokenport.core.state import CoreParts, CoreSettings, CoreState
from tokenport.errors import CryptokiAlreadyInitialized

if TYPE_CHECKING:  # the call groups below load on first use: a CLI listing needs none of them
    from tokenport.core.crypto_calls import CryptoCalls
    from tokenport.core.key_calls import KeyCalls
    from tokenport.core.message import MessageCalls
    from tokenport.core.operation import Produced, Step
    from tokenport.mechanisms.params import Mechanism
    from tokenport.ports.crypto import CryptoBackend


class Module:
    """One PKCS #11 library instance: C_Initialize .. C_Finalize and everything between."""

    def __init__(self, parts: CoreParts, settings: CoreSettings | None = None) -> None:
        self.state = CoreState(parts, settings if settings is not None else CoreSettings())
        self.session_calls = SessionCalls(self.state)
        self.object_calls = ObjectCalls(self.state)

    @cached_property
    def crypto_calls(self) -> CryptoCalls:
        """Encrypt, decrypt, digest, sign and verify (s5.8-5.12), loaded on first use with
        the mechanism layer; afterwards an ordinary attribute (no cost per call)."""
        from tokenport.core.crypto_calls import CryptoCalls

        return CryptoCalls(self.state)

    @cached_property
    def key_calls(self) -> KeyCalls:
        """Key generation, wrapping, derivation (s5.14-5.15), loaded on first use."""
        from tokenport.core.key_calls import KeyCalls

        return KeyCalls(self.state)

    @cached_property
    def message_calls(self) -> MessageCalls:
        """The v3.0 message-based functions, loaded on first use."""
        from tokenport.core.message import MessageCalls

        return MessageCalls(self.state)

    def prepare_calls(self) -> None:
        """Build the call groups and the mechanism registry now (without its families or
        the crypto library). The C library does this at C_Initialize: a C application's
        signal handler may call the module while a call is under way, and if that call
        were importing a call group's module for the first time, the nested call would
        find it half imported. The command line skips it (a listing needs none of them)."""
        _ = self.crypto_calls, self.key_calls, self.message_calls
        _ = self.state.registry.get  # builds a DeferredRegistry's target

    # -- s5.4 C_Initialize / C_Finalize -----------------------------------------------------

    def initialize(self) -> None:
        """C_Initialize: open the store and discover the tokens."""
        state = self.state
        with state.lock:
            if state.directory is not None:
                raise CryptokiAlreadyInitialized()
            store = state.parts.store.open()
            try:
                store.initialize()
                directory = TokenDirectory(store, state.crypto, state.random_for,
                                           state.settings.token_settings())
                directory.on_token_removed = self.session_calls.token_removed
                directory.refresh()
            except BaseException:
                state.parts.store.release(store)
                raise
            state.store = store
            state.directory = directory

    def finalize(self) -> None:
        """C_Finalize: close every session, forget login state, release the store."""
        state = self.state
        with state.lock:
            directory = state.tokens()
            for token in directory.tokens():
                token.logout()
                token.objects.drop_session_objects()
            for session in list(state.sessions.values()):
                session.operations.clear()
            state.sessions.clear()
            state.handles = HandleTable()
            store, state.store, state.directory = state.store, None, None
            if store is not None:
                state.parts.store.release(store)
            state.forget_token_state()
            close_crypto = getattr(state.crypto, "close", None)  # a port holding a device
            if callable(close_crypto):
                close_crypto()

    @property
    def initialized(self) -> bool:
        return self.state.directory is not None

    @property
    def crypto(self) -> CryptoBackend:
        """The crypto port this module uses (for tools that parse key files)."""
        return self.state.crypto

    def directory(self) -> TokenDirectory:
        """The token directory (tools and tests; CryptokiNotInitialized when not initialized)."""
        return self.state.tokens()

    # -- s5.4-5.6 (SessionCalls) ------------------------------------------------------------

    def get_info(self) -> LibraryInfo:
        return self.session_calls.get_info()

    def get_slot_list(self, token_present: bool) -> list[int]:
        return self.session_calls.get_slot_list(token_present)

    def get_slot_info(self, slot_id: int) -> SlotInfo:
        return self.session_calls.get_slot_info(slot_id)

    def get_token_info(self, slot_id: int) -> TokenInfo:
        return self.session_calls.get_token_info(slot_id)

    def wait_for_slot_event(self, flags: int) -> int:
        return self.session_calls.wait_for_slot_event(flags)

    def get_mechanism_list(self, slot_id: int) -> list[int]:
        return self.session_calls.get_mechanism_list(slot_id)

    def get_mechanism_info(self, slot_id: int, mechanism_type: int) -> MechanismInfo:
        return self.session_calls.get_mechanism_info(slot_id, mechanism_type)

    # PINs: bytes as C_Login passes them, or str for Python callers (encoded UTF-8, the
    # CK_UTF8CHAR of s5.6); anything else is a TypeError (tokenport.coerce.pin_bytes).

    def init_token(self, slot_id: int, so_pin: PinLike, label: bytes) -> None:
        self.session_calls.init_token(slot_id, pin_bytes(so_pin, "SO PIN"), label)

    def init_pin(self, session: int, pin: PinLike) -> None:
        self.session_calls.init_pin(session, pin_bytes(pin))

    def set_pin(self, session: int, old_pin: PinLike, new_pin: PinLike) -> None:
        self.session_calls.set_pin(session, pin_bytes(old_pin, "old PIN"), pin_bytes(new_pin, "new PIN"))

    def open_session(self, slot_id: int, flags: int) -> int:
        return self.session_calls.open_session(slot_id, flags)

    def close_session(self, session: int) -> None:
        self.session_calls.close_session(session)

    def close_all_sessions(self, slot_id: int) -> None:
        self.session_calls.close_all_sessions(slot_id)

    def get_session_info(self, session: int) -> SessionInfo:
        return self.session_calls.get_session_info(session)

    def login(self, session: int, user_type: int, pin: PinLike) -> None:
        self.session_calls.login(session, user_type, pin_bytes(pin))

    def login_user(self, session: int, user_type: int, pin: PinLike, username: bytes) -> None:
        self.session_calls.login_user(session, user_type, pin_bytes(pin), username)

    def session_cancel(self, session: int, flags: int) -> None:
        self.session_calls.session_cancel(session, flags)

    def logout(self, session: int) -> None:
        self.session_calls.logout(session)

    def delete_token(self, slot_id: int) -> None:
        self.session_calls.delete_token(slot_id)

    def repair_token(self, serial: str, so_pin: bytes, label: str | None = None, *,
                     dry_run: bool = False) -> RepairReport:
        return self.session_calls.repair_token(serial, so_pin, label, dry_run=dry_run)

    # -- s5.7 (ObjectCalls) -----------------------------------------------------------------

    def create_object(self, session: int, template: Template) -> int:
        return self.object_calls.create_object(session, template)

    def copy_object(self, session: int, handle: int, template: Template) -> int:
        return self.object_calls.copy_object(session, handle, template)

    def destroy_object(self, session: int, handle: int) -> None:
        self.object_calls.destroy_object(session, handle)

    def get_object_size(self, session: int, handle: int) -> int:
        return self.object_calls.get_object_size(session, handle)

    def get_attribute_value(self, session: int, handle: int,
                            types: Sequence[int]) -> list[AttributeResult]:
        return self.object_calls.get_attribute_value(session, handle, types)

    def set_attribute_value(self, session: int, handle: int, template: Template) -> None:
        self.object_calls.set_attribute_value(session, handle, template)

    def find_objects_init(self, session: int, template: Template) -> None:
        self.object_calls.find_objects_init(session, template)

    def find_objects(self, session: int, max_count: int) -> list[int]:
        return self.object_calls.find_objects(session, max_count)

    def find_objects_final(self, session: int) -> None:
        self.object_calls.find_objects_final(session)

    # -- s5.8-5.12 (CryptoCalls) ------------------------------------------------------------

    def produce(self, session: int, kind: OpKind, step: Step, data: bytes,
                capacity: int | None) -> Produced:
        return self.crypto_calls.produce(session, kind, step, data, capacity)

    def end_operation(self, session: int, kind: OpKind | str) -> None:
        """End the active operation of ``kind`` (an OpKind or its value, "sign" ...), if any."""
        self.crypto_calls.abort(session, OpKind(kind))

    # -- v3.0 message-based signing and verification (MessageCalls) ------------------------

    def message_sign_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self.message_calls.init(session, OpKind.MESSAGE_SIGN, mechanism, key)

    def sign_message(self, session: int, data: bytes) -> bytes:
        operation = self.message_calls.operation(session, OpKind.MESSAGE_SIGN)
        output = operation.sign(data, 1 << 62).output
        assert output is not None
        return output

    def message_sign_final(self, session: int) -> None:
        self.message_calls.operation(session, OpKind.MESSAGE_SIGN).finish()

    def message_verify_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self.message_calls.init(session, OpKind.MESSAGE_VERIFY, mechanism, key)

    def verify_message(self, session: int, data: bytes, signature: bytes) -> None:
        self.message_calls.operation(session, OpKind.MESSAGE_VERIFY).verify(data, signature)

    def message_verify_final(self, session: int) -> None:
        self.message_calls.operation(session, OpKind.MESSAGE_VERIFY).finish()

    def encrypt_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self.crypto_calls.encrypt_init(session, mechanism, key)

    def encrypt(self, session: int, data: bytes) -> bytes:
        return self.crypto_calls.encrypt(session, data)

    def encrypt_update(self, session: int, data: bytes) -> bytes:
        return self.crypto_calls.encrypt_update(session, data)

    def encrypt_final(self, session: int) -> bytes:
        return self.crypto_calls.encrypt_final(session)

    def decrypt_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self.crypto_calls.decrypt_init(session, mechanism, key)

    def decrypt(self, session: int, data: bytes) -> bytes:
        return self.crypto_calls.decrypt(session, data)

    def decrypt_update(self, session: int, data: bytes) -> bytes:
        return self.crypto_calls.decrypt_update(session, data)

    def decrypt_final(self, session: int) -> bytes:
        return self.crypto_calls.decrypt_final(session)

    def digest_init(self, session: int, mechanism: Mechanism) -> None:
        self.crypto_calls.digest_init(session, mechanism)

    def digest(self, session: int, data: bytes) -> bytes:
        return self.crypto_calls.digest(session, data)

    def digest_update(self, session: int, data: bytes) -> None:
        self.crypto_calls.digest_update(session, data)

    def digest_key(self, session: int, key: int) -> None:
        self.crypto_calls.digest_key(session, key)

    def digest_final(self, session: int) -> bytes:
        return self.crypto_calls.digest_final(session)

    def sign_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self.crypto_calls.sign_init(session, mechanism, key)

    def sign(self, session: int, data: bytes) -> bytes:
        return self.crypto_calls.sign(session, data)

    def sign_update(self, session: int, data: bytes) -> None:
        self.crypto_calls.sign_update(session, data)

    def sign_final(self, session: int) -> bytes:
        return self.crypto_calls.sign_final(session)

    def verify_init(self, session: int, mechanism: Mechanism, key: int) -> None:
        self.crypto_calls.verify_init(session, mechanism, key)

    def verify(self, session: int, data: bytes, signature: bytes) -> None:
        self.crypto_calls.verify(session, data, signature)

    def verify_update(self, session: int, data: bytes) -> None:
        self.crypto_calls.verify_update(session, data)

    def verify_final(self, session: int, signature: bytes) -> None:
        self.crypto_calls.verify_final(session, signature)

    # -- s5.14-5.15 (KeyCalls) --------------------------------------------------------------

    def generate_key(self, session: int, mechanism: Mechanism, template: Template) -> int:
        return self.key_calls.generate_key(session, mechanism, template)

    def generate_key_pair(self, session: int, mechanism: Mechanism, public_template: Template,
                          private_template: Template) -> tuple[int, int]:
        return self.key_calls.generate_key_pair(session, mechanism, public_template,
                                                private_template)

    def wrap_key(self, session: int, mechanism: Mechanism, wrapping_key: int, key: int) -> bytes:
        return self.key_calls.wrap_key(session, mechanism, wrapping_key, key)

    def unwrap_key(self, session: int, mechanism: Mechanism, unwrapping_key: int,
                   wrapped_key: bytes, template: Template) -> int:
        return self.key_calls.unwrap_key(session, mechanism, unwrapping_key, wrapped_key,
                                         template)

    def derive_key(self, session: int, mechanism: Mechanism, base_key: int,
                   template: Template) -> int:
        return self.key_calls.derive_key(session, mechanism, base_key, template)

    # -- PKCS #11 v3.2 s5.18 (KeyCalls) -------------------------------------------------------

    def ciphertext_length(self, session: int, mechanism: Mechanism, public_key: int) -> int:
        return self.key_calls.ciphertext_length(session, mechanism, public_key)

    def encapsulate_key(self, session: int, mechanism: Mechanism, public_key: int,
                        template: Template) -> tuple[int, bytes]:
        return self.key_calls.encapsulate_key(session, mechanism, public_key, template)

    def decapsulate_key(self, session: int, mechanism: Mechanism, private_key: int,
                        template: Template, ciphertext: bytes) -> int:
        return self.key_calls.decapsulate_key(session, mechanism, private_key, template,
                                              ciphertext)

    def seed_random(self, session: int, seed: bytes) -> None:
        self.key_calls.seed_random(session, seed)

    def generate_random(self, session: int, length: int) -> bytes:
        return self.key_calls.generate_random(session, length)
