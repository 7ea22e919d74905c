"""`tokenport key generate`: keys made inside the token (PKCS #11 v2.40 s5.14)."""

from __future__ import annotations

from pathlib import Path

import click

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKK, CKM
from tokenport.cli.common import (
    fail,
    opened_module,
    pin_options,
    read_pin,
    reports_errors,
    select_slot,
    token_options,
    user_session,
)
from tokenport.core.module import Module
from tokenport.mechanisms import curves
from tokenport.mechanisms.params import Mechanism


def _ec_curve_table() -> dict[str, bytes]:
    """Curve spellings of ``ec:CURVE`` -> CKA_EC_PARAMS (the named-curve OID): p192 .. p521,
    and every curve's SEC 2 / X9.62 / RFC 5639 name (secp256k1, prime256v1, brainpoolp256r1)."""
    table: dict[str, bytes] = {}
    for curve in curves.CURVES:
        if curve.name.startswith("P-"):
            table["p" + curve.name[2:]] = curve.params
        for name in (curve.name, *(n.decode() for n in curve.names)):
            table[name.lower()] = curve.params
    return table


CURVES = _ec_curve_table()
OCTET_CURVES = {
    "ed25519": (CKM.EC_EDWARDS_KEY_PAIR_GEN, curves.ED25519.params),
    "ed448": (CKM.EC_EDWARDS_KEY_PAIR_GEN, curves.ED448.params),
    "x25519": (CKM.EC_MONTGOMERY_KEY_PAIR_GEN, curves.X25519.params),
    "x448": (CKM.EC_MONTGOMERY_KEY_PAIR_GEN, curves.X448.params),
}
"""Edwards (signing) and Montgomery (key agreement: CKA_DERIVE) key types, by name."""
ED25519_PARAMS = curves.ED25519.params
KEY_TYPES = ("ec[:p256|p384|p521|p192|p224|secp256k1|brainpoolP256r1|brainpoolP384r1|"
             "brainpoolP512r1], secp256k1, brainpoolP256r1 .., rsa[:BITS], ed25519, ed448, "
             "x25519, x448, aes[:128|192|256]")


def generate(module: Module, session: int, spec: str, label: bytes, key_id: bytes,
             extractable: bool) -> list[int]:
    """Generate the key (pair) described by ``spec`` ("ec:p256", "rsa:2048", ...)."""
    family, _, size = spec.lower().partition(":")
    if family in CURVES and family not in ("p192", "p224", "p256", "p384", "p521") and not size:
        family, size = "ec", family  # a bare curve name: secp256k1, brainpoolp256r1 ...
    common: list[tuple[int, AttrValue]] = [(CKA.LABEL, label), (CKA.ID, key_id), (CKA.TOKEN, True)]
    private = common + [(CKA.PRIVATE, True), (CKA.SENSITIVE, not extractable),
                        (CKA.EXTRACTABLE, extractable)]
    if family == "ec":
        curve = CURVES.get(size or "p256")
        if curve is None:
            fail(f"unknown curve {size!r}; choose p256, p384, p521, p192, p224, secp256k1, "
                 "brainpoolP256r1, brainpoolP384r1 or brainpoolP512r1")
        assert curve is not None
        pair = module.generate_key_pair(
            session, Mechanism(CKM.EC_KEY_PAIR_GEN), common + [(CKA.EC_PARAMS, curve)],
            private + [(CKA.SIGN, True), (CKA.DERIVE, True)],
        )
        return list(pair)
    if family == "rsa":
        bits = int(size or 2048) if (size or "2048").isdigit() else 0
        if not 1024 <= bits <= 4096:
            fail("RSA keys are 1024 to 4096 bits")
        pair = module.generate_key_pair(
            session, Mechanism(CKM.RSA_PKCS_KEY_PAIR_GEN),
            common + [(CKA.MODULUS_BITS, bits), (CKA.PUBLIC_EXPONENT, b"\x01\x00\x01")],
            private,
        )
        return list(pair)
    if family in OCTET_CURVES and not size:
        mechanism, params = OCTET_CURVES[family]
        montgomery = mechanism == CKM.EC_MONTGOMERY_KEY_PAIR_GEN
        usage: list[tuple[int, AttrValue]] = [(CKA.DERIVE, True)] if montgomery else []
        pair = module.generate_key_pair(
            session, Mechanism(mechanism), common + [(CKA.EC_PARAMS, params)], private + usage,
        )
        return list(pair)
    if family == "aes":
        bits = int(size or 256) if (size or "256").isdigit() else 0
        if bits not in (128, 192, 256):
            fail("AES keys are 128, 192 or 256 bits")
        return [module.generate_key(
            session, Mechanism(CKM.AES_KEY_GEN),
            private + [(CKA.VALUE_LEN, bits // 8), (CKA.KEY_TYPE, int(CKK.AES))],
        )]
    fail(f"unknown key type {spec!r}; choose {KEY_TYPES}")
    raise AssertionError("unreachable")


@click.group("key")
def key_group() -> None:
    """Generate keys inside the token."""


@key_group.command("generate")
@token_options
@click.option("--type", "key_type", default="ec:p256", show_default=True, help=f"One of {KEY_TYPES}.")
@click.option("--label", required=True, help="CKA_LABEL of the key (both halves of a pair).")
@click.option("--id", "id_hex", help="CKA_ID in hex (default: random 8 bytes).")
@click.option("--extractable", is_flag=True,
              help="Make the private/secret key extractable and not sensitive (default: never leaves).")
@pin_options("user")
@reports_errors
def key_generate(slot: int | None, token_name: str | None, key_type: str, label: str,
                 id_hex: str | None, extractable: bool, pin: str | None, pin_env: str | None,
                 pin_file: Path | None) -> None:
    """Generate a key pair (EC, RSA, Ed25519, Ed448, X25519, X448) or an AES key."""
    import secrets

    key_id = bytes.fromhex(id_hex) if id_hex else secrets.token_bytes(8)
    user_pin = read_pin("user", pin, pin_env, pin_file)
    with opened_module() as module:
        target = select_slot(module, slot, token_name)
        with user_session(module, target, user_pin) as session:
            generate(module, session, key_type, label.encode(), key_id, extractable)
    click.echo(f"Generated {key_type} key {label!r} with id {key_id.hex()}.")
