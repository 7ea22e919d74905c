"""RSA edges (issue 11 part 3): public keys from 512 bits verify (old certificates) but do
nothing else; generation and private-key operations stay at >= 1024 bits; imported keys may
have any public exponent the crypto library accepts (odd, 3 <= e < n)."""

from __future__ import annotations

import hashlib
import math

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tokenport.ck import CKA, CKG, CKK, CKM, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    KeySizeRange,
    SignatureInvalid,
    WrappingKeySizeRange,
)
from tokenport.mechanisms import rsa as rsa_mechanisms
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
from tokenport.mechanisms.common import int_bytes
from tokenport.mechanisms.keyformats import complete_key_attributes, decode_public_key_info
from tokenport.mechanisms.params import OaepParams, PssParams
from tokenport.ports.crypto import CryptoBackend

from .helpers import FakeKey, key_pair, spec
from .vectors import VECTORS

CERT = x509.load_pem_x509_certificate((VECTORS / "curves/rsa512_selfsigned.pem").read_bytes())


def public_from_certificate(crypto: CryptoBackend) -> FakeKey:
    spki = CERT.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_type, attrs = decode_public_key_info(crypto, spki)
    assert key_type == CKK.RSA
    attrs.update(complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.RSA, attrs))
    return FakeKey(CKO.PUBLIC_KEY, CKK.RSA, attrs)


def test_512_bit_certificate_signature_verifies(
    registry: MechanismRegistry, ctx: MechanismContext, crypto: CryptoBackend
) -> None:
    """The certificate's own signature over its TBSCertificate, with its 512-bit key, through
    CKM_SHA256_RSA_PKCS (multi-part too) and CKM_RSA_PKCS over the DigestInfo."""
    key = public_from_certificate(crypto)
    assert key.attrs[CKA.MODULUS_BITS] == 512
    tbs, signature = CERT.tbs_certificate_bytes, CERT.signature
    hashed = spec(registry, CKM.SHA256_RSA_PKCS)
    assert hashed.verify is not None
    hashed.verify(ctx, key, None).once(tbs, signature)
    multi = hashed.verify(ctx, key, None)
    multi.update(tbs[:100])
    multi.update(tbs[100:])
    multi.final(signature)
    with pytest.raises(SignatureInvalid):
        hashed.verify(ctx, key, None).once(tbs + b"\x00", signature)
    raw = spec(registry, CKM.RSA_PKCS)
    assert raw.verify is not None
    digest_info = rsa_mechanisms.DIGEST_INFO_PREFIXES["sha256"] + hashlib.sha256(tbs).digest()
    raw.verify(ctx, key, None).once(digest_info, signature)
    x509_raw = spec(registry, CKM.RSA_X_509)
    assert x509_raw.verify is not None
    with pytest.raises(SignatureInvalid):
        x509_raw.verify(ctx, key, None).once(digest_info, signature)


def test_512_bit_key_does_nothing_but_verify(
    registry: MechanismRegistry, ctx: MechanismContext, crypto: CryptoBackend
) -> None:
    key = public_from_certificate(crypto)
    for mechanism, param in ((CKM.RSA_PKCS, None), (CKM.RSA_X_509, None),
                             (CKM.RSA_PKCS_OAEP, OaepParams(CKM.SHA_1, CKG.MGF1_SHA1))):
        s = spec(registry, mechanism)
        assert s.encrypt is not None
        with pytest.raises(KeySizeRange):
            s.encrypt(ctx, key, param)
    wrap = spec(registry, CKM.RSA_PKCS).wrap
    assert wrap is not None
    with pytest.raises(WrappingKeySizeRange):
        wrap(ctx, key, None, b"k" * 16)
    pss = spec(registry, CKM.SHA1_RSA_PKCS_PSS)
    assert pss.verify is not None
    pss.verify(ctx, key, PssParams(CKM.SHA_1, CKG.MGF1_SHA1, 20))  # verification: accepted


def test_sizes_below_512_and_private_keys_below_1024_are_refused(
    registry: MechanismRegistry, ctx: MechanismContext, crypto: CryptoBackend
) -> None:
    s = spec(registry, CKM.SHA256_RSA_PKCS)
    assert s.sign is not None and s.verify is not None
    tiny = FakeKey(CKO.PUBLIC_KEY, CKK.RSA, {CKA.MODULUS: int_bytes((1 << 510) | 1),
                                             CKA.PUBLIC_EXPONENT: b"\x01\x00\x01"})
    with pytest.raises(KeySizeRange):
        s.verify(ctx, tiny, None)
    private = FakeKey(CKO.PRIVATE_KEY, CKK.RSA, {
        CKA.MODULUS: int_bytes(CERT.public_key().public_numbers().n),  # type: ignore[union-attr]
        CKA.PUBLIC_EXPONENT: b"\x01\x00\x01", CKA.PRIVATE_EXPONENT: b"\x03",
    })
    with pytest.raises(KeySizeRange):  # a 512-bit private key: signing stays >= 1024 bits
        s.sign(ctx, private, None)
    gen = spec(registry, CKM.RSA_PKCS_KEY_PAIR_GEN)
    assert gen.generate_key_pair is not None and gen.min_key_size == 1024
    with pytest.raises(KeySizeRange):
        key_pair(registry, ctx, CKM.RSA_PKCS_KEY_PAIR_GEN, {CKA.MODULUS_BITS: 512})
    assert spec(registry, CKM.RSA_PKCS).min_key_size == 1024  # the info: protecting operations


@pytest.mark.parametrize("exponent", [3, 65537, (1 << 127) - 1, (1 << 521) - 1])
def test_imported_keys_with_any_valid_exponent(
    registry: MechanismRegistry, ctx: MechanismContext, crypto: CryptoBackend, exponent: int
) -> None:
    base = rsa.generate_private_key(3, 1024).private_numbers()
    p, q = base.p, base.q
    d = pow(exponent, -1, math.lcm(p - 1, q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(exponent, p * q))
    library_key = numbers.private_key()
    signature = library_key.sign(b"data", padding.PKCS1v15(), hashes.SHA256())
    public_attrs = {CKA.MODULUS: int_bytes(p * q), CKA.PUBLIC_EXPONENT: int_bytes(exponent)}
    complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.RSA, public_attrs)
    private_attrs = {**public_attrs, CKA.PRIVATE_EXPONENT: int_bytes(d)}
    complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.RSA, private_attrs)
    s = spec(registry, CKM.SHA256_RSA_PKCS)
    assert s.sign is not None and s.verify is not None
    s.verify(ctx, FakeKey(CKO.PUBLIC_KEY, CKK.RSA, public_attrs), None).once(b"data", signature)
    mine = s.sign(ctx, FakeKey(CKO.PRIVATE_KEY, CKK.RSA, private_attrs), None).once(b"data")
    library_key.public_key().verify(mine, b"data", padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("exponent", [1, 2, 65536])
def test_invalid_exponents_are_refused(crypto: CryptoBackend, exponent: int) -> None:
    n = rsa.generate_private_key(65537, 1024).public_key().public_numbers().n
    with pytest.raises(AttributeValueInvalid):
        complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.RSA,
                                {CKA.MODULUS: int_bytes(n), CKA.PUBLIC_EXPONENT: int_bytes(exponent)})
