"""The explicit state of one Module, what it is built from, and the lookups every call starts with.

A Module is built from the outside (tokenport.wiring): ``CoreParts`` carries its ports (a store
opener, the crypto port, the mechanism registry, a random-source provider) and
``CoreSettings`` its policy. The core never imports the configuration or a backend.

``CoreState`` holds what lives between C_Initialize and C_Finalize: the token directory, the
session table, the object handle table and the per-token mechanism contexts. Concurrency
(DESIGN.md "The C ABI"): one re-entrant *state lock* guards the directory, tokens (login
state, object index, records), the session and handle tables and the store; it is held
briefly, by the bookkeeping of a call, never while a cryptographic operation runs.
Reading the session table needs no lock (a dict read is atomic); changing it takes the lock.

Checks follow the order of PKCS #11 v2.40 s5.1 return values: library initialized, then
session handle, then object handle (objects the session may not see -- private objects
without a user login -- are reported as invalid handles, s4.4).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tokenport.ck import CKU
from tokenport.core.access import ACCESS
from tokenport.core.handles import HandleTable
from tokenport.core.session import Session
from tokenport.core.token import TokenSettings
from tokenport.errors import (
    CryptokiNotInitialized,
    ObjectHandleInvalid,
    SessionHandleInvalid,
)
from tokenport.objects.factory import ObjectFactory
from tokenport.objects.model import ObjectKeyView, TokenObject
from tokenport.ports.entropy import RandomSource
from tokenport.ports.storage import ObjectStore
from tokenport.storage_format import MIN_PIN_KDF_ITERATIONS

if TYPE_CHECKING:
    from tokenport.core.directory import TokenDirectory
    from tokenport.core.token import Token
    from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
    from tokenport.ports.crypto import CryptoBackend


class StoreProvider(Protocol):
    """Opens the store at C_Initialize and lets it go at C_Finalize."""

    def open(self) -> ObjectStore:
        """The store, not yet ``initialize()``d."""
        ...

    def release(self, store: ObjectStore) -> None:
        """C_Finalize: close the store if this provider opened it."""
        ...


class RandomProvider(Protocol):
    """The random source of each token (the porting guide's entropy port + DRBG)."""

    def source_for(self, serial: str, label: str) -> RandomSource:
        """The random source of the token with this serial and label."""
        ...

    def forget(self, serial: str | None = None) -> None:
        """Zeroize and drop the sources (of one token, or all)."""
        ...


@dataclass(frozen=True)
class CoreSettings:
    """The policy of a Module (from the configuration's ``[token]`` and ``[policy]`` tables)."""

    max_pin_attempts: int = 10
    pin_kdf_iterations: int = MIN_PIN_KDF_ITERATIONS
    min_pin_len: int = 4
    max_pin_len: int = 255
    allow_wrap_with_decrypt_key: bool = False

    def token_settings(self) -> TokenSettings:
        return TokenSettings(self.max_pin_attempts, self.pin_kdf_iterations,
                             self.min_pin_len, self.max_pin_len)


@dataclass(frozen=True)
class CoreParts:
    """The ports a Module is built from."""

    store: StoreProvider
    crypto: CryptoBackend
    registry: MechanismRegistry
    random: RandomProvider


class CoreState:
    """What the call services share: parts, settings, and the state of one initialization."""

    def __init__(self, parts: CoreParts, settings: CoreSettings) -> None:
        self.parts = parts
        self.settings = settings
        self.crypto = parts.crypto
        self.registry = parts.registry
        self.factory = ObjectFactory(parts.crypto)
        self.lock = threading.RLock()
        self.store: ObjectStore | None = None
        self.directory: TokenDirectory | None = None
        self.sessions: dict[int, Session] = {}
        self.handles = HandleTable()
        self.next_session = 1
        self._contexts: dict[str, MechanismContext] = {}

    # -- lookups ------------------------------------------------------------------------------

    def tokens(self) -> TokenDirectory:
        """The directory; CryptokiNotInitialized outside C_Initialize .. C_Finalize."""
        directory = self.directory
        if directory is None:
            raise CryptokiNotInitialized()
        return directory

    def session(self, handle: int) -> Session:
        """The open session ``handle`` (no lock: one dict read)."""
        session = self.sessions.get(handle)
        if session is None:
            if self.directory is None:
                raise CryptokiNotInitialized()
            raise SessionHandleInvalid()
        return session

    def object(self, session: Session, handle: int) -> TokenObject:
        """The object behind ``handle`` as ``session`` may see it (else ObjectHandleInvalid).
        Call with the state lock held.

        Token objects are checked against the store first (another process may have changed
        or destroyed them); session objects live only here and need no such check.
        """
        key = self.handles.lookup(handle)
        if key is None or key[0] != session.token.serial:
            raise ObjectHandleInvalid()
        obj = session.token.objects.get(key[1])
        if obj is None or obj.owner_session is None:
            self.tokens().refresh()
            obj = session.token.objects.get(key[1])
        if obj is None:
            self.handles.forget(*key)
            raise ObjectHandleInvalid()
        if obj.is_private and not ACCESS[session.state].see_private:
            raise ObjectHandleInvalid()
        return obj

    def handle(self, token: Token, obj: TokenObject) -> int:
        return self.handles.handle_for(token.serial, obj.uid)

    @staticmethod
    def view(session: Session, obj: TokenObject) -> ObjectKeyView:
        return ObjectKeyView(obj, session.token.unseal)

    @staticmethod
    def is_so(session: Session) -> bool:
        return session.token.logged_in == CKU.SO

    def random_for(self, serial: str, label: str) -> RandomSource:
        return self.parts.random.source_for(serial, label)

    def forget_token_state(self, serial: str | None = None) -> None:
        """Drop the random sources and mechanism contexts (of one token, or all)."""
        self.parts.random.forget(serial)
        if serial is None:
            self._contexts.clear()
        else:
            self._contexts.pop(serial, None)

    def mechanism_context(self, token: Token) -> MechanismContext:
        """What mechanisms may use: the crypto port and the token's random source."""
        context = self._contexts.get(token.serial)
        if context is None:
            from tokenport.mechanisms.base import MechanismContext  # loaded on first use

            context = MechanismContext(crypto=self.crypto, random_bytes=token.random_bytes)
            self._contexts[token.serial] = context
        return context

    def sessions_of(self, token: Token | None) -> list[Session]:
        return [s for s in list(self.sessions.values()) if s.token is token]


