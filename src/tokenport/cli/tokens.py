"""`tokenport token ...`: initialize, list, show, delete and repair tokens (PKCS #11 v2.40
s5.5). A token whose record is damaged is listed as such (core/directory.py) and only
``token info``, ``token delete`` and ``token repair`` act on it."""

from __future__ import annotations

from pathlib import Path

import click

from tokenport.ck import CKF, CKU
from tokenport.cli.common import (
    emit_json,
    explained_pin_errors,
    fail,
    missing_store,
    opened_module,
    pin_options,
    read_pin,
    reports_errors,
    select_slot,
    token_options,
    token_state,
    user_session,
)
from tokenport.config import load_config
from tokenport.core.directory import RepairReport, TokenDamaged
from tokenport.core.module import Module

FLAG_NAMES = [
    name for name in (
        "TOKEN_INITIALIZED", "LOGIN_REQUIRED", "USER_PIN_INITIALIZED", "RNG",
        "USER_PIN_COUNT_LOW", "USER_PIN_FINAL_TRY", "USER_PIN_LOCKED",
        "SO_PIN_COUNT_LOW", "SO_PIN_FINAL_TRY", "SO_PIN_LOCKED",
    )
]


def token_summary(module: Module, slot: int) -> dict[str, object]:
    info = token_state(module, slot)
    if isinstance(info, TokenDamaged):
        return {
            "slot": slot, "label": info.label or "", "serial": info.serial,
            "initialized": True, "damaged": True, "problem": info.problem, "flags": [],
        }
    return {
        "slot": slot,
        "label": info.label,
        "serial": info.serial_number,
        "initialized": bool(info.flags & CKF.TOKEN_INITIALIZED),
        "damaged": False,
        "flags": [name for name in FLAG_NAMES if info.flags & CKF[name]],
        "min_pin_len": info.min_pin_len,
        "max_pin_len": info.max_pin_len,
    }


def free_slot(module: Module) -> int:
    """The slot with no initialized token (there is always one)."""
    return next(
        s for s in module.get_slot_list(True)
        if not isinstance(state := token_state(module, s), TokenDamaged)
        and not state.flags & CKF.TOKEN_INITIALIZED
    )


@click.group("token")
def token_group() -> None:
    """Initialize, list, show, delete and repair tokens."""


@token_group.command("init")
@click.option("--label", required=True, help="Token label (up to 32 bytes of UTF-8).")
@click.option("--slot", type=int, help="Slot to initialize (default: the free slot).")
@pin_options("so")
@pin_options("user")
@click.option("--no-user-pin", is_flag=True, help="Do not set the user PIN now.")
@click.option("--json", "as_json", is_flag=True, help="Print the new token as JSON.")
@reports_errors
def token_init(
    label: str, slot: int | None, so_pin: str | None, so_pin_env: str | None,
    so_pin_file: Path | None, pin: str | None, pin_env: str | None, pin_file: Path | None,
    no_user_pin: bool, as_json: bool,
) -> None:
    """Initialize a token (the free slot's by default) and set its user PIN.

    Re-initializing an existing token (--slot) needs its SO PIN and erases its objects.
    """
    if len(label.encode()) > 32:
        fail("the label is longer than 32 bytes")
    so = read_pin("so", so_pin, so_pin_env, so_pin_file, confirm=True)
    user = None if no_user_pin else read_pin("user", pin, pin_env, pin_file, confirm=True)
    with opened_module(creates_store=True) as module:
        target = free_slot(module) if slot is None else slot
        with explained_pin_errors(module, target, CKU.SO):  # re-initializing: the SO PIN
            module.init_token(target, so, label.encode().ljust(32))
        if user is not None:
            with user_session(module, target, so, CKU.SO) as session:
                module.init_pin(session, user)
        if as_json:
            emit_json(token_summary(module, target))
            return
        info = module.get_token_info(target)
        click.echo(f"Initialized token {info.label!r} (serial {info.serial_number}) in slot {target}.")


@token_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--free-slot", is_flag=True,
              help="Print only the ID of the free slot, the one to initialize (for scripts: "
                   "pkcs11-tool --init-token --slot \"$(tokenport token list --free-slot)\").")
