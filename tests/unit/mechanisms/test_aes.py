"""AES mechanisms: NIST SP 800-38A/B/D, RFC 3394 and RFC 5649 vectors, round trips, errors."""

from __future__ import annotations

import pytest

from tokenport.ck import CKA, CKK, CKM
from tokenport.errors import (
    AttributeValueInvalid,
    DataLenRange,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    FunctionNotSupported,
    KeySizeRange,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    SignatureInvalid,
    SignatureLenRange,
    TemplateIncomplete,
    UnwrappingKeyTypeInconsistent,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
    WrappingKeyTypeInconsistent,
)
from tokenport.mechanisms.base import CipherContext, MechanismContext, MechanismRegistry
from tokenport.mechanisms.params import CtrParams, GcmParams, Params

from .helpers import secret, spec

# NIST SP 800-38A F.1.1 / F.2.1 / F.5.1 (AES-128), first two blocks.
K128 = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
PT = bytes.fromhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
ECB_CT = bytes.fromhex("3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf")
CBC_IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
CBC_CT = bytes.fromhex("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2")
CTR_BLOCK = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
CTR_CT = bytes.fromhex("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff")

# GCM test case 4 (McGrew-Viega, the NIST GCM submission).
GCM_KEY = bytes.fromhex("feffe9928665731c6d6a8f9467308308")
GCM_IV = bytes.fromhex("cafebabefacedbaddecaf888")
GCM_AAD = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
GCM_PT = bytes.fromhex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
)
GCM_CT = bytes.fromhex(
    "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
    "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091"
)
GCM_TAG = bytes.fromhex("5bc94fbc3221a5db94fae95ae7121a47")

# NIST SP 800-38B D.1 (AES-128 CMAC).
CMAC_VECTORS = [
    (b"", "bb1d6929e95937287fa37d129b756746"),
    (PT[:16], "070a16b46b4d4144f79bdd9dd04a287c"),
    (
        bytes.fromhex(
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411"
        ),
        "dfa66747de9ae63030ca32611497c827",
    ),
]

# RFC 3394 s4.1 and RFC 5649 s6.
KW_KEK = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
KW_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
KW_OUT = bytes.fromhex("1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5")
KWP_KEK = bytes.fromhex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
KWP_CASES = [
    (
        bytes.fromhex("c37b7e6492584340bed12207808941155068f738"),
        bytes.fromhex("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"),
    ),
    (bytes.fromhex("466f7250617369"), bytes.fromhex("afbeb0f07dfbf5419200f2ccb50bb24f")),
]


def cipher(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    mechanism: int,
    key: bytes,
    param: Params,
    encrypt: bool,
) -> CipherContext:
    s = spec(registry, mechanism)
    factory = s.encrypt if encrypt else s.decrypt
    assert factory is not None
    return factory(ctx, secret(CKK.AES, key), param)


def chunked(context: CipherContext, data: bytes, sizes: list[int]) -> bytes:
    out = b""
    pos = 0
    for size in sizes:
        out += context.update(data[pos : pos + size])
        pos += size
    out += context.update(data[pos:])
    return out + context.final()


SPLITS = [[0], [1], [15, 1, 16], [17], [5, 30]]


@pytest.mark.parametrize(
    ("mechanism", "param", "ciphertext"),
    [
        (CKM.AES_ECB, None, ECB_CT),
        (CKM.AES_CBC, CBC_IV, CBC_CT),
        (CKM.AES_CTR, CtrParams(128, CTR_BLOCK), CTR_CT),
    ],
)
def test_sp800_38a(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    mechanism: int,
    param: Params,
    ciphertext: bytes,
) -> None:
    assert cipher(registry, ctx, mechanism, K128, param, True).once(PT) == ciphertext
    assert cipher(registry, ctx, mechanism, K128, param, False).once(ciphertext) == PT
    for sizes in SPLITS:
        enc = cipher(registry, ctx, mechanism, K128, param, True)
        assert chunked(enc, PT, sizes) == ciphertext
        dec = cipher(registry, ctx, mechanism, K128, param, False)
        assert chunked(dec, ciphertext, sizes) == PT


