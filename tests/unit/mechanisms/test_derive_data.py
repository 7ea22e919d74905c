"""Key derivation by data encryption (v2.40 Current Mechanisms s2.17) and the concatenation
derivations ("Miscellaneous simple key derivation mechanisms"): NIST CAVP vectors (the
derived value is the ciphertext), lengths, parameters, and the protection rule."""

from __future__ import annotations

import pytest

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKK, CKM
from tokenport.errors import (
    DataLenRange,
    KeySizeRange,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    TemplateInconsistent,
)
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
from tokenport.mechanisms.derive_data import check_protection
from tokenport.mechanisms.params import CbcEncryptDataParams, KeyHandleParam, KeyValueParam, Params

from .helpers import secret, spec
from .test_des import KEY_TYPE, _key_of
from .vectors_rsp import VECTORS, read_rsp


def _derive(registry: MechanismRegistry, ctx: MechanismContext, mechanism: int, key_type: int,
            key: bytes, param: Params, length: int | None = None) -> bytes:
    derive = spec(registry, mechanism).derive
    assert derive is not None
    return derive(ctx, secret(key_type, key), param, length)


@pytest.mark.parametrize("name", ["TECBMMT1.rsp", "TECBMMT2.rsp", "TECBMMT3.rsp"])
def test_des_ecb_encrypt_data(registry: MechanismRegistry, ctx: MechanismContext, name: str) -> None:
    for r in read_rsp(VECTORS / "des" / name):
        if r["SECTION"] != "ENCRYPT":
            continue
        key = _key_of(r)
        mechanism = CKM.DES_ECB_ENCRYPT_DATA if len(key) == 8 else CKM.DES3_ECB_ENCRYPT_DATA
        plain, cipher = bytes.fromhex(r["PLAINTEXT"]), bytes.fromhex(r["CIPHERTEXT"])
        assert _derive(registry, ctx, mechanism, KEY_TYPE[len(key)], key, plain) == cipher
        assert _derive(registry, ctx, mechanism, KEY_TYPE[len(key)], key, plain, 8) == cipher[:8]


@pytest.mark.parametrize("name", ["TCBCMMT1.rsp", "TCBCMMT3.rsp"])
def test_des_cbc_encrypt_data(registry: MechanismRegistry, ctx: MechanismContext, name: str) -> None:
    for r in read_rsp(VECTORS / "des" / name):
        if r["SECTION"] != "ENCRYPT":
            continue
        key = _key_of(r)
        mechanism = CKM.DES_CBC_ENCRYPT_DATA if len(key) == 8 else CKM.DES3_CBC_ENCRYPT_DATA
        param = CbcEncryptDataParams(iv=bytes.fromhex(r["IV"]), data=bytes.fromhex(r["PLAINTEXT"]))
        cipher = bytes.fromhex(r["CIPHERTEXT"])
        assert _derive(registry, ctx, mechanism, KEY_TYPE[len(key)], key, param) == cipher


