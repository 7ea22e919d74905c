"""`tokenport qualify`: the qualification suite against any PKCS #11 module."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from tokenport.cli.common import emit_json, pin_options


def _pin(role: str, value: str | None, env: str | None, file: Path | None, prompt: bool) -> bytes | None:
    """A PIN from --pin, --pin-file, --pin-env VAR, the default variable (TOKENPORT_PIN /
    TOKENPORT_SO_PIN), or (user PIN only, on a terminal) a prompt; None when there is none."""
    what = "SO PIN" if role == "so" else "user PIN"
    if value is not None:
        return value.encode()
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise click.ClickException(f"{file}: {exc.strerror or exc}") from None
        if not lines or not lines[0]:
            raise click.ClickException(f"{file}: no {what} on the first line")
        return lines[0].encode()
    if env == "":
        raise click.ClickException(f"an empty environment variable name was given for the {what}")
    name = env or ("TOKENPORT_SO_PIN" if role == "so" else "TOKENPORT_PIN")
    if env is not None or name in os.environ:
        secret = os.environ.get(name)
        if not secret:
            raise click.ClickException(f"environment variable {name} is not set or empty")
        return secret.encode()
    if prompt and sys.stdin.isatty():
        entered: str = click.prompt(f"{what} of the token under test", hide_input=True)
        return entered.encode()
    return None


@click.command("qualify")
@click.option("--module", "module", required=True, metavar="PATH",
              help="The PKCS #11 shared library to qualify (any module).")
@click.option("--config", "configs", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Device-tester configuration (device.json, userdata.json or flat settings); "
              "repeat to merge several files.")
@click.option("--slot", type=int, help="Slot ID of the token under test.")
@click.option("--token-label", metavar="LABEL", help="Label of the token under test.")
@pin_options("user")
@pin_options("so")
@click.option("--group", "groups", multiple=True, metavar="GROUP",
              help="Run only this group (e.g. Full_PKCS11_EC or EC); repeatable.")
@click.option("--junit", "junit", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write the results as JUnit XML.")
@click.option("--allow-existing-objects", "allow_existing", is_flag=True,
              help="Run on a token that already holds objects; they are never destroyed, and "
              "none may sit under the labels the suite stores its own under.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the results as JSON instead of the console report.")
def qualify_command(module: str, configs: tuple[Path, ...], slot: int | None, token_label: str | None,
                    pin: str | None, pin_env: str | None, pin_file: Path | None,
                    so_pin: str | None, so_pin_env: str | None, so_pin_file: Path | None,
                    groups: tuple[str, ...], junit: Path | None, allow_existing: bool,
                    as_json: bool) -> None:
    """Run the PKCS #11 qualification suite against the module at PATH.

    It loads the module through the C ABI only, picks the token (--slot, --token-label,
    else the first slot with an initialized token) and names it (label, serial, slot), and
    prints one line per test (TEST(Group, Name) PASS, ...::FAIL: ..., ...::IGNORE: ...), then
    "N Tests F Failures I Ignored" and OK or FAIL. The exit code is 0 only when no test
    failed. With --json the same results are printed as one JSON document (module, ok,
    counts, and each test's group, name, status and message).

    The tests create objects and destroy them again; they never destroy an object the run
    did not create. Before any test, a token that holds objects is refused (exit 1, nothing
    changed), unless --allow-existing-objects (they are left alone) or preProvisioned Yes in
    --config (the credentials on the token are used, never destroyed).

    The user PIN comes from --pin, --pin-file, --pin-env VAR or TOKENPORT_PIN (else a prompt
    on a terminal); the optional SO PIN (for the SO login checks) from --so-pin,
    --so-pin-file, --so-pin-env VAR or TOKENPORT_SO_PIN. Each PIN is checked by one login
    before any test: a refused PIN (CKR_PIN_INCORRECT ...) stops the run after that one
    failed login, and a PIN with one try left is not tried at all.
    """
    from tokenport.qualify import (
        ConfigError,
        ModuleLoadError,
        SuiteError,
        load_config,
        run,
        write_junit,
    )

    if junit is not None and not junit.parent.is_dir():
        raise click.UsageError(f"cannot write {junit}: no directory {junit.parent}")
    if slot is not None and token_label is not None:
        raise click.UsageError("give --slot or --token-label, not both")
    try:
        config = load_config(configs)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    user_pin = _pin("user", pin, pin_env, pin_file, prompt=True)
    officer_pin = _pin("so", so_pin, so_pin_env, so_pin_file, prompt=False)
    if user_pin is None:
        click.echo("tokenport qualify: no user PIN given; the tests run without logging in", err=True)
    console: list[str] = []
    try:
        report = run(module, config, slot=slot, token_label=token_label, pin=user_pin,
                     so_pin=officer_pin, groups=groups, allow_existing=allow_existing,
                     write=console.append if as_json else None)
    except (ModuleLoadError, SuiteError) as exc:
        raise click.ClickException(str(exc)) from None
    if junit is not None:
        try:
            write_junit(report, junit)
        except OSError as exc:
            raise click.ClickException(f"{junit}: {exc.strerror or exc}") from None
    if as_json:
        emit_json({
            "module": module, "ok": report.ok, "tests": len(report.results),
            "failures": report.failures, "ignored": report.ignored,
            "results": [{"group": r.group, "name": r.name, "status": r.status,
                         "message": r.message, "file": r.file, "line": r.line,
                         "seconds": round(r.seconds, 3)} for r in report.results],
        })
    if not report.ok:
        sys.exit(1)
