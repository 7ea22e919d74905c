"""`tokenport token ...`: initialize, list, show and delete tokens (PKCS #11 v2.40 s5.5)."""

from __future__ import annotations

from pathlib import Path

import click

from tokenport.ck import CKF, CKU
from tokenport.cli.common import (
    emit_json,
    fail,
    opened_module,
    pin_options,
    read_pin,
    reports_errors,
    select_slot,
    token_options,
    user_session,
)
from tokenport.core.info import TokenInfo
from tokenport.core.module import Module

FLAG_NAMES = [
    name for name in (
        "TOKEN_INITIALIZED", "LOGIN_REQUIRED", "USER_PIN_INITIALIZED", "RNG",
        "USER_PIN_COUNT_LOW", "USER_PIN_FINAL_TRY", "USER_PIN_LOCKED",
        "SO_PIN_COUNT_LOW", "SO_PIN_FINAL_TRY", "SO_PIN_LOCKED",
    )
]


def token_summary(module: Module, slot: int) -> dict[str, object]:
    info: TokenInfo = module.get_token_info(slot)
    return {
        "slot": slot,
        "label": info.label,
        "serial": info.serial_number,
        "initialized": bool(info.flags & CKF.TOKEN_INITIALIZED),
        "flags": [name for name in FLAG_NAMES if info.flags & CKF[name]],
        "min_pin_len": info.min_pin_len,
        "max_pin_len": info.max_pin_len,
    }


@click.group("token")
def token_group() -> None:
    """Initialize, list, show and delete tokens."""


@token_group.command("init")
@click.option("--label", required=True, help="Token label (up to 32 bytes of UTF-8).")
@click.option("--slot", type=int, help="Slot to initialize (default: the free slot).")
@pin_options("so")
@pin_options("user")
@click.option("--no-user-pin", is_flag=True, help="Do not set the user PIN now.")
@reports_errors
def token_init(
    label: str, slot: int | None, so_pin: str | None, so_pin_env: str | None,
    so_pin_file: Path | None, pin: str | None, pin_env: str | None, pin_file: Path | None,
    no_user_pin: bool,
) -> None:
    """Initialize a token (the free slot's by default) and set its user PIN.

    Re-initializing an existing token (--slot) needs its SO PIN and erases its objects.
    """
    if len(label.encode()) > 32:
        fail("the label is longer than 32 bytes")
    so = read_pin("so", so_pin, so_pin_env, so_pin_file, confirm=True)
    user = None if no_user_pin else read_pin("user", pin, pin_env, pin_file, confirm=True)
    with opened_module() as module:
        target = slot
        if target is None:
            target = next(
                s for s in module.get_slot_list(True)
                if not module.get_token_info(s).flags & CKF.TOKEN_INITIALIZED
            )
        module.init_token(target, so, label.encode().ljust(32))
        if user is not None:
            with user_session(module, target, so, CKU.SO) as session:
                module.init_pin(session, user)
        info = module.get_token_info(target)
        click.echo(f"Initialized token {info.label!r} (serial {info.serial_number}) in slot {target}.")


@token_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reports_errors
def token_list(as_json: bool) -> None:
    """List the slots and their tokens."""
    with opened_module() as module:
        rows = [token_summary(module, slot) for slot in module.get_slot_list(True)]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        if row["initialized"]:
            click.echo(f"slot {row['slot']}: {row['label']!r} serial {row['serial']}")
        else:
            click.echo(f"slot {row['slot']}: (free: no initialized token)")


@token_group.command("info")
@token_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reports_errors
def token_info(slot: int | None, token_name: str | None, as_json: bool) -> None:
    """Show one token: label, serial, flags and PIN lengths."""
    with opened_module() as module:
        row = token_summary(module, select_slot(module, slot, token_name))
    if as_json:
        emit_json(row)
        return
    for key, value in row.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        click.echo(f"{key:>12}: {shown}")


@token_group.command("delete")
@token_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@reports_errors
def token_delete(slot: int | None, token_name: str | None, yes: bool) -> None:
    """Delete a token and every object on it."""
    with opened_module() as module:
        target = select_slot(module, slot, token_name)
        info = module.get_token_info(target)
        if not info.flags & CKF.TOKEN_INITIALIZED:
            fail(f"slot {target} holds no initialized token")
        if not yes:
            click.confirm(f"Delete token {info.label!r} ({info.serial_number}) and all its objects?",
                          abort=True)
        module.delete_token(target)
        click.echo(f"Deleted token {info.label!r} ({info.serial_number}).")
