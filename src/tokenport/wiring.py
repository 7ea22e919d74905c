"""Wiring: the configuration builds a Module from its ports (DESIGN.md "The layers").

The core (tokenport.core) never imports the configuration or a backend; this module is the
one place that does both. ``build_module()`` is what the C ABI's C_Initialize and the CLI use:

    module = build_module()                      # TOKENPORT_CONF / TOKENPORT_HOME
    module = build_module(config, store=MemoryObjectStore())   # tests: an in-memory store

``store``, ``crypto``, ``random`` and ``registry`` replace the configured ports; a store
passed in is not closed by C_Finalize. Without ``random`` each token gets its own random
source (entropy source -> health tests -> DRBG) built from its entropy configuration at its
first use; C_Finalize zeroizes them, so the next C_Initialize starts afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

from tokenport.core.module import Module
from tokenport.core.state import CoreParts, CoreSettings
from tokenport.ports.entropy import RandomSource
from tokenport.ports.storage import ObjectStore
from tokenport.reentry import NoReentryLock

if TYPE_CHECKING:
    from tokenport.backends.entropy.drbg_source import DrbgRandomSource
    from tokenport.config import Config, EntropyConfig
    from tokenport.mechanisms.base import MechanismRegistry
    from tokenport.ports.crypto import CryptoBackend


class ConfiguredStore:
    """Opens the configured store at each C_Initialize and closes it at C_Finalize."""

    def __init__(self, config: Config) -> None:
        self._config = config

    def open(self) -> ObjectStore:
        from tokenport.config import open_store

        return open_store(self._config)

    def release(self, store: ObjectStore) -> None:
        store.close()


class GivenStore:
    """A store the caller opened and owns: handed to every C_Initialize, never closed."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def open(self) -> ObjectStore:
        return self._store

    def release(self, store: ObjectStore) -> None:
        """The caller closes it."""


class ConfiguredRandom:
    """One random source per token, built from the token's entropy configuration (rebuilt
    when a label change selects another configuration)."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._sources: dict[str, tuple[EntropyConfig, DrbgRandomSource]] = {}
        self._lock = NoReentryLock("the random source table")

    def source_for(self, serial: str, label: str) -> RandomSource:
        entropy = self._config.entropy_for(label, serial)
        cached = self._sources.get(serial)  # the common case, without the lock
        if cached is not None and cached[0] is entropy:
            return cached[1]
        with self._lock:
            cached = self._sources.get(serial)
            if cached is not None and cached[0] is entropy:
                return cached[1]
            from tokenport.config import open_random_source

            source = open_random_source(entropy, b"tokenport token " + serial.encode("ascii"))
            if cached is not None:
                cached[1].close()
            self._sources[serial] = (entropy, source)
            return source

    def forget(self, serial: str | None = None) -> None:
        with self._lock:
            serials = list(self._sources) if serial is None else [serial]
            for key in serials:
                entry = self._sources.pop(key, None)
                if entry is not None:
                    entry[1].close()


class GivenRandom:
    """One random source for every token (tests, ``build_module(random=...)``)."""

    def __init__(self, source: RandomSource) -> None:
        self._source = source

    def source_for(self, serial: str, label: str) -> RandomSource:
        return self._source

    def forget(self, serial: str | None = None) -> None:
        """The caller owns the source."""


class _Deferred:
    """An object imported and built at its first use, then read without indirection: the
    first attribute read builds the target; each attribute read is then copied onto this
    object, so later reads are plain attribute reads (the hot path pays nothing)."""

    def __init__(self, opener: Callable[[], Any]) -> None:
        self._opener = opener
        self._built: Any = None
        self._lock = threading.Lock()

    def _target(self) -> Any:
        built = self._built
        if built is None:
            with self._lock:
                built = self._built
                if built is None:
                    built = self._built = self._opener()
        return built

    def close(self) -> None:
        """Close the target if it was built and can be closed (never builds it)."""
        built = self._built
        close = getattr(built, "close", None) if built is not None else None
        if callable(close):
            close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(self._target(), name)
        setattr(self, name, value)
        return value


class DeferredCrypto(_Deferred):
    """The configured crypto port, imported and opened at its first use.

    Opening the pyca port imports pyca/cryptography (about 10 ms), which C_Initialize,
    C_GetSlotList or C_OpenSession never need. Only a port without options is deferred:
    options are checked at C_Initialize, where a mistake in them belongs.
    """


class DeferredRegistry(_Deferred):
    """The mechanism registry, imported at its first use: the mechanism layer's base and
    parameter classes (about 8 ms of imports) that C_GetSlotList, C_GetTokenInfo or a
    command-line listing never need. (Its families load later still, one by one.)"""

    def __iter__(self) -> Iterator[Any]:
        return iter(self._target())

    def __len__(self) -> int:
        return len(self._target())


def settings_of(config: Config) -> CoreSettings:
    """The core's policy from the configuration."""
    return CoreSettings(
        max_pin_attempts=config.max_pin_attempts,
        pin_kdf_iterations=config.pin_kdf_iterations,
        min_pin_len=config.min_pin_len,
        max_pin_len=config.max_pin_len,
        allow_wrap_with_decrypt_key=config.allow_wrap_with_decrypt_key,
    )


def _default_registry() -> MechanismRegistry:
    from tokenport.mechanisms import default_registry

    return default_registry()


def build_module(
    config: Config | None = None,
    *,
    store: ObjectStore | None = None,
    crypto: CryptoBackend | None = None,
    random: RandomSource | None = None,
    registry: MechanismRegistry | None = None,
) -> Module:
    """A Module wired from ``config`` (default: tokenport.config.load_config()) and its ports."""
    from tokenport.config import load_config, open_crypto

    if config is None:
        config = load_config()
    if crypto is None:
        if config.crypto_options:
            crypto = open_crypto(config)
        else:
            configured = config
            crypto = cast("CryptoBackend", DeferredCrypto(lambda: open_crypto(configured)))
    if registry is None:
        registry = cast("MechanismRegistry", DeferredRegistry(_default_registry))
    parts = CoreParts(
        store=GivenStore(store) if store is not None else ConfiguredStore(config),
        crypto=crypto,
        registry=registry,
        random=GivenRandom(random) if random is not None else ConfiguredRandom(config),
    )
    return Module(parts, settings_of(config))
