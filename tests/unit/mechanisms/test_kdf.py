"""HKDF (RFC 5869 test cases 1-7) and PBKDF2 (RFC 6070, RFC 7914) through the mechanisms
(PKCS #11 v3.0; 3.2 s6.62 and s6.37), on the pyca backend and on the fake twin."""

from __future__ import annotations

import pytest

from tokenport.backends.crypto.fake import FakeCrypto
from tokenport.ck import CKA, CKF, CKK, CKM, CKO, CKP, CKZ
from tokenport.errors import (
    KeyFunctionNotPermitted,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    TemplateIncomplete,
    TemplateInconsistent,
)
from tokenport.mechanisms.base import KeyView, MechanismContext, MechanismRegistry
from tokenport.mechanisms.params import HkdfParams, Pbkdf2Params

from .hashkdf_vectors import records, text_bytes
from .helpers import FakeKey, secret, spec

HASH_MECHANISMS = {"SHA-256": CKM.SHA256, "SHA-1": CKM.SHA_1}


def _hkdf_vectors() -> list[dict[str, str]]:
    return records("rfc-5869-HKDF-SHA256.txt") + records("rfc-5869-HKDF-SHA1.txt")


@pytest.fixture(scope="module")
def fake_ctx() -> MechanismContext:
    return MechanismContext(crypto=FakeCrypto(), random_bytes=lambda n: b"\x07" * n)


def _contexts(ctx: MechanismContext, fake_ctx: MechanismContext) -> list[MechanismContext]:
    return [ctx, fake_ctx]


def _derive(registry: MechanismRegistry, ctx: MechanismContext, key: KeyView,
            param: HkdfParams, length: int | None, mechanism: int = CKM.HKDF_DERIVE) -> bytes:
    derive = spec(registry, mechanism).derive
    assert derive is not None
    return derive(ctx, key, param, length)


def _salt(vector: dict[str, str]) -> tuple[int, bytes]:
    salt = bytes.fromhex(vector.get("salt", ""))
    return (CKF.HKDF_SALT_DATA, salt) if salt else (CKF.HKDF_SALT_NULL, b"")


@pytest.mark.parametrize("mechanism", [CKM.HKDF_DERIVE, CKM.HKDF_DATA], ids=["derive", "data"])
def test_rfc5869_extract_and_expand(registry: MechanismRegistry, ctx: MechanismContext,
                                    fake_ctx: MechanismContext, mechanism: int) -> None:
    vectors = _hkdf_vectors()
    assert len(vectors) == 7
    for context in _contexts(ctx, fake_ctx):
        for vector in vectors:
            prf = HASH_MECHANISMS[vector["Hash"]]
            salt_type, salt = _salt(vector)
            info = bytes.fromhex(vector.get("info", ""))
            key = secret(CKK.GENERIC_SECRET, bytes.fromhex(vector["IKM"]))
            both = HkdfParams(True, True, prf, salt_type, salt=salt, info=info)
            okm = _derive(registry, context, key, both, int(vector["L"]), mechanism)
            assert okm.hex() == vector["OKM"], vector["COUNT"]
            extract = HkdfParams(True, False, prf, salt_type, salt=salt, info=b"ignored")
            assert _derive(registry, context, key, extract, None, mechanism).hex() == vector["PRK"]
            prk = secret(CKK.HKDF, bytes.fromhex(vector["PRK"]))
            expand = HkdfParams(False, True, prf, 0xFFFF, salt=b"ignored", info=info)
            assert _derive(registry, context, prk, expand, int(vector["L"])).hex() == vector["OKM"]


