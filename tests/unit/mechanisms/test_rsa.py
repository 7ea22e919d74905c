"""RSA mechanisms: key generation, PKCS #1 v1.5, raw, PSS, OAEP, wrap/unwrap.

Signatures and ciphertexts are checked independently with pyca/cryptography and Python ints.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKG, CKK, CKM, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    DataInvalid,
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
    WrappedKeyInvalid,
    WrappedKeyLenRange,
    WrappingKeyTypeInconsistent,
)
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
from tokenport.mechanisms.params import OaepParams, PssParams
from tokenport.mechanisms.rsa import DIGEST_INFO_PREFIXES

from .helpers import FakeKey, key_pair, spec

Pair = tuple[FakeKey, FakeKey]


def num(key: FakeKey, attr: int) -> int:
    value = key.attrs[attr]
    assert isinstance(value, bytes)
    return int.from_bytes(value, "big")


def pyca_private(priv: FakeKey) -> rsa.RSAPrivateKey:
    pub = rsa.RSAPublicNumbers(num(priv, CKA.PUBLIC_EXPONENT), num(priv, CKA.MODULUS))
    return rsa.RSAPrivateNumbers(
        num(priv, CKA.PRIME_1),
        num(priv, CKA.PRIME_2),
        num(priv, CKA.PRIVATE_EXPONENT),
        num(priv, CKA.EXPONENT_1),
        num(priv, CKA.EXPONENT_2),
        num(priv, CKA.COEFFICIENT),
        pub,
    ).private_key()


def pyca_public(pub: FakeKey) -> rsa.RSAPublicKey:
    return rsa.RSAPublicNumbers(num(pub, CKA.PUBLIC_EXPONENT), num(pub, CKA.MODULUS)).public_key()


def test_key_pair_generation(rsa2048: Pair) -> None:
    pub, priv = rsa2048
    assert pub.attrs[CKA.MODULUS_BITS] == 2048
    assert pub.attrs[CKA.PUBLIC_EXPONENT] == b"\x01\x00\x01"
    assert pub.attrs[CKA.MODULUS] == priv.attrs[CKA.MODULUS]
    n = num(pub, CKA.MODULUS)
    assert n.bit_length() == 2048 and num(priv, CKA.PRIME_1) * num(priv, CKA.PRIME_2) == n
    pyca_private(priv)  # consistent CRT values


def test_key_pair_generation_options(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    pub, _ = key_pair(
        registry,
        ctx,
        CKM.RSA_PKCS_KEY_PAIR_GEN,
        {CKA.MODULUS_BITS: 1032, CKA.PUBLIC_EXPONENT: b"\x03"},
    )
    assert num(pub, CKA.MODULUS).bit_length() == 1032 and pub.attrs[CKA.PUBLIC_EXPONENT] == b"\x03"
    cases: list[tuple[dict[int, AttrValue], type[Exception]]] = [
        ({}, TemplateIncomplete),
        ({CKA.MODULUS_BITS: 512}, KeySizeRange),
        ({CKA.MODULUS_BITS: 8192}, KeySizeRange),
        ({CKA.MODULUS_BITS: 1024, CKA.PUBLIC_EXPONENT: b"\x11"}, AttributeValueInvalid),
        ({CKA.MODULUS_BITS: 1024, CKA.PUBLIC_EXPONENT: b""}, AttributeValueInvalid),
    ]
    for template, error in cases:
        with pytest.raises(error):
            key_pair(registry, ctx, CKM.RSA_PKCS_KEY_PAIR_GEN, template)


def test_rsa_pkcs_digest_info(
    registry: MechanismRegistry, ctx: MechanismContext, rsa2048: Pair
) -> None:
    pub, priv = rsa2048
    s = spec(registry, CKM.RSA_PKCS)
    assert s.sign is not None and s.verify is not None
    digest = hashlib.sha256(b"message").digest()
    sig = s.sign(ctx, priv, None).once(DIGEST_INFO_PREFIXES["sha256"] + digest)
    assert sig == pyca_private(priv).sign(b"message", padding.PKCS1v15(), hashes.SHA256())
    s.verify(ctx, pub, None).once(DIGEST_INFO_PREFIXES["sha256"] + digest, sig)


def test_rsa_pkcs_arbitrary_data(
    registry: MechanismRegistry, ctx: MechanismContext, rsa2048: Pair
) -> None:
    pub, priv = rsa2048
    s = spec(registry, CKM.RSA_PKCS)
    assert s.sign is not None and s.verify is not None
    n, e = num(pub, CKA.MODULUS), num(pub, CKA.PUBLIC_EXPONENT)
    for data in (b"", b"\x00" * 36, bytes(range(245))):  # 245 = k - 11
        sig = s.sign(ctx, priv, None).once(data)
        em = pow(int.from_bytes(sig, "big"), e, n).to_bytes(256, "big")
        assert em == b"\x00\x01" + b"\xff" * (253 - len(data)) + b"\x00" + data
        s.verify(ctx, pub, None).once(data, sig)
    with pytest.raises(DataLenRange):
        s.sign(ctx, priv, None).once(bytes(246))
    sig = s.sign(ctx, priv, None).once(b"abc")
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, None).once(b"abd", sig)
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, None).once(b"abc", b"\xff" * 256)  # not less than n
    with pytest.raises(SignatureLenRange):
        s.verify(ctx, pub, None).once(b"abc", sig[1:])
    with pytest.raises(DataLenRange):
        s.verify(ctx, pub, None).once(bytes(246), sig)
    with pytest.raises(FunctionNotSupported):
        s.sign(ctx, priv, None).update(b"abc")


def test_rsa_pkcs_encryption(
    registry: MechanismRegistry, ctx: MechanismContext, rsa2048: Pair
) -> None:
    pub, priv = rsa2048
    s = spec(registry, CKM.RSA_PKCS)
    assert s.encrypt is not None and s.decrypt is not None
    ct = s.encrypt(ctx, pub, None).once(b"secret")
    assert pyca_private(priv).decrypt(ct, padding.PKCS1v15()) == b"secret"
    assert s.decrypt(ctx, priv, None).once(ct) == b"secret"
    ct2 = pyca_public(pub).encrypt(b"x" * 245, padding.PKCS1v15())
    assert s.decrypt(ctx, priv, None).once(ct2) == b"x" * 245
    with pytest.raises(DataLenRange):
        s.encrypt(ctx, pub, None).once(b"x" * 246)
    with pytest.raises(EncryptedDataLenRange):
        s.decrypt(ctx, priv, None).once(ct[1:])
    # Implicit rejection: a bad ciphertext yields a pseudo-random message, never an oracle.
    assert s.decrypt(ctx, priv, None).once(b"\x01" * 256) != b"secret"
    with pytest.raises(FunctionNotSupported):
        s.decrypt(ctx, priv, None).update(ct)


def test_rsa_pkcs_decryption_of_bad_padding_is_implicit_rejection(
    registry: MechanismRegistry, ctx: MechanismContext, rsa2048: Pair
) -> None:
    """Kept on purpose (README "Security model"): a ciphertext whose PKCS #1 v1.5 padding
    is bad decrypts without an error to a deterministic pseudo-random message of at most
    k - 11 bytes (OpenSSL's implicit rejection), so there is no padding oracle."""
    pub, priv = rsa2048
    s = spec(registry, CKM.RSA_PKCS)
    assert s.decrypt is not None
    n, e = num(pub, CKA.MODULUS), num(pub, CKA.PUBLIC_EXPONENT)
    k = 256
    bad_blocks = [
        b"\x00\x02" + b"\x5a" * (k - 2),  # type 2 but no zero separator
        b"\x00\x01" + b"\xff" * 8 + b"\x00" + b"m" * (k - 11),  # type 1 (a signature block)
        b"\x00\x02" + b"\x5a" * 5 + b"\x00" + b"m" * (k - 8),  # padding string too short
    ]
    outputs = []
    for block in bad_blocks:
        ct = pow(int.from_bytes(block, "big"), e, n).to_bytes(k, "big")
        d = num(priv, CKA.PRIVATE_EXPONENT)
        assert pow(int.from_bytes(ct, "big"), d, n).to_bytes(k, "big") == block  # really bad
        first = s.decrypt(ctx, priv, None).once(ct)
        assert s.decrypt(ctx, priv, None).once(ct) == first  # same garbage in, same out
        assert 0 <= len(first) <= k - 11
        outputs.append(first)
    assert len(set(outputs)) == len(outputs)  # depends on the ciphertext


def test_rsa_x509(registry: MechanismRegistry, ctx: MechanismContext, rsa2048: Pair) -> None:
    pub, priv = rsa2048
    s = spec(registry, CKM.RSA_X_509)
    assert s.encrypt and s.decrypt and s.sign and s.verify
    n, e = num(pub, CKA.MODULUS), num(pub, CKA.PUBLIC_EXPONENT)
    ct = s.encrypt(ctx, pub, None).once(b"raw")
    assert ct == pow(int.from_bytes(b"raw", "big"), e, n).to_bytes(256, "big")
    assert s.decrypt(ctx, priv, None).once(ct) == b"raw".rjust(256, b"\x00")
    sig = s.sign(ctx, priv, None).once(b"to sign")
    assert pow(int.from_bytes(sig, "big"), e, n) == int.from_bytes(b"to sign", "big")
    s.verify(ctx, pub, None).once(b"to sign", sig)
    s.verify(ctx, pub, None).once(b"\x00\x00to sign", sig)
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, None).once(b"to sigm", sig)
    with pytest.raises(SignatureLenRange):
        s.verify(ctx, pub, None).once(b"to sign", sig + b"\x00")
    with pytest.raises(DataLenRange):
        s.encrypt(ctx, pub, None).once(b"x" * 257)
    with pytest.raises(DataInvalid):
        s.encrypt(ctx, pub, None).once(b"\xff" * 256)
    with pytest.raises(EncryptedDataLenRange):
        s.decrypt(ctx, priv, None).once(b"\x01" * 255)
    with pytest.raises(EncryptedDataInvalid):
        s.decrypt(ctx, priv, None).once(b"\xff" * 256)


