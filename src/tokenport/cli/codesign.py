"""`tokenport codesign`: verify a signed image with the code-verification key; sign test images.

``verify`` exits 0 only for a valid signature; anything else (a modified image, another
key, a malformed signature, no key) is one line on stderr and exit status 1.
"""

from __future__ import annotations

from pathlib import Path

import click

from tokenport.ck import CKA, CKF, CKO
from tokenport.cli.common import (
    emit_json,
    fail,
    object_name,
    opened_module,
    parse_uri,
    pin_options,
    read_pin,
    reports_errors,
    select_slot,
    token_name_of,
    token_options,
    user_session,
)
from tokenport.cli.objects import find
from tokenport.codesign import (
    CODE_VERIFY_KEY,
    Algorithm,
    CodeSignError,
    load_verification_key,
    read_signature,
    sign_file,
    verify_file,
)

ALGORITHMS = [a.value for a in Algorithm]


@click.group("codesign")
def codesign_group() -> None:
    """Verify signed update images (and sign test images) with keys in the token."""


@codesign_group.command("verify")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sig", "sig_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The signature: binary (ECDSA in DER) or base64 text.")
@click.option("--alg", type=click.Choice(ALGORITHMS),
              help="Signature algorithm (default: ecdsa-sha256 for an EC key, rsa-sha256 for RSA).")
@click.option("--label", default=CODE_VERIFY_KEY, show_default=True,
              help="Label of the public key or certificate to verify with.")
@token_options
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@reports_errors
def verify_command(image: Path, sig_file: Path, alg: str | None, label: str, slot: int | None,
                   token_name: str | None, as_json: bool) -> None:
    """Check IMAGE's signature with the code-verification key (no PIN needed). A signature
    that does not verify is one line on stderr and exit status 1, with --json too."""
    signature = read_signature(sig_file.read_bytes())
    with opened_module() as module:
        target = select_slot(module, slot, token_name)
        session = module.open_session(target, int(CKF.SERIAL_SESSION))
        try:
            key = load_verification_key(module, session, label)
            algorithm = verify_file(module.crypto, image, signature, key,
                                    Algorithm(alg) if alg else None)
        except CodeSignError as exc:
            fail(f"{image}: {exc} (on {token_name_of(module, target)})")
            return
        finally:
            module.close_session(session)
    if as_json:
        emit_json({"image": str(image), "ok": True, "algorithm": algorithm.value,
                   "key": {"source": key.source, "label": key.label}})
        return
    click.echo(f"{image}: signature OK ({algorithm.value}, {key.source} {key.label!r})")


@codesign_group.command("sign")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the signature (binary; ECDSA in DER).")
@click.option("--label", help="Label of the private key to sign with.")
@click.option("--uri", "uri_text", metavar="URI", help="pkcs11: URI of the private key.")
@click.option("--alg", type=click.Choice(ALGORITHMS),
              help="Signature algorithm (default: by the key, with SHA-256).")
@token_options
@pin_options("user")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@reports_errors
def sign_command(image: Path, out: Path, label: str | None, uri_text: str | None,
                 alg: str | None, slot: int | None, token_name: str | None, pin: str | None,
                 pin_env: str | None, pin_file: Path | None, as_json: bool) -> None:
    """Sign IMAGE with a private key in the token (for test images)."""
    uri = parse_uri(uri_text)
    if label is None and not (uri and uri.names_object):
        fail("name the signing key with --label or --uri")
    user_pin = read_pin("user", pin, pin_env, pin_file)
    with opened_module() as module:
        target = select_slot(module, slot, token_name if token_name or not uri_text else uri_text)
        with user_session(module, target, user_pin) as session:
            template = [t for t in (uri.object_template() if uri else []) if t[0] != CKA.CLASS]
            if label is not None:
                template.append((CKA.LABEL, label.encode()))
            handles = find(module, session, [*template, (CKA.CLASS, int(CKO.PRIVATE_KEY))])
            if len(handles) != 1:
                fail(f"no {object_name(label, None, 'privkey', uri_text)} on "
                     f"{token_name_of(module, target)}" if not handles else
                     f"{len(handles)} private keys match; name one with --uri (id=)")
            try:
                signature, algorithm = sign_file(module, session, handles[0], image,
                                                 Algorithm(alg) if alg else None)
            except CodeSignError as exc:
                fail(str(exc))
                return
    out.write_bytes(signature)
    if as_json:
        emit_json({"image": str(image), "signature": str(out), "algorithm": algorithm.value})
        return
    click.echo(f"Signed {image} ({algorithm.value}); wrote {out}.")
