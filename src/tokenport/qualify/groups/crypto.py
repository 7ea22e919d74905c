"""Full_CRYPTO: the code-signature verification of the porting guide's CRYPTO layer, done by
the token: known RSA-SHA256, RSA-SHA1 and ECDSA-SHA256 (DER) signatures over 1024 zero bytes
verify with the public key stored on the token (hash by C_Digest, signature by C_Verify), and
each is rejected with one bit flipped.

The signatures are made at run time with pyca/cryptography by a key the token never sees;
only its public key is stored, under the code-verification label, and destroyed afterwards.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from tokenport.ck import CKM, CKO, CKR
from tokenport.qualify.assertions import expect_equal, expect_ok, expect_rv, fail, ignore
from tokenport.qualify.config import Config
from tokenport.qualify.context import Context, flip_bit
from tokenport.qualify.credentials import SHA1_DIGEST_INFO_PREFIX, SHA256_DIGEST_INFO_PREFIX
from tokenport.qualify.runner import Group, Test
from tokenport.qualify.templates import public_key_template

IMAGE = bytes(1024)


def crypto_configured(config: Config) -> str | None:
    if config.preprovisioned:
        return "preProvisioned is Yes: no verification key can be stored"
    return None


def needs_rsa(config: Config) -> str | None:
    return None if config.rsa else f"PKCS11 is {config.pkcs11}: the port has no RSA keys"


def needs_ec(config: Config) -> str | None:
    return None if config.ec else f"PKCS11 is {config.pkcs11}: the port has no EC keys"


def _store_verify_key(ctx: Context, key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> int:
    label = ctx.config.labels.code_verify_key
    ctx.remove_labelled(label, CKO.PUBLIC_KEY)
    handle = ctx.create(public_key_template(key, label), f"the code-verification key {label!r}")
    ctx.destroy_later(handle)
    return handle


def _digest_on_token(ctx: Context, mechanism: CKM, expected_length: int) -> bytes:
    if ctx.mechanism(mechanism) is None:
        raise ignore(f"the module does not offer CKM_{mechanism.name}")
    expect_ok(ctx.client.digest_init(ctx.session, mechanism), f"C_DigestInit(CKM_{mechanism.name})")
    result = ctx.client.digest(ctx.session, IMAGE, expected_length)
    expect_ok(result.rv, f"C_Digest(CKM_{mechanism.name})")
    reference = hashlib.new("sha1" if mechanism == CKM.SHA_1 else "sha256", IMAGE).digest()
    expect_equal(result.data, reference, f"CKM_{mechanism.name} of 1024 zero bytes")
    return result.data


def _rsa_vector(ctx: Context, mechanism: CKM, algorithm: hashes.HashAlgorithm, prefix: bytes) -> None:
    signer = ctx.credentials.rsa_code_verify
    signature = signer.sign(IMAGE, padding.PKCS1v15(), algorithm)
    key = _store_verify_key(ctx, signer.public_key())
    digest = _digest_on_token(ctx, mechanism, algorithm.digest_size)
    client, session = ctx.client, ctx.session
    expect_ok(client.verify_all(session, CKM.RSA_PKCS, key, prefix + digest, signature),
              f"C_Verify(CKM_RSA_PKCS) of the known {algorithm.name.upper()} signature")
    expect_rv(client.verify_all(session, CKM.RSA_PKCS, key, prefix + digest, flip_bit(signature, 128, 1)),
              CKR.SIGNATURE_INVALID, f"C_Verify of the {algorithm.name.upper()} signature with one bit flipped")


def rsa_sha256(ctx: Context) -> None:
    _rsa_vector(ctx, CKM.SHA256, hashes.SHA256(), SHA256_DIGEST_INFO_PREFIX)


def rsa_sha1(ctx: Context) -> None:
    _rsa_vector(ctx, CKM.SHA_1, hashes.SHA1(), SHA1_DIGEST_INFO_PREFIX)


def raw_from_der(der: bytes) -> bytes:
    """The PKCS #11 form (r||s, 32 bytes each) of a DER ECDSA-P256 signature."""
    try:
        r, s = utils.decode_dss_signature(der)
    except ValueError as exc:
        raise fail(f"not a DER ECDSA signature: {exc}") from None
    if r.bit_length() > 256 or s.bit_length() > 256:
        raise fail("a DER ECDSA signature with r or s longer than 32 bytes")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def ecdsa_sha256(ctx: Context) -> None:
    signer = ctx.credentials.ec_code_verify
    der = signer.sign(IMAGE, ec.ECDSA(hashes.SHA256()))
    key = _store_verify_key(ctx, signer.public_key())
    digest = _digest_on_token(ctx, CKM.SHA256, 32)
    client, session = ctx.client, ctx.session
    expect_ok(client.verify_all(session, CKM.ECDSA, key, digest, raw_from_der(der)),
              "C_Verify(CKM_ECDSA) of the known ECDSA-SHA256 signature (DER converted to r||s)")
    flipped = flip_bit(der, len(der) - 1, 2)  # a bit of s: still well-formed DER
    expect_rv(client.verify_all(session, CKM.ECDSA, key, digest, raw_from_der(flipped)),
              CKR.SIGNATURE_INVALID, "C_Verify of the ECDSA-SHA256 signature with one bit flipped")


GROUP = Group(
    "Full_CRYPTO",
    (
        Test("CRYPTO_VerifySignatureTestVectors_RSA_SHA256", rsa_sha256, needs_rsa),
        Test("CRYPTO_VerifySignatureTestVectors_RSA_SHA1", rsa_sha1, needs_rsa),
        Test("CRYPTO_VerifySignatureTestVectors_ECDSA_SHA256", ecdsa_sha256, needs_ec),
    ),
    setup=Context.start,
    teardown=Context.stop,
    rule=crypto_configured,
)