@pytest.mark.parametrize(
    ("mechanism", "alg"),
    [
        (CKM.SHA1_RSA_PKCS, hashes.SHA1()),
        (CKM.SHA224_RSA_PKCS, hashes.SHA224()),
        (CKM.SHA256_RSA_PKCS, hashes.SHA256()),
        (CKM.SHA384_RSA_PKCS, hashes.SHA384()),
        (CKM.SHA512_RSA_PKCS, hashes.SHA512()),
    ],
)
def test_hashed_pkcs1(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    rsa2048: Pair,
    mechanism: int,
    alg: hashes.HashAlgorithm,
) -> None:
    pub, priv = rsa2048
    s = spec(registry, mechanism)
    assert s.sign is not None and s.verify is not None
    data = b"multi-part data " * 20
    signer = s.sign(ctx, priv, None)
    signer.update(data[:5])
    signer.update(data[5:])
    sig = signer.final()
    pyca_public(pub).verify(sig, data, padding.PKCS1v15(), alg)
    assert s.sign(ctx, priv, None).once(data) == sig  # deterministic
    verifier = s.verify(ctx, pub, None)
    verifier.update(data)
    verifier.final(sig)
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, None).once(data + b"!", sig)
    with pytest.raises(SignatureLenRange):
        s.verify(ctx, pub, None).once(data, sig[:-1])


