"""`tokenport key generate`: keys made inside the token (PKCS #11 v2.40 s5.14)."""

from __future__ import annotations

from pathlib import Path

import click

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKK, CKM, CKP_ML_DSA, CKP_ML_KEM
from tokenport.cli.common import (
    emit_json,
    fail,
    opened_module,
    parse_id,
    pin_options,
    read_pin,
    reports_errors,
    select_slot,
    token_options,
    user_session,
)
from tokenport.core.module import Module
from tokenport.mechanisms import curves
from tokenport.mechanisms.dh import FFDHE2048_P
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
ML_DSA_SETS = {"ml-dsa-44": CKP_ML_DSA.ML_DSA_44, "ml-dsa-65": CKP_ML_DSA.ML_DSA_65,
               "ml-dsa-87": CKP_ML_DSA.ML_DSA_87}
ML_KEM_SETS = {"ml-kem-768": CKP_ML_KEM.ML_KEM_768, "ml-kem-1024": CKP_ML_KEM.ML_KEM_1024}


def _dsa_domain(module: Module, session: int, size: str) -> list[tuple[int, AttrValue]]:
    """Fresh DSA domain parameters (CKM_DSA_PARAMETER_GEN, a session object) of L bits."""
    if size not in ("", "2048", "3072"):
        fail("DSA keys are 2048 or 3072 bits")
    params = module.generate_key(session, Mechanism(CKM.DSA_PARAMETER_GEN),
                                 [(CKA.PRIME_BITS, int(size or 2048))])
    try:
        found = module.get_attribute_value(session, params, [CKA.PRIME, CKA.SUBPRIME, CKA.BASE])
        return [(r.type, r.value) for r in found if r.value is not None]
    finally:
        module.destroy_object(session, params)


def _dh_domain(module: Module, session: int, size: str) -> list[tuple[int, AttrValue]]:
    """The RFC 7919 ffdhe2048 group by default; freshly generated parameters
    (CKM_DH_PKCS_PARAMETER_GEN, slow: a safe-prime search) when a size is given."""
    if not size:
        return [(CKA.PRIME, FFDHE2048_P.to_bytes(256, "big")), (CKA.BASE, b"\x02")]
    if size not in ("1024", "2048"):
        fail("DH parameters are generated with 1024 or 2048 bits (dh alone: RFC 7919 ffdhe2048)")
    params = module.generate_key(session, Mechanism(CKM.DH_PKCS_PARAMETER_GEN),
                                 [(CKA.PRIME_BITS, int(size))])
    try:
        found = module.get_attribute_value(session, params, [CKA.PRIME, CKA.BASE])
        return [(r.type, r.value) for r in found if r.value is not None]
    finally:
        module.destroy_object(session, params)
