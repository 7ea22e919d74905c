"""No private key material outside the TPM: scan the store files and every attribute the
core holds or can decrypt (logged in) for the private values of imported and generated keys."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tokenport.ck import CKA, CKK, CKM, CKO, CKU
from tokenport.config import Config
from tokenport.core.module import Module
from tokenport.mechanisms.params import Mechanism
from tokenport.wiring import build_module

from .swtpm import Swtpm
from .tpm_token import P256_OID, RW, SO_PIN, USER_PIN, ec_pair

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _b(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _forms(value: int) -> list[bytes]:
    """How a secret integer could sit in a file or an attribute."""
    raw = _b(value)
    return [raw, raw[::-1], raw.hex().encode(), raw.hex().upper().encode()]


def _scalars_of(data: bytes, point: bytes) -> list[int]:
    """Every 32-byte window of ``data`` that is the private scalar of ``point`` (P-256)."""
    found = []
    for start in range(max(0, len(data) - 31)):
        d = int.from_bytes(data[start : start + 32], "big")
        if not 1 <= d < P256_ORDER:
            continue
        public = ec.derive_private_key(d, ec.SECP256R1()).public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        if public == point:
            found.append(d)
    return found


def _store_bytes(store_dir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(store_dir.rglob("*")) if path.is_file())


def _every_value(module: Module, session: int) -> list[bytes]:
    """Every attribute value of every object, decrypted by the core (the user is logged in),
    plus what the objects hold in memory (clear and sealed)."""
    state = module.state
    current = state.session(session)
    values: list[bytes] = []
    for obj in current.token.objects.candidates({}):
        view = state.view(current, obj)
        for attr in obj.schema.rules:
            value = view.get(attr)
            if isinstance(value, bytes):
                values.append(value)
        values += [v for v in obj.attrs.values() if isinstance(v, bytes)]
        values += list(obj.sealed.values())
    return values


def test_the_scanner_finds_a_scalar_it_is_shown() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    d = key.private_numbers().private_value
    point = key.public_key().public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)
    assert _scalars_of(b"noise" + d.to_bytes(32, "big") + b"more noise", point) == [d]
    assert _scalars_of(b"\x00" * 64, point) == []


def test_store_and_objects_hold_no_private_key_material(swtpm: Swtpm, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    config = Config(store_backend="sqlite", store_dir=store_dir, crypto_backend="tpm2",
                    crypto_options=MappingProxyType({"tcti": swtpm.tcti}))
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(65537, 2048)
    numbers = rsa_key.private_numbers()
    secrets = [ec_key.private_numbers().private_value, numbers.d, numbers.p, numbers.q,
               numbers.dmp1, numbers.dmq1]
    module = build_module(config)
    module.initialize()
    try:
        module.init_token(0, SO_PIN, b"scan".ljust(32))
        session = module.open_session(0, RW)
        module.login(session, CKU.SO, SO_PIN)
        module.init_pin(session, USER_PIN)
        module.logout(session)
        module.login(session, CKU.USER, USER_PIN)
        module.create_object(session, [
            (CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.EC), (CKA.EC_PARAMS, P256_OID),
            (CKA.TOKEN, True), (CKA.LABEL, b"imported ec"),
            (CKA.VALUE, ec_key.private_numbers().private_value.to_bytes(32, "big"))])
        module.create_object(session, [
            (CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.RSA), (CKA.TOKEN, True),
            (CKA.LABEL, b"imported rsa"), (CKA.MODULUS, _b(numbers.public_numbers.n)),
            (CKA.PUBLIC_EXPONENT, _b(65537)), (CKA.PRIVATE_EXPONENT, _b(numbers.d)),
            (CKA.PRIME_1, _b(numbers.p)), (CKA.PRIME_2, _b(numbers.q)),
            (CKA.EXPONENT_1, _b(numbers.dmp1)), (CKA.EXPONENT_2, _b(numbers.dmq1)),
            (CKA.COEFFICIENT, _b(numbers.iqmp))])
        public, private = ec_pair(module, session, label=b"generated")
        (point,) = module.get_attribute_value(session, public, [CKA.EC_POINT])
        assert isinstance(point.value, bytes)
        generated_point = point.value[2:]
        module.sign_init(session, Mechanism(CKM.ECDSA_SHA256), private)  # unseal and use
        module.sign(session, b"used")
        values = _every_value(module, session)
        assert any(v == b"tpm2" for v in values)  # the scan sees the TPM keys' attributes
        for value in values:
            for secret in secrets:
                for form in _forms(secret):
                    assert form not in value
            assert _scalars_of(value, generated_point) == []
    finally:
        module.finalize()
    stored = _store_bytes(store_dir)
    assert len(stored) > 0
    for secret in secrets:
        for form in _forms(secret):
            assert form not in stored
    assert _scalars_of(stored, generated_point) == []
