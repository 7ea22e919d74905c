"""`tokenport pin ...`: change a PIN, or let the SO set a new user PIN (C_SetPIN, C_InitPIN)."""

from __future__ import annotations

from pathlib import Path

import click

from tokenport.ck import CKU
from tokenport.cli.common import (
    explained_pin_errors,
    opened_module,
    pin_options,
    read_pin,
    reports_errors,
    select_slot,
    token_options,
    user_session,
)


@click.group("pin")
def pin_group() -> None:
    """Change PINs; unlock a locked user PIN."""


@pin_group.command("change")
@token_options
@click.option("--so", "as_so", is_flag=True, help="Change the SO PIN instead of the user PIN.")
@pin_options("user")
@click.option("--new-pin-env", metavar="VAR", help="Read the new PIN from this environment variable.")
@click.option("--new-pin-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the new PIN from the first line of this file.")
@reports_errors
def pin_change(
    slot: int | None, token_name: str | None, as_so: bool, pin: str | None, pin_env: str | None,
    pin_file: Path | None, new_pin_env: str | None, new_pin_file: Path | None,
) -> None:
    """Change the user PIN (or the SO PIN with --so); needs the current PIN."""
    role = "so" if as_so else "user"
    old = read_pin(role, pin, pin_env, pin_file, what="current PIN")
    new = read_pin(role, None, new_pin_env, new_pin_file, confirm=True, what="new PIN",
                   default_env="TOKENPORT_NEW_PIN")
    with opened_module() as module:
        target = select_slot(module, slot, token_name)
        who = CKU.SO if as_so else CKU.USER
        with user_session(module, target, old if as_so else None, CKU.SO) as session, \
                explained_pin_errors(module, target, who):
            module.set_pin(session, old, new)
    click.echo("PIN changed.")


@pin_group.command("init")
@token_options
@pin_options("so")
@click.option("--new-pin-env", metavar="VAR", help="Read the new user PIN from this environment variable.")
@click.option("--new-pin-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the new user PIN from the first line of this file.")
@reports_errors
def pin_init(
    slot: int | None, token_name: str | None, so_pin: str | None, so_pin_env: str | None,
    so_pin_file: Path | None, new_pin_env: str | None, new_pin_file: Path | None,
) -> None:
    """Set a new user PIN as the SO (also unlocks a locked user PIN)."""
    so = read_pin("so", so_pin, so_pin_env, so_pin_file)
    new = read_pin("user", None, new_pin_env, new_pin_file, confirm=True, what="new user PIN",
                   default_env="TOKENPORT_NEW_PIN")
    with opened_module() as module:
        target = select_slot(module, slot, token_name)
        with user_session(module, target, so, CKU.SO) as session:
            module.init_pin(session, new)
    click.echo("User PIN set.")
