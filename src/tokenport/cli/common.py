"""Shared pieces of the tokenport command: opening the library, choosing a token, reading
PINs from a prompt, an environment variable or a file, and printing errors as one line."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from tokenport.ck import CKF, CKR, CKU
from tokenport.config import Config, ConfigError, load_config
from tokenport.core.directory import TokenDamaged
from tokenport.core.info import TokenInfo
from tokenport.core.module import Module
from tokenport.errors import PinIncorrect, PinLocked, PKCS11Error
from tokenport.uri import Pkcs11Uri, UriError, is_uri
from tokenport.wiring import build_module

F = TypeVar("F", bound=Callable[..., Any])

RW_SESSION = int(CKF.SERIAL_SESSION | CKF.RW_SESSION)


def fail(message: str) -> None:
    """Print one clear line and leave with a non-zero exit code."""
    raise click.ClickException(message)


def reports_errors(command: F) -> F:
    """Turn PKCS #11 and file errors into one line on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:  # a configuration problem, not a token's answer
            raise click.ClickException(str(exc)) from None
        except PKCS11Error as exc:
            name = CKR(exc.rv).name if exc.rv in CKR._value2member_map_ else hex(exc.rv)
            detail = str(exc)
            text = f"{detail} (CKR_{name})" if detail != type(exc).__name__ else f"CKR_{name}"
            raise click.ClickException(text) from None
        except BrokenPipeError:
            sys.stderr.close()
            raise SystemExit(1) from None
        except OSError as exc:
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None

    return wrapper  # type: ignore[return-value]


STORE_FILES = {"sqlite": ("file", "tokenport.sqlite3"), "files": ("directory", "objects"),
               "flash": ("image", "tokenport.flash")}
"""Built-in storage backends -> (option naming the store's file or directory inside the
store directory, its default): what exists once a store was created."""


def missing_store(config: Config) -> Path | None:
    """The store directory when the configured store does not exist yet but could be
    created there (a read-only command then creates nothing); None when it exists, keeps
    nothing on disk (memory), is a plug-in, or cannot be created (opening it says why)."""
    entry = STORE_FILES.get(config.store_backend)
    if entry is None:
        return None
    option, default = entry
    name = config.store_options.get(option, default)
    if not isinstance(name, str) or not name:
        return None
    path = config.store_dir / name
    if os.path.lexists(path):
        return None
    parent = path.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    return config.store_dir if parent.is_dir() else None


def no_store_text(store_dir: Path) -> str:
    return (f"no initialized token: there is no store in {store_dir} yet; create a token with "
            "'tokenport quickstart' or 'tokenport token init'")


@contextlib.contextmanager
def opened_module(*, creates_store: bool = False, missing_ok: bool = False) -> Iterator[Module]:
    """The token library, initialized for the duration of a command.

    Only commands that create tokens (``creates_store``) create a store that does not exist
    yet; the others fail with one line saying so, or (``missing_ok``: listings) see an
    empty store in memory, so the directory stays as it was.
    """
    config = load_config()
    absent = None if creates_store else missing_store(config)
    if absent is not None and not missing_ok:
        fail(no_store_text(absent))
    if absent is not None:
        from tokenport.backends.storage.memory import MemoryObjectStore

        module = build_module(config, store=MemoryObjectStore())
    else:
        module = build_module(config)
    module.initialize()
    try:
        yield module
    finally:
        module.finalize()


def token_options(command: F) -> F:
    """--slot / --token options naming the token a command works on."""
    command = click.option(
        "--token", "token_name", metavar="LABEL|SERIAL|URI",
        help="Token label, serial number or pkcs11: URI (default: the only initialized token).",
    )(command)
    command = click.option("--slot", type=int, help="Slot ID of the token.")(command)
    return command


def token_state(module: Module, slot: int) -> TokenInfo | TokenDamaged:
    """The token info of ``slot``, or the TokenDamaged that says its token is damaged."""
    try:
        return module.get_token_info(slot)
    except TokenDamaged as exc:
        return exc


