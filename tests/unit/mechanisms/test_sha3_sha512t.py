"""SHA-3 and SHA-512/t digests, HMACs and HMAC key generation, and the SHA-3 signature
mechanisms (PKCS #11 v3.0; 3.2 s6.25-6.31, RSA and ECDSA with SHA-3) and the SHA-3 X9.63
KDFs of ECDH: NIST CAVP and NIST HMAC-SHA3 vectors, on the pyca backend and on the fake twin;
signatures and KDF output checked by pyca."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from tokenport.backends.crypto.fake import FakeCrypto
from tokenport.ck import CKA, CKD, CKG, CKK, CKM
from tokenport.errors import (
    KeyTypeInconsistent,
    MechanismParamInvalid,
    SignatureInvalid,
    SignatureLenRange,
    TemplateIncomplete,
)
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
from tokenport.mechanisms.params import (
    Ecdh1DeriveParams,
    MacGeneralParams,
    OaepParams,
    PssParams,
)

from .hashkdf_vectors import cavp_digests, records
from .helpers import P256_PARAMS, FakeKey, key_pair, secret, spec

DIGESTS = {
    CKM.SHA3_224: ("SHA3_224ShortMsg.rsp", "sha3_224"),
    CKM.SHA3_256: ("SHA3_256ShortMsg.rsp", "sha3_256"),
    CKM.SHA3_384: ("SHA3_384ShortMsg.rsp", "sha3_384"),
    CKM.SHA3_512: ("SHA3_512ShortMsg.rsp", "sha3_512"),
    CKM.SHA512_224: ("SHA512_224ShortMsg.rsp", "sha512_224"),
    CKM.SHA512_256: ("SHA512_256ShortMsg.rsp", "sha512_256"),
}
HMACS = {
    CKM.SHA3_224_HMAC: ("sha3_224", CKK.SHA3_224_HMAC),
    CKM.SHA3_256_HMAC: ("sha3_256", CKK.SHA3_256_HMAC),
    CKM.SHA3_384_HMAC: ("sha3_384", CKK.SHA3_384_HMAC),
    CKM.SHA3_512_HMAC: ("sha3_512", CKK.SHA3_512_HMAC),
    CKM.SHA512_224_HMAC: ("sha512_224", CKK.SHA512_224_HMAC),
    CKM.SHA512_256_HMAC: ("sha512_256", CKK.SHA512_256_HMAC),
}
GENERAL = {
    CKM.SHA3_224_HMAC_GENERAL: "sha3_224",
    CKM.SHA3_256_HMAC_GENERAL: "sha3_256",
    CKM.SHA3_384_HMAC_GENERAL: "sha3_384",
    CKM.SHA3_512_HMAC_GENERAL: "sha3_512",
    CKM.SHA512_224_HMAC_GENERAL: "sha512_224",
    CKM.SHA512_256_HMAC_GENERAL: "sha512_256",
    CKM.SHA256_HMAC_GENERAL: "sha256",
}
PYCA_HASH = {
    "sha3_224": hashes.SHA3_224, "sha3_256": hashes.SHA3_256, "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}
MESSAGE = b"SHA-3 signature test message"


@pytest.fixture(scope="module")
def fake_ctx() -> MechanismContext:
    return MechanismContext(crypto=FakeCrypto(), random_bytes=lambda n: b"\x07" * n)


@pytest.mark.parametrize("backend", ["pyca", "fake"])
@pytest.mark.parametrize("mechanism", list(DIGESTS), ids=lambda m: CKM(m).name)
def test_cavp_digest_vectors(registry: MechanismRegistry, ctx: MechanismContext,
                             fake_ctx: MechanismContext, backend: str, mechanism: int) -> None:
    context = ctx if backend == "pyca" else fake_ctx
    factory = spec(registry, mechanism).digest
    assert factory is not None
    vectors = cavp_digests(DIGESTS[mechanism][0])
    assert len(vectors) == 6
    for message, expected in vectors:
        assert factory(context, None).once(message).hex() == expected
        running = factory(context, None)
        half = len(message) // 2
        running.update(message[:half])
        running.update(b"")
        running.update(message[half:])
        assert running.final().hex() == expected


@pytest.mark.parametrize("mechanism", list(DIGESTS), ids=lambda m: CKM(m).name)
def test_digest_takes_no_parameter(registry: MechanismRegistry, ctx: MechanismContext,
                                   mechanism: int) -> None:
    factory = spec(registry, mechanism).digest
    assert factory is not None
    with pytest.raises(MechanismParamInvalid):
        factory(ctx, b"\x00")


def test_nist_hmac_sha3_examples(registry: MechanismRegistry, ctx: MechanismContext) -> None:
    mechanisms = {"SHA3-224": CKM.SHA3_224_HMAC, "SHA3-256": CKM.SHA3_256_HMAC}
    vectors = records("nist-hmac-sha3.txt")
    assert len(vectors) == 2
    for vector in vectors:
        mechanism = mechanisms[vector["HASH"]]
        key = secret(HMACS[mechanism][1], bytes.fromhex(vector["KEY"]))
        signer = spec(registry, mechanism).sign
        verifier = spec(registry, mechanism).verify
        assert signer is not None and verifier is not None
        mac = signer(ctx, key, None).once(vector["MSG"].encode())
        assert mac.hex() == vector["MAC"]
        verifier(ctx, key, None).once(vector["MSG"].encode(), mac)


@pytest.mark.parametrize("backend", ["pyca", "fake"])
@pytest.mark.parametrize("mechanism", list(HMACS), ids=lambda m: CKM(m).name)
def test_hmac_matches_the_standard_library(
    registry: MechanismRegistry, ctx: MechanismContext, fake_ctx: MechanismContext,
    backend: str, mechanism: int,
) -> None:
    context = ctx if backend == "pyca" else fake_ctx
    alg, ktype = HMACS[mechanism]
    for key_type in (ktype, CKK.GENERIC_SECRET):
        for value in (b"k", b"\xaa" * 200):  # shorter and longer than any block
            key = secret(key_type, value)
            signer = spec(registry, mechanism).sign
            assert signer is not None
            running = signer(context, key, None)
            running.update(b"part one, ")
            running.update(b"part two")
            expected = hmac.new(value, b"part one, part two", alg).digest()
            assert running.final() == expected
            assert signer(context, key, None).once(b"part one, part two") == expected


def test_hmac_refuses_another_hmac_key_type(registry: MechanismRegistry,
                                            ctx: MechanismContext) -> None:
    signer = spec(registry, CKM.SHA3_256_HMAC).sign
    assert signer is not None
    with pytest.raises(KeyTypeInconsistent):
        signer(ctx, secret(CKK.SHA256_HMAC, b"k" * 32), None)
    with pytest.raises(MechanismParamInvalid):
        signer(ctx, secret(CKK.SHA3_256_HMAC, b"k" * 32), MacGeneralParams(16))


def test_hmac_verify_refuses_a_changed_mac(registry: MechanismRegistry,
                                           ctx: MechanismContext) -> None:
    key = secret(CKK.SHA3_512_HMAC, b"k" * 64)
    signer, verifier = spec(registry, CKM.SHA3_512_HMAC).sign, spec(registry, CKM.SHA3_512_HMAC).verify
    assert signer is not None and verifier is not None
    mac = signer(ctx, key, None).once(b"data")
    assert len(mac) == 64
    with pytest.raises(SignatureInvalid):
        verifier(ctx, key, None).once(b"data", mac[:-1] + bytes([mac[-1] ^ 1]))
    with pytest.raises(SignatureLenRange):
        verifier(ctx, key, None).once(b"data", mac[:32])


@pytest.mark.parametrize("mechanism", list(GENERAL), ids=lambda m: CKM(m).name)
def test_general_length_hmac_is_the_start_of_the_full_mac(
    registry: MechanismRegistry, ctx: MechanismContext, mechanism: int
) -> None:
    alg = GENERAL[mechanism]
    size = hashlib.new(alg).digest_size
    key = secret(CKK.GENERIC_SECRET, b"general key")
    full = hmac.new(b"general key", b"message", alg).digest()
    signer, verifier = spec(registry, mechanism).sign, spec(registry, mechanism).verify
    assert signer is not None and verifier is not None
    for length in (1, 4, size // 2, size):
        mac = signer(ctx, key, MacGeneralParams(length)).once(b"message")
        assert mac == full[:length]
        verifier(ctx, key, MacGeneralParams(length)).once(b"message", mac)
    with pytest.raises(SignatureLenRange):
        verifier(ctx, key, MacGeneralParams(8)).once(b"message", full[:9])
    for bad in (0, size + 1):
        with pytest.raises(MechanismParamInvalid):
            signer(ctx, key, MacGeneralParams(bad))
    with pytest.raises(MechanismParamInvalid):
        signer(ctx, key, None)


KEY_GEN = {
    CKM.SHA3_224_KEY_GEN: CKK.SHA3_224_HMAC,
    CKM.SHA3_256_KEY_GEN: CKK.SHA3_256_HMAC,
    CKM.SHA3_384_KEY_GEN: CKK.SHA3_384_HMAC,
    CKM.SHA3_512_KEY_GEN: CKK.SHA3_512_HMAC,
    CKM.SHA512_224_KEY_GEN: CKK.SHA512_224_HMAC,
    CKM.SHA512_256_KEY_GEN: CKK.SHA512_256_HMAC,
    CKM.SHA256_KEY_GEN: CKK.SHA256_HMAC,
}


@pytest.mark.parametrize("mechanism", list(KEY_GEN), ids=lambda m: CKM(m).name)
def test_hmac_key_generation(registry: MechanismRegistry, ctx: MechanismContext,
                             mechanism: int) -> None:
    gen = spec(registry, mechanism)
    assert gen.generate_key is not None
    assert gen.generated_key_type == KEY_GEN[mechanism]
    assert (gen.min_key_size, gen.max_key_size) == (1, 512)  # bytes
    material = gen.generate_key(ctx, None, {CKA.VALUE_LEN: 24})
    assert material[CKA.VALUE_LEN] == 24
    value = material[CKA.VALUE]
    assert isinstance(value, bytes) and len(value) == 24
    with pytest.raises(TemplateIncomplete):
        gen.generate_key(ctx, None, {})


# -- SHA-3 signatures ----------------------------------------------------------------------------

RSA_PKCS = {
    CKM.SHA3_224_RSA_PKCS: "sha3_224",
    CKM.SHA3_256_RSA_PKCS: "sha3_256",
    CKM.SHA3_384_RSA_PKCS: "sha3_384",
    CKM.SHA3_512_RSA_PKCS: "sha3_512",
}
RSA_PSS = {
    CKM.SHA3_224_RSA_PKCS_PSS: (CKM.SHA3_224, CKG.MGF1_SHA3_224, "sha3_224"),
    CKM.SHA3_256_RSA_PKCS_PSS: (CKM.SHA3_256, CKG.MGF1_SHA3_256, "sha3_256"),
    CKM.SHA3_384_RSA_PKCS_PSS: (CKM.SHA3_384, CKG.MGF1_SHA3_384, "sha3_384"),
    CKM.SHA3_512_RSA_PKCS_PSS: (CKM.SHA3_512, CKG.MGF1_SHA3_512, "sha3_512"),
}
ECDSA = {
    CKM.ECDSA_SHA3_224: "sha3_224",
    CKM.ECDSA_SHA3_256: "sha3_256",
    CKM.ECDSA_SHA3_384: "sha3_384",
    CKM.ECDSA_SHA3_512: "sha3_512",
}


def _rsa_public(public: FakeKey) -> rsa.RSAPublicKey:
    n = public.attrs[CKA.MODULUS]
    e = public.attrs[CKA.PUBLIC_EXPONENT]
    assert isinstance(n, bytes) and isinstance(e, bytes)
    return rsa.RSAPublicNumbers(int.from_bytes(e, "big"), int.from_bytes(n, "big")).public_key()


@pytest.mark.parametrize("mechanism", list(RSA_PKCS), ids=lambda m: CKM(m).name)
def test_sha3_rsa_pkcs_verified_by_pyca(registry: MechanismRegistry, ctx: MechanismContext,
                                        rsa2048: tuple[FakeKey, FakeKey], mechanism: int) -> None:
    public, private = rsa2048
    signer, verifier = spec(registry, mechanism).sign, spec(registry, mechanism).verify
    assert signer is not None and verifier is not None
    running = signer(ctx, private, None)
    running.update(MESSAGE[:5])
    running.update(MESSAGE[5:])
    signature = running.final()
    assert signature == signer(ctx, private, None).once(MESSAGE)  # deterministic
    _rsa_public(public).verify(signature, MESSAGE, padding.PKCS1v15(),
                               PYCA_HASH[RSA_PKCS[mechanism]]())
    verifier(ctx, public, None).once(MESSAGE, signature)
    with pytest.raises(SignatureInvalid):
        verifier(ctx, public, None).once(MESSAGE + b"!", signature)


@pytest.mark.parametrize("mechanism", list(RSA_PSS), ids=lambda m: CKM(m).name)
def test_sha3_rsa_pss_verified_by_pyca(registry: MechanismRegistry, ctx: MechanismContext,
                                       rsa2048: tuple[FakeKey, FakeKey], mechanism: int) -> None:
    public, private = rsa2048
    hash_mech, mgf, alg = RSA_PSS[mechanism]
    size = hashlib.new(alg).digest_size
    param = PssParams(hash_mech, mgf, size)
    signer, verifier = spec(registry, mechanism).sign, spec(registry, mechanism).verify
    assert signer is not None and verifier is not None
    signature = signer(ctx, private, param).once(MESSAGE)
    pss = padding.PSS(mgf=padding.MGF1(PYCA_HASH[alg]()), salt_length=size)
    _rsa_public(public).verify(signature, MESSAGE, pss, PYCA_HASH[alg]())
    verifier(ctx, public, param).once(MESSAGE, signature)
    with pytest.raises(MechanismParamInvalid):  # hashAlg must be the mechanism's hash
        signer(ctx, private, PssParams(CKM.SHA256, mgf, size))


def test_pss_accepts_sha3_parameters_and_oaep_refuses_them(registry: MechanismRegistry, ctx: MechanismContext,
                                             rsa2048: tuple[FakeKey, FakeKey]) -> None:
    public, private = rsa2048
    digest = hashlib.sha3_256(MESSAGE).digest()
    param = PssParams(CKM.SHA3_256, CKG.MGF1_SHA3_256, 32)
    signer = spec(registry, CKM.RSA_PKCS_PSS).sign
    assert signer is not None
    signature = signer(ctx, private, param).once(digest)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA3_256()), salt_length=32)
    _rsa_public(public).verify(signature, MESSAGE, pss, hashes.SHA3_256())
    # pyca has no RSA-OAEP with SHA-3 (hash or MGF1): refused up front, not a library failure
    encrypt = spec(registry, CKM.RSA_PKCS_OAEP).encrypt
    assert encrypt is not None
    for oaep in (OaepParams(CKM.SHA3_256, CKG.MGF1_SHA256), OaepParams(CKM.SHA256, CKG.MGF1_SHA3_256),
                 OaepParams(CKM.SHA512_256, CKG.MGF1_SHA256)):
        with pytest.raises(MechanismParamInvalid):
            encrypt(ctx, public, oaep)


@pytest.mark.parametrize("mechanism", list(ECDSA), ids=lambda m: CKM(m).name)
def test_ecdsa_sha3_verified_by_pyca(registry: MechanismRegistry, ctx: MechanismContext,
                                     p256: tuple[FakeKey, FakeKey], mechanism: int) -> None:
    public, private = p256
    signer, verifier = spec(registry, mechanism).sign, spec(registry, mechanism).verify
    assert signer is not None and verifier is not None
    running = signer(ctx, private, None)
    running.update(MESSAGE)
    signature = running.final()
    assert len(signature) == 64
    point = public.attrs[CKA.EC_POINT]
    assert isinstance(point, bytes)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point[2:])
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                               int.from_bytes(signature[32:], "big"))
    key.verify(der, MESSAGE, ec.ECDSA(PYCA_HASH[ECDSA[mechanism]]()))
    verifier(ctx, public, None).once(MESSAGE, signature)
    with pytest.raises(SignatureInvalid):
        verifier(ctx, public, None).once(b"other", signature)


@pytest.mark.parametrize("kdf", [CKD.SHA3_224_KDF, CKD.SHA3_256_KDF, CKD.SHA3_384_KDF,
                                 CKD.SHA3_512_KDF], ids=lambda k: CKD(k).name)
def test_ecdh_with_the_sha3_x963_kdfs(registry: MechanismRegistry, ctx: MechanismContext,
                                      p256: tuple[FakeKey, FakeKey], kdf: int) -> None:
    algs = {CKD.SHA3_224_KDF: hashes.SHA3_224, CKD.SHA3_256_KDF: hashes.SHA3_256,
            CKD.SHA3_384_KDF: hashes.SHA3_384, CKD.SHA3_512_KDF: hashes.SHA3_512}
    _, a_priv = p256
    b_pub, _ = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: P256_PARAMS})
    derive = spec(registry, CKM.ECDH1_DERIVE).derive
    assert derive is not None
    point = b_pub.attrs[CKA.EC_POINT]
    assert isinstance(point, bytes)
    z = derive(ctx, a_priv, Ecdh1DeriveParams(CKD.NULL, b"", point), None)
    out = derive(ctx, a_priv, Ecdh1DeriveParams(kdf, b"shared", point), 40)
    assert out == X963KDF(algs[kdf](), 40, b"shared").derive(z)