@reports_errors
def token_list(as_json: bool, free_slot: bool) -> None:
    """List the slots and their tokens (a token whose record is damaged is shown as
    DAMAGED, with its serial)."""
    absent = missing_store(load_config())
    with opened_module(missing_ok=True) as module:
        rows = [token_summary(module, slot) for slot in module.get_slot_list(True)]
    if free_slot:
        free = [row["slot"] for row in rows if not row["initialized"] and not row["damaged"]]
        if not free:
            raise click.ClickException("no free slot")
        if as_json:
            emit_json({"free_slot": free[0]})
        else:
            click.echo(free[0])
        return
    if as_json:
        emit_json(rows)
        return
    if absent is not None:
        click.echo(f"no tokens: there is no store in {absent} yet ('tokenport quickstart' or "
                   "'tokenport token init' creates it)")
        return
    for row in rows:
        if row["damaged"]:
            named = f" (label {row['label']!r})" if row["label"] else ""
            click.echo(f"slot {row['slot']}: DAMAGED token, serial {row['serial']}{named}: "
                       f"{row['problem']}; see 'tokenport token repair --serial {row['serial']}'")
        elif row["initialized"]:
            click.echo(f"slot {row['slot']}: {row['label']!r} serial {row['serial']}")
        else:
            click.echo(f"slot {row['slot']}: (free: no initialized token)")


@token_group.command("info")
@token_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reports_errors
def token_info(slot: int | None, token_name: str | None, as_json: bool) -> None:
    """Show one token: label, serial, flags and PIN lengths (or what is damaged)."""
    with opened_module() as module:
        row = token_summary(module, select_slot(module, slot, token_name, allow_damaged=True))
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
    """Delete a token and every object on it (a damaged token too: name it by its serial)."""
    with opened_module() as module:
        target = select_slot(module, slot, token_name, allow_damaged=True)
        info = token_state(module, target)
        if isinstance(info, TokenDamaged):
            name, serial = info.label or "", info.serial
            what = f"damaged token {serial}"
        elif not info.flags & CKF.TOKEN_INITIALIZED:
            fail(f"slot {target} holds no initialized token")
            return
        else:
            name, serial = info.label, info.serial_number
            what = f"token {name!r} ({serial})"
        if not yes:
            click.confirm(f"Delete {what} and all its objects?", abort=True)
        module.delete_token(target)
        click.echo(f"Deleted token {name!r} ({serial}).")


def _repair(module: Module, serial: str, so_pin: bytes, label: str | None,
            dry_run: bool) -> RepairReport:
    return module.repair_token(serial, so_pin, label, dry_run=dry_run)


@token_group.command("repair")
@click.option("--serial", required=True, help="Serial number of the damaged token.")
@click.option("--label", help="Label of the repaired token (default: the old label if it "
              "can still be read, else 'repaired').")
@pin_options("so")
@pin_options("user")
@click.option("--no-user-pin", is_flag=True, help="Do not set the user PIN now.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@reports_errors
def token_repair(
    serial: str, label: str | None, so_pin: str | None, so_pin_env: str | None,
    so_pin_file: Path | None, pin: str | None, pin_env: str | None, pin_file: Path | None,
    no_user_pin: bool, yes: bool,
) -> None:
    """Give a token whose record is damaged a new record, with a new SO PIN (and user PIN).

    Its public objects are kept. Its private objects cannot be recovered -- their master
    key was in the lost record -- and are deleted, as are object records that cannot be
    read; the command lists them and asks first. Back the store up before
    ('tokenport store export --out FILE') if you may find the old PINs' record again.
    """
    so = read_pin("so", so_pin, so_pin_env, so_pin_file, confirm=True, what="new SO PIN")
    user = None if no_user_pin else read_pin("user", pin, pin_env, pin_file, confirm=True,
                                             what="new user PIN")
    with opened_module() as module:
        states = [token_state(module, s) for s in module.get_slot_list(True)]
        if not any(isinstance(s, TokenDamaged) and s.serial == serial for s in states):
            healthy = any(not isinstance(s, TokenDamaged) and s.serial_number == serial
                          for s in states)
            fail(f"token {serial} is not damaged" if healthy else f"no token with serial {serial}")
        plan = _repair(module, serial, so, label, dry_run=True)
        click.echo(f"Token {serial}: {len(plan.kept)} public object(s) kept"
                   f"{': ' if plan.kept else '.'}{', '.join(plan.kept)}")
        if plan.lost:
            click.echo(f"{len(plan.lost)} object(s) cannot be recovered and will be deleted: "
                       + ", ".join(plan.lost))
        if not yes:
            click.confirm(f"Repair token {serial} with a new SO PIN?", abort=True)
        report = _repair(module, serial, so, label, dry_run=False)
        if user is not None:
            with user_session(module, report.slot_id, so, CKU.SO) as session:
                module.init_pin(session, user)
        click.echo(f"Repaired token {report.label!r} (serial {serial}) in slot "
                   f"{report.slot_id}: {len(report.kept)} object(s) kept, "
                   f"{len(report.lost)} deleted.")
