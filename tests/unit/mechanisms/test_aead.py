"""The AEAD mechanisms (tokenport.mechanisms.aead) below the ABI: IV generation rules, the
CCM length rules, message-based contexts on pyca and on the fake backend."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from tokenport.backends.crypto.fake import FakeCrypto
from tokenport.ck import CKK, CKM, CKGen
from tokenport.errors import (
    AeadDecryptFailed,
    DataLenRange,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    FunctionFailed,
    KeyTypeInconsistent,
    MechanismParamInvalid,
)
from tokenport.mechanisms.aead import (
    MESSAGE_AEAD,
    IvSource,
    MessageParams,
    ccm_decrypt,
    ccm_encrypt,
    chacha_decrypt,
    chacha_encrypt,
)
from tokenport.mechanisms.base import MechanismContext
from tokenport.mechanisms.params import CcmParams, ChaChaPolyParams

from .helpers import secret

AES = secret(CKK.AES, bytes(range(16)))
CHACHA = secret(CKK.CHACHA20, bytes(range(32)))


def test_counter_ivs_keep_the_fixed_bits_and_never_wrap() -> None:
    ivs = IvSource(lambda n: b"\x00" * n)
    params = MessageParams(nonce=b"\xff" * 4, tag_len=16, fixed_bits=30,
                           generator=CKGen.GENERATE_COUNTER)
    got = [ivs.next(params) for _ in range(4)]
    assert got == [b"\xff\xff\xff\xfc", b"\xff\xff\xff\xfd", b"\xff\xff\xff\xfe", b"\xff" * 4]
    with pytest.raises(FunctionFailed):
        ivs.next(params)


def test_random_ivs_need_64_free_bits() -> None:
    ivs = IvSource(lambda n: b"\xab" * n)
    params = MessageParams(nonce=b"\x01" * 12, tag_len=16, fixed_bits=32,
                           generator=CKGen.GENERATE_RANDOM)
    assert ivs.next(params) == b"\x01" * 4 + b"\xab" * 8
    with pytest.raises(MechanismParamInvalid):
        ivs.next(MessageParams(nonce=b"\x01" * 12, tag_len=16, fixed_bits=33,
                               generator=CKGen.GENERATE_RANDOM))
    # CKG_GENERATE: random with 64 free bits, a counter with fewer
    assert ivs.next(MessageParams(b"\x01" * 12, 16, 32, CKGen.GENERATE)) == b"\x01" * 4 + b"\xab" * 8
    assert ivs.next(MessageParams(b"\x01" * 12, 16, 40, CKGen.GENERATE)) == b"\x01" * 5 + bytes(7)


@pytest.mark.parametrize("generator", [CKGen.GENERATE_COUNTER_XOR, 9])
def test_unknown_generators_refused(generator: int) -> None:
    with pytest.raises(MechanismParamInvalid):
        IvSource(bytes).next(MessageParams(b"\x00" * 12, 16, 0, generator))


def test_fixed_bits_must_leave_something() -> None:
    with pytest.raises(MechanismParamInvalid):
        IvSource(bytes).next(MessageParams(b"\x00" * 12, 16, 96, CKGen.GENERATE_COUNTER))


def test_ccm_single_part_matches_pyca_and_checks_lengths(ctx: MechanismContext) -> None:
    nonce, aad, data = b"\x07" * 12, b"head", b"payload bytes"
    params = CcmParams(len(data), nonce, aad, 8)
    sealed = ccm_encrypt(ctx, AES, params).once(data)
    assert sealed == AESCCM(bytes(range(16)), tag_length=8).encrypt(nonce, data, aad)
    assert ccm_decrypt(ctx, AES, params).once(sealed) == data
    with pytest.raises(DataLenRange):
        ccm_encrypt(ctx, AES, CcmParams(len(data) + 1, nonce, aad, 8)).once(data)
    with pytest.raises(EncryptedDataLenRange):
        ccm_decrypt(ctx, AES, params).once(sealed[:-1])
    with pytest.raises(EncryptedDataInvalid):
        ccm_decrypt(ctx, AES, params).once(sealed[:-1] + bytes([sealed[-1] ^ 1]))
    for bad in (CcmParams(1, b"\x00" * 6), CcmParams(1, b"\x00" * 12, b"", 5), None):
        with pytest.raises(MechanismParamInvalid):
            ccm_encrypt(ctx, AES, bad)
    with pytest.raises(KeyTypeInconsistent):
        ccm_encrypt(ctx, CHACHA, params)


def test_chacha_single_part_in_parts(ctx: MechanismContext) -> None:
    nonce, aad = b"\x01" * 12, b"ad"
    context = chacha_encrypt(ctx, CHACHA, ChaChaPolyParams(nonce, aad))
    assert context.update(b"abc") == b"" and context.update(b"def") == b""
    sealed = context.final()
    assert sealed == ChaCha20Poly1305(bytes(range(32))).encrypt(nonce, b"abcdef", aad)
    assert chacha_decrypt(ctx, CHACHA, ChaChaPolyParams(nonce, aad)).once(sealed) == b"abcdef"
    with pytest.raises(MechanismParamInvalid):
        chacha_encrypt(ctx, CHACHA, ChaChaPolyParams(b"\x01" * 8))


@pytest.mark.parametrize("backend", ["pyca", "fake"])
@pytest.mark.parametrize("mechanism", sorted(MESSAGE_AEAD))
def test_message_contexts_round_trip(ctx: MechanismContext, backend: str, mechanism: int) -> None:
    context = ctx if backend == "pyca" else MechanismContext(FakeCrypto(), ctx.random_bytes)
    key = CHACHA if mechanism == CKM.CHACHA20_POLY1305 else AES
    aead = MESSAGE_AEAD[mechanism](context, key, None)
    nonce = b"\x09" * 12
    params = MessageParams(nonce, 16, data_len=5 if mechanism == CKM.AES_CCM else None)
    sealed = aead.encrypt(params, b"aad", b"hello")
    assert len(sealed.ciphertext) == 5 and len(sealed.tag) == 16 and sealed.nonce == nonce
    opened = MessageParams(nonce, 16, tag=sealed.tag, data_len=params.data_len)
    assert aead.decrypt(opened, b"aad", sealed.ciphertext) == b"hello"
    with pytest.raises(AeadDecryptFailed):
        aead.decrypt(opened, b"AAD", sealed.ciphertext)
    if backend == "pyca" and mechanism == CKM.AES_GCM:
        expected = AESGCM(bytes(range(16))).encrypt(nonce, b"hello", b"aad")
        assert sealed.ciphertext + sealed.tag == expected


def test_message_factories_refuse_an_init_parameter(ctx: MechanismContext) -> None:
    with pytest.raises(MechanismParamInvalid):
        MESSAGE_AEAD[CKM.AES_GCM](ctx, AES, b"\x00" * 12)
