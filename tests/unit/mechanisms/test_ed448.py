"""Ed448 (PKCS #11 v3.0 s2.3.5, s2.3.14): RFC 8032 s7.4 vectors, key pairs, the parameter
rules (no parameter or CK_EDDSA_PARAMS {FALSE, empty}: Ed448; a context string or phFlag:
CKR_MECHANISM_PARAM_INVALID, pyca/cryptography cannot compute them), key import."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed448

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKK, CKM, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    CurveNotSupported,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    SignatureInvalid,
    SignatureLenRange,
)
from tokenport.mechanisms import curves, der
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
from tokenport.mechanisms.keyformats import (
    complete_key_attributes,
    decode_private_key_pkcs8,
    decode_public_key_info,
    encode_private_key_pkcs8,
)
from tokenport.mechanisms.params import EddsaParams
from tokenport.ports.crypto import CryptoBackend

from .helpers import FakeKey, key_pair, spec
from .vectors import records

ED448_OID_PARAMS = bytes.fromhex("06032b6571")
ED448_NAME_PARAMS = der.encode_tlv(der.TAG_PRINTABLE_STRING, b"edwards448")
RFC8032 = records("curves/ed448_rfc8032.txt", "COUNT")
PURE = [v for v in RFC8032 if "CONTEXT" not in v]
WITH_CONTEXT = [v for v in RFC8032 if "CONTEXT" in v]


def keys(vector: dict[str, str], params: bytes = ED448_OID_PARAMS,
         raw_point: bool = False) -> tuple[FakeKey, FakeKey]:
    public = bytes.fromhex(vector["PUBLIC"])
    pub = FakeKey(CKO.PUBLIC_KEY, CKK.EC_EDWARDS, {
        CKA.EC_PARAMS: params,
        CKA.EC_POINT: public if raw_point else curves.encode_point(public),
    })
    priv = FakeKey(CKO.PRIVATE_KEY, CKK.EC_EDWARDS,
                   {CKA.EC_PARAMS: params, CKA.VALUE: bytes.fromhex(vector["SECRET"])})
    return pub, priv


def test_vector_file_holds_the_rfc_cases() -> None:
    assert len(PURE) == 8 and len(WITH_CONTEXT) == 1
    assert PURE[0]["MESSAGE"] == ""  # RFC 8032 s7.4 "Blank"


@pytest.mark.parametrize("params", [ED448_OID_PARAMS, ED448_NAME_PARAMS])
@pytest.mark.parametrize("vector", PURE, ids=lambda v: v["COUNT"])
def test_rfc8032_ed448(
    registry: MechanismRegistry, ctx: MechanismContext, vector: dict[str, str], params: bytes
) -> None:
    """Signatures are deterministic: the token's equal the RFC's, with no parameter and with
    CK_EDDSA_PARAMS {phFlag FALSE, no context} (the same scheme), single- and multi-part."""
    s = spec(registry, CKM.EDDSA)
    assert s.sign is not None and s.verify is not None
    pub, priv = keys(vector, params)
    message = bytes.fromhex(vector["MESSAGE"])
    expected = bytes.fromhex(vector["SIGNATURE"])
    assert s.sign(ctx, priv, None).once(message) == expected
    assert s.sign(ctx, priv, EddsaParams(prehash=False)).once(message) == expected
    multi = s.sign(ctx, priv, None)
    multi.update(message[:5])
    multi.update(message[5:])
    assert multi.final() == expected
    s.verify(ctx, pub, None).once(message, expected)
    s.verify(ctx, keys(vector, params, raw_point=True)[0], EddsaParams(False)).once(message, expected)
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, None).once(message + b"x", expected)
    with pytest.raises(SignatureLenRange):
        s.verify(ctx, pub, None).once(message, expected[:64])


def test_context_and_prehash_are_refused(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    """RFC 8032's Ed448 with context "foo", and Ed448ph (its "abc" examples): not in pyca,
    so C_SignInit / C_VerifyInit give CKR_MECHANISM_PARAM_INVALID instead of computing
    another scheme's signature."""
    (vector,) = WITH_CONTEXT
    s = spec(registry, CKM.EDDSA)
    assert s.sign is not None and s.verify is not None
    pub, priv = keys(vector)
    context = bytes.fromhex(vector["CONTEXT"])
    assert context == b"foo"
    for param in (EddsaParams(False, context), EddsaParams(True), EddsaParams(True, b"abc")):
        with pytest.raises(MechanismParamInvalid):
            s.sign(ctx, priv, param)
        with pytest.raises(MechanismParamInvalid):
            s.verify(ctx, pub, param)
    with pytest.raises(MechanismParamInvalid):
        s.sign(ctx, priv, b"\x00")
    with pytest.raises(SignatureInvalid):  # the context signature is not a pure Ed448 one
        s.verify(ctx, pub, None).once(bytes.fromhex(vector["MESSAGE"]),
                                       bytes.fromhex(vector["SIGNATURE"]))