def select_slot(module: Module, slot: int | None, token_name: str | None, *,
                allow_damaged: bool = False) -> int:
    """The slot of the token the user named (or of the only initialized token).

    A damaged token (core/directory.py) is never chosen by default; naming it (--slot, or
    its serial or readable label) fails with what is wrong, unless ``allow_damaged``
    (token info, delete).
    """
    states = {s: token_state(module, s) for s in module.get_slot_list(True)}
    initialized = [s for s, state in states.items()
                   if isinstance(state, TokenInfo) and state.flags & CKF.TOKEN_INITIALIZED]
    damaged = {s: state for s, state in states.items() if isinstance(state, TokenDamaged)}

    def chosen(candidate: int) -> int:
        if candidate in damaged and not allow_damaged:
            fail(str(damaged[candidate]))
        return candidate

    if slot is not None:
        if slot not in states:
            fail(f"no slot {slot}")
        return chosen(slot)
    if token_name is not None and is_uri(token_name):
        return slot_for_uri(module, initialized, token_name)
    if token_name is not None:
        for candidate in initialized:
            info = module.get_token_info(candidate)
            if token_name in (info.label, info.serial_number):
                return candidate
        for candidate, problem in damaged.items():
            if token_name in (problem.serial, problem.label):
                return chosen(candidate)
        fail(f"no initialized token with label or serial {token_name!r}")
    if len(initialized) == 1:
        return initialized[0]
    if not initialized:
        fail("no initialized token; create one with 'tokenport token init'")
    labels = ", ".join(repr(module.get_token_info(s).label) for s in initialized)
    fail(f"several tokens exist ({labels}); choose one with --token or --slot")
    raise AssertionError("unreachable")


def parse_id(id_hex: str | None, option: str = "--id") -> bytes | None:
    """A CKA_ID given in hex on the command line (a one-line error if it is not hex)."""
    if id_hex is None:
        return None
    try:
        return bytes.fromhex(id_hex)
    except ValueError:
        fail(f"{option} must be hexadecimal bytes (e.g. 01a2), not {id_hex!r}")
        raise AssertionError("unreachable") from None


def parse_uri(text: str | None) -> Pkcs11Uri | None:
    """A pkcs11: URI option, parsed (a one-line error if it is not a usable PKCS #11 URI)."""
    if text is None:
        return None
    try:
        uri = Pkcs11Uri.parse(text)
    except UriError as exc:
        fail(f"{exc}: {text}")
        raise AssertionError("unreachable") from None
    if uri.unrecognized:
        fail(f"unrecognized URI attribute {uri.unrecognized[0]!r}: the URI matches nothing")
    return uri


def slot_for_uri(module: Module, slots: list[int], text: str) -> int:
    """The one slot among ``slots`` whose slot and token a pkcs11: URI (RFC 7512) names."""
    uri = parse_uri(text)
    assert uri is not None
    info = module.get_info()
    version = (info.library_version.major, info.library_version.minor)
    # CK_INFO text fields hold 32 characters: compare what a PKCS #11 client reads
    if not uri.matches_library(info.manufacturer_id[:32], info.library_description[:32], version):
        fail(f"the URI names another PKCS #11 library: {text}")
    found = []
    for slot in slots:
        slot_info, token = module.get_slot_info(slot), module.get_token_info(slot)
        if uri.matches_slot(slot, slot_info.slot_description, slot_info.manufacturer_id) and \
                uri.matches_token(token.label, token.manufacturer_id, token.model,
                                  token.serial_number):
            found.append(slot)
    if len(found) != 1:
        fail(f"{'no' if not found else 'more than one'} initialized token matches {text}")
    return found[0]


def pin_options(role: str) -> Callable[[F], F]:
    """--pin / --pin-env / --pin-file (or --so-pin ...) options for one PIN."""
    prefix = "so-pin" if role == "so" else "pin"
    who = "SO PIN" if role == "so" else "user PIN"
    env_default = "TOKENPORT_SO_PIN" if role == "so" else "TOKENPORT_PIN"

    def decorate(command: F) -> F:
        command = click.option(
            f"--{prefix}-file", type=click.Path(dir_okay=False, path_type=Path),
            help=f"Read the {who} from the first line of this file.",
        )(command)
        command = click.option(
            f"--{prefix}-env", metavar="VAR",
            help=f"Read the {who} from this environment variable (default: {env_default}).",
        )(command)
        command = click.option(
            f"--{prefix}", metavar="PIN",
            help=f"The {who} itself (visible to other users in the process list; prefer a prompt, "
            "--{prefix}-env or --{prefix}-file).".replace("{prefix}", prefix),
        )(command)
        return command

    return decorate