def test_aes_encrypt_data(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    for name in ("CBCMMT128.rsp", "CBCMMT256.rsp"):
        for r in read_rsp(VECTORS / "aes_mac" / name):
            if r["SECTION"] != "ENCRYPT":
                continue
            key, iv = bytes.fromhex(r["KEY"]), bytes.fromhex(r["IV"])
            plain, cipher = bytes.fromhex(r["PLAINTEXT"]), bytes.fromhex(r["CIPHERTEXT"])
            param = CbcEncryptDataParams(iv=iv, data=plain)
            assert _derive(registry, ctx, CKM.AES_CBC_ENCRYPT_DATA, CKK.AES, key, param) == cipher
            # ECB of the first block is CBC of (IV xor P1) under a zero IV
            first = bytes(a ^ b for a, b in zip(iv, plain[:16], strict=True))
            assert _derive(registry, ctx, CKM.AES_ECB_ENCRYPT_DATA, CKK.AES, key, first) == cipher[:16]
            assert _derive(
                registry, ctx, CKM.AES_CBC_ENCRYPT_DATA, CKK.AES, key, param, 16
            ) == cipher[:16]


def test_encrypt_data_parameters(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    aes, des3 = bytes(range(16)), bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123")
    for data in (b"", b"x" * 15, b"x" * 17):
        with pytest.raises(MechanismParamInvalid):
            _derive(registry, ctx, CKM.AES_ECB_ENCRYPT_DATA, CKK.AES, aes, data)
    with pytest.raises(MechanismParamInvalid):
        _derive(registry, ctx, CKM.DES3_ECB_ENCRYPT_DATA, CKK.DES3, des3, b"x" * 12)
    with pytest.raises(MechanismParamInvalid):  # IV of the wrong size
        _derive(registry, ctx, CKM.DES3_CBC_ENCRYPT_DATA, CKK.DES3, des3,
                CbcEncryptDataParams(iv=bytes(16), data=bytes(8)))
    with pytest.raises(MechanismParamInvalid):
        _derive(registry, ctx, CKM.AES_CBC_ENCRYPT_DATA, CKK.AES, aes,
                CbcEncryptDataParams(iv=bytes(8), data=bytes(16)))
    with pytest.raises(MechanismParamInvalid):  # the CBC structure for an ECB mechanism
        _derive(registry, ctx, CKM.AES_ECB_ENCRYPT_DATA, CKK.AES, aes,
                CbcEncryptDataParams(iv=bytes(16), data=bytes(16)))
    with pytest.raises(DataLenRange):  # more than the ciphertext (s2.17: CKR_DATA_LEN_RANGE)
        _derive(registry, ctx, CKM.AES_ECB_ENCRYPT_DATA, CKK.AES, aes, bytes(16), 24)
    with pytest.raises(DataLenRange):
        _derive(registry, ctx, CKM.DES3_CBC_ENCRYPT_DATA, CKK.DES3, des3,
                CbcEncryptDataParams(iv=bytes(8), data=bytes(8)), 16)
    with pytest.raises(KeyTypeInconsistent):
        _derive(registry, ctx, CKM.DES_ECB_ENCRYPT_DATA, CKK.DES3, des3, bytes(8))
    with pytest.raises(KeyTypeInconsistent):
        _derive(registry, ctx, CKM.AES_ECB_ENCRYPT_DATA, CKK.GENERIC_SECRET, aes, bytes(16))


def test_concatenation(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    base, other = b"\x01" * 16, b"\x02" * 8
    g = CKK.GENERIC_SECRET
    assert _derive(registry, ctx, CKM.CONCATENATE_BASE_AND_DATA, g, base, b"data") == base + b"data"
    assert _derive(registry, ctx, CKM.CONCATENATE_DATA_AND_BASE, g, base, b"data") == b"data" + base
    assert _derive(registry, ctx, CKM.CONCATENATE_BASE_AND_KEY, g, base,
                   KeyValueParam(other)) == base + other
    # a length takes the leading bytes; more than there is is inconsistent
    assert _derive(registry, ctx, CKM.CONCATENATE_DATA_AND_BASE, g, base, b"data", 6) == b"data\x01\x01"
    with pytest.raises(TemplateInconsistent):
        _derive(registry, ctx, CKM.CONCATENATE_BASE_AND_DATA, g, base, b"data", 21)
    # any secret key type with a value is a base
    des3 = bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123")
    assert _derive(registry, ctx, CKM.CONCATENATE_BASE_AND_DATA, CKK.DES3, des3, b"") == des3
    with pytest.raises(MechanismParamInvalid):  # the unresolved handle never reaches it
        _derive(registry, ctx, CKM.CONCATENATE_BASE_AND_KEY, g, base, KeyHandleParam(5))
    with pytest.raises(MechanismParamInvalid):
        _derive(registry, ctx, CKM.CONCATENATE_BASE_AND_DATA, g, base, KeyValueParam(other))
    with pytest.raises(KeySizeRange):
        _derive(registry, ctx, CKM.CONCATENATE_BASE_AND_DATA, g, b"", b"x")


def test_protection_rule() -> None:
    strong: dict[int, AttrValue] = {CKA.SENSITIVE: True, CKA.EXTRACTABLE: False}
    weak: dict[int, AttrValue] = {CKA.SENSITIVE: False, CKA.EXTRACTABLE: True}
    check_protection({}, [strong])
    check_protection({CKA.SENSITIVE: True, CKA.EXTRACTABLE: False}, [strong, weak])
    check_protection({CKA.SENSITIVE: False, CKA.EXTRACTABLE: True}, [weak])
    with pytest.raises(TemplateInconsistent):
        check_protection({CKA.SENSITIVE: False}, [strong])
    with pytest.raises(TemplateInconsistent):
        check_protection({CKA.EXTRACTABLE: True}, [weak, strong])
    with pytest.raises(TemplateInconsistent):
        check_protection({CKA.EXTRACTABLE: True}, [{int(CKA.SENSITIVE): False}])


def test_specs(registry: MechanismRegistry) -> None:
    for mech in (CKM.AES_ECB_ENCRYPT_DATA, CKM.DES3_CBC_ENCRYPT_DATA, CKM.CONCATENATE_BASE_AND_KEY,
                 CKM.CONCATENATE_BASE_AND_DATA, CKM.CONCATENATE_DATA_AND_BASE):
        s = spec(registry, mech)
        assert s.derive_keeps_protection and s.standard
    assert not spec(registry, CKM.ECDH1_DERIVE).derive_keeps_protection
