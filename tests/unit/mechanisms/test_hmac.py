"""HMAC (RFC 2202 / RFC 4231 vectors) and generic secret key generation."""

from __future__ import annotations

import pytest

from tokenport.ck import CKA, CKK, CKM
from tokenport.errors import (
    KeySizeRange,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    SignatureInvalid,
    SignatureLenRange,
    TemplateIncomplete,
)
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry

from .helpers import FakeKey, secret, spec

# RFC 4231 test case 1, 2 and 6; RFC 2202 test case 1 and 2 for SHA-1.
TC1_KEY = b"\x0b" * 20
TC1_DATA = b"Hi There"
TC2_KEY = b"Jefe"
TC2_DATA = b"what do ya want for nothing?"
TC6_KEY = b"\xaa" * 131
TC6_DATA = b"Test Using Larger Than Block-Size Key - Hash Key First"
VECTORS = [
    (CKM.SHA_1_HMAC, TC1_KEY, TC1_DATA, "b617318655057264e28bc0b6fb378c8ef146be00"),
    (CKM.SHA_1_HMAC, TC2_KEY, TC2_DATA, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    (
        CKM.SHA224_HMAC,
        TC1_KEY,
        TC1_DATA,
        "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
    ),
    (
        CKM.SHA256_HMAC,
        TC1_KEY,
        TC1_DATA,
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        CKM.SHA256_HMAC,
        TC2_KEY,
        TC2_DATA,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        CKM.SHA256_HMAC,
        TC6_KEY,
        TC6_DATA,
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        CKM.SHA384_HMAC,
        TC1_KEY,
        TC1_DATA,
        (
            "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
            "faea9ea9076ede7f4af152e8b2fa9cb6"
        ),
    ),
    (
        CKM.SHA512_HMAC,
        TC2_KEY,
        TC2_DATA,
        (
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
            "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        ),
    ),
]


@pytest.mark.parametrize(("mechanism", "key", "data", "mac"), VECTORS)
def test_known_answers(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    mechanism: int,
    key: bytes,
    data: bytes,
    mac: str,
) -> None:
    s = spec(registry, mechanism)
    assert s.sign is not None and s.verify is not None
    k = secret(CKK.GENERIC_SECRET, key)
    assert s.sign(ctx, k, None).once(data).hex() == mac
    signer = s.sign(ctx, k, None)
    signer.update(data[:3])
    signer.update(data[3:])
    assert signer.final().hex() == mac
    s.verify(ctx, k, None).once(data, bytes.fromhex(mac))
    verifier = s.verify(ctx, k, None)
    verifier.update(data)
    verifier.final(bytes.fromhex(mac))


def test_verify_failures(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    s = spec(registry, CKM.SHA256_HMAC)
    assert s.verify is not None
    k = secret(CKK.SHA256_HMAC, TC2_KEY)
    good = bytes.fromhex(VECTORS[4][3])
    bad = bytes([good[0] ^ 1]) + good[1:]
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, k, None).once(TC2_DATA, bad)
    with pytest.raises(SignatureLenRange):
        s.verify(ctx, k, None).once(TC2_DATA, good[:16])


def test_key_type_checks(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    s = spec(registry, CKM.SHA256_HMAC)
    assert s.sign is not None
    s.sign(ctx, secret(CKK.SHA256_HMAC, b"k" * 32), None)
    with pytest.raises(KeyTypeInconsistent):
        s.sign(ctx, secret(CKK.SHA384_HMAC, b"k" * 32), None)
    with pytest.raises(KeyTypeInconsistent):
        s.sign(ctx, secret(CKK.AES, b"k" * 32), None)
    with pytest.raises(KeyTypeInconsistent):
        s.sign(ctx, FakeKey(3, CKK.GENERIC_SECRET, {CKA.VALUE: b"k"}), None)
    with pytest.raises(KeySizeRange):
        s.sign(ctx, secret(CKK.GENERIC_SECRET, b""), None)
    with pytest.raises(MechanismParamInvalid):
        s.sign(ctx, secret(CKK.GENERIC_SECRET, b"k"), b"\x10")


def test_generic_secret_key_gen(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    s = spec(registry, CKM.GENERIC_SECRET_KEY_GEN)
    assert s.generate_key is not None and s.generated_key_type == CKK.GENERIC_SECRET
    material = s.generate_key(ctx, None, {CKA.VALUE_LEN: 40})
    assert material[CKA.VALUE_LEN] == 40
    value = material[CKA.VALUE]
    assert isinstance(value, bytes) and len(value) == 40
    drawn: list[int] = []

    def rng(n: int) -> bytes:
        drawn.append(n)
        return b"\x07" * n

    fixed = s.generate_key(MechanismContext(ctx.crypto, rng), None, {CKA.VALUE_LEN: 3})
    assert fixed[CKA.VALUE] == b"\x07\x07\x07" and drawn == [3]
    with pytest.raises(TemplateIncomplete):
        s.generate_key(ctx, None, {})
    with pytest.raises(KeySizeRange):
        s.generate_key(ctx, None, {CKA.VALUE_LEN: 0})
    with pytest.raises(KeySizeRange):
        s.generate_key(ctx, None, {CKA.VALUE_LEN: 513})