def read_pin(
    role: str, value: str | None, env: str | None, file: Path | None, *, confirm: bool = False,
    what: str | None = None, default_env: str | None = None,
) -> bytes:
    """A PIN from the command line, an environment variable, a file, or a hidden prompt.

    Without --pin/--pin-env/--pin-file, the default variable (TOKENPORT_PIN or
    TOKENPORT_SO_PIN) is used when set; otherwise a terminal prompt asks.
    """
    label = what or ("SO PIN" if role == "so" else "user PIN")
    if value is not None:
        return value.encode()
    if file is not None:
        text = file.read_text(encoding="utf-8").splitlines()
        if not text or not text[0]:
            fail(f"{file}: no PIN on the first line")
        return text[0].encode()
    if env == "":
        fail("an empty environment variable name was given for the PIN")
    name = env or default_env or ("TOKENPORT_SO_PIN" if role == "so" else "TOKENPORT_PIN")
    if env is not None or name in os.environ:
        secret = os.environ.get(name)
        if not secret:
            fail(f"environment variable {name} is not set or empty")
        assert secret is not None
        return secret.encode()
    if not sys.stdin.isatty():
        fail(f"no {label} given: run in a terminal to be asked, or set {name}, "
             "or use the --...-env / --...-file options")
    entered: str = click.prompt(label, hide_input=True, confirmation_prompt=confirm)
    return entered.encode()


def tries_left(module: Module, slot: int, role: int) -> int | None:
    """How many wrong PINs ``role`` may still enter on the token of ``slot`` before its PIN
    locks (the token's durable failure counter against max_pin_attempts, core/token.py);
    None when the token cannot tell."""
    try:
        token = module.directory().token_in_slot(slot)
        record = token.record if token is not None else None
    except PKCS11Error:
        return None
    if token is None or record is None:
        return None
    failures = record.so_failures if role == CKU.SO else record.user_failures
    if token.is_locked(record, role):
        return 0
    return max(0, token.settings.max_pin_attempts - failures)


def pin_error_text(module: Module, slot: int, role: int, exc: PinIncorrect | PinLocked) -> str:
    """One line for a refused PIN (C_Login, C_SetPIN: PKCS #11 v2.40 s5.6): the token, the
    tries left before the PIN locks, and, once locked, how to unlock. Never the PIN."""
    try:
        label = module.get_token_info(slot).label
    except PKCS11Error:
        label = ""
    who = "SO PIN" if role == CKU.SO else "user PIN"
    token = f"token {label!r}" if label else f"the token in slot {slot}"
    code = "CKR_PIN_LOCKED" if isinstance(exc, PinLocked) else "CKR_PIN_INCORRECT"
    named = f" --token {shlex.quote(label)}" if label else ""
    left = tries_left(module, slot, role)
    if isinstance(exc, PinLocked) or left == 0:
        first = f"the {who} of {token} is locked" if isinstance(exc, PinLocked) else \
            f"the {who} of {token} is not correct, and it is now locked"
        if role == CKU.SO:
            return (f"{first}; nothing can unlock an SO PIN: delete the token with "
                    f"'tokenport token delete{named}' ({code})")
        return (f"{first}; the SO can set a new user PIN with "
                f"'tokenport pin init{named}' ({code})")
    tries = "" if left is None else f"; {left} {'try' if left == 1 else 'tries'} left before it locks"
    return f"the {who} of {token} is not correct{tries} ({code})"


@contextlib.contextmanager
def explained_pin_errors(module: Module, slot: int, role: int) -> Iterator[None]:
    """Turn a refused PIN into the one line of pin_error_text."""
    try:
        yield
    except (PinIncorrect, PinLocked) as exc:
        raise click.ClickException(pin_error_text(module, slot, role, exc)) from None


@contextlib.contextmanager
def user_session(module: Module, slot: int, pin: bytes | None, role: int = CKU.USER) -> Iterator[int]:
    """A R/W session, logged in when a PIN is given."""
    session = module.open_session(slot, RW_SESSION)
    try:
        if pin is not None:
            with explained_pin_errors(module, slot, role):
                module.login(session, role, pin)
        yield session
    finally:
        module.close_session(session)


def object_name(label: str | None, id_hex: str | None, kind: str | None,
                uri: str | None = None) -> str:
    """How a message names the object(s) a command looked for: "private key 'k' (id 01)"."""
    kinds = {"cert": "certificate", "pubkey": "public key", "privkey": "private key",
             "secretkey": "secret key", "data": "data object"}
    what = kinds.get(kind or "", "object")
    parts = [what] + ([repr(label)] if label is not None else [])
    if id_hex is not None:
        parts.append(f"(id {id_hex})")
    if uri is not None:
        parts.append(f"({uri})")
    return " ".join(parts)


def token_name_of(module: Module, slot: int) -> str:
    """ "token 'dev'" for messages."""
    try:
        return f"token {module.get_token_info(slot).label!r}"
    except PKCS11Error:
        return f"the token in slot {slot}"


def emit_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))
