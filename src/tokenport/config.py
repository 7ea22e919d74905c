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
    backend = "sqlite"          # "sqlite", "files", "flash", "memory" (nothing persists),
                                # or a plug-in storage port (entry point group
                                # tokenport.storage)
    path = "~/tokens"           # the store directory

    [store.flash]               # options of one backend, passed to its factory
    sectors = 64                # (see docs/porting.md for each backend's options)
    sector_size = 4096

    [crypto]
    backend = "pyca"            # "pyca", "tpm2" (keys in a TPM 2.0), or a plug-in crypto
                                # port (entry point group tokenport.crypto); ``port`` is
                                # accepted as a synonym of ``backend`` in this section

    [crypto.tpm2]               # options of the tpm2 port (docs/porting.md)
    tcti = "device:/dev/tpmrm0" # the TCTI string (swtpm:host=...,port=..., tabrmd:...)
    owner_auth = ""             # the owner hierarchy's authorization
    auth_session = "hmac"       # "hmac" (keys' auth never on the bus) or "password"

    [token]
    max_pin_attempts = 10       # wrong PINs in a row before the PIN locks
    pin_kdf_iterations = 200000 # PBKDF2 iterations for PIN verifiers; at least 200000
    min_pin_len = 4
    max_pin_len = 255

    [policy]                    # key-management policy (README, "Security model")
    allow_wrap_with_decrypt_key = false  # true: C_WrapKey may wrap a sensitive key under a
                                # key that can also decrypt, and C_UnwrapKey may unwrap
                                # under a key that can also encrypt (Clulow's attack)

    [entropy]                   # the random source of every token (docs/porting.md)
    drbg = "hmac"               # "hmac": HMAC_DRBG SHA-256; "ctr": CTR_DRBG AES-256 with df
    source = "os"               # "os" (getrandom), "nv-seed" (a seed file), "tpm2" (the
                                # TPM's TPM2_GetRandom; docs/tpm.md), "fixed" (tests), or
                                # the name of a plug-in source (entry point group
                                # tokenport.entropy_sources)
    tcti = "device:/dev/tpmrm0" # tpm2: the TPM to read (a tpm2-tools TCTI string; default:
                                # [crypto.tpm2] tcti if set, else device:/dev/tpmrm0)
    seed_file = "seed.bin"      # nv-seed: the seed file (relative to this file's directory)
    reseed_interval = 10000     # DRBG requests between reseeds, 1 .. 2^48
    prediction_resistance = false  # reseed from the source before every request (needs a
                                # live source: not nv-seed)
    allow_fixed_source = false  # must be true for source = "fixed"
    fixed_pattern = "00010203"  # fixed: the byte pattern (hex) it repeats

    [entropy.tokens."my token"] # overrides for one token, by label or serial number (a
    source = "nv-seed"          # serial match wins); keys as in [entropy], the rest is
    seed_file = "/var/lib/tokenport/my-token.seed"  # inherited from [entropy]

Defaults: HMAC_DRBG over the ``os`` source, reseed interval 10000, no prediction
resistance. HMAC_DRBG is the default because the token's draws are small (keys, salts,
nonces) and for those it is the faster of the two here (about 16 us against 44 us per
32-byte request: CTR_DRBG re-keys AES on every request, and creating an AES context costs
about 25 us through pyca/OpenSSL 3); it is also the simpler mechanism, with no block-cipher
output limits. CTR_DRBG (``drbg = "ctr"``), the DRBG of the porting guide's mbedTLS
platforms, is about three times faster for bulk output.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from tokenport import errors, plugins
from tokenport.backends.entropy.drbg import DRBGS, MAX_RESEED_INTERVAL
from tokenport.backends.entropy.drbg_source import DEFAULT_RESEED_INTERVAL, DrbgRandomSource
from tokenport.ports.entropy import EntropySource
from tokenport.ports.storage import ObjectStore
from tokenport.storage_format import MIN_PIN_KDF_ITERATIONS

if TYPE_CHECKING:
    from tokenport.ports.crypto import CryptoBackend

CONFIG_FILE_NAME = "tokenport.toml"
STORE_FILE_NAME = "tokenport.sqlite3"

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
_ENTROPY_KEYS = (
    "drbg", "source", "seed_file", "reseed_interval", "prediction_resistance",
    "allow_fixed_source", "fixed_pattern", "tcti",
)
_POLICY_KEYS = ("allow_wrap_with_decrypt_key",)
_SECTIONS = ("store", "token", "entropy", "crypto", "policy")
MAX_FIXED_PATTERN_BYTES = 65536


