"""`tokenport object ...`: list, import, export and delete objects (PKCS #11 v2.40 s5.7)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKK, CKO, CKR
from tokenport.cli.common import (
    emit_json,
    fail,
    object_name,
    opened_module,
    parse_id,
    parse_uri,
    pin_options,
    read_pin,
    reports_errors,
    select_slot,
    token_name_of,
    token_options,
    user_session,
)
from tokenport.core.info import TokenInfo
from tokenport.core.module import Module
from tokenport.uri import Pkcs11Uri

CLASS_NAMES: dict[int, str] = {CKO.DATA: "data", CKO.CERTIFICATE: "cert", CKO.PUBLIC_KEY: "pubkey",
               CKO.PRIVATE_KEY: "privkey", CKO.SECRET_KEY: "secretkey"}
CLASS_BY_NAME = {name: int(cls) for cls, name in CLASS_NAMES.items()}
KEY_TYPE_NAMES: dict[int, str] = {CKK.RSA: "rsa", CKK.EC: "ec", CKK.EC_EDWARDS: "ed25519", CKK.AES: "aes",
                  CKK.GENERIC_SECRET: "generic"}
URI_HELP = "A pkcs11: URI (RFC 7512) naming the token and the object (object=, id=, type=)."
URI_KINDS = {"cert": "cert", "public": "pubkey", "private": "privkey"}
SHOWN = (CKA.CLASS, CKA.LABEL, CKA.ID, CKA.KEY_TYPE, CKA.TOKEN, CKA.PRIVATE, CKA.SENSITIVE,
         CKA.EXTRACTABLE, CKA.MODULUS_BITS, CKA.VALUE_LEN, CKA.SUBJECT,
         CKA.TOKENPORT_KEY_LOCATION)


def maybe_pin(pin: str | None, pin_env: str | None, pin_file: Path | None, login: bool) -> bytes | None:
    """The user PIN when one was given (or --login asks for it); None lists public objects."""
    if pin is None and pin_env is None and pin_file is None and not login \
            and "TOKENPORT_PIN" not in os.environ:
        return None
    return read_pin("user", pin, pin_env, pin_file)


def find(module: Module, session: int, template: Sequence[tuple[int, AttrValue]]) -> list[int]:
    module.find_objects_init(session, template)
    found: list[int] = []
    while batch := module.find_objects(session, 64):
        found += batch
    module.find_objects_final(session)
    return found


@dataclass
class ObjectRow:
    """What `object list` shows of one object."""

    handle: int
    object_class: str
    label: str
    id: str
    key_type: str | None = None
    size: str | None = None
    flags: list[str] = field(default_factory=list)
    uri: str | None = None
    location: str | None = None
    """Where a private key lives on a token with a hardware key port ("tpm2", "software")."""

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["class"] = data.pop("object_class")
        if data["location"] is None:
            del data["location"]
        return data

    def line(self) -> str:
        where = f"location={self.location}" if self.location else None
        extra = " ".join(x for x in (self.key_type, self.size, where) if x)
        return (f"{self.object_class:<9} label={self.label!r} id={self.id or '-'}"
                f"{' ' + extra if extra else ''} [{','.join(self.flags)}]"
                f"{' ' + self.uri if self.uri else ''}")


def _text(value: AttrValue | None) -> bytes:
    return value if isinstance(value, bytes) else b""


def describe(module: Module, session: int, handle: int) -> ObjectRow:
    results = module.get_attribute_value(session, handle, SHOWN)
    values = {r.type: r.value for r in results if r.error == CKR.OK and r.value is not None}
    object_class = values.get(CKA.CLASS)
    key_type = values.get(CKA.KEY_TYPE)
    row = ObjectRow(
        handle=handle,
        object_class=CLASS_NAMES.get(object_class, str(object_class))
        if isinstance(object_class, int) else "?",
        label=_text(values.get(CKA.LABEL)).decode("utf-8", "replace"),
        id=_text(values.get(CKA.ID)).hex(),
    )
    if isinstance(key_type, int):
        row.key_type = KEY_TYPE_NAMES.get(key_type, hex(key_type))
    bits, length = values.get(CKA.MODULUS_BITS), values.get(CKA.VALUE_LEN)
    if isinstance(bits, int):
        row.size = f"{bits} bits"
    elif isinstance(length, int):
        row.size = f"{length} bytes"
    row.flags = [
        name for attr, name in ((CKA.TOKEN, "token"), (CKA.PRIVATE, "private"),
                                (CKA.SENSITIVE, "sensitive"), (CKA.EXTRACTABLE, "extractable"))
        if values.get(attr) is True
    ]
    location = values.get(CKA.TOKENPORT_KEY_LOCATION)
    if isinstance(location, bytes):
        row.location = location.decode("ascii", "replace")
    return row


def object_uri(info: TokenInfo, row: ObjectRow) -> str:
    """The pkcs11: URI (RFC 7512) naming one listed object."""
    return str(Pkcs11Uri.of(token=info.label, serial=info.serial_number,
                            label=row.label.encode(), key_id=bytes.fromhex(row.id),
                            object_class=CLASS_BY_NAME.get(row.object_class)))


def selector(label: str | None, id_hex: str | None, kind: str | None,
             uri: Pkcs11Uri | None = None) -> list[tuple[int, AttrValue]]:
    template: list[tuple[int, AttrValue]] = uri.object_template() if uri else []
    if label is not None:
        template.append((CKA.LABEL, label.encode()))
    key_id = parse_id(id_hex)
    if key_id is not None:
        template.append((CKA.ID, key_id))
    if kind is not None:
        template.append((CKA.CLASS, CLASS_BY_NAME[kind]))
    if not label and id_hex is None and not (uri and uri.names_object):
        fail("name the object with --label, --id or --uri")
    return template


@click.group("object")
def object_group() -> None:
    """List, import, export and delete objects."""


@object_group.command("list")
@token_options
@pin_options("user")
@click.option("--login", is_flag=True, help="Log in (prompting for the PIN) to list private objects too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reports_errors
def object_list(slot: int | None, token_name: str | None, pin: str | None, pin_env: str | None,
                pin_file: Path | None, login: bool, as_json: bool) -> None:
    """List the objects of a token (private ones only after logging in)."""
    user_pin = maybe_pin(pin, pin_env, pin_file, login)
    with opened_module() as module:
        target = select_slot(module, slot, token_name)
        with user_session(module, target, user_pin) as session:
            rows = [describe(module, session, h) for h in find(module, session, [])]
            info = module.get_token_info(target)
    for row in rows:
        row.uri = object_uri(info, row)
    if as_json:
        emit_json([row.as_json() for row in rows])
        return
    if not rows:
        click.echo("no objects" + ("" if user_pin else " (public objects only; log in to see private ones)"))
    for row in rows:
        click.echo(row.line())


@object_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@token_options
@click.option("--label", required=True, help="CKA_LABEL of the new object(s).")
@click.option("--id", "id_hex", help="CKA_ID in hex (default: SHA-1 of the public key).")
@click.option("--type", "kind", type=click.Choice(["auto", "cert", "privkey", "pubkey"]),
              default="auto", show_default=True, help="What the file holds.")
@click.option("--no-public-key", is_flag=True, help="With a private key: do not also store its public key.")
@click.option("--key-password-env", metavar="VAR", help="Password of an encrypted private key file.")
@pin_options("user")
@click.option("--json", "as_json", is_flag=True, help="Print the objects made as JSON.")
@reports_errors
def object_import(file: Path, slot: int | None, token_name: str | None, label: str,
                  id_hex: str | None, kind: str, no_public_key: bool, key_password_env: str | None,
                  pin: str | None, pin_env: str | None, pin_file: Path | None,
                  as_json: bool) -> None:
    """Import a certificate (PEM/DER), a private key (PKCS#8, SEC1, PKCS#1) or a public key.

    Private keys are stored private, sensitive and non-extractable.
    """
    from tokenport import keyfiles  # pyca and the key formats: loaded by import/export only
    key_id = parse_id(id_hex)
    data = file.read_bytes()
    detected = keyfiles.detect(data) if kind == "auto" else kind
    password = os.environ.get(key_password_env, "").encode() if key_password_env else None
    user_pin = read_pin("user", pin, pin_env, pin_file)
    with opened_module() as module:
        target = select_slot(module, slot, token_name)
        crypto = module.crypto
        templates = keyfiles.import_templates(crypto, detected, data, label.encode(),
                                              key_id or None, password,
                                              with_public=not no_public_key)
        with user_session(module, target, user_pin) as session:
            handles = [module.create_object(session, template) for template in templates]
            if as_json:
                info = module.get_token_info(target)
                rows = [describe(module, session, handle) for handle in handles]
                for row in rows:
                    row.uri = object_uri(info, row)
                emit_json({"file": str(file), "token": info.label,
                           "objects": [row.as_json() for row in rows]})
                return
    click.echo(f"Imported {len(templates)} object(s) from {file} as {label!r}.")


@object_group.command("export")
@token_options
@click.option("--label", help="CKA_LABEL of the object.")
@click.option("--id", "id_hex", help="CKA_ID of the object, in hex.")
@click.option("--uri", "uri_text", metavar="URI", help=URI_HELP)
@click.option("--type", "kind", type=click.Choice(["cert", "pubkey", "privkey"]),
              help="What to export (default: the URI's type=).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Output file (default: stdout).")
@click.option("--der", is_flag=True, help="Write DER instead of PEM.")
@pin_options("user")
@click.option("--login", is_flag=True, help="Log in first (needed for private objects).")
@reports_errors
def object_export(slot: int | None, token_name: str | None, label: str | None, id_hex: str | None,
                  uri_text: str | None, kind: str | None, out: Path | None, der: bool,
                  pin: str | None, pin_env: str | None, pin_file: Path | None,
                  login: bool) -> None:
    """Export a certificate or public key; a private key only if it is extractable and not sensitive."""
    from tokenport import keyfiles  # pyca and the key formats: loaded by import/export only
    uri = parse_uri(uri_text)
    kind = kind or (URI_KINDS.get(uri.text("type") or "") if uri else None)
    if kind is None:
        fail("say what to export with --type (or type= in the --uri)")
    assert kind is not None
    user_pin = maybe_pin(pin, pin_env, pin_file, login or kind == "privkey")
    with opened_module() as module:
        target = select_slot(module, slot, token_name if token_name or not uri_text else uri_text)
        with user_session(module, target, user_pin) as session:
            handles = find(module, session, selector(label, id_hex, kind, uri))
            if not handles:
                fail(f"no {object_name(label, id_hex, kind, uri_text)} on "
                     f"{token_name_of(module, target)}"
                     + ("" if user_pin else " (log in to see private objects)"))
            if len(handles) > 1:
                fail(f"{len(handles)} objects match; name one with --label and --id")
            encoded = keyfiles.export_object(module, session, handles[0], kind)
    output = encoded if der else keyfiles.to_pem(kind, encoded).encode()
    if out is None:
        click.echo(output if der else output.decode(), nl=False)
    else:
        out.write_bytes(output)
        click.echo(f"Wrote {out}.")


@object_group.command("delete")
@token_options
@click.option("--label", help="CKA_LABEL of the object(s).")
@click.option("--id", "id_hex", help="CKA_ID of the object(s), in hex.")
@click.option("--uri", "uri_text", metavar="URI", help=URI_HELP)
@click.option("--type", "kind", type=click.Choice(sorted(CLASS_BY_NAME)), help="Only objects of this class.")
@pin_options("user")
@click.option("--json", "as_json", is_flag=True, help="Print the objects deleted as JSON.")
@reports_errors
def object_delete(slot: int | None, token_name: str | None, label: str | None, id_hex: str | None,
                  uri_text: str | None, kind: str | None, pin: str | None, pin_env: str | None,
                  pin_file: Path | None, as_json: bool) -> None:
    """Delete the objects with the given label and/or id (or named by a pkcs11: URI)."""
    uri = parse_uri(uri_text)
    user_pin = read_pin("user", pin, pin_env, pin_file)
    with opened_module() as module:
        target = select_slot(module, slot, token_name if token_name or not uri_text else uri_text)
        with user_session(module, target, user_pin) as session:
            handles = find(module, session, selector(label, id_hex, kind, uri))
            if not handles:
                fail(f"no {object_name(label, id_hex, kind, uri_text)} on "
                     f"{token_name_of(module, target)}")
            rows = [describe(module, session, handle) for handle in handles]
            for handle in handles:
                module.destroy_object(session, handle)
    if as_json:
        emit_json({"deleted": [row.as_json() for row in rows]})
        return
    click.echo(f"Deleted {len(handles)} object(s).")


