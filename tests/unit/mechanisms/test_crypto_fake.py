"""The fake crypto port (tokenport.backends.crypto.fake): deterministic, stdlib-only, and
keeping the port's contracts -- lengths, round trips and the errors of each family."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tokenport.backends.crypto.fake import FakeCrypto, FakeRandom, fake_crypto
from tokenport.errors import (
    AttributeValueInvalid,
    CurveNotSupported,
    DataLenRange,
    EncryptedDataInvalid,
    KeyNotWrappable,
    KeySizeRange,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    OperationNotInitialized,
    SignatureInvalid,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
)
from tokenport.ports.crypto import (
    CipherPort,
    CryptoBackend,
    DigestPort,
    EcPort,
    EdDsaPort,
    KeyEncodingPort,
    MacPort,
    RsaPort,
    SealPort,
)

KEY = bytes(range(32))


@pytest.fixture
def fake() -> FakeCrypto:
    return FakeCrypto()


def test_implements_every_family() -> None:
    crypto = fake_crypto()
    for family in (DigestPort, MacPort, CipherPort, SealPort, EcPort, RsaPort, EdDsaPort,
                   KeyEncodingPort, CryptoBackend):
        assert isinstance(crypto, family), family.__name__


def test_digests_and_hmac_are_real(fake: FakeCrypto) -> None:
    assert fake.digest("sha256", b"abc") == hashlib.sha256(b"abc").digest()
    ctx = fake.hash_new("sha1")
    ctx.update(b"a")
    ctx.update(b"bc")
    assert ctx.finalize() == hashlib.sha1(b"abc").digest()
    with pytest.raises(OperationNotInitialized):
        ctx.update(b"more")
    mac = fake.hmac_new("sha512", b"key")
    mac.update(b"data")
    assert mac.finalize() == hmac.new(b"key", b"data", hashlib.sha512).digest()
    cmac = fake.cmac_aes_new(KEY[:16])
    cmac.update(b"data")
    assert len(cmac.finalize()) == 16
    with pytest.raises(KeySizeRange):
        fake.cmac_aes_new(b"short")


def test_x963_kdf_is_the_real_kdf(fake: FakeCrypto) -> None:
    z, info = b"\x11" * 32, b"info"
    expected = (hashlib.sha256(z + b"\x00\x00\x00\x01" + info).digest()
                + hashlib.sha256(z + b"\x00\x00\x00\x02" + info).digest())[:40]
    assert fake.x963_kdf("sha256", z, info, 40) == expected


@pytest.mark.parametrize("mode", ["ecb", "cbc", "ctr"])
def test_block_modes_round_trip_in_parts(fake: FakeCrypto, mode: str) -> None:
    def open_stream(encrypt: bool):  # type: ignore[no-untyped-def]
        if mode == "ecb":
            return fake.aes_ecb(KEY, encrypt)
        if mode == "cbc":
            return fake.aes_cbc(KEY, bytes(16), encrypt)
        return fake.aes_ctr(KEY, b"\xff" * 16)

    plain = bytes(range(48))
    enc = open_stream(True)
    parts = [enc.update(plain[:5]), enc.update(plain[5:40]), enc.update(plain[40:])]
    if mode != "ctr":
        assert [len(p) for p in parts] == [0, 32, 16]  # whole blocks only
    ciphertext = b"".join(parts) + enc.finalize()
    assert len(ciphertext) == 48 and ciphertext != plain
    dec = open_stream(False)
    assert dec.update(ciphertext) + dec.finalize() == plain
    assert fake.aes_ecb(KEY, True).update(plain) == fake.aes_ecb(KEY, True).update(plain)


def test_block_modes_refuse_partial_blocks_and_bad_keys(fake: FakeCrypto) -> None:
    stream = fake.aes_cbc(KEY, bytes(16), True)
    stream.update(b"x" * 17)
    with pytest.raises(DataLenRange):
        stream.finalize()
    with pytest.raises(MechanismParamInvalid):
        fake.aes_cbc(KEY, bytes(8), True)
    with pytest.raises(KeySizeRange):
        fake.aes_ecb(b"k" * 20, True)


def test_gcm_streaming_and_detached_tags(fake: FakeCrypto) -> None:
    iv, aad = bytes(12), b"header"
    enc = fake.aes_gcm_encryptor(KEY, iv, aad)
    ciphertext = enc.update(b"hello ") + enc.update(b"world")
    tail, tag = enc.finalize()
    ciphertext += tail
    assert len(ciphertext) == 11 and len(tag) == 16
    assert fake.aes_gcm_decrypt_detached(KEY, iv, ciphertext, aad, tag) == b"hello world"
    assert fake.aes_gcm_decrypt_detached(KEY, iv, ciphertext, aad, tag[:12]) == b"hello world"
    for bad in ((KEY, iv, ciphertext, b"other", tag), (KEY, iv, ciphertext[:-1], aad, tag),
                (KEY, iv, ciphertext, aad, tag[:3])):
        with pytest.raises(EncryptedDataInvalid):
            fake.aes_gcm_decrypt_detached(*bad)
    with pytest.raises(MechanismParamInvalid):
        fake.aes_gcm_encryptor(KEY, bytes(4), b"")


def test_seal_pair(fake: FakeCrypto) -> None:
    kek = fake.pbkdf2_sha256(b"pin", b"salt", 600_000, 32)
    assert kek == fake.pbkdf2_sha256(b"pin", b"salt", 600_000, 32)
    assert kek != fake.pbkdf2_sha256(b"pin", b"salt", 600_001, 32)
    assert kek != fake.pbkdf2_sha256(b"pio", b"salt", 600_000, 32)
    sealed = fake.aes_gcm_encrypt(kek, bytes(12), b"value", b"aad")
    assert len(sealed) == 5 + 16
    assert fake.aes_gcm_decrypt(kek, bytes(12), sealed, b"aad") == b"value"
    for key, data, aad in ((kek, sealed, b"other"), (bytes(32), sealed, b"aad"),
                           (kek, sealed[:10], b"aad")):
        with pytest.raises(EncryptedDataInvalid):
            fake.aes_gcm_decrypt(key, bytes(12), data, aad)


def test_key_wrap_lengths_and_integrity(fake: FakeCrypto) -> None:
    wrapped = fake.aes_key_wrap(KEY[:16], b"k" * 16)
    assert len(wrapped) == 24
    assert fake.aes_key_unwrap(KEY[:16], wrapped) == b"k" * 16
    with pytest.raises(WrappedKeyInvalid):
        fake.aes_key_unwrap(KEY[:16], wrapped[:-1] + bytes([wrapped[-1] ^ 1]))
    with pytest.raises(WrappedKeyInvalid):
        fake.aes_key_unwrap(bytes(16), wrapped)
    with pytest.raises(WrappedKeyLenRange):
        fake.aes_key_unwrap(KEY[:16], wrapped[:20])
    with pytest.raises(DataLenRange):
        fake.aes_key_wrap(KEY[:16], b"k" * 12)
    for length in (1, 8, 9, 33):
        padded = fake.aes_key_wrap_pad(KEY, b"p" * length)
        assert len(padded) == 8 + max(8, -(-length // 8) * 8)
        assert fake.aes_key_unwrap_pad(KEY, padded) == b"p" * length
    with pytest.raises(WrappedKeyInvalid):
        fake.aes_key_unwrap_pad(bytes(32), fake.aes_key_wrap_pad(KEY, b"p" * 9))


def test_ec_keys_signatures_and_ecdh(fake: FakeCrypto) -> None:
    alice = fake.ec_private_from_scalar("P-256", 12345)
    bob = fake.ec_private_from_scalar("P-256", 67890)
    point = fake.ec_public_point(alice)
    assert point[0] == 4 and len(point) == 65
    assert fake.ec_private_scalar(alice) == 12345
    public = fake.ec_public_from_point("P-256", point)
    assert fake.ec_public_point(public) == point
    r, s = fake.ecdsa_sign_hash(alice, b"h" * 32)
    assert 0 < r < 1 << 256 and 0 < s < 1 << 256
    fake.ecdsa_verify_hash(public, r, s, b"h" * 32)
    fake.ecdsa_verify_hash(alice, r, s, b"h" * 32)
    for key, sig, digest in ((public, (r, s), b"g" * 32), (public, (r, s + 1), b"h" * 32),
                             (bob, (r, s), b"h" * 32)):
        with pytest.raises(SignatureInvalid):
            fake.ecdsa_verify_hash(key, *sig, digest)
    bob_public = fake.ec_public_from_point("P-256", fake.ec_public_point(bob))
    shared = fake.ecdh(alice, bob_public)
    assert shared == fake.ecdh(bob, public) and len(shared) == 32
    p384 = fake.ec_private_from_scalar("P-384", 5)
    assert len(fake.ec_public_point(p384)) == 97
    with pytest.raises(MechanismParamInvalid):
        fake.ecdh(p384, bob_public)


def test_ec_refuses_bad_scalars_points_and_handles(fake: FakeCrypto) -> None:
    for d in (0, 1 << 256):
        with pytest.raises(AttributeValueInvalid):
            fake.ec_private_from_scalar("P-256", d)
    point = bytearray(fake.ec_public_point(fake.ec_private_from_scalar("P-256", 3)))
    point[-1] ^= 1
    with pytest.raises(AttributeValueInvalid):
        fake.ec_public_from_point("P-256", bytes(point))
    with pytest.raises(CurveNotSupported):
        fake.ec_private_from_scalar("secp192k1", 3)  # type: ignore[arg-type]
    rsa = fake.rsa_generate(1024, 65537)
    with pytest.raises(KeyTypeInconsistent):
        fake.ecdsa_sign_hash(rsa, b"h" * 32)  # type: ignore[arg-type]
    public = fake.ec_public_from_point(
        "P-256", fake.ec_public_point(fake.ec_private_from_scalar("P-256", 3)))
    with pytest.raises(KeyTypeInconsistent):
        fake.ecdsa_sign_hash(public, b"h" * 32)  # type: ignore[arg-type]


def test_ed25519(fake: FakeCrypto) -> None:
    private = fake.ed25519_private_from_seed(b"s" * 32)
    public = fake.ed25519_public_from_bytes(fake.ed25519_public_bytes(private))
    assert fake.ed25519_seed(private) == b"s" * 32
    signature = fake.ed25519_sign(private, b"message")
    assert len(signature) == 64
    fake.ed25519_verify(public, signature, b"message")
    with pytest.raises(SignatureInvalid):
        fake.ed25519_verify(public, signature, b"massage")
    with pytest.raises(AttributeValueInvalid):
        fake.ed25519_private_from_seed(b"short")


def test_rsa_generation_is_consistent_and_deterministic(fake: FakeCrypto) -> None:
    key = fake.rsa_generate(2048, 65537)
    nums = fake.rsa_private_numbers(key)
    assert nums.n.bit_length() == 2048 and nums.e == 65537
    assert nums.p * nums.q == nums.n and (nums.qinv * nums.q) % nums.p == 1
    assert fake.rsa_recover_primes(nums.n, nums.e, nums.d) == (nums.p, nums.q)
    again = fake.rsa_private_from_numbers(nums)  # validates
    assert fake.rsa_public_numbers(again) == (nums.n, 65537)
    assert FakeCrypto().rsa_private_numbers(FakeCrypto().rsa_generate(2048, 65537)) == nums
    assert fake.rsa_private_numbers(fake.rsa_generate(2048, 65537)).n != nums.n
    assert FakeCrypto(b"seed").rsa_private_numbers(FakeCrypto(b"seed").rsa_generate(2048, 3)).e == 3
    with pytest.raises(AttributeValueInvalid):
        fake.rsa_generate(2048, 17)
    with pytest.raises(AttributeValueInvalid):
        fake.rsa_private_from_numbers(type(nums)(nums.n, nums.e, nums.d + 2, nums.p, nums.q,
                                                 nums.dp, nums.dq, nums.qinv))
    assert "secret" in repr(nums) and str(nums.d) not in repr(key)


def test_rsa_operations_round_trip(fake: FakeCrypto) -> None:
    key = fake.rsa_generate(1024, 65537)
    n, e = fake.rsa_public_numbers(key)
    public = fake.rsa_public_from_numbers(n, e)
    block = (12345).to_bytes(128, "big")
    assert fake.rsa_public_raw(public, fake.rsa_private_raw(key, block)) == block
    with pytest.raises(DataLenRange):
        fake.rsa_private_raw(key, n.to_bytes(128, "big"))
    digest = hashlib.sha256(b"m").digest()
    signature = fake.rsa_sign_pkcs1v15(key, "sha256", digest)
    fake.rsa_verify_pkcs1v15(public, signature, "sha256", digest)
    with pytest.raises(SignatureInvalid):
        fake.rsa_verify_pkcs1v15(public, signature, "sha256", bytes(32))
    pss = fake.rsa_sign_pss(key, "sha256", digest, "sha256", 32)
    fake.rsa_verify_pss(public, pss, "sha256", digest, "sha256", 32)
    with pytest.raises(SignatureInvalid):
        fake.rsa_verify_pss(public, pss, "sha256", digest, "sha256", 20)
    with pytest.raises(MechanismParamInvalid):
        fake.rsa_sign_pss(key, "sha256", digest, "sha256", 128)
    for encrypt, decrypt in (
        (lambda d: fake.rsa_encrypt_pkcs1v15(public, d), lambda c: fake.rsa_decrypt_pkcs1v15(key, c)),
        (lambda d: fake.rsa_encrypt_oaep(public, d, "sha1", "sha1", b"l"),
         lambda c: fake.rsa_decrypt_oaep(key, c, "sha1", "sha1", b"l")),
    ):
        ciphertext = encrypt(b"secret")
        assert len(ciphertext) == 128 and decrypt(ciphertext) == b"secret"
        with pytest.raises(EncryptedDataInvalid):
            decrypt(ciphertext[:-1])
    with pytest.raises(EncryptedDataInvalid):
        fake.rsa_decrypt_oaep(key, fake.rsa_encrypt_oaep(public, b"x", "sha1", "sha1", b"l"),
                              "sha1", "sha1", b"other label")
    with pytest.raises(DataLenRange):
        fake.rsa_encrypt_pkcs1v15(public, b"x" * 118)
    with pytest.raises(KeyTypeInconsistent):
        fake.rsa_sign_pkcs1v15(public, "sha256", digest)  # type: ignore[arg-type]


def test_key_encodings_round_trip(fake: FakeCrypto) -> None:
    keys = (fake.rsa_generate(1024, 65537), fake.ec_private_from_scalar("P-384", 99),
            fake.ed25519_private_from_seed(b"e" * 32))
    for key in keys:
        decoded = fake.pkcs8_decode(fake.pkcs8_encode(key))
        assert fake.pkcs8_encode(decoded.key) == fake.pkcs8_encode(key)
        public = fake.public_key_decode(fake.public_key_info(key))
        assert public.kind == decoded.kind
        assert fake.public_key_info(public.key) == fake.public_key_info(key)
    ec = fake.pkcs8_decode(fake.pkcs8_encode(keys[1]))
    assert ec.kind == "ec" and ec.curve == "P-384"
    with pytest.raises(WrappedKeyInvalid):
        fake.pkcs8_decode(b"junk")
    with pytest.raises(AttributeValueInvalid):
        fake.public_key_decode(b"junk")
    with pytest.raises(KeyNotWrappable):
        fake.pkcs8_encode(fake.ed25519_public_from_bytes(b"p" * 32))  # type: ignore[arg-type]


def test_reprs_show_no_secrets(fake: FakeCrypto) -> None:
    ec = fake.ec_private_from_scalar("P-256", 0xC0FFEE)
    ed = fake.ed25519_private_from_seed(b"\xab" * 32)
    rsa = fake.rsa_generate(1024, 65537)
    assert "c0ffee" not in repr(ec).lower() and str(0xC0FFEE) not in repr(ec)
    assert "abab" not in repr(ed).lower() and "private" in repr(ed)
    assert str(fake.rsa_private_numbers(rsa).d) not in repr(rsa)
    decoded = repr(fake.pkcs8_decode(fake.pkcs8_encode(ec)))
    assert "<secret>" in decoded and str(0xC0FFEE) not in decoded


def test_fake_random_is_deterministic() -> None:
    a, b = FakeRandom(b"s"), FakeRandom(b"s")
    first = a.random_bytes(40)
    assert first == b.random_bytes(40) and len(first) == 40
    assert a.random_bytes(40) != first
    b.seed(b"extra")
    assert a.random_bytes(8) != b.random_bytes(8)
    assert FakeRandom(b"t").random_bytes(40) != first
