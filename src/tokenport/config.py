"""The tokenport configuration: one TOML file, a few environment variables, and the store.

Which file (the first rule that applies wins):

1. ``$TOKENPORT_CONF`` if set: that file, which must exist;
2. ``$TOKENPORT_HOME/tokenport.toml`` if TOKENPORT_HOME is set and the file exists;
3. ``$XDG_CONFIG_HOME/tokenport/tokenport.toml`` (default ``~/.config/tokenport/...``)
   if it exists;
4. none: built-in defaults.

Where the store lives (the first rule that applies wins):

1. ``$TOKENPORT_HOME``;
2. ``[store] path`` from the file (``~`` expanded; a relative path is relative to the
   directory of the config file);
3. ``$XDG_DATA_HOME/tokenport`` (default ``~/.local/share/tokenport``).

The store always lives outside the installed package (a store directory inside it is
refused), so reinstalling or upgrading tokenport never erases credentials. Empty
environment variables count as unset; relative XDG_* values are ignored, as the XDG Base
Directory specification asks.

File layout::

    [store]
    backend = "sqlite"          # or "memory" (nothing persists)
    path = "~/tokens"           # the store directory

    [token]
    max_pin_attempts = 10       # wrong PINs in a row before the PIN locks
    pin_kdf_iterations = 200000 # PBKDF2 iterations for PIN verifiers; at least 200000
    min_pin_len = 4
    max_pin_len = 255
"""

from __future__ import annotations

import os
import pwd
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tokenport import errors
from tokenport.backends.storage_memory import MemoryObjectStore
from tokenport.backends.storage_sqlite import SqliteObjectStore
from tokenport.ports.storage import ObjectStore

CONFIG_FILE_NAME = "tokenport.toml"
STORE_FILE_NAME = "tokenport.sqlite3"
BACKENDS = ("sqlite", "memory")
MIN_PIN_KDF_ITERATIONS = 200_000

# [token] key -> (least allowed, greatest allowed or None)
_TOKEN_LIMITS: Mapping[str, tuple[int, int | None]] = MappingProxyType(
    {
        "max_pin_attempts": (1, 1_000_000),
        "pin_kdf_iterations": (MIN_PIN_KDF_ITERATIONS, None),
        "min_pin_len": (1, None),
        "max_pin_len": (1, None),
    }
)
_STORE_KEYS = ("backend", "path")


class ConfigError(errors.GeneralError):
    """The configuration (file or environment) is unusable; the message names where and why."""


@dataclass(frozen=True, kw_only=True)
class Config:
    """The resolved configuration. Construct it with keywords; values are checked."""

    store_backend: str = "sqlite"
    store_dir: Path
    max_pin_attempts: int = 10
    pin_kdf_iterations: int = MIN_PIN_KDF_ITERATIONS
    min_pin_len: int = 4
    max_pin_len: int = 255
    source: Path | None = None

    def __post_init__(self) -> None:
        if self.store_backend not in BACKENDS:
            raise ConfigError(
                f"store backend {self.store_backend!r} is not one of {', '.join(BACKENDS)}"
            )
        for key in _TOKEN_LIMITS:
            problem = _check_int(getattr(self, key), key)
            if problem:
                raise ConfigError(f"{key}: {problem}")
        if self.min_pin_len > self.max_pin_len:
            raise ConfigError(
                f"min_pin_len ({self.min_pin_len}) is greater than max_pin_len ({self.max_pin_len})"
            )


def config_search_paths(environ: Mapping[str, str] = os.environ) -> list[Path]:
    """The config files ``load_config`` considers, in order (the first that applies wins)."""
    paths = []
    conf = _env(environ, "TOKENPORT_CONF")
    if conf is not None:
        paths.append(_expand(conf, environ))
    home = _env(environ, "TOKENPORT_HOME")
    if home is not None:
        paths.append(_expand(home, environ) / CONFIG_FILE_NAME)
    paths.append(_xdg(environ, "XDG_CONFIG_HOME", ".config") / "tokenport" / CONFIG_FILE_NAME)
    return paths