@pytest.mark.parametrize("mechanism", [CKM.AES_ECB, CKM.AES_CBC])
def test_unpadded_length_errors(
    registry: MechanismRegistry, ctx: MechanismContext, mechanism: int
) -> None:
    param = None if mechanism == CKM.AES_ECB else CBC_IV
    with pytest.raises(DataLenRange):
        cipher(registry, ctx, mechanism, K128, param, True).once(b"x" * 17)
    with pytest.raises(EncryptedDataLenRange):
        cipher(registry, ctx, mechanism, K128, param, False).once(b"x" * 15)
    enc = cipher(registry, ctx, mechanism, K128, param, True)
    enc.update(b"x" * 20)
    with pytest.raises(DataLenRange):
        enc.final()
    dec = cipher(registry, ctx, mechanism, K128, param, False)
    dec.update(b"x" * 31)
    with pytest.raises(EncryptedDataLenRange):
        dec.final()


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 31, 32, 100])
def test_cbc_pad_round_trip(
    registry: MechanismRegistry, ctx: MechanismContext, length: int
) -> None:
    data = bytes(range(length))
    key = bytes(range(32))
    ct = cipher(registry, ctx, CKM.AES_CBC_PAD, key, CBC_IV, True).once(data)
    assert len(ct) == (length // 16 + 1) * 16
    # Independent check: CBC without padding of data || PKCS #7 padding.
    pad = 16 - length % 16
    assert ct == cipher(registry, ctx, CKM.AES_CBC, key, CBC_IV, True).once(
        data + bytes([pad]) * pad
    )
    assert cipher(registry, ctx, CKM.AES_CBC_PAD, key, CBC_IV, False).once(ct) == data
    for sizes in SPLITS:
        enc = cipher(registry, ctx, CKM.AES_CBC_PAD, key, CBC_IV, True)
        assert chunked(enc, data, sizes) == ct
        dec = cipher(registry, ctx, CKM.AES_CBC_PAD, key, CBC_IV, False)
        assert chunked(dec, ct, sizes) == data


def test_cbc_pad_decrypt_holds_back_last_block(
    registry: MechanismRegistry, ctx: MechanismContext
) -> None:
    ct = cipher(registry, ctx, CKM.AES_CBC_PAD, K128, CBC_IV, True).once(b"a" * 32)
    dec = cipher(registry, ctx, CKM.AES_CBC_PAD, K128, CBC_IV, False)
    assert dec.update(ct[:16]) == b""
    assert dec.update(ct[16:32]) == b"a" * 16
    assert dec.update(ct[32:]) == b"a" * 16
    assert dec.final() == b""


def test_cbc_pad_errors(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    with pytest.raises(EncryptedDataLenRange):
        cipher(registry, ctx, CKM.AES_CBC_PAD, K128, CBC_IV, False).once(b"")
    with pytest.raises(EncryptedDataLenRange):
        cipher(registry, ctx, CKM.AES_CBC_PAD, K128, CBC_IV, False).once(b"x" * 17)
    # A last block that decrypts to bad padding: pad byte 0x00, and pad 0x05 with a wrong byte.
    for block in (b"\x00" * 16, b"\x00" * 11 + b"\x01\x05\x05\x05\x05"):
        ct = cipher(registry, ctx, CKM.AES_CBC, K128, CBC_IV, True).once(block)
        with pytest.raises(EncryptedDataInvalid):
            cipher(registry, ctx, CKM.AES_CBC_PAD, K128, CBC_IV, False).once(ct)
    dec = cipher(registry, ctx, CKM.AES_CBC_PAD, K128, CBC_IV, False)
    dec.update(b"x" * 20)
    with pytest.raises(EncryptedDataLenRange):
        dec.final()


@pytest.mark.parametrize("bad", [None, b"", b"x" * 15, b"x" * 17, GcmParams(iv=b"x" * 12)])
def test_cbc_iv_checked(registry: MechanismRegistry, ctx: MechanismContext, bad: Params) -> None:
    with pytest.raises(MechanismParamInvalid):
        cipher(registry, ctx, CKM.AES_CBC, K128, bad, True)
    with pytest.raises(MechanismParamInvalid):
        cipher(registry, ctx, CKM.AES_CBC_PAD, K128, bad, False)


def test_ctr_counter_bits(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    # An 8-bit counter at 0xfe leaves two blocks before it would wrap.
    param = CtrParams(8, b"\x00" * 15 + b"\xfe")
    enc = cipher(registry, ctx, CKM.AES_CTR, K128, param, True)
    assert len(enc.once(b"x" * 32)) == 32
    with pytest.raises(DataLenRange):
        cipher(registry, ctx, CKM.AES_CTR, K128, param, True).once(b"x" * 33)
    dec = cipher(registry, ctx, CKM.AES_CTR, K128, param, False)
    dec.update(b"x" * 20)
    with pytest.raises(EncryptedDataLenRange):
        dec.update(b"x" * 13)
    for bad in (CtrParams(0, CTR_BLOCK), CtrParams(129, CTR_BLOCK), CtrParams(32, b"x"), None):
        with pytest.raises(MechanismParamInvalid):
            cipher(registry, ctx, CKM.AES_CTR, K128, bad, True)


@pytest.mark.parametrize("encrypt", [True, False])
def test_ctr_full_width_counter_never_wraps(
    registry: MechanismRegistry, ctx: MechanismContext, encrypt: bool
) -> None:
    """ulCounterBits = 128 is no licence to wrap (s2.11): a counter block of all ones leaves
    exactly one block, and a second is a length error, not keystream from counter 0."""
    error = DataLenRange if encrypt else EncryptedDataLenRange
    param = CtrParams(128, b"\xff" * 16)
    assert len(cipher(registry, ctx, CKM.AES_CTR, K128, param, encrypt).once(b"x" * 16)) == 16
    with pytest.raises(error):
        cipher(registry, ctx, CKM.AES_CTR, K128, param, encrypt).once(b"x" * 17)
    multi = cipher(registry, ctx, CKM.AES_CTR, K128, param, encrypt)
    assert len(multi.update(b"x" * 16)) == 16
    with pytest.raises(error):
        multi.update(b"x")
    # one block below the top: two blocks fit, the third does not
    near = CtrParams(128, b"\xff" * 15 + b"\xfe")
    assert len(cipher(registry, ctx, CKM.AES_CTR, K128, near, encrypt).once(b"x" * 32)) == 32
    with pytest.raises(error):
        cipher(registry, ctx, CKM.AES_CTR, K128, near, encrypt).once(b"x" * 33)


def test_gcm_known_answer(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    param = GcmParams(iv=GCM_IV, aad=GCM_AAD, tag_bits=128)
    out = cipher(registry, ctx, CKM.AES_GCM, GCM_KEY, param, True).once(GCM_PT)
    assert out == GCM_CT + GCM_TAG
    assert cipher(registry, ctx, CKM.AES_GCM, GCM_KEY, param, False).once(out) == GCM_PT
    for sizes in SPLITS:
        enc = cipher(registry, ctx, CKM.AES_GCM, GCM_KEY, param, True)
        assert chunked(enc, GCM_PT, sizes) == out
        dec = cipher(registry, ctx, CKM.AES_GCM, GCM_KEY, param, False)
        assert chunked(dec, out, sizes) == GCM_PT


@pytest.mark.parametrize("tag_bits", [32, 64, 96, 104, 112, 120])
def test_gcm_truncated_tags(
    registry: MechanismRegistry, ctx: MechanismContext, tag_bits: int
) -> None:
    param = GcmParams(iv=GCM_IV, aad=GCM_AAD, tag_bits=tag_bits)
    out = cipher(registry, ctx, CKM.AES_GCM, GCM_KEY, param, True).once(GCM_PT)
    assert out == GCM_CT + GCM_TAG[: tag_bits // 8]
    assert cipher(registry, ctx, CKM.AES_GCM, GCM_KEY, param, False).once(out) == GCM_PT
    bad = out[:-1] + bytes([out[-1] ^ 1])
    with pytest.raises(EncryptedDataInvalid):
        cipher(registry, ctx, CKM.AES_GCM, GCM_KEY, param, False).once(bad)


def test_gcm_decrypt_releases_nothing_before_the_tag(
    registry: MechanismRegistry, ctx: MechanismContext
) -> None:
    param = GcmParams(iv=GCM_IV, aad=GCM_AAD)
    tampered = bytes([GCM_CT[0] ^ 0x80]) + GCM_CT[1:] + GCM_TAG
    dec = cipher(registry, ctx, CKM.AES_GCM, GCM_KEY, param, False)
    assert dec.update(tampered[:40]) == b""
    assert dec.update(tampered[40:]) == b""
    with pytest.raises(EncryptedDataInvalid):
        dec.final()
    wrong_aad = GcmParams(iv=GCM_IV, aad=b"other")
    with pytest.raises(EncryptedDataInvalid):
        cipher(registry, ctx, CKM.AES_GCM, GCM_KEY, wrong_aad, False).once(GCM_CT + GCM_TAG)
    with pytest.raises(EncryptedDataLenRange):
        cipher(registry, ctx, CKM.AES_GCM, GCM_KEY, param, False).once(b"x" * 15)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        b"x" * 12,
        GcmParams(iv=b"x" * 7),
        GcmParams(iv=b"x" * 129),
        GcmParams(iv=b"x" * 12, tag_bits=0),
        GcmParams(iv=b"x" * 12, tag_bits=100),
        GcmParams(iv=b"x" * 12, tag_bits=136),
    ],
)
def test_gcm_params_checked(
    registry: MechanismRegistry, ctx: MechanismContext, bad: Params
) -> None:
    with pytest.raises(MechanismParamInvalid):
        cipher(registry, ctx, CKM.AES_GCM, GCM_KEY, bad, True)
    with pytest.raises(MechanismParamInvalid):
        cipher(registry, ctx, CKM.AES_GCM, GCM_KEY, bad, False)


@pytest.mark.parametrize(("data", "mac"), CMAC_VECTORS)
def test_cmac_known_answers(
    registry: MechanismRegistry, ctx: MechanismContext, data: bytes, mac: str
) -> None:
    s = spec(registry, CKM.AES_CMAC)
    assert s.sign is not None and s.verify is not None
    key = secret(CKK.AES, K128)
    assert s.sign(ctx, key, None).once(data).hex() == mac
    signer = s.sign(ctx, key, None)
    signer.update(data[:7])
    signer.update(data[7:])
    assert signer.final().hex() == mac
    s.verify(ctx, key, None).once(data, bytes.fromhex(mac))
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, key, None).once(data + b"x", bytes.fromhex(mac))
    with pytest.raises(SignatureLenRange):
        s.verify(ctx, key, None).once(data, bytes.fromhex(mac)[:8])


def test_key_checks(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    s = spec(registry, CKM.AES_ECB)
    assert s.encrypt is not None
    with pytest.raises(KeyTypeInconsistent):
        s.encrypt(ctx, secret(CKK.GENERIC_SECRET, K128), None)
    with pytest.raises(KeySizeRange):
        s.encrypt(ctx, secret(CKK.AES, b"x" * 8), None)
    with pytest.raises(AttributeValueInvalid):
        s.encrypt(ctx, secret(CKK.AES, b"x" * 20), None)
    with pytest.raises(MechanismParamInvalid):
        s.encrypt(ctx, secret(CKK.AES, K128), b"\x00" * 16)


def test_single_part_only_contexts(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    enc = cipher(registry, ctx, CKM.AES_KEY_WRAP, KW_KEK, None, True)
    with pytest.raises(FunctionNotSupported):
        enc.update(KW_KEY)
    with pytest.raises(FunctionNotSupported):
        enc.final()


def test_rfc3394(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    s = spec(registry, CKM.AES_KEY_WRAP)
    assert s.wrap is not None and s.unwrap is not None
    kek = secret(CKK.AES, KW_KEK)
    assert s.wrap(ctx, kek, None, KW_KEY) == KW_OUT
    assert s.wrap(ctx, kek, bytes.fromhex("a6a6a6a6a6a6a6a6"), KW_KEY) == KW_OUT
    assert s.unwrap(ctx, kek, None, KW_OUT) == KW_KEY
    assert cipher(registry, ctx, CKM.AES_KEY_WRAP, KW_KEK, None, True).once(KW_KEY) == KW_OUT
    assert cipher(registry, ctx, CKM.AES_KEY_WRAP, KW_KEK, None, False).once(KW_OUT) == KW_KEY
    tampered = KW_OUT[:-1] + bytes([KW_OUT[-1] ^ 1])
    with pytest.raises(WrappedKeyInvalid):
        s.unwrap(ctx, kek, None, tampered)
    with pytest.raises(EncryptedDataInvalid):
        cipher(registry, ctx, CKM.AES_KEY_WRAP, KW_KEK, None, False).once(tampered)
    with pytest.raises(WrappedKeyLenRange):
        s.unwrap(ctx, kek, None, KW_OUT[:-1])
    with pytest.raises(WrappedKeyLenRange):
        s.unwrap(ctx, kek, None, KW_OUT[:16])
    with pytest.raises(KeySizeRange):
        s.wrap(ctx, kek, None, b"x" * 17)
    with pytest.raises(DataLenRange):
        cipher(registry, ctx, CKM.AES_KEY_WRAP, KW_KEK, None, True).once(b"x" * 8)
    with pytest.raises(MechanismParamInvalid):
        s.wrap(ctx, kek, b"\x00" * 8, KW_KEY)
    with pytest.raises(WrappingKeyTypeInconsistent):
        s.wrap(ctx, secret(CKK.GENERIC_SECRET, KW_KEK), None, KW_KEY)
    with pytest.raises(UnwrappingKeyTypeInconsistent):
        s.unwrap(ctx, secret(CKK.GENERIC_SECRET, KW_KEK), None, KW_OUT)


@pytest.mark.parametrize(("key", "wrapped"), KWP_CASES)
def test_rfc5649(
    registry: MechanismRegistry, ctx: MechanismContext, key: bytes, wrapped: bytes
) -> None:
    s = spec(registry, CKM.AES_KEY_WRAP_PAD)
    assert s.wrap is not None and s.unwrap is not None
    kek = secret(CKK.AES, KWP_KEK)
    assert s.wrap(ctx, kek, None, key) == wrapped
    assert s.unwrap(ctx, kek, None, wrapped) == key
    assert s.unwrap(ctx, kek, bytes.fromhex("a65959a6"), wrapped) == key
    with pytest.raises(WrappedKeyInvalid):
        s.unwrap(ctx, kek, None, wrapped[:-1] + bytes([wrapped[-1] ^ 1]))
    with pytest.raises(WrappedKeyLenRange):
        s.unwrap(ctx, kek, None, wrapped[:12])
    with pytest.raises(MechanismParamInvalid):
        s.wrap(ctx, kek, bytes.fromhex("a6a6a6a6a6a6a6a6"), key)


def test_cbc_pad_wrap(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    s = spec(registry, CKM.AES_CBC_PAD)
    assert s.wrap is not None and s.unwrap is not None
    kek = secret(CKK.AES, K128)
    wrapped = s.wrap(ctx, kek, CBC_IV, b"secret key value")
    assert len(wrapped) == 32
    assert s.unwrap(ctx, kek, CBC_IV, wrapped) == b"secret key value"
    with pytest.raises(WrappedKeyLenRange):
        s.unwrap(ctx, kek, CBC_IV, wrapped[:-1])


def test_aes_key_gen(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    s = spec(registry, CKM.AES_KEY_GEN)
    assert s.generate_key is not None and s.generated_key_type == CKK.AES
    for length in (16, 24, 32):
        material = s.generate_key(ctx, None, {CKA.VALUE_LEN: length})
        assert material[CKA.VALUE_LEN] == length
        value = material[CKA.VALUE]
        assert isinstance(value, bytes) and len(value) == length
    with pytest.raises(TemplateIncomplete):
        s.generate_key(ctx, None, {})
    with pytest.raises(KeySizeRange):
        s.generate_key(ctx, None, {CKA.VALUE_LEN: 64})
    with pytest.raises(AttributeValueInvalid):
        s.generate_key(ctx, None, {CKA.VALUE_LEN: 20})
    with pytest.raises(MechanismParamInvalid):
        s.generate_key(ctx, b"x", {CKA.VALUE_LEN: 16})