def test_the_salt_may_come_from_a_key(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    vector = records("rfc-5869-HKDF-SHA256.txt")[0]
    salt_key = FakeKey(CKO.SECRET_KEY, CKK.GENERIC_SECRET,
                       {CKA.VALUE: bytes.fromhex(vector["salt"]), CKA.DERIVE: True})
    keys: dict[int, KeyView] = {42: salt_key}
    lookup = MechanismContext(crypto=ctx.crypto, random_bytes=ctx.random_bytes,
                              key_lookup=keys.__getitem__)
    key = secret(CKK.HKDF, bytes.fromhex(vector["IKM"]))
    param = HkdfParams(True, True, CKM.SHA256, CKF.HKDF_SALT_KEY, salt_key=42,
                       info=bytes.fromhex(vector["info"]))
    assert _derive(registry, lookup, key, param, 42).hex() == vector["OKM"]
    salt_key.attrs[CKA.DERIVE] = False
    with pytest.raises(KeyFunctionNotPermitted):
        _derive(registry, lookup, key, param, 42)
    keys[42] = FakeKey(CKO.SECRET_KEY, CKK.AES, {CKA.VALUE: b"\x00" * 16, CKA.DERIVE: True})
    with pytest.raises(KeyTypeInconsistent):
        _derive(registry, lookup, key, param, 42)
    with pytest.raises(MechanismParamInvalid):  # no C_DeriveKey context to look keys up
        _derive(registry, ctx, key, param, 42)


def test_hkdf_lengths(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    key = secret(CKK.GENERIC_SECRET, b"\x0b" * 22)
    both = HkdfParams(True, True, CKM.SHA256, CKF.HKDF_SALT_NULL)
    assert len(_derive(registry, ctx, key, both, None)) == 32  # default: the digest length
    assert len(_derive(registry, ctx, key, both, 255 * 32)) == 255 * 32
    for bad in (0, 255 * 32 + 1):
        with pytest.raises(TemplateInconsistent):
            _derive(registry, ctx, key, both, bad)
    extract = HkdfParams(True, False, CKM.SHA384, CKF.HKDF_SALT_NULL)
    assert len(_derive(registry, ctx, key, extract, 48)) == 48
    with pytest.raises(TemplateInconsistent):
        _derive(registry, ctx, key, extract, 32)


def test_hkdf_parameter_errors(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    key = secret(CKK.GENERIC_SECRET, b"\x0b" * 32)
    bad = [
        None,
        b"\x00" * 8,
        HkdfParams(False, False, CKM.SHA256, CKF.HKDF_SALT_NULL),  # neither stage
        HkdfParams(True, True, CKM.MD5, CKF.HKDF_SALT_NULL),  # not an allowed PRF
        HkdfParams(True, True, CKM.AES_ECB, CKF.HKDF_SALT_NULL),  # not a digest
        HkdfParams(True, True, CKM.SHA256, CKF.HKDF_SALT_DATA),  # salt data missing
        HkdfParams(True, True, CKM.SHA256, CKF.HKDF_SALT_NULL, salt=b"x"),  # salt with NULL
        HkdfParams(True, True, CKM.SHA256, 0x8),  # unknown salt type
    ]
    for param in bad:
        with pytest.raises(MechanismParamInvalid):
            _derive(registry, ctx, key, param, None)  # type: ignore[arg-type]


def test_hkdf_base_key_rules(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    both = HkdfParams(True, True, CKM.SHA3_256, CKF.HKDF_SALT_NULL)
    assert len(_derive(registry, ctx, secret(CKK.HKDF, b"k" * 32), both, 16)) == 16
    with pytest.raises(KeyTypeInconsistent):
        _derive(registry, ctx, secret(CKK.AES, b"k" * 32), both, 16)
    derive = spec(registry, CKM.HKDF_DERIVE)
    assert derive.key_types == {CKK.GENERIC_SECRET, CKK.HKDF}
    assert (derive.min_key_size, derive.max_key_size, derive.flags) == (1, 512, CKF.DERIVE)
    assert spec(registry, CKM.HKDF_DATA).derives_data is True
    assert derive.derives_data is False


def test_hkdf_key_generation(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    gen = spec(registry, CKM.HKDF_KEY_GEN)
    assert gen.generate_key is not None and gen.generated_key_type == CKK.HKDF
    material = gen.generate_key(ctx, None, {CKA.VALUE_LEN: 32})
    assert material[CKA.VALUE_LEN] == 32 and len(material[CKA.VALUE]) == 32  # type: ignore[arg-type]
    with pytest.raises(TemplateIncomplete):
        gen.generate_key(ctx, None, {})


# -- PBKDF2 --------------------------------------------------------------------------------------


def _pbkd2(registry: MechanismRegistry, ctx: MechanismContext, param: object,
           template: dict[int, object]) -> dict[int, object]:
    gen = spec(registry, CKM.PKCS5_PBKD2).generate_key
    assert gen is not None
    return dict(gen(ctx, param, template))  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "prf"), [
    ("rfc-6070-PBKDF2-SHA1.txt", CKP.PKCS5_PBKD2_HMAC_SHA1),
    ("rfc-7914-PBKDF2-SHA256.txt", CKP.PKCS5_PBKD2_HMAC_SHA256),
])
def test_rfc_pbkdf2_vectors(registry: MechanismRegistry, ctx: MechanismContext,
                            fake_ctx: MechanismContext, name: str, prf: int) -> None:
    vectors = [v for v in records(name) if int(v["ITERATIONS"]) <= 100_000]
    assert len(vectors) in (2, 5)
    for context in _contexts(ctx, fake_ctx):
        for vector in vectors:
            param = Pbkdf2Params(CKZ.SALT_SPECIFIED, text_bytes(vector["SALT"]),
                                 int(vector["ITERATIONS"]), prf, text_bytes(vector["PASSWORD"]))
            length = int(vector["LENGTH"])
            out = _pbkd2(registry, context, param,
                         {CKA.KEY_TYPE: CKK.GENERIC_SECRET, CKA.VALUE_LEN: length})
            assert out[CKA.VALUE] == bytes.fromhex(vector["DERIVED_KEY"])
            assert out[CKA.VALUE_LEN] == length


def test_pbkdf2_key_types_and_lengths(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    param = Pbkdf2Params(CKZ.SALT_SPECIFIED, b"salt", 2, CKP.PKCS5_PBKD2_HMAC_SHA512_256, b"pw")
    aes = _pbkd2(registry, ctx, param, {CKA.KEY_TYPE: CKK.AES, CKA.VALUE_LEN: 32})
    assert len(aes[CKA.VALUE]) == 32  # type: ignore[arg-type]
    des3 = _pbkd2(registry, ctx, param, {CKA.KEY_TYPE: CKK.DES3})  # the type fixes the length
    value = des3[CKA.VALUE]
    assert isinstance(value, bytes) and len(value) == 24
    assert all((b).bit_count() % 2 == 1 for b in value)  # odd parity
    assert CKA.VALUE_LEN not in des3
    with pytest.raises(TemplateInconsistent):
        _pbkd2(registry, ctx, param, {CKA.KEY_TYPE: CKK.DES3, CKA.VALUE_LEN: 16})
    with pytest.raises(TemplateIncomplete):
        _pbkd2(registry, ctx, param, {CKA.VALUE_LEN: 16})
    with pytest.raises(TemplateIncomplete):
        _pbkd2(registry, ctx, param, {CKA.KEY_TYPE: CKK.AES})


def test_pbkdf2_prfs_agree_with_the_standard_library(registry: MechanismRegistry,
                                                     ctx: MechanismContext) -> None:
    import hashlib

    names = {
        CKP.PKCS5_PBKD2_HMAC_SHA224: "sha224", CKP.PKCS5_PBKD2_HMAC_SHA384: "sha384",
        CKP.PKCS5_PBKD2_HMAC_SHA512: "sha512", CKP.PKCS5_PBKD2_HMAC_SHA512_224: "sha512_224",
        CKP.PKCS5_PBKD2_HMAC_SHA512_256: "sha512_256",
    }
    for prf, name in names.items():
        param = Pbkdf2Params(CKZ.SALT_SPECIFIED, b"NaCl", 3, prf, b"password")
        out = _pbkd2(registry, ctx, param, {CKA.KEY_TYPE: CKK.GENERIC_SECRET, CKA.VALUE_LEN: 40})
        assert out[CKA.VALUE] == hashlib.pbkdf2_hmac(name, b"password", b"NaCl", 3, 40)


def test_pbkdf2_parameter_errors(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    template: dict[int, object] = {CKA.KEY_TYPE: CKK.GENERIC_SECRET, CKA.VALUE_LEN: 16}
    good = {"salt_source": CKZ.SALT_SPECIFIED, "salt": b"s", "iterations": 1,
                "prf": CKP.PKCS5_PBKD2_HMAC_SHA256, "password": b"pw"}
    bad: list[dict[str, object]] = [
        {"salt_source": 2},
        {"iterations": 0},
        {"iterations": (1 << 24) + 1},
        {"prf": CKP.PKCS5_PBKD2_HMAC_GOSTR3411},
        {"prf": 0x99},
        {"prf_data": b"\x06\x03"},
    ]
    for change in bad:
        with pytest.raises(MechanismParamInvalid):
            _pbkd2(registry, ctx, Pbkdf2Params(**{**good, **change}), template)  # type: ignore[arg-type]
    for param in (None, b"password"):
        with pytest.raises(MechanismParamInvalid):
            _pbkd2(registry, ctx, param, template)
    assert "pw" not in repr(Pbkdf2Params(**good))  # type: ignore[arg-type]
    pbkd2 = spec(registry, CKM.PKCS5_PBKD2)
    assert pbkd2.key_type_from_template is True and pbkd2.key_types == frozenset()