DES_KEYS = {
    "des": (CKM.DES_KEY_GEN, CKK.DES),
    "des2": (CKM.DES2_KEY_GEN, CKK.DES2),
    "des3": (CKM.DES3_KEY_GEN, CKK.DES3),
}
"""Legacy DES key types (v2.40 Current Mechanisms s2.18, Historical Mechanisms (DES)): fixed
length, no size suffix."""
HMAC_KEY_GEN = {
    "sha1": CKM.SHA_1_KEY_GEN, "sha224": CKM.SHA224_KEY_GEN, "sha256": CKM.SHA256_KEY_GEN,
    "sha384": CKM.SHA384_KEY_GEN, "sha512": CKM.SHA512_KEY_GEN,
    "sha512-224": CKM.SHA512_224_KEY_GEN, "sha512-256": CKM.SHA512_256_KEY_GEN,
    "sha3-224": CKM.SHA3_224_KEY_GEN, "sha3-256": CKM.SHA3_256_KEY_GEN,
    "sha3-384": CKM.SHA3_384_KEY_GEN, "sha3-512": CKM.SHA3_512_KEY_GEN,
}
"""`hmac:HASH` -> the PKCS #11 v3.0 HMAC key generation mechanism (a CKK_*_HMAC key)."""
HMAC_KEY_BYTES = {
    "sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64, "sha512-224": 28,
    "sha512-256": 32, "sha3-224": 28, "sha3-256": 32, "sha3-384": 48, "sha3-512": 64,
}
"""Default HMAC key length: the digest length."""
ED25519_PARAMS = curves.ED25519.params
KEY_TYPES = ("ec[:p256|p384|p521|p192|p224|secp256k1|brainpoolP256r1|brainpoolP384r1|"
             "brainpoolP512r1], secp256k1, brainpoolP256r1 .., rsa[:BITS], ed25519, ed448, "
             "x25519, x448, aes[:128|192|256], des, des2, des3, dsa[:2048|3072], dh[:1024|2048],"
             " ml-dsa-44|65|87, ml-kem-768|1024, hmac[:sha256|sha3-256|...][:BYTES], hkdf[:BYTES]")


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
    if family in ML_DSA_SETS and not size:  # PKCS #11 v3.2 s6.67
        pair = module.generate_key_pair(
            session, Mechanism(CKM.ML_DSA_KEY_PAIR_GEN),
            common + [(CKA.PARAMETER_SET, int(ML_DSA_SETS[family])), (CKA.VERIFY, True)],
            private + [(CKA.SIGN, True)],
        )
        return list(pair)
    if family in ML_KEM_SETS and not size:  # PKCS #11 v3.2 s6.66
        pair = module.generate_key_pair(
            session, Mechanism(CKM.ML_KEM_KEY_PAIR_GEN),
            common + [(CKA.PARAMETER_SET, int(ML_KEM_SETS[family])), (CKA.ENCAPSULATE, True)],
            private + [(CKA.DECAPSULATE, True)],
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
    if family == "dsa":
        pair = module.generate_key_pair(
            session, Mechanism(CKM.DSA_KEY_PAIR_GEN), common + _dsa_domain(module, session, size),
            private + [(CKA.SIGN, True)],
        )
        return list(pair)
    if family == "dh":
        pair = module.generate_key_pair(
            session, Mechanism(CKM.DH_PKCS_KEY_PAIR_GEN), common + _dh_domain(module, session, size),
            private + [(CKA.DERIVE, True)],
        )
        return list(pair)
    if family in DES_KEYS and not size:
        mechanism, key_type = DES_KEYS[family]
        return [module.generate_key(
            session, Mechanism(mechanism), private + [(CKA.KEY_TYPE, int(key_type))],
        )]
    if family == "hmac":
        digest, _, length = (size or "sha256").partition(":")
        hmac_generation = HMAC_KEY_GEN.get(digest)
        if hmac_generation is None:
            fail(f"unknown HMAC hash {digest!r}; choose {', '.join(HMAC_KEY_GEN)}")
        assert hmac_generation is not None
        return [module.generate_key(
            session, Mechanism(hmac_generation),
            private + [(CKA.VALUE_LEN, _key_bytes(length, HMAC_KEY_BYTES[digest])),
                       (CKA.SIGN, True), (CKA.VERIFY, True)],
        )]
    if family == "hkdf":
        return [module.generate_key(
            session, Mechanism(CKM.HKDF_KEY_GEN),
            private + [(CKA.VALUE_LEN, _key_bytes(size, 32)), (CKA.DERIVE, True)],
        )]
    fail(f"unknown key type {spec!r}; choose {KEY_TYPES}")
    raise AssertionError("unreachable")


def _key_bytes(text: str, default: int) -> int:
    """A secret key length in bytes from the command line (1 .. 512)."""
    length = int(text) if text.isdigit() else (default if not text else 0)
    if not 1 <= length <= 512:
        fail("secret key lengths are 1 to 512 bytes")
    return length


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
@click.option("--json", "as_json", is_flag=True, help="Print the objects made as JSON.")
@reports_errors
def key_generate(slot: int | None, token_name: str | None, key_type: str, label: str,
                 id_hex: str | None, extractable: bool, pin: str | None, pin_env: str | None,
                 pin_file: Path | None, as_json: bool) -> None:
    """Generate a key pair (EC, RSA, Ed25519, Ed448, X25519, X448, DSA, DH, ML-DSA, ML-KEM)
    or a secret key (AES, DES, HMAC, HKDF) on the token."""
    import secrets

    key_id = parse_id(id_hex) or secrets.token_bytes(8)
    user_pin = read_pin("user", pin, pin_env, pin_file)
    with opened_module() as module:
        target = select_slot(module, slot, token_name)
        with user_session(module, target, user_pin) as session:
            handles = generate(module, session, key_type, label.encode(), key_id, extractable)
            if as_json:
                from tokenport.cli.objects import describe, object_uri

                info = module.get_token_info(target)
                rows = [describe(module, session, handle) for handle in handles]
                for row in rows:
                    row.uri = object_uri(info, row)
                emit_json({"type": key_type, "label": label, "id": key_id.hex(),
                           "token": info.label, "slot": target,
                           "objects": [row.as_json() for row in rows]})
                return
    click.echo(f"Generated {key_type} key {label!r} with id {key_id.hex()}.")