def test_pss_raw(registry: MechanismRegistry, ctx: MechanismContext, rsa2048: Pair) -> None:
    pub, priv = rsa2048
    s = spec(registry, CKM.RSA_PKCS_PSS)
    assert s.sign is not None and s.verify is not None
    param = PssParams(CKM.SHA256, CKG.MGF1_SHA1, 20)
    digest = hashlib.sha256(b"pss").digest()
    sig = s.sign(ctx, priv, param).once(digest)
    pyca_public(pub).verify(
        sig, b"pss", padding.PSS(mgf=padding.MGF1(hashes.SHA1()), salt_length=20), hashes.SHA256()
    )
    s.verify(ctx, pub, param).once(digest, sig)
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, PssParams(CKM.SHA256, CKG.MGF1_SHA1, 32)).once(digest, sig)
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, param).once(hashlib.sha256(b"other").digest(), sig)
    with pytest.raises(DataLenRange):
        s.sign(ctx, priv, param).once(digest[:20])
    with pytest.raises(DataLenRange):
        s.verify(ctx, pub, param).once(digest + b"\x00", sig)
    with pytest.raises(FunctionNotSupported):
        s.sign(ctx, priv, param).update(digest)


@pytest.mark.parametrize(
    "param",
    [
        None,
        b"x",
        PssParams(CKM.MD5, CKG.MGF1_SHA1, 0),
        PssParams(CKM.SHA256, 0x99, 0),
        PssParams(CKM.SHA256, CKG.MGF1_SHA256, 256),
        PssParams(CKM.SHA256, CKG.MGF1_SHA256, -1),
        OaepParams(CKM.SHA256, CKG.MGF1_SHA256),
    ],
)
def test_pss_bad_params(
    registry: MechanismRegistry, ctx: MechanismContext, rsa2048: Pair, param: object
) -> None:
    s = spec(registry, CKM.RSA_PKCS_PSS)
    assert s.sign is not None
    with pytest.raises(MechanismParamInvalid):
        s.sign(ctx, rsa2048[1], param)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mechanism", "hash_mech", "alg"),
    [
        (CKM.SHA1_RSA_PKCS_PSS, CKM.SHA_1, hashes.SHA1()),
        (CKM.SHA224_RSA_PKCS_PSS, CKM.SHA224, hashes.SHA224()),
        (CKM.SHA256_RSA_PKCS_PSS, CKM.SHA256, hashes.SHA256()),
        (CKM.SHA384_RSA_PKCS_PSS, CKM.SHA384, hashes.SHA384()),
        (CKM.SHA512_RSA_PKCS_PSS, CKM.SHA512, hashes.SHA512()),
    ],
)
def test_hashed_pss(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    rsa2048: Pair,
    mechanism: int,
    hash_mech: int,
    alg: hashes.HashAlgorithm,
) -> None:
    pub, priv = rsa2048
    s = spec(registry, mechanism)
    assert s.sign is not None and s.verify is not None
    param = PssParams(hash_mech, CKG.MGF1_SHA256, alg.digest_size)
    data = b"pss data " * 30
    signer = s.sign(ctx, priv, param)
    signer.update(data[:9])
    signer.update(data[9:])
    sig = signer.final()
    pyca_public(pub).verify(
        sig, data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=alg.digest_size), alg
    )
    s.verify(ctx, pub, param).once(data, sig)
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, param).once(data[1:], sig)
    other = CKM.SHA384 if hash_mech != CKM.SHA384 else CKM.SHA256
    with pytest.raises(MechanismParamInvalid):
        s.sign(ctx, priv, PssParams(other, CKG.MGF1_SHA256, 0))


