"""Cryptographic operations through the core (PKCS #11 v2.40 s5.8-5.15)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tokenport.ck import CKA, CKK, CKM, CKO, CKR
from tokenport.core.module import Module
from tokenport.errors import (
    KeyFunctionNotPermitted,
    KeyHandleInvalid,
    KeyTypeInconsistent,
    KeyUnextractable,
    MechanismInvalid,
    OperationActive,
    OperationNotInitialized,
    SignatureInvalid,
)
from tokenport.mechanisms.params import Ecdh1DeriveParams, GcmParams, Mechanism

P256_OID = bytes.fromhex("06082a8648ce3d030107")


def ec_pair(module: Module, session: int, label: bytes = b"ec") -> tuple[int, int]:
    return module.generate_key_pair(
        session, Mechanism(CKM.EC_KEY_PAIR_GEN),
        [(CKA.EC_PARAMS, P256_OID), (CKA.LABEL, label), (CKA.TOKEN, True)],
        [(CKA.LABEL, label), (CKA.TOKEN, True), (CKA.DERIVE, True)],
    )


def test_generated_pair_attributes(module: Module, user: int) -> None:
    public, private = ec_pair(module, user)
    results = module.get_attribute_value(user, private, [
        CKA.LOCAL, CKA.KEY_GEN_MECHANISM, CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE,
        CKA.VALUE, CKA.EC_PARAMS, CKA.PRIVATE,
    ])
    assert [r.value for r in results[:4]] == [True, CKM.EC_KEY_PAIR_GEN, True, True]
    assert results[4].error == CKR.ATTRIBUTE_SENSITIVE
    assert results[5].value == P256_OID and results[6].value is True
    (point,) = module.get_attribute_value(user, public, [CKA.EC_POINT])
    assert isinstance(point.value, bytes) and point.value[:2] == b"\x04\x41"


def test_ecdsa_sign_verifies_outside_the_token(module: Module, user: int) -> None:
    public, private = ec_pair(module, user)
    (point,) = module.get_attribute_value(user, public, [CKA.EC_POINT])
    assert isinstance(point.value, bytes)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point.value[2:])
    module.sign_init(user, Mechanism(CKM.ECDSA_SHA256), private)
    module.sign_update(user, b"hello ")
    module.sign_update(user, b"world")
    signature = module.sign_final(user)
    der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    key.verify(der, b"hello world", ec.ECDSA(hashes.SHA256()))
    module.verify_init(user, Mechanism(CKM.ECDSA_SHA256), public)
    module.verify(user, b"hello world", signature)
    module.verify_init(user, Mechanism(CKM.ECDSA_SHA256), public)
    with pytest.raises(SignatureInvalid):
        module.verify(user, b"hello there", signature)
    with pytest.raises(InvalidSignature):
        key.verify(der, b"other", ec.ECDSA(hashes.SHA256()))


def test_operation_rules(module: Module, user: int) -> None:
    public, private = ec_pair(module, user)
    with pytest.raises(OperationNotInitialized):
        module.sign(user, b"x")
    with pytest.raises(KeyTypeInconsistent):
        module.sign_init(user, Mechanism(CKM.ECDSA), public)
    with pytest.raises(KeyTypeInconsistent):
        module.sign_init(user, Mechanism(CKM.SHA256_RSA_PKCS), private)
    with pytest.raises(MechanismInvalid):
        module.sign_init(user, Mechanism(0x7FFF_FFF0), private)
    with pytest.raises(KeyHandleInvalid):
        module.sign_init(user, Mechanism(CKM.ECDSA), 424242)
    module.sign_init(user, Mechanism(CKM.ECDSA), private)
    with pytest.raises(OperationActive):
        module.sign_init(user, Mechanism(CKM.ECDSA), private)
    with pytest.raises(Exception) as info:  # single-part ECDSA has no update: ends the op
        module.sign_update(user, b"x" * 32)
    assert getattr(info.value, "rv", None) is not None
    with pytest.raises(OperationNotInitialized):
        module.sign(user, b"x" * 32)
    module.set_attribute_value(user, private, [(CKA.SIGN, False)])
    with pytest.raises(KeyFunctionNotPermitted):
        module.sign_init(user, Mechanism(CKM.ECDSA), private)


def test_digest_and_digest_key(module: Module, user: int) -> None:
    module.digest_init(user, Mechanism(CKM.SHA256))
    assert module.digest(user, b"abc") == hashlib.sha256(b"abc").digest()
    key = module.create_object(user, [
        (CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)),
        (CKA.VALUE, b"k" * 20),
    ])
    module.digest_init(user, Mechanism(CKM.SHA_1))
    module.digest_update(user, b"pre")
    module.digest_key(user, key)
    assert module.digest_final(user) == hashlib.sha1(b"pre" + b"k" * 20).digest()


def test_aes_gcm_wrap_unwrap_and_ecdh(module: Module, user: int) -> None:
    aes = module.generate_key(user, Mechanism(CKM.AES_KEY_GEN), [(CKA.VALUE_LEN, 32), (CKA.LABEL, b"aes")])
    params = GcmParams(iv=bytes(12), aad=b"hdr", tag_bits=128)
    module.encrypt_init(user, Mechanism(CKM.AES_GCM, params), aes)
    sealed = module.encrypt(user, b"secret message")
    module.decrypt_init(user, Mechanism(CKM.AES_GCM, params), aes)
    assert module.decrypt(user, sealed) == b"secret message"

    wrap_key = module.generate_key(
        user, Mechanism(CKM.AES_KEY_GEN),
        [(CKA.VALUE_LEN, 16), (CKA.WRAP, True), (CKA.UNWRAP, True), (CKA.ENCRYPT, False),
         (CKA.DECRYPT, False)],
    )
    target = module.generate_key(
        user, Mechanism(CKM.AES_KEY_GEN), [(CKA.VALUE_LEN, 16), (CKA.EXTRACTABLE, True)]
    )
    wrapped = module.wrap_key(user, Mechanism(CKM.AES_KEY_WRAP), wrap_key, target)
    assert len(wrapped) == 24
    with pytest.raises(KeyUnextractable):
        module.wrap_key(user, Mechanism(CKM.AES_KEY_WRAP), wrap_key, aes)
    unwrapped = module.unwrap_key(
        user, Mechanism(CKM.AES_KEY_WRAP), wrap_key, wrapped,
        [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.AES))],
    )
    module.encrypt_init(user, Mechanism(CKM.AES_ECB), target)
    expected = module.encrypt(user, bytes(16))
    module.encrypt_init(user, Mechanism(CKM.AES_ECB), unwrapped)
    assert module.encrypt(user, bytes(16)) == expected

    _, alice = ec_pair(module, user, b"alice")
    bob_public, _bob = ec_pair(module, user, b"bob")
    (bob_point,) = module.get_attribute_value(user, bob_public, [CKA.EC_POINT])
    assert isinstance(bob_point.value, bytes)
    derived = module.derive_key(
        user, Mechanism(CKM.ECDH1_DERIVE, Ecdh1DeriveParams(1, b"", bob_point.value)), alice,
        [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)),
         (CKA.VALUE_LEN, 32), (CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True)],
    )
    (value,) = module.get_attribute_value(user, derived, [CKA.VALUE])
    assert isinstance(value.value, bytes) and len(value.value) == 32


def test_random(module: Module, user: int) -> None:
    module.seed_random(user, b"extra")
    first, second = module.generate_random(user, 32), module.generate_random(user, 32)
    assert len(first) == 32 and first != second
    assert module.generate_random(user, 0) == b""
