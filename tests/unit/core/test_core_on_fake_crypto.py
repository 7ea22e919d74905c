"""The Cryptoki core on the deterministic fake crypto port and fake random source (PKCS #11
v2.40 s5.8-5.14): no pyca in the call path, the same results on every run.

The fake is NOT cryptography (see tokenport.backends.crypto.fake); these tests check the
core's side of the contract: operations reach the port, results come back with the right
lengths and errors, and sign/verify, encrypt/decrypt, wrap/unwrap round-trip.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenport.backends.crypto.fake import FakeCrypto, FakeRandom
from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKA, CKC, CKF, CKG, CKK, CKM, CKO, CKR, CKU
from tokenport.core.module import Module
from tokenport.core.state import CoreParts, CoreSettings
from tokenport.errors import EncryptedDataInvalid, PinIncorrect, SignatureInvalid
from tokenport.mechanisms import default_registry
from tokenport.mechanisms.params import (
    Ecdh1DeriveParams,
    GcmParams,
    Mechanism,
    OaepParams,
    PssParams,
)
from tokenport.objects.factory import ObjectFactory
from tokenport.wiring import GivenRandom, GivenStore
from tokenport.x509 import X509Fields

SO_PIN = b"so-secret-1"
USER_PIN = b"user-pin-1"
RW = int(CKF.SERIAL_SESSION | CKF.RW_SESSION)
P256_OID = bytes.fromhex("06082a8648ce3d030107")
ED25519_OID = bytes.fromhex("06032b6570")


def fake_module(tmp_path: Path, seed: bytes = b"fixed seed") -> tuple[Module, int]:
    """A Module wired from the outside with fake ports, its token initialized, and a R/W
    user session."""
    parts = CoreParts(
        store=GivenStore(MemoryObjectStore()), crypto=FakeCrypto(seed),
        registry=default_registry(), random=GivenRandom(FakeRandom(seed)),
    )
    module = Module(parts, CoreSettings(max_pin_attempts=3))
    module.initialize()
    module.init_token(0, SO_PIN, b"fake".ljust(32))
    session = module.open_session(0, RW)
    module.login(session, CKU.SO, SO_PIN)
    module.init_pin(session, USER_PIN)
    module.logout(session)
    module.login(session, CKU.USER, USER_PIN)
    return module, session


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[Module, int]]:
    module, session = fake_module(tmp_path)
    yield module, session
    module.finalize()


def ec_pair(module: Module, session: int, label: bytes = b"ec") -> tuple[int, int]:
    return module.generate_key_pair(
        session, Mechanism(CKM.EC_KEY_PAIR_GEN),
        [(CKA.EC_PARAMS, P256_OID), (CKA.LABEL, label), (CKA.TOKEN, True)],
        [(CKA.LABEL, label), (CKA.TOKEN, True), (CKA.DERIVE, True), (CKA.EXTRACTABLE, True)],
    )


def value(module: Module, session: int, handle: int, attr: int) -> bytes:
    (result,) = module.get_attribute_value(session, handle, [attr])
    assert result.error == CKR.OK and isinstance(result.value, bytes)
    return result.value


def test_module_runs_on_the_fake_port(fake: tuple[Module, int]) -> None:
    module, _ = fake
    assert isinstance(module.crypto, FakeCrypto)


def test_wrong_user_pin_is_refused_by_the_fake_seal(tmp_path: Path) -> None:
    module, session = fake_module(tmp_path)
    module.logout(session)
    with pytest.raises(PinIncorrect):
        module.login(session, CKU.USER, b"wrong-pin-1")
    module.login(session, CKU.USER, USER_PIN)
    module.finalize()


def test_ecdsa_sign_verify_and_wrong_signature(fake: tuple[Module, int]) -> None:
    module, session = fake
    public, private = ec_pair(module, session)
    point = value(module, session, public, CKA.EC_POINT)
    assert point[:3] == b"\x04\x41\x04" and len(point) == 67
    module.sign_init(session, Mechanism(CKM.ECDSA_SHA256), private)
    module.sign_update(session, b"hello ")
    module.sign_update(session, b"world")
    signature = module.sign_final(session)
    assert len(signature) == 64
    module.verify_init(session, Mechanism(CKM.ECDSA_SHA256), public)
    module.verify(session, b"hello world", signature)
    for message, sig in ((b"hello there", signature),
                         (b"hello world", signature[:-1] + bytes([signature[-1] ^ 1]))):
        module.verify_init(session, Mechanism(CKM.ECDSA_SHA256), public)
        with pytest.raises(SignatureInvalid) as caught:
            module.verify(session, message, sig)
        assert caught.value.rv == CKR.SIGNATURE_INVALID
    other_public, _ = ec_pair(module, session, b"other")
    module.verify_init(session, Mechanism(CKM.ECDSA_SHA256), other_public)
    with pytest.raises(SignatureInvalid):
        module.verify(session, b"hello world", signature)


def test_same_seeds_same_keys_and_signatures(tmp_path: Path) -> None:
    results = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        module, session = fake_module(tmp_path / run)
        public, private = ec_pair(module, session)
        module.sign_init(session, Mechanism(CKM.ECDSA), private)
        results.append((value(module, session, public, CKA.EC_POINT),
                        module.sign(session, bytes(32)), module.generate_random(session, 16)))
        module.finalize()
    assert results[0] == results[1]
    (tmp_path / "c").mkdir()
    module, session = fake_module(tmp_path / "c", seed=b"another seed")
    public, _ = ec_pair(module, session)
    assert value(module, session, public, CKA.EC_POINT) != results[0][0]
    module.finalize()


def test_digest_is_the_real_hash(fake: tuple[Module, int]) -> None:
    module, session = fake
    module.digest_init(session, Mechanism(CKM.SHA256))
    assert module.digest(session, b"abc") == hashlib.sha256(b"abc").digest()
    module.digest_init(session, Mechanism(CKM.SHA384))
    module.digest_update(session, b"a")
    module.digest_update(session, b"bc")
    assert module.digest_final(session) == hashlib.sha384(b"abc").digest()


def test_hmac_is_the_real_hmac(fake: tuple[Module, int]) -> None:
    import hmac

    module, session = fake
    key = module.create_object(session, [
        (CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)),
        (CKA.VALUE, b"k" * 32), (CKA.SIGN, True), (CKA.VERIFY, True),
    ])
    module.sign_init(session, Mechanism(CKM.SHA256_HMAC), key)
    mac = module.sign(session, b"data")
    assert mac == hmac.new(b"k" * 32, b"data", hashlib.sha256).digest()
    module.verify_init(session, Mechanism(CKM.SHA256_HMAC), key)
    with pytest.raises(SignatureInvalid):
        module.verify(session, b"other", mac)


def test_generate_aes_key_encrypt_decrypt(fake: tuple[Module, int]) -> None:
    module, session = fake
    aes = module.generate_key(session, Mechanism(CKM.AES_KEY_GEN), [(CKA.VALUE_LEN, 32)])
    assert module.get_attribute_value(session, aes, [CKA.VALUE_LEN])[0].value == 32
    iv = bytes(range(16))
    module.encrypt_init(session, Mechanism(CKM.AES_CBC_PAD, iv), aes)
    ciphertext = module.encrypt(session, b"twenty-one bytes long")
    assert len(ciphertext) == 32
    module.decrypt_init(session, Mechanism(CKM.AES_CBC_PAD, iv), aes)
    assert module.decrypt(session, ciphertext) == b"twenty-one bytes long"

    params = GcmParams(iv=bytes(12), aad=b"hdr", tag_bits=128)
    module.encrypt_init(session, Mechanism(CKM.AES_GCM, params), aes)
    sealed = module.encrypt(session, b"secret message")
    assert len(sealed) == len(b"secret message") + 16
    module.decrypt_init(session, Mechanism(CKM.AES_GCM, params), aes)
    assert module.decrypt(session, sealed) == b"secret message"
    module.decrypt_init(session, Mechanism(CKM.AES_GCM, params), aes)
    with pytest.raises(EncryptedDataInvalid):
        module.decrypt(session, sealed[:-1] + bytes([sealed[-1] ^ 1]))


def test_wrap_unwrap_secret_and_private_keys(fake: tuple[Module, int]) -> None:
    module, session = fake
    kek = module.generate_key(session, Mechanism(CKM.AES_KEY_GEN), [
        (CKA.VALUE_LEN, 16), (CKA.WRAP, True), (CKA.UNWRAP, True), (CKA.ENCRYPT, False),
        (CKA.DECRYPT, False)])
    target = module.generate_key(session, Mechanism(CKM.AES_KEY_GEN), [
        (CKA.VALUE_LEN, 16), (CKA.EXTRACTABLE, True)])
    wrapped = module.wrap_key(session, Mechanism(CKM.AES_KEY_WRAP), kek, target)
    assert len(wrapped) == 24
    unwrapped = module.unwrap_key(session, Mechanism(CKM.AES_KEY_WRAP), kek, wrapped, [
        (CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.AES))])
    module.encrypt_init(session, Mechanism(CKM.AES_ECB), target)
    expected = module.encrypt(session, bytes(16))
    module.encrypt_init(session, Mechanism(CKM.AES_ECB), unwrapped)
    assert module.encrypt(session, bytes(16)) == expected

    public, private = ec_pair(module, session)
    wrapped_private = module.wrap_key(session, Mechanism(CKM.AES_KEY_WRAP_PAD), kek, private)
    copy = module.unwrap_key(session, Mechanism(CKM.AES_KEY_WRAP_PAD), kek, wrapped_private, [
        (CKA.CLASS, int(CKO.PRIVATE_KEY)), (CKA.KEY_TYPE, int(CKK.EC)), (CKA.SIGN, True)])
    module.sign_init(session, Mechanism(CKM.ECDSA), copy)
    signature = module.sign(session, bytes(32))
    module.verify_init(session, Mechanism(CKM.ECDSA), public)
    module.verify(session, bytes(32), signature)


def test_ecdh_agrees_on_both_sides(fake: tuple[Module, int]) -> None:
    module, session = fake
    alice_public, alice = ec_pair(module, session, b"alice")
    bob_public, bob = ec_pair(module, session, b"bob")
    template = [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)),
                (CKA.VALUE_LEN, 32), (CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True)]
    secrets = []
    for private, peer in ((alice, bob_public), (bob, alice_public)):
        point = value(module, session, peer, CKA.EC_POINT)
        derived = module.derive_key(
            session, Mechanism(CKM.ECDH1_DERIVE, Ecdh1DeriveParams(1, b"", point)), private,
            template)
        secrets.append(value(module, session, derived, CKA.VALUE))
    assert secrets[0] == secrets[1] and len(secrets[0]) == 32


def test_rsa_sign_verify_encrypt_decrypt(fake: tuple[Module, int]) -> None:
    module, session = fake
    public, private = module.generate_key_pair(
        session, Mechanism(CKM.RSA_PKCS_KEY_PAIR_GEN),
        [(CKA.MODULUS_BITS, 2048), (CKA.ENCRYPT, True), (CKA.VERIFY, True)],
        [(CKA.DECRYPT, True), (CKA.SIGN, True)],
    )
    assert len(value(module, session, public, CKA.MODULUS)) == 256
    pss = PssParams(int(CKM.SHA256), int(CKG.MGF1_SHA256), 32)
    for mechanism in (Mechanism(CKM.SHA256_RSA_PKCS), Mechanism(CKM.SHA256_RSA_PKCS_PSS, pss)):
        module.sign_init(session, mechanism, private)
        signature = module.sign(session, b"message")
        assert len(signature) == 256
        module.verify_init(session, mechanism, public)
        module.verify(session, b"message", signature)
        module.verify_init(session, mechanism, public)
        with pytest.raises(SignatureInvalid):
            module.verify(session, b"massage", signature)
    oaep = Mechanism(CKM.RSA_PKCS_OAEP, OaepParams(int(CKM.SHA256), int(CKG.MGF1_SHA256)))
    for mechanism in (Mechanism(CKM.RSA_PKCS), oaep):
        module.encrypt_init(session, mechanism, public)
        ciphertext = module.encrypt(session, b"session key")
        assert len(ciphertext) == 256
        module.decrypt_init(session, mechanism, private)
        assert module.decrypt(session, ciphertext) == b"session key"


def test_ed25519_sign_verify(fake: tuple[Module, int]) -> None:
    module, session = fake
    public, private = module.generate_key_pair(
        session, Mechanism(CKM.EC_EDWARDS_KEY_PAIR_GEN),
        [(CKA.EC_PARAMS, ED25519_OID)], [(CKA.SIGN, True)],
    )
    module.sign_init(session, Mechanism(CKM.EDDSA), private)
    signature = module.sign(session, b"message")
    assert len(signature) == 64
    module.verify_init(session, Mechanism(CKM.EDDSA), public)
    module.verify(session, b"message", signature)
    module.verify_init(session, Mechanism(CKM.EDDSA), public)
    with pytest.raises(SignatureInvalid):
        module.verify(session, b"other", signature)


def test_object_factory_takes_its_certificate_reader() -> None:
    seen: list[bytes] = []

    def reader(der: bytes) -> X509Fields:
        seen.append(der)
        return X509Fields(subject=b"\x30\x00", issuer=b"\x30\x02\x31\x00", serial_number=b"\x02\x01\x07",
                          public_key_info=b"spki", not_before=b"20240101", not_after=b"20341231")

    factory = ObjectFactory(FakeCrypto(), certificate_fields=reader)
    obj = factory.create({CKA.CLASS: int(CKO.CERTIFICATE), CKA.CERTIFICATE_TYPE: int(CKC.X_509),
                          CKA.VALUE: b"not parsed by pyca", CKA.TOKEN: True}, is_so=False)
    assert seen == [b"not parsed by pyca"]
    assert obj.attrs[CKA.SUBJECT] == b"\x30\x00"
    assert obj.attrs[CKA.ISSUER] == b"\x30\x02\x31\x00"
    assert obj.attrs[CKA.SERIAL_NUMBER] == b"\x02\x01\x07"
    assert obj.attrs[CKA.PUBLIC_KEY_INFO] == b"spki"