@pytest.mark.parametrize(
    ("hash_mech", "mgf", "alg", "mgf_alg"),
    [
        (CKM.SHA_1, CKG.MGF1_SHA1, hashes.SHA1(), hashes.SHA1()),
        (CKM.SHA256, CKG.MGF1_SHA256, hashes.SHA256(), hashes.SHA256()),
        (CKM.SHA384, CKG.MGF1_SHA1, hashes.SHA384(), hashes.SHA1()),
        (CKM.SHA512, CKG.MGF1_SHA512, hashes.SHA512(), hashes.SHA512()),
    ],
)
def test_oaep(
    registry: MechanismRegistry,
    ctx: MechanismContext,
    rsa2048: Pair,
    hash_mech: int,
    mgf: int,
    alg: hashes.HashAlgorithm,
    mgf_alg: hashes.HashAlgorithm,
) -> None:
    pub, priv = rsa2048
    s = spec(registry, CKM.RSA_PKCS_OAEP)
    assert s.encrypt is not None and s.decrypt is not None
    param = OaepParams(hash_mech, mgf, 1, b"label")
    oaep = padding.OAEP(mgf=padding.MGF1(mgf_alg), algorithm=alg, label=b"label")
    max_len = 256 - 2 * alg.digest_size - 2
    ct = s.encrypt(ctx, pub, param).once(b"m" * max_len)
    assert pyca_private(priv).decrypt(ct, oaep) == b"m" * max_len
    ct2 = pyca_public(pub).encrypt(b"hello", oaep)
    assert s.decrypt(ctx, priv, param).once(ct2) == b"hello"
    with pytest.raises(DataLenRange):
        s.encrypt(ctx, pub, param).once(b"m" * (max_len + 1))
    with pytest.raises(EncryptedDataInvalid):
        s.decrypt(ctx, priv, OaepParams(hash_mech, mgf, 1, b"other")).once(ct2)
    with pytest.raises(EncryptedDataLenRange):
        s.decrypt(ctx, priv, param).once(ct2[:-1])


