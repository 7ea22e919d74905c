"""The state of one Module and the lookups every PKCS #11 call starts with.

Checks follow the order of PKCS #11 v2.40 s5.1 return values: library initialized, then
session handle, then object handle (objects the session may not see -- private objects
without a user login -- are reported as invalid handles, s4.4).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from tokenport.ck import CKU
from tokenport.core.access import ACCESS
from tokenport.core.directory import TokenDirectory
from tokenport.core.handles import HandleTable
from tokenport.core.session import Session
from tokenport.core.token import Token
from tokenport.errors import (
    CryptokiNotInitialized,
    ObjectHandleInvalid,
    SessionHandleInvalid,
)
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
from tokenport.objects.factory import ObjectFactory
from tokenport.objects.model import ObjectKeyView, TokenObject
from tokenport.ports.entropy import RandomSource
from tokenport.ports.storage import ObjectStore

if TYPE_CHECKING:
    from tokenport.backends.entropy.drbg_source import DrbgRandomSource
    from tokenport.config import Config, EntropyConfig
    from tokenport.ports.crypto import CryptoBackend

F = TypeVar("F", bound=Callable[..., Any])


def synchronized(method: F) -> F:
    """Serialize a Module method on the module's re-entrant lock."""

    @functools.wraps(method)
    def wrapper(self: ModuleState, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


class ModuleState:
    """Fields shared by the call groups of Module, and the common lookups."""

    _config: Config
    _crypto: CryptoBackend
    _given_random: RandomSource | None
    _random_sources: dict[str, tuple[EntropyConfig, DrbgRandomSource]]
    _contexts: dict[str, MechanismContext]
    _registry: MechanismRegistry
    _factory: ObjectFactory
    _store: ObjectStore | None
    _directory: TokenDirectory | None
    _sessions: dict[int, Session]
    _handles: HandleTable
    _next_session: int
    _lock: threading.RLock

    def _dir(self) -> TokenDirectory:
        if self._directory is None:
            raise CryptokiNotInitialized()
        return self._directory

    def _session(self, handle: int) -> Session:
        self._dir()
        session = self._sessions.get(handle)
        if session is None:
            raise SessionHandleInvalid()
        return session

    def _object(self, session: Session, handle: int) -> TokenObject:
        """The object behind ``handle`` as ``session`` may see it (else ObjectHandleInvalid).

        Token objects are checked against the store first (another process may have changed
        or destroyed them); session objects live only here and need no such check.
        """
        key = self._handles.lookup(handle)
        if key is None or key[0] != session.token.serial:
            raise ObjectHandleInvalid()
        obj = session.token.objects.get(key[1])
        if obj is None or obj.owner_session is None:
            self._dir().refresh()
            obj = session.token.objects.get(key[1])
        if obj is None:
            self._handles.forget(*key)
            raise ObjectHandleInvalid()
        if obj.is_private and not ACCESS[session.state].see_private:
            raise ObjectHandleInvalid()
        return obj

    def _handle(self, token: Token, obj: TokenObject) -> int:
        return self._handles.handle_for(token.serial, obj.uid)

    def _view(self, session: Session, obj: TokenObject) -> ObjectKeyView:
        return ObjectKeyView(obj, session.token.unseal)

    def _random_for(self, serial: str, label: str) -> RandomSource:
        """The random source of the token with this serial and label: the one passed to
        Module(random=...), else one per token built from the token's entropy config
        (rebuilt if a label change selects another configuration)."""
        if self._given_random is not None:
            return self._given_random
        entropy = self._config.entropy_for(label, serial)
        cached = self._random_sources.get(serial)
        if cached is not None and cached[0] is entropy:
            return cached[1]
        from tokenport.config import open_random_source

        source = open_random_source(entropy, b"tokenport token " + serial.encode("ascii"))
        if cached is not None:
            cached[1].close()
        self._random_sources[serial] = (entropy, source)
        return source

    def _forget_random(self, serial: str | None = None) -> None:
        """Zeroize and drop the random sources (of one token, or all)."""
        serials = list(self._random_sources) if serial is None else [serial]
        for key in serials:
            entry = self._random_sources.pop(key, None)
            if entry is not None:
                entry[1].close()
            self._contexts.pop(key, None)
        if serial is None:
            self._contexts.clear()

    def _mechanism_context(self, token: Token) -> MechanismContext:
        """What mechanisms may use: the crypto port and the token's random source."""
        context = self._contexts.get(token.serial)
        if context is None:
            context = MechanismContext(crypto=self._crypto, random_bytes=token.random_bytes)
            self._contexts[token.serial] = context
        return context

    def _is_so(self, session: Session) -> bool:
        return session.token.logged_in == CKU.SO
