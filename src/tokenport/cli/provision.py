"""`tokenport provision`: store device credentials, generate the device key, status.

Import mode (``--cert`` + ``--key`` and the optional ``--jitp-cert``, ``--root-ca``,
``--code-verify-key``), on-device mode (``--generate`` [ec|rsa], ``--csr FILE``; later
``--cert`` alone attaches the issued certificate) and ``provision status``. Every option can
come from a parameter file (``--params FILE``, JSON or TOML) with the same names, for factory
scripts; options on the command line win. See docs/provisioning.md.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import click

from tokenport import keyfiles
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
from tokenport.cli.objects import maybe_pin
from tokenport.provisioning import (
    CLASSES_OF,
    DEVICE_CERT,
    DEVICE_PRIVATE_KEY,
    DEVICE_PUBLIC_KEY,
    EC_CURVES,
    MANAGED,
    RSA_SIZES,
    Credentials,
    KeySpec,
    ObjectInfo,
    Provisioner,
    ProvisioningError,
    ProvisioningStatus,
    hex_dump,
)


@dataclass(frozen=True)
class Settings:
    """Everything `tokenport provision` can be told (options or parameter file)."""

    token: str | None = None
    slot: int | None = None
    cert: Path | None = None
    key: Path | None = None
    key_password_env: str | None = None
    jitp_cert: Path | None = None
    root_ca: Path | None = None
    code_verify_key: Path | None = None
    generate: str | None = None
    force: bool = False
    csr: Path | None = None
    subject: str | None = None
    hex_out: Path | None = None

    def merged(self, overrides: Settings) -> Settings:
        """These settings with every value ``overrides`` sets taken from it."""
        given = {f.name: getattr(overrides, f.name) for f in fields(Settings)
                 if getattr(overrides, f.name) not in (None, False)}
        return replace(self, **given)

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) in (None, False) for f in fields(Settings)
                   if f.name not in ("token", "slot"))


DEVICE_KEY_CHOICES = ("ec", *(f"ec:{c}" for c in EC_CURVES), "rsa",
                      *(f"rsa:{bits}" for bits in RSA_SIZES))
"""What --generate accepts (KeySpec.parse): ec is P-256, rsa is 2048 bits."""
PATH_SETTINGS = frozenset({"cert", "key", "jitp_cert", "root_ca", "code_verify_key", "csr",
                           "hex_out"})


def load_parameters(path: Path) -> Settings:
    """A parameter file: JSON (``.json``) or TOML (anything else), keys named like the
    options (``root-ca`` or ``root_ca``); relative paths are relative to the file."""
    text = path.read_text(encoding="utf-8")
    try:
        data: Any = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        fail(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'} ({exc})")
    if not isinstance(data, dict):
        fail(f"{path}: the parameters must be a table / object")
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    for raw_name, value in data.items():
        name = str(raw_name).replace("-", "_")
        if name not in known:
            fail(f"{path}: unknown parameter {raw_name!r} (known: "
                 f"{', '.join(n.replace('_', '-') for n in known)})")
        if name == "generate" and value is True:
            value = "ec"
        expected: tuple[type, ...] = (bool,) if name == "force" else (
            (int,) if name == "slot" else (str,))
        if not isinstance(value, expected) or (name == "slot" and isinstance(value, bool)):
            fail(f"{path}: parameter {raw_name!r} must be "
                 f"{'true/false' if name == 'force' else 'a number' if name == 'slot' else 'text'}")
        values[name] = (path.parent / value) if name in PATH_SETTINGS else value
    return Settings(**values)


def _read(path: Path | None) -> bytes | None:
    return path.read_bytes() if path is not None else None


def _check_writable(path: Path | None) -> None:
    if path is not None and not path.parent.is_dir():
        fail(f"cannot write {path}: no directory {path.parent}")


def _show_public_key(spki: bytes, fingerprint: str, hex_out: Path | None) -> None:
    dump = hex_dump(spki)
    click.echo(f"Public key fingerprint: {fingerprint}")
    click.echo(f"Device public key, {len(spki)} bytes:")
    click.echo(dump, nl=False)
    if hex_out is not None:
        hex_out.write_text(dump, encoding="ascii")
        click.echo(f"Wrote the public key hex dump to {hex_out}.")


@click.group("provision", invoke_without_command=True)
@click.option("--params", "params_file",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read these options from a JSON or TOML file (options given here win).")
@token_options
@click.option("--cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Client certificate (PEM). Alone: attach it to the device key in the token.")
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Client private key (PEM) to import with --cert.")
@click.option("--key-password-env", metavar="VAR", help="Password of an encrypted --key file.")
@click.option("--jitp-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JITP CA certificate (PEM), stored as 'JITP Cert'.")
@click.option("--root-ca", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trusted root CA certificate (PEM), stored as 'Root Cert'.")
@click.option("--code-verify-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Code-verification public key or certificate (PEM), stored as "
                   "'Code Verify Key'.")
@click.option("--generate", is_flag=False, flag_value="ec",
              metavar=f"[{'|'.join(DEVICE_KEY_CHOICES)}]",
              help="Generate the device key pair inside the token: ec (P-256, the default), "
                   f"{', '.join(DEVICE_KEY_CHOICES[1:])} (rsa: {RSA_SIZES[0]} bits).")
@click.option("--force", is_flag=True, help="With --generate: replace an existing device key "
              "(and its certificate).")
@click.option("--csr", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a PKCS #10 request for the device key, signed by the token (PEM).")
@click.option("--subject", metavar="DN", help="Subject of the request: CN=...,O=... or "
              "/O=.../CN=... (default: CN=<token serial number>).")
@click.option("--hex-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the device public key hex dump here (publicKeyAsciiHexFilePath).")
@pin_options("user")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@click.pass_context
@reports_errors
def provision_group(ctx: click.Context, params_file: Path | None, slot: int | None,
                    token_name: str | None, cert: Path | None, key: Path | None,
                    key_password_env: str | None, jitp_cert: Path | None, root_ca: Path | None,
                    code_verify_key: Path | None, generate: str | None, force: bool,
                    csr: Path | None, subject: str | None, hex_out: Path | None,
                    pin: str | None, pin_env: str | None, pin_file: Path | None,
                    as_json: bool) -> None:
    """Provision the device: import credentials, or generate the key and write a CSR.

    \b
    import:     tokenport provision --cert device.pem --key device.key [--root-ca ca.pem]
    on device:  tokenport provision --generate --csr device.csr --subject CN=dev-1
                tokenport provision --cert device.pem      (the certificate the CA issued)
    status:     tokenport provision status

    Objects under the well-known labels are replaced, never duplicated; bad input is refused
    before anything is written.
    """
    given = Settings(token_name, slot, cert, key, key_password_env, jitp_cert, root_ca,
                     code_verify_key, generate, force, csr, subject, hex_out)
    if ctx.invoked_subcommand is not None:
        if params_file is not None or not given.empty or token_name or slot is not None \
                or as_json:
            fail(f"put the options after '{ctx.invoked_subcommand}'")
        return
    settings = (load_parameters(params_file) if params_file else Settings()).merged(given)
    if settings.empty:
        fail("nothing to do: give --cert/--key, --generate, --csr or --params "
             "(or see 'tokenport provision status')")
    try:
        _provision(settings, pin, pin_env, pin_file, as_json)
    except ProvisioningError as exc:
        fail(str(exc))


def _provision(settings: Settings, pin: str | None, pin_env: str | None,
               pin_file: Path | None, as_json: bool = False) -> None:
    if settings.generate is not None and (settings.cert or settings.key):
        fail("--generate makes a new key, which no certificate matches yet: attach the issued "
             "certificate later with --cert")
    spec = KeySpec.parse(settings.generate) if settings.generate is not None else None
    password = None
    if settings.key_password_env:
        password = os.environ.get(settings.key_password_env, "").encode()
    credentials = Credentials(
        certificate=_read(settings.cert), private_key=_read(settings.key), key_password=password,
        jitp_certificate=_read(settings.jitp_cert), root_certificate=_read(settings.root_ca),
        code_verify_key=_read(settings.code_verify_key))
    _check_writable(settings.csr)
    _check_writable(settings.hex_out)
    user_pin = read_pin("user", pin, pin_env, pin_file)
    done: dict[str, object] = {}

    def say(text: str) -> None:
        if not as_json:
            click.echo(text)

    with opened_module() as module:
        target = select_slot(module, settings.slot, settings.token)
        info = module.get_token_info(target)
        done.update(token=info.label, serial=info.serial_number, generated=None,
                    provisioned=[], csr=None, subject=None)
        with user_session(module, target, user_pin) as session:
            provisioner = Provisioner(module, session)
            plan = None if credentials.empty else provisioner.plan(credentials)  # checks all first
            spki = None
            if spec is not None and not settings.force:
                existing = [label for label in (DEVICE_PRIVATE_KEY, DEVICE_PUBLIC_KEY, DEVICE_CERT)
                            if provisioner.find(label, CLASSES_OF[label])]
                if existing:
                    fail(f"token {info.label!r} already has a device key or certificate "
                         f"({', '.join(map(repr, existing))}); use --force to replace it")
            if spec is not None:
                spki = provisioner.generate_key_pair(spec, replace=settings.force)
                done["generated"] = str(spec)
                say(f"Generated the device key pair ({spec}) inside token {info.label!r}.")
            if plan is not None:
                labels = provisioner.apply(plan)
                done["provisioned"] = list(labels)
                say(f"Provisioned token {info.label!r}: {', '.join(labels)}.")
            if settings.csr is not None:
                subject = settings.subject or f"CN={info.serial_number}"
                request = provisioner.certificate_request(subject)
                settings.csr.write_text(keyfiles.to_pem("csr", request), encoding="ascii")
                done.update(csr=str(settings.csr), subject=subject)
                say(f"Wrote the certificate request {settings.csr} ({subject}); have the CA "
                    "sign it, then attach the certificate with "
                    "'tokenport provision --cert FILE'.")
            if spki is not None or settings.hex_out is not None:
                status = provisioner.status()
                if status.device_public_key is None or status.fingerprint is None:
                    fail("the token has no device public key to write")
                    return
                if as_json:
                    done.update(fingerprint=status.fingerprint,
                                device_public_key_hex_dump=hex_dump(status.device_public_key))
                    if settings.hex_out is not None:
                        settings.hex_out.write_text(hex_dump(status.device_public_key),
                                                    encoding="ascii")
                        done["hex_out"] = str(settings.hex_out)
                else:
                    _show_public_key(status.device_public_key, status.fingerprint,
                                     settings.hex_out)
    if as_json:
        emit_json(done)


# -- status -----------------------------------------------------------------------------------


def _describe(info: ObjectInfo) -> str:
    if info.kind == "certificate":
        validity = "EXPIRED" if info.expired else "expires"
        return (f"certificate {info.subject}, issued by {info.issuer}, {validity} "
                f"{(info.not_after or '')[:16].replace('T', ' ')} UTC")
    text = f"{info.kind} {info.algorithm or '?'}"
    if info.kind == "private key":
        text += ", sensitive" if info.sensitive else ", NOT sensitive"
        text += ", extractable" if info.extractable else ", non-extractable"
    return text


def print_status(status: ProvisioningStatus) -> None:
    """The human-readable status report."""
    click.echo(f"Token {status.token_label!r} (serial {status.token_serial})")
    width = max(len(label) for label, _ in MANAGED)
    for label, _ in MANAGED:
        found = status.objects[label]
        if found:
            text = "; ".join(_describe(o) for o in found)
        elif label.startswith("Device Priv") and not status.logged_in:
            text = "(log in to see it: --login or a PIN)"
        else:
            text = "-"
        click.echo(f"  {label:<{width}}  {text}")
    matches = {True: "yes", False: "NO", None: "-"}[status.certificate_matches_key]
    click.echo(f"Certificate matches key: {matches}")
    if status.device_public_key is not None and status.fingerprint is not None:
        _show_public_key(status.device_public_key, status.fingerprint, None)


@provision_group.command("status")
@token_options
@pin_options("user")
@click.option("--login", is_flag=True, help="Log in (asking for the PIN) to see the private key.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--hex-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the device public key hex dump here (publicKeyAsciiHexFilePath).")
@reports_errors
def status_command(slot: int | None, token_name: str | None, pin: str | None,
                   pin_env: str | None, pin_file: Path | None, login: bool, as_json: bool,
                   hex_out: Path | None) -> None:
    """Show what is provisioned, the device public key and whether the certificate matches."""
    _check_writable(hex_out)
    user_pin = maybe_pin(pin, pin_env, pin_file, login)
    with opened_module() as module:
        target = select_slot(module, slot, token_name)
        with user_session(module, target, user_pin) as session:
            status = Provisioner(module, session).status()
    if as_json:
        data = status.as_json()
        data["device_public_key_hex_dump"] = (
            hex_dump(status.device_public_key) if status.device_public_key else None)
        emit_json(data)
    else:
        print_status(status)
    if hex_out is not None:
        if status.device_public_key is None:
            fail("the token has no device public key to write")
            return
        hex_out.write_text(hex_dump(status.device_public_key), encoding="ascii")
        if not as_json:
            click.echo(f"Wrote the public key hex dump to {hex_out}.")
