"""ML-DSA and ML-KEM mechanisms (PKCS #11 v3.2 s6.66-6.67) on pyca: FIPS 204 / FIPS 203
known answers (tests/vectors/pqc), interoperability with pyca, parameters and lengths."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem

from tokenport.backends.crypto.fake import FakeCrypto
from tokenport.backends.crypto.pyca import PycaCrypto
from tokenport.ck import CKA, CKF, CKH_HEDGE, CKK, CKM, CKO, CKP_ML_DSA, CKP_ML_KEM
from tokenport.errors import (
    AttributeValueInvalid,
    DataLenRange,
    EncryptedDataLenRange,
    FunctionNotSupported,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    ParameterSetNotSupported,
    SignatureInvalid,
    SignatureLenRange,
    TemplateIncomplete,
)
from tokenport.mechanisms import pqkeys
from tokenport.mechanisms.base import MAX_DATA_LEN, MechanismContext, MechanismRegistry
from tokenport.mechanisms.keyformats import complete_key_attributes
from tokenport.mechanisms.params import SignAdditionalContext

from .helpers import FakeKey, key_pair, spec

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "pqc"
DSA_FILES = {
    CKP_ML_DSA.ML_DSA_44: "kat_MLDSA_44_det_pure.rsp",
    CKP_ML_DSA.ML_DSA_65: "kat_MLDSA_65_det_pure.rsp",
    CKP_ML_DSA.ML_DSA_87: "kat_MLDSA_87_det_pure.rsp",
}
KEM_FILES = {CKP_ML_KEM.ML_KEM_768: "kat_MLKEM_768.rsp", CKP_ML_KEM.ML_KEM_1024: "kat_MLKEM_1024.rsp"}
SIGNATURE_BYTES = {CKP_ML_DSA.ML_DSA_44: 2420, CKP_ML_DSA.ML_DSA_65: 3309, CKP_ML_DSA.ML_DSA_87: 4627}
PYCA_DSA = {
    CKP_ML_DSA.ML_DSA_44: mldsa.MLDSA44PrivateKey,
    CKP_ML_DSA.ML_DSA_65: mldsa.MLDSA65PrivateKey,
    CKP_ML_DSA.ML_DSA_87: mldsa.MLDSA87PrivateKey,
}
PYCA_KEM = {CKP_ML_KEM.ML_KEM_768: mlkem.MLKEM768PrivateKey,
            CKP_ML_KEM.ML_KEM_1024: mlkem.MLKEM1024PrivateKey}


def read_rsp(name: str) -> list[dict[str, bytes]]:
    """The test cases of a NIST-style .rsp file (hex values; counts dropped)."""
    cases: list[dict[str, bytes]] = []
    for line in (VECTORS / name).read_text().splitlines():
        key, sep, value = line.partition(" = ")
        if not sep:
            continue
        if key == "count":
            cases.append({})
        elif key not in ("mlen", "smlen"):
            cases[-1][key] = bytes.fromhex(value)
    return cases


DSA_CASES = [(ps, case) for ps, name in DSA_FILES.items() for case in read_rsp(name)]
KEM_CASES = [(ps, case) for ps, name in KEM_FILES.items() for case in read_rsp(name)]


def dsa_keys(parameter_set: int, seed: bytes, public: bytes) -> tuple[FakeKey, FakeKey]:
    pub = FakeKey(CKO.PUBLIC_KEY, CKK.ML_DSA, {CKA.PARAMETER_SET: parameter_set, CKA.VALUE: public})
    priv = FakeKey(CKO.PRIVATE_KEY, CKK.ML_DSA, {CKA.PARAMETER_SET: parameter_set, CKA.SEED: seed})
    return pub, priv


def kem_keys(parameter_set: int, seed: bytes, public: bytes) -> tuple[FakeKey, FakeKey]:
    pub = FakeKey(CKO.PUBLIC_KEY, CKK.ML_KEM, {CKA.PARAMETER_SET: parameter_set, CKA.VALUE: public})
    priv = FakeKey(CKO.PRIVATE_KEY, CKK.ML_KEM, {CKA.PARAMETER_SET: parameter_set, CKA.SEED: seed})
    return pub, priv


# -- FIPS 204 / FIPS 203 known answers --------------------------------------------------------


@pytest.mark.parametrize(("parameter_set", "case"), DSA_CASES)
def test_mldsa_known_answers(registry: MechanismRegistry, ctx: MechanismContext,
                             crypto: PycaCrypto, parameter_set: int, case: dict[str, bytes]) -> None:
    """KeyGen from xi gives pk; the KAT signature verifies with C_Verify's path and the
    context; the expanded sk is accepted beside the seed, and refused when damaged."""
    params = pqkeys.ML_DSA_SETS[parameter_set]
    private = crypto.mldsa_private_from_seed(params.name, case["xi"])
    assert crypto.mldsa_public_bytes(private) == case["pk"]
    signature = case["sm"][: params.signature]
    assert case["sm"][params.signature :] == case["msg"]
    pub, _ = dsa_keys(parameter_set, case["xi"], case["pk"])
    mech = spec(registry, CKM.ML_DSA)
    assert mech.verify is not None
    param = SignAdditionalContext(context=case["ctx"])
    mech.verify(ctx, pub, param).once(case["msg"], signature)
    with pytest.raises(SignatureInvalid):
        mech.verify(ctx, pub, None).once(case["msg"], signature)  # the context is signed too
    attrs = {CKA.PARAMETER_SET: parameter_set, CKA.SEED: case["xi"], CKA.VALUE: case["sk"]}
    assert complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.ML_DSA, attrs) == {}
    damaged = case["sk"][:64] + bytes([case["sk"][64] ^ 1]) + case["sk"][65:]
    with pytest.raises(AttributeValueInvalid):
        complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.ML_DSA, {**attrs, CKA.VALUE: damaged})


@pytest.mark.parametrize(("parameter_set", "case"), KEM_CASES)
def test_mlkem_known_answers(registry: MechanismRegistry, ctx: MechanismContext,
                             crypto: PycaCrypto, parameter_set: int, case: dict[str, bytes]) -> None:
    """KeyGen from d || z gives ek; C_DecapsulateKey's path gives ss for ct and the implicit
    rejection secret ss_n for the damaged ct_n; dk is accepted beside the seed."""
    params = pqkeys.ML_KEM_SETS[parameter_set]
    seed = case["d"] + case["z"]
    assert crypto.mlkem_public_bytes(crypto.mlkem_private_from_seed(params.name, seed)) == case["pk"]
    _, priv = kem_keys(parameter_set, seed, case["pk"])
    mech = spec(registry, CKM.ML_KEM)
    assert mech.decapsulate is not None
    assert mech.decapsulate(ctx, priv, None, case["ct"]) == case["ss"]
    assert mech.decapsulate(ctx, priv, None, case["ct_n"]) == case["ss_n"]
    attrs = {CKA.PARAMETER_SET: parameter_set, CKA.SEED: seed, CKA.VALUE: case["sk"]}
    assert complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.ML_KEM, attrs) == {}
    damaged = case["sk"][:-1] + bytes([case["sk"][-1] ^ 1])  # z
    with pytest.raises(AttributeValueInvalid):
        complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.ML_KEM, {**attrs, CKA.VALUE: damaged})


# -- ML-DSA ------------------------------------------------------------------------------------


@pytest.mark.parametrize("parameter_set", list(CKP_ML_DSA))
def test_mldsa_generate_sign_verify_with_pyca(registry: MechanismRegistry, ctx: MechanismContext,
                                              parameter_set: int) -> None:
    pub, priv = key_pair(registry, ctx, CKM.ML_DSA_KEY_PAIR_GEN, {CKA.PARAMETER_SET: parameter_set})
    assert set(pub.attrs) == {CKA.PARAMETER_SET, CKA.VALUE}
    assert set(priv.attrs) == {CKA.PARAMETER_SET, CKA.SEED}
    seed = priv.attrs[CKA.SEED]
    assert isinstance(seed, bytes) and len(seed) == 32
    theirs = PYCA_DSA[parameter_set].from_seed_bytes(seed)
    assert theirs.public_key().public_bytes_raw() == pub.attrs[CKA.VALUE]
    mech = spec(registry, CKM.ML_DSA)
    assert mech.sign is not None and mech.verify is not None
    param = SignAdditionalContext(hedge=CKH_HEDGE.HEDGE_REQUIRED, context=b"tokenport")
    signature = mech.sign(ctx, priv, param).once(b"message")
    assert len(signature) == SIGNATURE_BYTES[parameter_set]
    theirs.public_key().verify(signature, b"message", b"tokenport")
    mech.verify(ctx, pub, param).once(b"message", theirs.sign(b"message", b"tokenport"))
    assert mech.sign(ctx, priv, param).once(b"message") != signature  # hedged


def test_mldsa_multi_part_sign_single_part_verify(registry: MechanismRegistry,
                                                  ctx: MechanismContext) -> None:
    pub, priv = key_pair(registry, ctx, CKM.ML_DSA_KEY_PAIR_GEN,
                         {CKA.PARAMETER_SET: CKP_ML_DSA.ML_DSA_44})
    mech = spec(registry, CKM.ML_DSA)
    assert mech.sign is not None and mech.verify is not None
    signer = mech.sign(ctx, priv, None)
    signer.update(b"mess")
    signer.update(b"age")
    signature = signer.final()
    verifier = mech.verify(ctx, pub, None)
    verifier.once(b"message", signature)
    with pytest.raises(FunctionNotSupported):
        mech.verify(ctx, pub, None).update(b"message")
    with pytest.raises(SignatureLenRange):
        mech.verify(ctx, pub, None).once(b"message", signature[:-1])
    with pytest.raises(SignatureInvalid):
        mech.verify(ctx, pub, None).once(b"messagE", signature)
    big = mech.sign(ctx, priv, None)
    big.update(b"\0" * MAX_DATA_LEN)
    with pytest.raises(DataLenRange):
        big.update(b"\0")


def test_mldsa_parameter_rules(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    """CKH_DETERMINISTIC_REQUIRED cannot be honoured (pyca signs hedged): refused at init,
    ignored by verification; contexts over 255 bytes and foreign parameters refused."""
    pub, priv = key_pair(registry, ctx, CKM.ML_DSA_KEY_PAIR_GEN,
                         {CKA.PARAMETER_SET: CKP_ML_DSA.ML_DSA_65})
    mech = spec(registry, CKM.ML_DSA)
    assert mech.sign is not None and mech.verify is not None
    deterministic = SignAdditionalContext(hedge=CKH_HEDGE.DETERMINISTIC_REQUIRED)
    with pytest.raises(MechanismParamInvalid):
        mech.sign(ctx, priv, deterministic)
    with pytest.raises(MechanismParamInvalid):
        mech.sign(ctx, priv, SignAdditionalContext(hedge=7))
    signature = mech.sign(ctx, priv, SignAdditionalContext(context=b"c" * 255)).once(b"m")
    mech.verify(ctx, pub, SignAdditionalContext(hedge=CKH_HEDGE.DETERMINISTIC_REQUIRED,
                                                context=b"c" * 255)).once(b"m", signature)
    with pytest.raises(MechanismParamInvalid):
        mech.sign(ctx, priv, SignAdditionalContext(context=b"c" * 256))
    with pytest.raises(MechanismParamInvalid):
        mech.verify(ctx, pub, SignAdditionalContext(context=b"c" * 256))
    with pytest.raises(MechanismParamInvalid):
        mech.sign(ctx, priv, b"raw bytes")
    with pytest.raises(KeyTypeInconsistent):
        mech.sign(ctx, pub, None)


def test_mldsa_key_generation_template_rules(registry: MechanismRegistry,
                                             ctx: MechanismContext) -> None:
    gen = spec(registry, CKM.ML_DSA_KEY_PAIR_GEN)
    assert gen.generate_key_pair is not None
    with pytest.raises(TemplateIncomplete):
        gen.generate_key_pair(ctx, None, {}, {})
    with pytest.raises(AttributeValueInvalid):
        gen.generate_key_pair(ctx, None, {CKA.PARAMETER_SET: 4}, {})
    with pytest.raises(MechanismParamInvalid):
        gen.generate_key_pair(ctx, b"x", {CKA.PARAMETER_SET: 1}, {})


# -- ML-KEM ------------------------------------------------------------------------------------


@pytest.mark.parametrize("parameter_set", [CKP_ML_KEM.ML_KEM_768, CKP_ML_KEM.ML_KEM_1024])
def test_mlkem_round_trips_with_pyca(registry: MechanismRegistry, ctx: MechanismContext,
                                     parameter_set: int) -> None:
    pub, priv = key_pair(registry, ctx, CKM.ML_KEM_KEY_PAIR_GEN, {CKA.PARAMETER_SET: parameter_set})
    seed = priv.attrs[CKA.SEED]
    assert isinstance(seed, bytes) and len(seed) == 64
    theirs = PYCA_KEM[parameter_set].from_seed_bytes(seed)
    assert theirs.public_key().public_bytes_raw() == pub.attrs[CKA.VALUE]
    mech = spec(registry, CKM.ML_KEM)
    assert mech.encapsulate and mech.decapsulate and mech.ciphertext_length
    secret, ciphertext = mech.encapsulate(ctx, pub, None)
    assert len(secret) == 32
    assert len(ciphertext) == mech.ciphertext_length(ctx, pub, None)
    assert theirs.decapsulate(ciphertext) == secret
    their_secret, their_ciphertext = theirs.public_key().encapsulate()
    assert mech.decapsulate(ctx, priv, None, their_ciphertext) == their_secret
    with pytest.raises(EncryptedDataLenRange):
        mech.decapsulate(ctx, priv, None, ciphertext[:-1])
    with pytest.raises(KeyTypeInconsistent):
        mech.encapsulate(ctx, priv, None)
    with pytest.raises(KeyTypeInconsistent):
        mech.decapsulate(ctx, pub, None, ciphertext)
    with pytest.raises(MechanismParamInvalid):
        mech.encapsulate(ctx, pub, b"param")


def test_mlkem_512_is_not_supported(registry: MechanismRegistry, ctx: MechanismContext,
                                    crypto: PycaCrypto) -> None:
    gen = spec(registry, CKM.ML_KEM_KEY_PAIR_GEN)
    assert gen.generate_key_pair is not None
    with pytest.raises(ParameterSetNotSupported, match="ML-KEM-512"):
        gen.generate_key_pair(ctx, None, {CKA.PARAMETER_SET: CKP_ML_KEM.ML_KEM_512}, {})
    with pytest.raises(ParameterSetNotSupported):
        crypto.mlkem_private_from_seed("ML-KEM-512", bytes(64))
    with pytest.raises(ParameterSetNotSupported):
        complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.ML_KEM,
                                {CKA.PARAMETER_SET: CKP_ML_KEM.ML_KEM_512, CKA.VALUE: bytes(800)})


def test_private_keys_need_the_seed(crypto: PycaCrypto) -> None:
    """pyca loads private keys from their seeds only: CKA_VALUE alone is TEMPLATE_INCOMPLETE."""
    case = read_rsp(DSA_FILES[CKP_ML_DSA.ML_DSA_44])[0]
    only_value = {CKA.PARAMETER_SET: CKP_ML_DSA.ML_DSA_44, CKA.VALUE: case["sk"]}
    with pytest.raises(TemplateIncomplete, match="CKA_SEED"):
        complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.ML_DSA, only_value)
    with pytest.raises(AttributeValueInvalid):
        complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.ML_DSA,
                                {CKA.PARAMETER_SET: CKP_ML_DSA.ML_DSA_44, CKA.SEED: bytes(31)})
    with pytest.raises(AttributeValueInvalid):  # ML-DSA-65's length for an ML-DSA-44 key
        complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.ML_DSA,
                                {CKA.PARAMETER_SET: CKP_ML_DSA.ML_DSA_44, CKA.VALUE: bytes(1952)})


def test_registry_entries(registry: MechanismRegistry) -> None:
    """C_GetMechanismInfo: public key sizes in bytes (s6.66-6.67), the v3.2 KEM flags."""
    assert (spec(registry, CKM.ML_DSA).min_key_size, spec(registry, CKM.ML_DSA).max_key_size) == (1312, 2592)
    assert spec(registry, CKM.ML_DSA_KEY_PAIR_GEN).max_key_size == 2592
    kem = spec(registry, CKM.ML_KEM)
    assert (kem.min_key_size, kem.max_key_size) == (1184, 1568)
    assert kem.flags == CKF.ENCAPSULATE | CKF.DECAPSULATE
    assert spec(registry, CKM.ML_DSA).flags == CKF.SIGN | CKF.VERIFY
    for mechanism in (CKM.ML_DSA, CKM.ML_DSA_KEY_PAIR_GEN):
        assert spec(registry, mechanism).standard == "PKCS #11 v3.2 s6.67; FIPS 204"
    for mechanism in (CKM.ML_KEM, CKM.ML_KEM_KEY_PAIR_GEN):
        assert spec(registry, mechanism).standard == "PKCS #11 v3.2 s6.66; FIPS 203"


def test_fake_crypto_keeps_the_lengths(registry: MechanismRegistry) -> None:
    """The fake port: FIPS lengths, sign/verify and encapsulate/decapsulate round trips."""
    fake = FakeCrypto(b"pq")
    ctx = MechanismContext(crypto=fake, random_bytes=lambda n: bytes(range(n)))
    pub, priv = key_pair(registry, ctx, CKM.ML_DSA_KEY_PAIR_GEN,
                         {CKA.PARAMETER_SET: CKP_ML_DSA.ML_DSA_87})
    mech = spec(registry, CKM.ML_DSA)
    assert mech.sign is not None and mech.verify is not None
    signature = mech.sign(ctx, priv, None).once(b"m")
    assert len(signature) == 4627
    mech.verify(ctx, pub, None).once(b"m", signature)
    with pytest.raises(SignatureInvalid):
        mech.verify(ctx, pub, None).once(b"n", signature)
    pub, priv = key_pair(registry, ctx, CKM.ML_KEM_KEY_PAIR_GEN,
                         {CKA.PARAMETER_SET: CKP_ML_KEM.ML_KEM_768})
    kem = spec(registry, CKM.ML_KEM)
    assert kem.encapsulate and kem.decapsulate
    secret, ciphertext = kem.encapsulate(ctx, pub, None)
    assert (len(secret), len(ciphertext)) == (32, 1088)
    assert kem.decapsulate(ctx, priv, None, ciphertext) == secret