class ConfigError(errors.GeneralError):
    """The configuration (file or environment) is unusable; the message names where and why."""


@dataclass(frozen=True, kw_only=True)
class EntropyConfig:
    """Where one token's random bytes come from (the [entropy] keys). Values are checked."""

    drbg: str = "hmac"
    source: str = "os"
    seed_file: Path | None = None
    reseed_interval: int = DEFAULT_RESEED_INTERVAL
    prediction_resistance: bool = False
    allow_fixed_source: bool = False
    fixed_pattern: bytes | None = None
    tcti: str | None = None

    def __post_init__(self) -> None:
        if self.drbg not in DRBGS:
            raise ConfigError(f"drbg: must be one of {', '.join(map(repr, DRBGS))}")
        if not isinstance(self.source, str) or not self.source:
            raise ConfigError("source: must be a non-empty string")
        if not plugins.exists("entropy", self.source):
            raise ConfigError(
                f"source: {self.source!r} is not one of "
                f"{', '.join(map(repr, plugins.available('entropy')))}"
                " and no installed plug-in provides it"
            )
        interval = self.reseed_interval
        if isinstance(interval, bool) or not isinstance(interval, int):
            raise ConfigError(
                f"reseed_interval: must be an integer (got {type(interval).__name__})"
            )
        if not 1 <= interval <= MAX_RESEED_INTERVAL:
            raise ConfigError(f"reseed_interval: must be 1 .. 2^48 (got {interval})")
        for key in ("prediction_resistance", "allow_fixed_source"):
            value = getattr(self, key)
            if not isinstance(value, bool):
                raise ConfigError(f"{key}: must be true or false (got {type(value).__name__})")
        if self.source == "nv-seed" and self.seed_file is None:
            raise ConfigError('seed_file: source = "nv-seed" needs a seed_file')
        if self.source == "nv-seed" and self.prediction_resistance:
            raise ConfigError(
                "prediction_resistance: needs a live entropy source; a seed file is not one"
            )
        if self.source == "fixed" and not self.allow_fixed_source:
            raise ConfigError(
                'source: "fixed" is a deterministic source for tests only;'
                " set allow_fixed_source = true to use it"
            )
        if self.fixed_pattern is not None and not (
            isinstance(self.fixed_pattern, bytes)
            and 0 < len(self.fixed_pattern) <= MAX_FIXED_PATTERN_BYTES
        ):
            raise ConfigError(
                f"fixed_pattern: must be 1 .. {MAX_FIXED_PATTERN_BYTES} bytes"
            )
        if self.tcti is not None:
            from tokenport.backends.tpm.connection import check_tcti

            try:
                check_tcti(self.tcti)
            except ValueError as exc:
                raise ConfigError(f"tcti: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class Config:
    """The resolved configuration. Construct it with keywords; values are checked.

    ``entropy`` is the [entropy] section; ``token_entropy`` maps a token label or serial
    number to that token's complete entropy configuration ([entropy.tokens."..."] merged
    over [entropy]).
    """

    store_backend: str = "sqlite"
    store_dir: Path
    store_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    crypto_backend: str = "pyca"
    crypto_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    max_pin_attempts: int = 10
    pin_kdf_iterations: int = MIN_PIN_KDF_ITERATIONS
    min_pin_len: int = 4
    max_pin_len: int = 255
    allow_wrap_with_decrypt_key: bool = False
    source: Path | None = None
    entropy: EntropyConfig = field(default_factory=EntropyConfig)
    token_entropy: Mapping[str, EntropyConfig] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def entropy_for(self, label: str, serial: str) -> EntropyConfig:
        """The entropy configuration of the token with this label and serial number."""
        if self.token_entropy:
            found = self.token_entropy.get(serial) or self.token_entropy.get(label)
            if found is not None:
                return found
        return self.entropy

    def __post_init__(self) -> None:
        for kind, name in (("storage", self.store_backend), ("crypto", self.crypto_backend)):
            if not plugins.exists(kind, name):
                raise ConfigError(
                    f"{kind} backend {name!r} is not one of {', '.join(plugins.available(kind))}"
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
        if section not in _SECTIONS:
            raise fail(
                f"[{section}]",
                "unknown section (allowed: [store], [token], [entropy], [crypto], [policy])",
            )
        if not isinstance(value, dict):
            raise fail(section, f"must be a table, written [{section}]")
    store: dict[str, Any] = table.get("store", {})
    token: dict[str, Any] = table.get("token", {})
    for key, value in store.items():
        if isinstance(value, dict) and plugins.exists("storage", key):
            continue  # [store.<backend>]: that backend's options
        if key not in _STORE_KEYS:
            raise fail(
                f"[store] {key}",
                f"unknown key (allowed: {', '.join(_STORE_KEYS)}, or a [store.<backend>] table)",
            )
    crypto: dict[str, Any] = dict(table.get("crypto", {}))
    if "port" in crypto:  # the synonym of issue 13's spelling
        if "backend" in crypto and crypto["backend"] != crypto["port"]:
            raise fail("[crypto] port", "contradicts [crypto] backend (give one of them)")
        crypto["backend"] = crypto.pop("port")
    for key, value in crypto.items():
        if key != "backend" and not (isinstance(value, dict) and plugins.exists("crypto", key)):
            raise fail(f"[crypto] {key}",
                       "unknown key (allowed: backend or port, or a [crypto.<backend>] table)")
    crypto_backend = crypto.get("backend", "pyca")
    if not isinstance(crypto_backend, str) or not plugins.exists("crypto", crypto_backend):
        raise fail("[crypto] backend", f"{crypto_backend!r} is not installed (available: "
                   f"{', '.join(map(repr, plugins.available('crypto')))})")
    for key in token:
        if key not in _TOKEN_LIMITS:
            raise fail(f"[token] {key}", f"unknown key (allowed: {', '.join(_TOKEN_LIMITS)})")
    entropy, token_entropy = _entropy_configs(
        table.get("entropy", {}), source, fail, _crypto_tcti(crypto)
    )
    policy: dict[str, Any] = table.get("policy", {})
    for key, value in policy.items():
        if key not in _POLICY_KEYS:
            raise fail(f"[policy] {key}", f"unknown key (allowed: {', '.join(_POLICY_KEYS)})")
        if not isinstance(value, bool):
            raise fail(f"[policy] {key}", "must be true or false")

    backend = store.get("backend", "sqlite")
    if not isinstance(backend, str) or not plugins.exists("storage", backend):
        raise fail("[store] backend", f"{backend!r} is not installed (available: "
                   f"{', '.join(map(repr, plugins.available('storage')))})")
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
        return Config(
            store_backend=backend, store_dir=store_dir, source=source, entropy=entropy,
            token_entropy=token_entropy,
            store_options=MappingProxyType(dict(store.get(backend, {}))),
            crypto_backend=crypto_backend,
            crypto_options=MappingProxyType(dict(crypto.get(crypto_backend, {}))),
            allow_wrap_with_decrypt_key=policy.get("allow_wrap_with_decrypt_key", False),
            **numbers,
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: [token] {exc}") from None


def open_store(config: Config, *, read_only: bool = False) -> ObjectStore:
    """The store the configuration names (not yet initialized: the core calls initialize()).

    ``read_only`` opens it for inspection (tokenport store check): backends that repair
    themselves when opened (files, flash) then repair nothing and refuse writes.
    """
    factory = _factory("storage", config.store_backend)
    where = f"[store.{config.store_backend}]"
    options = {**config.store_options, "read_only": True} if read_only else config.store_options
    try:
        store: ObjectStore = factory(config.store_dir, options)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{_where(config)}: {where}: {exc}") from None
    return store


def open_crypto(config: Config) -> CryptoBackend:
    """The crypto port the configuration names."""
    factory = _factory("crypto", config.crypto_backend)
    try:
        crypto: CryptoBackend = factory(config.crypto_options)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{_where(config)}: [crypto.{config.crypto_backend}]: {exc}") from None
    return crypto


def _factory(kind: str, name: str) -> Any:
    try:
        return plugins.find(kind, name)
    except plugins.PluginNotFound as exc:
        raise ConfigError(str(exc)) from None


def _where(config: Config) -> str:
    return str(config.source) if config.source is not None else "tokenport config"


def open_entropy_source(entropy: EntropyConfig) -> EntropySource:
    """The raw entropy source ``entropy`` names (nothing is read yet)."""
    factory = _factory("entropy", entropy.source)
    try:
        source: EntropySource = factory(entropy)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"[entropy] source {entropy.source!r}: {exc}") from None
    return source


def open_random_source(
    entropy: EntropyConfig, personalization: bytes = b""
) -> DrbgRandomSource:
    """The RandomSource ``entropy`` describes: source -> health tests -> DRBG. It starts
    (start-up tests, instantiation) at its first request. ``personalization`` names what
    it serves (a token serial); the process id and the time are added to it."""
    return DrbgRandomSource(
        open_entropy_source(entropy), drbg=entropy.drbg,
        reseed_interval=entropy.reseed_interval,
        prediction_resistance=entropy.prediction_resistance,
        personalization=personalization,
    )


# -- helpers ---------------------------------------------------------------------------


def _crypto_tcti(crypto: Mapping[str, Any]) -> str | None:
    """``[crypto.tpm2] tcti``, the default of ``[entropy] tcti``, when it is a valid TCTI
    string (a bad one is the crypto port's to report, not the entropy section's)."""
    options = crypto.get("tpm2")
    tcti = options.get("tcti") if isinstance(options, dict) else None
    from tokenport.backends.tpm.connection import check_tcti

    try:
        return check_tcti(tcti) if isinstance(tcti, str) else None
    except ValueError:
        return None


def _entropy_configs(
    table: object, source: Path | None, fail: Callable[[str, str], ConfigError],
    default_tcti: str | None = None,
) -> tuple[EntropyConfig, Mapping[str, EntropyConfig]]:
    """[entropy] and its [entropy.tokens."label or serial"] overrides; ``default_tcti``
    ([crypto.tpm2] tcti) stands in for an [entropy] tcti that is not given."""
    if not isinstance(table, dict):
        raise fail("entropy", "must be a table, written [entropy]")
    overrides = table.get("tokens", {})
    if not isinstance(overrides, dict):
        raise fail("[entropy] tokens", 'must be tables, written [entropy.tokens."label"]')
    base = {key: value for key, value in table.items() if key != "tokens"}
    if default_tcti is not None:
        base.setdefault("tcti", default_tcti)
    default = _entropy_config(base, source, "[entropy]", fail)
    per_token: dict[str, EntropyConfig] = {}
    for name, override in overrides.items():
        where = f"[entropy.tokens.{_toml_key(name)}]"
        if not isinstance(override, dict):
            raise fail(where, f"must be a table, written {where}")
        if "tokens" in override:
            raise fail(f"{where} tokens", "unknown key (overrides do not nest)")
        per_token[name] = _entropy_config({**base, **override}, source, where, fail)
    return default, MappingProxyType(per_token)


def _entropy_config(
    values: dict[str, Any], source: Path | None, where: str,
    fail: Callable[[str, str], ConfigError],
) -> EntropyConfig:
    for key in values:
        if key not in _ENTROPY_KEYS:
            raise fail(f"{where} {key}", f"unknown key (allowed: {', '.join(_ENTROPY_KEYS)})")
    args = dict(values)
    seed_file = args.get("seed_file")
    if seed_file is not None:
        if not isinstance(seed_file, str) or not seed_file:
            raise fail(f"{where} seed_file", "must be a non-empty string")
        path = Path(os.path.expanduser(seed_file))
        if not path.is_absolute() and source is not None:
            path = source.parent / path
        args["seed_file"] = Path(os.path.normpath(path.absolute()))
    pattern = args.get("fixed_pattern")
    if pattern is not None:
        try:
            args["fixed_pattern"] = bytes.fromhex(pattern) if isinstance(pattern, str) else None
        except ValueError:
            args["fixed_pattern"] = None
        if args["fixed_pattern"] is None:
            raise fail(f"{where} fixed_pattern", "must be a string of hex digits")
    for key in ("drbg", "source", "tcti"):
        if key in args and not isinstance(args[key], str):
            raise fail(f"{where} {key}", "must be a string")
    try:
        return EntropyConfig(**args)
    except ConfigError as exc:
        key, _, problem = str(exc).partition(": ")
        raise fail(f"{where} {key}", problem) from None


def _toml_key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else f'"{name}"'



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
    import tomllib  # only when a configuration file exists (C_Initialize without one skips it)

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