def load_config(environ: Mapping[str, str] = os.environ) -> Config:
    """Find, read and check the config file, and decide where the store lives."""
    source = _find_config_file(environ)
    table = _read_toml(source) if source is not None else {}
    where = str(source) if source is not None else "tokenport config"

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{where}: {key}: {problem}")

    for section, value in table.items():
        if section not in ("store", "token"):
            raise fail(f"[{section}]", "unknown section (allowed: [store], [token])")
        if not isinstance(value, dict):
            raise fail(section, f"must be a table, written [{section}]")
    store: dict[str, Any] = table.get("store", {})
    token: dict[str, Any] = table.get("token", {})
    for key in store:
        if key not in _STORE_KEYS:
            raise fail(f"[store] {key}", f"unknown key (allowed: {', '.join(_STORE_KEYS)})")
    for key in token:
        if key not in _TOKEN_LIMITS:
            raise fail(f"[token] {key}", f"unknown key (allowed: {', '.join(_TOKEN_LIMITS)})")

    backend = store.get("backend", "sqlite")
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise fail("[store] backend", f"must be one of {', '.join(map(repr, BACKENDS))}")
    numbers: dict[str, int] = {}
    for key, value in token.items():
        problem = _check_int(value, key)
        if problem:
            raise fail(f"[token] {key}", problem)
        numbers[key] = value

    path = store.get("path")
    if path is not None and (not isinstance(path, str) or not path):
        raise fail("[store] path", "must be a non-empty string")
    home = _env(environ, "TOKENPORT_HOME")
    if home is not None:
        store_dir = _expand(home, environ)
    elif path is not None:
        store_dir = _expand(path, environ)
        if not store_dir.is_absolute():
            assert source is not None
            store_dir = source.parent / store_dir
    else:
        store_dir = _xdg(environ, "XDG_DATA_HOME", ".local/share") / "tokenport"
    store_dir = Path(os.path.normpath(store_dir.absolute()))
    if _inside_package(store_dir):
        raise ConfigError(
            f"{where}: store directory {store_dir} is inside the installed tokenport package;"
            " reinstalling would erase it. Choose a directory elsewhere."
        )

    try:
        return Config(store_backend=backend, store_dir=store_dir, source=source, **numbers)
    except ConfigError as exc:
        raise ConfigError(f"{where}: [token] {exc}") from None


def open_store(config: Config) -> ObjectStore:
    """The store the configuration names (not yet initialized: the core calls initialize())."""
    if config.store_backend == "sqlite":
        return SqliteObjectStore(config.store_dir / STORE_FILE_NAME)
    if config.store_backend == "memory":
        return MemoryObjectStore()
    raise ConfigError(f"store backend {config.store_backend!r} is not one of {BACKENDS}")


# -- helpers ---------------------------------------------------------------------------


def _check_int(value: object, key: str) -> str | None:
    least, greatest = _TOKEN_LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer (got {type(value).__name__})"
    if value < least:
        return f"must be at least {least} (got {value})"
    if greatest is not None and value > greatest:
        return f"must be at most {greatest} (got {value})"
    return None


def _find_config_file(environ: Mapping[str, str]) -> Path | None:
    conf = _env(environ, "TOKENPORT_CONF")
    if conf is not None:
        path = _expand(conf, environ)
        if not path.is_file():
            problem = "is not a file" if path.exists() else "no such file"
            raise ConfigError(f"TOKENPORT_CONF={conf}: {problem}")
        return path.absolute()
    for path in config_search_paths(environ):
        if path.is_file():
            return path.absolute()
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    return value if value else None


def _home(environ: Mapping[str, str]) -> Path:
    home = _env(environ, "HOME")
    if home is not None:
        return Path(home)
    try:
        return Path(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:
        raise ConfigError("cannot find the home directory: HOME is not set") from None


def _expand(value: str, environ: Mapping[str, str]) -> Path:
    """``~`` and ``~/...`` against HOME from ``environ``; ``~user`` as the system knows it."""
    if value == "~" or value.startswith("~/"):
        return _home(environ) / value[2:]
    if value.startswith("~"):
        return Path(os.path.expanduser(value))
    return Path(value)


def _xdg(environ: Mapping[str, str], name: str, default: str) -> Path:
    value = _env(environ, name)
    if value is not None and os.path.isabs(value):
        return Path(value)
    return _home(environ) / default


def _inside_package(directory: Path) -> bool:
    package = Path(__file__).resolve().parent
    return directory.resolve().is_relative_to(package)