def test_oaep_params(registry: MechanismRegistry, ctx: MechanismContext, rsa2048: Pair) -> None:
    pub, priv = rsa2048
    s = spec(registry, CKM.RSA_PKCS_OAEP)
    assert s.encrypt is not None and s.decrypt is not None
    no_label = OaepParams(CKM.SHA256, CKG.MGF1_SHA256, 0, b"")
    ct = s.encrypt(ctx, pub, no_label).once(b"x")
    assert s.decrypt(ctx, priv, OaepParams(CKM.SHA256, CKG.MGF1_SHA256, 1, b"")).once(ct) == b"x"
    for bad in (
        None,
        OaepParams(CKM.SHA256, CKG.MGF1_SHA256, 2, b""),
        OaepParams(CKM.SHA256, CKG.MGF1_SHA256, 0, b"label"),
        OaepParams(CKM.MD5, CKG.MGF1_SHA256),
        OaepParams(CKM.SHA256, 0),
    ):
        with pytest.raises(MechanismParamInvalid):
            s.encrypt(ctx, pub, bad)


def test_wrap_unwrap(registry: MechanismRegistry, ctx: MechanismContext, rsa2048: Pair) -> None:
    pub, priv = rsa2048
    for mechanism, param in [
        (CKM.RSA_PKCS, None),
        (CKM.RSA_PKCS_OAEP, OaepParams(CKM.SHA_1, CKG.MGF1_SHA1)),
    ]:
        s = spec(registry, mechanism)
        assert s.wrap is not None and s.unwrap is not None
        wrapped = s.wrap(ctx, pub, param, b"k" * 32)
        assert len(wrapped) == 256
        assert s.unwrap(ctx, priv, param, wrapped) == b"k" * 32
        with pytest.raises(WrappedKeyLenRange):
            s.unwrap(ctx, priv, param, wrapped[:-1])
        with pytest.raises(KeySizeRange):
            s.wrap(ctx, pub, param, b"k" * 250)
        with pytest.raises(WrappingKeyTypeInconsistent):
            s.wrap(ctx, priv, param, b"k" * 32)
    oaep = spec(registry, CKM.RSA_PKCS_OAEP)
    assert oaep.unwrap is not None
    with pytest.raises(WrappedKeyInvalid):
        oaep.unwrap(ctx, priv, OaepParams(CKM.SHA_1, CKG.MGF1_SHA1), b"\x01" * 256)


def test_key_checks(
    registry: MechanismRegistry, ctx: MechanismContext, rsa2048: Pair, p256: Pair
) -> None:
    s = spec(registry, CKM.SHA256_RSA_PKCS)
    assert s.sign is not None and s.verify is not None
    with pytest.raises(KeyTypeInconsistent):
        s.sign(ctx, rsa2048[0], None)
    with pytest.raises(KeyTypeInconsistent):
        s.verify(ctx, rsa2048[1], None)
    with pytest.raises(KeyTypeInconsistent):
        s.sign(ctx, p256[1], None)
    small = FakeKey(
        CKO.PUBLIC_KEY,
        CKK.RSA,
        {
            CKA.MODULUS: (1 << 510 | 1).to_bytes(64, "big"),  # 511 bits: 512 verify now
            CKA.PUBLIC_EXPONENT: b"\x01\x00\x01",
        },
    )
    with pytest.raises(KeySizeRange):
        s.verify(ctx, small, None)


def test_private_key_from_partial_material(
    registry: MechanismRegistry, ctx: MechanismContext, rsa2048: Pair
) -> None:
    """A private key holding only n, e, d (or n, d and the primes) signs like the full one."""
    _, priv = rsa2048
    s = spec(registry, CKM.SHA256_RSA_PKCS)
    assert s.sign is not None
    full = s.sign(ctx, priv, None).once(b"data")
    keep = [
        (CKA.MODULUS, CKA.PUBLIC_EXPONENT, CKA.PRIVATE_EXPONENT),
        (CKA.MODULUS, CKA.PRIVATE_EXPONENT, CKA.PRIME_1, CKA.PRIME_2),
    ]
    for attrs in keep:
        partial = FakeKey(CKO.PRIVATE_KEY, CKK.RSA, {a: priv.attrs[a] for a in attrs})
        assert s.sign(ctx, partial, None).once(b"data") == full
    only_d = FakeKey(
        CKO.PRIVATE_KEY, CKK.RSA, {a: priv.attrs[a] for a in (CKA.MODULUS, CKA.PRIVATE_EXPONENT)}
    )
    with pytest.raises(KeyTypeInconsistent):
        s.sign(ctx, only_d, None)
