"""`tokenport mechanisms`, `tokenport module-path` and `tokenport quickstart`."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from tokenport.ck import CKA, CKF, CKM, CKO, CKU
from tokenport.cli.common import (
    emit_json,
    opened_module,
    pin_options,
    read_pin,
    reports_errors,
    token_state,
    user_session,
)
from tokenport.cli.keys import CURVES
from tokenport.cli.objects import describe, find
from tokenport.config import load_config
from tokenport.core.info import TokenInfo
from tokenport.mechanisms.params import Mechanism

MECHANISM_FLAGS = (
    "ENCRYPT", "DECRYPT", "DIGEST", "SIGN", "VERIFY", "GENERATE", "GENERATE_KEY_PAIR",
    "WRAP", "UNWRAP", "DERIVE", "ENCAPSULATE", "DECAPSULATE",
)
DEVICE_PRIVATE_KEY = "Device Priv TLS Key"
DEVICE_PUBLIC_KEY = "Device Pub TLS Key"


MECHANISM_TABLE_HEADER = (
    "| mechanism | value | key size (min-max) | operations | flags | standard |\n"
    "|---|--:|--:|---|---|---|\n"
)
EXTRA_FLAGS = ("EC_F_P", "EC_NAMEDCURVE", "EC_UNCOMPRESS", "EC_COMPRESS")


def mechanism_rows() -> list[dict[str, object]]:
    """One row per mechanism: C_GetMechanismInfo's data and the standard it comes from."""
    from tokenport.mechanisms import default_registry

    rows: list[dict[str, object]] = []
    for spec in default_registry():
        name = CKM(spec.mechanism).name if spec.mechanism in CKM._value2member_map_ else hex(spec.mechanism)
        rows.append({
            "mechanism": f"CKM_{name}",
            "value": spec.mechanism,
            "min_key_size": spec.min_key_size,
            "max_key_size": spec.max_key_size,
            "operations": [f.lower() for f in MECHANISM_FLAGS if spec.flags & CKF[f]],
            "flags": [f"CKF_{f}" for f in (*MECHANISM_FLAGS, *EXTRA_FLAGS) if spec.flags & CKF[f]],
            "standard": spec.standard,
        })
    return rows


def mechanism_table(rows: list[dict[str, object]]) -> str:
    """The rows as the Markdown table of docs/mechanisms.md."""
    lines = [MECHANISM_TABLE_HEADER]
    for row in rows:
        sizes = (f"{row['min_key_size']}-{row['max_key_size']}" if row["max_key_size"] else "-")
        operations = row["operations"]
        flags = row["flags"]
        assert isinstance(operations, list) and isinstance(flags, list)
        extra = [f for f in flags if f.removeprefix("CKF_") in EXTRA_FLAGS]
        lines.append(f"| {row['mechanism']} | 0x{row['value']:05x} | {sizes} | "
                     f"{', '.join(operations)} | {', '.join(extra) or '-'} | {row['standard']} |\n")
    return "".join(lines)


@click.command("mechanisms")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--markdown", is_flag=True,
              help="Print the Markdown table of docs/mechanisms.md.")
@reports_errors
def mechanisms_command(as_json: bool, markdown: bool) -> None:
    """List the mechanisms the token offers: key sizes as C_GetMechanismInfo reports them
    (bits or bytes, as the mechanism's PKCS #11 section says), operations, EC flags and the
    standard each comes from."""
    rows = mechanism_rows()
    if as_json:
        emit_json(rows)
        return
    if markdown:
        click.echo(mechanism_table(rows), nl=False)
        return
    for row in rows:
        sizes = f"{row['min_key_size']}-{row['max_key_size']}" if row["max_key_size"] else "-"
        operations = row["operations"]
        assert isinstance(operations, list)
        click.echo(f"{row['mechanism']:<34} 0x{row['value']:05x}  keys {sizes:<11} "
                   f"{', '.join(operations):<40} {row['standard']}")


@click.command("module-path")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def module_path_command(as_json: bool) -> None:
    """Print the absolute path of the PKCS #11 shared library."""
    from tokenport.abi import module_path

    try:
        if as_json:
            emit_json({"module": module_path()})
            return
        click.echo(module_path())
    except (FileNotFoundError, ImportError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command("quickstart")
@click.option("--label", default="tokenport", show_default=True, help="Label of the token to use or create.")
@pin_options("so")
@pin_options("user")
@reports_errors
def quickstart_command(label: str, so_pin: str | None, so_pin_env: str | None, so_pin_file: Path | None,
                       pin: str | None, pin_env: str | None, pin_file: Path | None) -> None:
    """Create a token with a device key in the default store, then show how to use it.

    Idempotent: an existing token with the label and an existing device key are kept.
    """
    from tokenport.abi import module_path

    with opened_module(creates_store=True) as module:
        states = {s: token_state(module, s) for s in module.get_slot_list(True)}
        healthy = {s: i for s, i in states.items() if isinstance(i, TokenInfo)}
        slot = next((s for s, i in healthy.items()
                     if i.flags & CKF.TOKEN_INITIALIZED and i.label == label), None)
        user = read_pin("user", pin, pin_env, pin_file, confirm=slot is None)
        if slot is None:
            so = read_pin("so", so_pin, so_pin_env, so_pin_file, confirm=True)
            slot = next(s for s, i in healthy.items() if not i.flags & CKF.TOKEN_INITIALIZED)
            module.init_token(slot, so, label.encode().ljust(32))
            with user_session(module, slot, so, CKU.SO) as session:
                module.init_pin(session, user)
            click.echo(f"Created token {label!r} in slot {slot}.")
        with user_session(module, slot, user) as session:
            existing = find(module, session, [(CKA.LABEL, DEVICE_PRIVATE_KEY.encode()),
                                              (CKA.CLASS, int(CKO.PRIVATE_KEY))])
            if not existing:
                key_id = secrets.token_bytes(8)
                module.generate_key_pair(
                    session, Mechanism(CKM.EC_KEY_PAIR_GEN),
                    [(CKA.LABEL, DEVICE_PUBLIC_KEY.encode()), (CKA.ID, key_id), (CKA.TOKEN, True),
                     (CKA.EC_PARAMS, CURVES["p256"])],
                    [(CKA.LABEL, DEVICE_PRIVATE_KEY.encode()), (CKA.ID, key_id), (CKA.TOKEN, True),
                     (CKA.PRIVATE, True), (CKA.SENSITIVE, True), (CKA.EXTRACTABLE, False)],
                )
                click.echo(f"Generated the device key pair (EC P-256) {DEVICE_PRIVATE_KEY!r}.")
            info = module.get_token_info(slot)
            click.echo(f"\nToken {info.label!r}, serial {info.serial_number}, slot {slot}:")
            for handle in find(module, session, []):
                click.echo("  " + describe(module, session, handle).line())
    path = module_path()
    click.echo(f"\nStore: {load_config().store_dir} (TOKENPORT_HOME or the config file "
               "chooses another)")
    click.echo(f"PKCS #11 module: {path}")
    click.echo("Try it:")
    click.echo(f'  pkcs11-tool --module "{path}" -L')
    click.echo(f'  pkcs11-tool --module "{path}" --login -O')
    click.echo(f"  python -c \"import pkcs11; print(list(pkcs11.lib('{path}').get_tokens()))\""
               "   # needs: pip install 'tokenport[client]'")
