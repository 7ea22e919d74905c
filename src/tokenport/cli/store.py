"""`tokenport store ...`: what the store holds, a read-only check, and moving a store to
another backend (export, then import with another configuration)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from tokenport.cli.common import (
    emit_json,
    fail,
    missing_store,
    pin_options,
    read_pin,
    reports_errors,
)
from tokenport.config import load_config, open_crypto, open_store
from tokenport.ports.storage import ObjectStore
from tokenport.store_tools import (
    ANY_TOKEN,
    check_store,
    export_store,
    import_records,
    parse_export,
    read_records,
)


@contextlib.contextmanager
def opened_store(*, read_only: bool = False,
                 creates_store: bool = False) -> Iterator[tuple[ObjectStore, Any]]:
    """The configured store, initialized (DeviceError, one line, if it cannot be opened).
    A store that does not exist yet is created only with ``creates_store`` (import); else
    one line says it is not there."""
    config = load_config()
    absent = None if creates_store else missing_store(config)
    if absent is not None:
        fail(f"there is no store in {absent} yet")
    store = open_store(config, read_only=read_only)
    store.initialize()
    try:
        yield store, config
    finally:
        store.close()


@click.group("store")
def store_group() -> None:
    """Inspect, check, export and import the whole store."""


@store_group.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reports_errors
def store_info(as_json: bool) -> None:
    """The backend, its location and usage (flash: erase counts per sector), and the tokens
    (a store that does not exist yet is reported as such, and not created)."""
    config = load_config()
    absent = missing_store(config)
    if absent is not None:
        empty = {"backend": config.store_backend, "store_dir": str(config.store_dir),
                 "exists": False, "tokens": []}
        if as_json:
            emit_json(empty)
        else:
            click.echo(f"no store in {absent} yet ('tokenport quickstart' or 'tokenport token "
                       "init' creates it)")
        return
    with opened_store(read_only=True) as (store, config):
        info = store.info() if callable(getattr(store, "info", None)) else {}  # type: ignore[attr-defined]
        info = {"backend": config.store_backend, "store_dir": str(config.store_dir),
                "exists": True, **info}
        tokens: dict[str, int] = {}
        for entry in store.enumerate_objects(b"t/"):
            serial = entry.label.split(b"/")[1].decode("ascii", "replace")
            tokens[serial] = tokens.get(serial, 0) + (0 if entry.label.endswith(b"/info") else 1)
        info["tokens"] = [{"serial": s, "objects": n} for s, n in sorted(tokens.items())]
    if as_json:
        emit_json(info)
        return
    for key, value in info.items():
        if key == "tokens":
            for token in value:
                click.echo(f"{'token':>24}: {token['serial']} ({token['objects']} objects)")
        elif key == "erase_counts":
            click.echo(f"{key:>24}: {' '.join(map(str, value))}")
        else:
            click.echo(f"{key:>24}: {value}")


@store_group.command("check")
@click.option("--token", "token_name", metavar="LABEL|SERIAL",
              help="Also check the private records of this token (needs its user PIN).")
@pin_options("user")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reports_errors
def store_check(token_name: str | None, pin: str | None, pin_env: str | None,
                pin_file: Path | None, as_json: bool) -> None:
    """Verify the store without changing anything: backend checksums and indexes, every
    record's format, damaged token records, and -- with the user PIN of a token (--token,
    or --pin/--pin-env/--pin-file for the store's only token) -- the authentication of its
    private records and the GCM tags of their sealed values. Exit 1 if anything is damaged."""
    pins: dict[str, bytes] | None = None
    if token_name is not None:
        pins = {token_name: read_pin("user", pin, pin_env, pin_file)}
    elif pin is not None or pin_env is not None or pin_file is not None:
        pins = {ANY_TOKEN: read_pin("user", pin, pin_env, pin_file)}
    with opened_store(read_only=True) as (store, config):
        report = check_store(store, open_crypto(config), pins)
    if token_name is not None and token_name not in (*report.tokens, *report.tokens.values()):
        fail(f"no token with label or serial {token_name!r} in the store {config.store_dir}")
    if as_json:
        emit_json({"ok": report.ok, "records": report.records, "tokens": report.tokens,
                   "problems": report.problems, "notes": report.notes})
    else:
        click.echo(f"{report.records} records, {len(report.tokens)} token(s) checked.")
        for note in report.notes:
            click.echo(f"note: {note}")
        for problem in report.problems:
            click.echo(f"DAMAGED: {problem}")
        click.echo("OK" if report.ok else f"{len(report.problems)} problem(s) found.")
    if not report.ok:
        raise SystemExit(1)


@store_group.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The export file to write (mode 0600).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@reports_errors
def store_export(out: Path, force: bool, as_json: bool) -> None:
    """Write every record of the store to a file (private objects stay encrypted)."""
    if out.exists() and not force:
        fail(f"{out} exists; use --force to overwrite it")
    with opened_store() as (store, _config):
        records = list(read_records(store))
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        count = export_store(records, handle)
    if as_json:
        emit_json({"file": str(out), "records": count})
        return
    click.echo(f"Exported {count} records to {out}.")


@store_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite records that already exist.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@reports_errors
def store_import(file: Path, replace: bool, as_json: bool) -> None:
    """Write the records of an export file into the configured store (any backend)."""
    records = parse_export(file.read_text(encoding="ascii").splitlines(keepends=True))
    with opened_store(creates_store=True) as (store, config):
        count = import_records(store, records, replace=replace)
    if as_json:
        emit_json({"file": str(file), "records": count, "backend": config.store_backend,
                   "store_dir": str(config.store_dir)})
        return
    click.echo(f"Imported {count} records into the {config.store_backend} store.")