@pytest.mark.parametrize("params", [ED448_OID_PARAMS, ED448_NAME_PARAMS])
def test_key_pair_generation(
    registry: MechanismRegistry, ctx: MechanismContext, params: bytes
) -> None:
    fixed = MechanismContext(ctx.crypto, lambda n: b"\x42" * n)
    pub, priv = key_pair(registry, fixed, CKM.EC_EDWARDS_KEY_PAIR_GEN, {CKA.EC_PARAMS: params})
    seed = b"\x42" * 57
    assert priv.attrs == {CKA.EC_PARAMS: params, CKA.VALUE: seed}
    expected = ed448.Ed448PrivateKey.from_private_bytes(seed).public_key()
    assert pub.attrs == {CKA.EC_PARAMS: params,
                         CKA.EC_POINT: b"\x04\x39" + expected.public_bytes_raw()}
    s = spec(registry, CKM.EDDSA)
    assert s.sign is not None
    signature = s.sign(ctx, priv, None).once(b"hello")
    assert len(signature) == 114
    expected.verify(signature, b"hello")


def test_key_checks(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    s = spec(registry, CKM.EDDSA)
    assert s.sign is not None and s.verify is not None
    pub, priv = keys(PURE[0])
    with pytest.raises(KeyTypeInconsistent):
        s.sign(ctx, pub, None)
    with pytest.raises(KeyTypeInconsistent):
        s.verify(ctx, priv, None)
    short = FakeKey(CKO.PRIVATE_KEY, CKK.EC_EDWARDS,
                    {CKA.EC_PARAMS: ED448_OID_PARAMS, CKA.VALUE: b"\x01" * 32})
    with pytest.raises(AttributeValueInvalid):
        s.sign(ctx, short, None)


def test_mechanism_info(registry: MechanismRegistry) -> None:
    for mechanism in (CKM.EDDSA, CKM.EC_EDWARDS_KEY_PAIR_GEN):
        s = spec(registry, mechanism)
        assert (s.min_key_size, s.max_key_size) == (256, 456)
        assert "RFC 8032" in s.standard


def test_import_and_pkcs8(crypto: CryptoBackend) -> None:
    pub, priv = keys(PURE[1])
    raw: dict[int, AttrValue] = {CKA.EC_PARAMS: ED448_NAME_PARAMS,
                                 CKA.EC_POINT: bytes.fromhex(PURE[1]["PUBLIC"])}
    added = complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.EC_EDWARDS, raw)
    assert added[CKA.EC_POINT] == pub.attrs[CKA.EC_POINT]
    spki = added[CKA.PUBLIC_KEY_INFO]
    assert isinstance(spki, bytes)
    loaded = serialization.load_der_public_key(spki)
    assert isinstance(loaded, ed448.Ed448PublicKey)
    assert decode_public_key_info(crypto, spki) == (CKK.EC_EDWARDS, pub.attrs)
    assert complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.EC_EDWARDS, priv.attrs) == {
        CKA.PUBLIC_KEY_INFO: spki}
    assert decode_private_key_pkcs8(crypto, encode_private_key_pkcs8(crypto, priv)) == (
        CKK.EC_EDWARDS, priv.attrs)
    with pytest.raises(AttributeValueInvalid):
        complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.EC_EDWARDS,
                                {CKA.EC_PARAMS: ED448_OID_PARAMS, CKA.EC_POINT: b"\x01" * 32})
    with pytest.raises(CurveNotSupported):
        complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.EC_EDWARDS,
                                {CKA.EC_PARAMS: curves.X448.params, CKA.EC_POINT: b"\x01" * 56})
