"""python-pkcs11 drives the module (in a subprocess); pyca/cryptography, in this process,
checks its results independently: signatures verify, ciphertexts and wrapped keys match,
ECDH agrees with a key the module never saw.

One token (initialized with the tokenport command) is shared by the module; each test uses
its own labels. The 1,000-object test gets a token of its own.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap, aes_key_wrap_with_padding
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .tools import Token, init_with_cli, needs_python_pkcs11, new_token, unwrap_ec_point

pytestmark = needs_python_pkcs11

MESSAGE = b"python-pkcs11 interop message \x00\x01\x02 with some binary bytes \xff"


@pytest.fixture(scope="module")
def tok(module_path: str, tmp_path_factory: pytest.TempPathFactory) -> Token:
    token = new_token(module_path, tmp_path_factory.mktemp("python-pkcs11"), "interop-py")
    init_with_cli(token)
    return token


def _ec_public_key(point: bytes) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unwrap_ec_point(point))


def _raw_to_der(signature: bytes) -> bytes:
    half = len(signature) // 2
    return encode_dss_signature(
        int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    )


# -- token ---------------------------------------------------------------------------------------


def test_open_token_by_label(tok: Token) -> None:
    result = tok.python(
        r"""
with token.open(user_pin=PIN) as session:
    logged_in = True
emit(
    label=token.label,
    manufacturer=token.manufacturer_id,
    model=token.model,
    flags=int(token.flags),
    required=int(TokenFlag.LOGIN_REQUIRED | TokenFlag.USER_PIN_INITIALIZED | TokenFlag.TOKEN_INITIALIZED | TokenFlag.RNG),
    locked=int(TokenFlag.USER_PIN_LOCKED),
    logged_in=logged_in,
    missing=raised(lib.get_token, token_label="no such token"),
    cryptoki=list(lib.cryptoki_version),
)
"""
    )
    assert result["label"] == "interop-py"
    assert result["manufacturer"] == "tokenport"
    assert result["flags"] & result["required"] == result["required"]
    assert not result["flags"] & result["locked"]
    assert result["logged_in"] is True
    assert result["missing"] == "NoSuchToken"
    assert result["cryptoki"] == [2, 40]


# -- signatures ----------------------------------------------------------------------------------


def test_ecdsa_sign_verify(tok: Token) -> None:
    result = tok.python(
        r"""
import hashlib
from pkcs11.util.ec import encode_named_curve_parameters
MSG = bytes.fromhex(os.environ["MSG"])
with token.open(rw=True, user_pin=PIN) as s:
    params = s.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
    pub, priv = params.generate_keypair(store=True, label="py-ecdsa", id=b"\x10")
    digest = hashlib.sha256(MSG).digest()
    raw = priv.sign(digest, mechanism=Mechanism.ECDSA)
    hashed = priv.sign(MSG, mechanism=Mechanism.ECDSA_SHA256)
    multi = priv.sign(iter([MSG[:7], MSG[7:20], MSG[20:]]), mechanism=Mechanism.ECDSA_SHA256)
    bad = bytearray(hashed); bad[5] ^= 0x01; bad = bytes(bad)
    emit(
        point=pub[Attribute.EC_POINT],
        raw=raw, hashed=hashed, multi=multi,
        verified=[pub.verify(digest, raw, mechanism=Mechanism.ECDSA),
                  pub.verify(MSG, hashed, mechanism=Mechanism.ECDSA_SHA256),
                  pub.verify(MSG, multi, mechanism=Mechanism.ECDSA_SHA256)],
        tampered_verify=pub.verify(MSG, bad, mechanism=Mechanism.ECDSA_SHA256),
        tampered=raised(pub._verify, MSG, bad, mechanism=Mechanism.ECDSA_SHA256),
        other_message=raised(pub._verify, MSG + b"x", hashed, mechanism=Mechanism.ECDSA_SHA256),
    )
""",
        env={"MSG": MESSAGE.hex()},
    )
    assert result["verified"] == [True, True, True]
    assert result["tampered_verify"] is False
    assert result["tampered"] == "SignatureInvalid"
    assert result["other_message"] == "SignatureInvalid"
    key = _ec_public_key(result["point"])
    for name in ("raw", "hashed", "multi"):
        assert len(result[name]) == 64, name
    digest = hashlib.sha256(MESSAGE).digest()
    key.verify(_raw_to_der(result["raw"]), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    key.verify(_raw_to_der(result["hashed"]), MESSAGE, ec.ECDSA(hashes.SHA256()))
    key.verify(_raw_to_der(result["multi"]), MESSAGE, ec.ECDSA(hashes.SHA256()))


def test_rsa_pkcs1_and_pss_sign_verify(tok: Token) -> None:
    result = tok.python(
        r"""
MSG = bytes.fromhex(os.environ["MSG"])
PSS = (Mechanism.SHA256, MGF.SHA256, 32)
with token.open(rw=True, user_pin=PIN) as s:
    pub, priv = s.generate_keypair(KeyType.RSA, 2048, store=True, label="py-rsa-sign")
    pkcs = priv.sign(MSG, mechanism=Mechanism.SHA256_RSA_PKCS)
    pkcs_again = priv.sign(iter([MSG[:3], MSG[3:]]), mechanism=Mechanism.SHA256_RSA_PKCS)
    pss = priv.sign(MSG, mechanism=Mechanism.SHA256_RSA_PKCS_PSS, mechanism_param=PSS)
    bad = bytearray(pkcs); bad[-1] ^= 0x80; bad = bytes(bad)
    bad_pss = bytearray(pss); bad_pss[0] ^= 0x01; bad_pss = bytes(bad_pss)
    emit(
        modulus=pub[Attribute.MODULUS], exponent=pub[Attribute.PUBLIC_EXPONENT],
        bits=pub[Attribute.MODULUS_BITS],
        pkcs=pkcs, pkcs_again=pkcs_again, pss=pss,
        verified=[pub.verify(MSG, pkcs, mechanism=Mechanism.SHA256_RSA_PKCS),
                  pub.verify(MSG, pss, mechanism=Mechanism.SHA256_RSA_PKCS_PSS, mechanism_param=PSS)],
        tampered=raised(pub._verify, MSG, bad, mechanism=Mechanism.SHA256_RSA_PKCS),
        tampered_pss=raised(pub._verify, MSG, bad_pss, mechanism=Mechanism.SHA256_RSA_PKCS_PSS,
                            mechanism_param=PSS),
    )
""",
        env={"MSG": MESSAGE.hex()},
    )
    assert result["bits"] == 2048
    assert result["verified"] == [True, True]
    assert result["tampered"] == "SignatureInvalid"
    assert result["tampered_pss"] == "SignatureInvalid"
    assert result["pkcs"] == result["pkcs_again"]  # single- and multi-part agree
    key = rsa.RSAPublicNumbers(
        int.from_bytes(result["exponent"], "big"), int.from_bytes(result["modulus"], "big")
    ).public_key()
    assert key.key_size == 2048
    key.verify(result["pkcs"], MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    key.verify(
        result["pss"], MESSAGE, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()
    )


# -- encryption ----------------------------------------------------------------------------------


def test_aes_gcm_encrypt_decrypt(tok: Token) -> None:
    key, iv, aad = os.urandom(32), os.urandom(12), b"header bytes"
    result = tok.python(
        r"""
KEY, IV, AAD = (bytes.fromhex(os.environ[n]) for n in ("KEY", "IV", "AAD"))
PLAIN = b"attack at dawn, with authenticated encryption"
params = GCMParams(IV, AAD, 128)
with token.open(rw=True, user_pin=PIN) as s:
    generated = s.generate_key(KeyType.AES, 256, label="py-gcm",
                               template={Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True})
    ct = generated.encrypt(PLAIN, mechanism=Mechanism.AES_GCM, mechanism_param=params)
    back = generated.decrypt(ct, mechanism=Mechanism.AES_GCM, mechanism_param=params)
    bad = bytearray(ct); bad[0] ^= 1; bad = bytes(bad)
    tampered = raised(generated.decrypt, bad, mechanism=Mechanism.AES_GCM, mechanism_param=params)
    wrong_aad = raised(generated.decrypt, ct, mechanism=Mechanism.AES_GCM,
                       mechanism_param=GCMParams(IV, b"other", 128))
    known = s.create_object({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
                             Attribute.VALUE: KEY, Attribute.ENCRYPT: True, Attribute.DECRYPT: True,
                             Attribute.TOKEN: False, Attribute.LABEL: "py-gcm-known"})
    known_ct = known.encrypt(PLAIN, mechanism=Mechanism.AES_GCM, mechanism_param=params)
    emit(plain=PLAIN, ct=ct, back=back, tampered=tampered, wrong_aad=wrong_aad, known_ct=known_ct,
         extractable=generated[Attribute.EXTRACTABLE],
         value=raised(lambda: generated[Attribute.VALUE]))
""",
        env={"KEY": key.hex(), "IV": iv.hex(), "AAD": aad.hex()},
    )
    plain = result["plain"]
    assert result["back"] == plain
    assert len(result["ct"]) == len(plain) + 16
    assert result["tampered"] == "EncryptedDataInvalid"
    assert result["wrong_aad"] == "EncryptedDataInvalid"
    assert result["extractable"] is False
    assert result["value"] == "AttributeSensitive"
    assert result["known_ct"] == AESGCM(key).encrypt(iv, plain, aad)


def test_rsa_oaep_with_label(tok: Token) -> None:
    created = tok.python(
        r"""
OAEP = (Mechanism.SHA256, MGF.SHA256, b"interop label")
with token.open(rw=True, user_pin=PIN) as s:
    pub, priv = s.generate_keypair(KeyType.RSA, 2048, store=True, label="py-rsa-oaep")
    ct = pub.encrypt(b"token to token", mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=OAEP)
    emit(modulus=pub[Attribute.MODULUS], exponent=pub[Attribute.PUBLIC_EXPONENT],
         back=priv.decrypt(ct, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=OAEP),
         wrong_label=raised(priv.decrypt, ct, mechanism=Mechanism.RSA_PKCS_OAEP,
                            mechanism_param=(Mechanism.SHA256, MGF.SHA256, b"other label")))
"""
    )
    assert created["back"] == b"token to token"
    assert created["wrong_label"] == "EncryptedDataInvalid"
    public = rsa.RSAPublicNumbers(
        int.from_bytes(created["exponent"], "big"), int.from_bytes(created["modulus"], "big")
    ).public_key()
    secret = os.urandom(48)
    ciphertext = public.encrypt(
        secret,
        padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=b"interop label"
        ),
    )
    decrypted = tok.python(
        r"""
OAEP = (Mechanism.SHA256, MGF.SHA256, b"interop label")
with token.open(user_pin=PIN) as s:
    priv = s.get_key(object_class=ObjectClass.PRIVATE_KEY, label="py-rsa-oaep")
    emit(plain=priv.decrypt(bytes.fromhex(os.environ["CT"]), mechanism=Mechanism.RSA_PKCS_OAEP,
                            mechanism_param=OAEP))
""",
        env={"CT": ciphertext.hex()},
    )
    assert decrypted["plain"] == secret


def test_aes_cbc_pad_round_trip(tok: Token) -> None:
    key, iv = os.urandom(16), os.urandom(16)
    plain = os.urandom(1000) + b"tail"
    assert len(plain) % 16 == 12  # four pad bytes of 0x04 (the bad-padding case below)
    result = tok.python(
        r"""
KEY, IV, PLAIN = (bytes.fromhex(os.environ[n]) for n in ("KEY", "IV", "PLAIN"))
with token.open(rw=True, user_pin=PIN) as s:
    generated = s.generate_key(KeyType.AES, 128, label="py-cbc")
    ct = generated.encrypt(PLAIN, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=IV)
    back = generated.decrypt(ct, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=IV)
    chunks = [PLAIN[i:i + 100] for i in range(0, len(PLAIN), 100)]
    ct_multi = b"".join(generated.encrypt(iter(chunks), mechanism=Mechanism.AES_CBC_PAD, mechanism_param=IV))
    back_multi = b"".join(generated.decrypt(iter([ct[:33], ct[33:500], ct[500:]]),
                                            mechanism=Mechanism.AES_CBC_PAD, mechanism_param=IV))
    known = s.create_object({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
                             Attribute.VALUE: KEY, Attribute.ENCRYPT: True, Attribute.DECRYPT: True})
    emit(ct=ct, back=back, ct_multi=ct_multi, back_multi=back_multi,
         known_ct=known.encrypt(PLAIN, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=IV),
         # the last pad byte (4 of 0x04 here) flipped to 0x00 through the previous block:
         # never valid PKCS #7 (a random last block would be valid once in about 256 runs)
         bad_padding=raised(generated.decrypt, ct[:-17] + bytes([ct[-17] ^ 0x04]) + ct[-16:],
                            mechanism=Mechanism.AES_CBC_PAD, mechanism_param=IV))
""",
        env={"KEY": key.hex(), "IV": iv.hex(), "PLAIN": plain.hex()},
    )
    assert result["back"] == plain and result["back_multi"] == plain
    assert result["ct_multi"] == result["ct"]
    assert len(result["ct"]) == (len(plain) // 16 + 1) * 16
    padder = sym_padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    expected = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    assert result["known_ct"] == expected
    assert result["bad_padding"] == "EncryptedDataInvalid"  # CKR_ENCRYPTED_DATA_INVALID


# -- key wrapping --------------------------------------------------------------------------------

# RFC 3394 s4.1 and RFC 5649 s6 test vectors.
RFC3394_KEK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
RFC3394_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
RFC3394_WRAPPED = bytes.fromhex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5")
RFC5649_KEK = bytes.fromhex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
RFC5649_KEY20 = bytes.fromhex("c37b7e6492584340bed12207808941155068f738")
RFC5649_WRAPPED20 = bytes.fromhex(
    "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"
)
RFC5649_KEY7 = bytes.fromhex("466f7250617369")
RFC5649_WRAPPED7 = bytes.fromhex("afbeb0f07dfbf5419200f2ccb50bb24f")


def test_wrap_unwrap_aes_key_wrap_and_pad(tok: Token) -> None:
    assert aes_key_wrap(RFC3394_KEK, RFC3394_KEY) == RFC3394_WRAPPED  # the vectors are right
    assert aes_key_wrap_with_padding(RFC5649_KEK, RFC5649_KEY20) == RFC5649_WRAPPED20
    result = tok.python(
        r"""
def secret(value, key_type, extra=None):
    template = {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: key_type,
                Attribute.VALUE: value, Attribute.TOKEN: False, Attribute.EXTRACTABLE: True,
                Attribute.SENSITIVE: False}
    template.update(extra or {})
    return s.create_object(template)

WRAPPING = {Attribute.WRAP: True, Attribute.UNWRAP: True}

h = lambda name: bytes.fromhex(os.environ[name])
with token.open(rw=True, user_pin=PIN) as s:
    kek = secret(h("KEK"), KeyType.AES, WRAPPING)
    kek_pad = secret(h("KEK_PAD"), KeyType.AES, WRAPPING)
    target = secret(h("KEY"), KeyType.AES, {Attribute.ENCRYPT: True})
    target20 = secret(h("KEY20"), KeyType.GENERIC_SECRET)
    target7 = secret(h("KEY7"), KeyType.GENERIC_SECRET)
    wrapped = kek.wrap_key(target, mechanism=Mechanism.AES_KEY_WRAP)
    wrapped20 = kek_pad.wrap_key(target20, mechanism=Mechanism.AES_KEY_WRAP_PAD)
    wrapped7 = kek_pad.wrap_key(target7, mechanism=Mechanism.AES_KEY_WRAP_PAD)
    out = {Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True}
    unwrapped = kek.unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES, wrapped,
                               mechanism=Mechanism.AES_KEY_WRAP, template={**out, Attribute.ENCRYPT: True})
    unwrapped20 = kek_pad.unwrap_key(ObjectClass.SECRET_KEY, KeyType.GENERIC_SECRET, wrapped20,
                                     mechanism=Mechanism.AES_KEY_WRAP_PAD, template=out)
    unwrapped7 = kek_pad.unwrap_key(ObjectClass.SECRET_KEY, KeyType.GENERIC_SECRET, wrapped7,
                                    mechanism=Mechanism.AES_KEY_WRAP_PAD, template=out)
    bad = bytearray(wrapped); bad[3] ^= 1; bad = bytes(bad)
    iv = bytes(16)
    emit(wrapped=wrapped, wrapped20=wrapped20, wrapped7=wrapped7,
         unwrapped=unwrapped[Attribute.VALUE], unwrapped20=unwrapped20[Attribute.VALUE],
         unwrapped7=unwrapped7[Attribute.VALUE],
         same_cipher=unwrapped.encrypt(b"0123456789abcdef", mechanism=Mechanism.AES_ECB)
                     == target.encrypt(b"0123456789abcdef", mechanism=Mechanism.AES_ECB),
         tampered=raised(kek.unwrap_key, ObjectClass.SECRET_KEY, KeyType.AES, bad,
                         mechanism=Mechanism.AES_KEY_WRAP, template=out),
         unextractable=raised(kek.wrap_key, secret(os.urandom(16), KeyType.AES,
                                                    {Attribute.EXTRACTABLE: False}),
                              mechanism=Mechanism.AES_KEY_WRAP))
""",
        env={
            "KEK": RFC3394_KEK.hex(),
            "KEY": RFC3394_KEY.hex(),
            "KEK_PAD": RFC5649_KEK.hex(),
            "KEY20": RFC5649_KEY20.hex(),
            "KEY7": RFC5649_KEY7.hex(),
        },
    )
    assert result["wrapped"] == RFC3394_WRAPPED
    assert result["wrapped20"] == RFC5649_WRAPPED20
    assert result["wrapped7"] == RFC5649_WRAPPED7
    assert result["unwrapped"] == RFC3394_KEY
    assert result["unwrapped20"] == RFC5649_KEY20
    assert result["unwrapped7"] == RFC5649_KEY7
    assert result["same_cipher"] is True
    assert result["tampered"] == "WrappedKeyInvalid"  # CKR_WRAPPED_KEY_INVALID
    assert result["unextractable"] == "KeyUnextractable"


# -- key agreement -------------------------------------------------------------------------------


def test_ecdh_derive_both_sides_agree(tok: Token) -> None:
    peer = ec.generate_private_key(ec.SECP256R1())
    peer_point = peer.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    result = tok.python(
        r"""
from pkcs11.util.ec import encode_named_curve_parameters
PEER = bytes.fromhex(os.environ["PEER"])
OUT = {Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True}
with token.open(rw=True, user_pin=PIN) as s:
    params = s.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
    a_pub, a_priv = params.generate_keypair(label="py-ecdh-a")
    b_pub, b_priv = params.generate_keypair(label="py-ecdh-b")
    ab = a_priv.derive_key(KeyType.GENERIC_SECRET, 256, template=OUT,
                           mechanism_param=(KDF.NULL, None, b_pub[Attribute.EC_POINT]))
    ba = b_priv.derive_key(KeyType.GENERIC_SECRET, 256, template=OUT,
                           mechanism_param=(KDF.NULL, None, a_pub[Attribute.EC_POINT]))
    with_peer = a_priv.derive_key(KeyType.GENERIC_SECRET, 256, template=OUT,
                                  mechanism_param=(KDF.NULL, None, PEER))
    emit(ab=ab[Attribute.VALUE], ba=ba[Attribute.VALUE], with_peer=with_peer[Attribute.VALUE],
         a_point=a_pub[Attribute.EC_POINT], b_point=b_pub[Attribute.EC_POINT])
""",
        env={"PEER": peer_point.hex()},
    )
    assert len(result["ab"]) == 32
    assert result["ab"] == result["ba"]
    a_public = _ec_public_key(result["a_point"])
    assert result["with_peer"] == peer.exchange(ec.ECDH(), a_public)
    assert result["ab"] != result["with_peer"]


# -- digest and HMAC -----------------------------------------------------------------------------


def test_sha256_digest_known_answer(tok: Token) -> None:
    big = os.urandom(100_000)
    result = tok.python(
        r"""
BIG = bytes.fromhex(sys.stdin.read())
with token.open() as s:
    emit(abc=s.digest(b"abc", mechanism=Mechanism.SHA256),
         empty=s.digest(b"", mechanism=Mechanism.SHA256),
         big=s.digest(iter([BIG[:1], BIG[1:50000], BIG[50000:]]), mechanism=Mechanism.SHA256))
""",
        input=big.hex(),
    )
    assert result["abc"] == bytes.fromhex(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert result["empty"] == bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert result["big"] == hashlib.sha256(big).digest()


def test_hmac_sha256_with_generated_generic_secret(tok: Token) -> None:
    result = tok.python(
        r"""
with token.open(rw=True, user_pin=PIN) as s:
    key = s.generate_key(KeyType.GENERIC_SECRET, 256, label="py-hmac",
                         template={Attribute.SIGN: True, Attribute.VERIFY: True})
    mac = key.sign(b"data to authenticate", mechanism=Mechanism.SHA256_HMAC)
    bad = bytes([mac[0] ^ 1]) + mac[1:]
    # RFC 4231 test case 2, with the key imported.
    jefe = s.create_object({Attribute.CLASS: ObjectClass.SECRET_KEY,
                            Attribute.KEY_TYPE: KeyType.GENERIC_SECRET, Attribute.VALUE: b"Jefe",
                            Attribute.SIGN: True, Attribute.VERIFY: True})
    emit(mac=mac, again=key.sign(b"data to authenticate", mechanism=Mechanism.SHA256_HMAC),
         verified=key.verify(b"data to authenticate", mac, mechanism=Mechanism.SHA256_HMAC),
         tampered=raised(key._verify, b"data to authenticate", bad, mechanism=Mechanism.SHA256_HMAC),
         value_len=key[Attribute.VALUE_LEN],
         rfc4231=jefe.sign(b"what do ya want for nothing?", mechanism=Mechanism.SHA256_HMAC))
"""
    )
    assert len(result["mac"]) == 32 and result["mac"] == result["again"]
    assert result["verified"] is True
    assert result["tampered"] == "SignatureInvalid"
    assert result["value_len"] == 32
    assert result["rfc4231"] == bytes.fromhex(
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


# -- finding objects -----------------------------------------------------------------------------


def test_get_objects_by_label_and_id(tok: Token) -> None:
    result = tok.python(
        r"""
with token.open(rw=True, user_pin=PIN) as s:
    for n in range(3):
        s.create_object({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.GENERIC_SECRET,
                         Attribute.VALUE: bytes([n]) * 16, Attribute.LABEL: "py-find",
                         Attribute.ID: bytes([0xf0 + n]), Attribute.TOKEN: n != 1})
    s.create_object({Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: "py-find",
                     Attribute.VALUE: b"data", Attribute.APPLICATION: "interop", Attribute.TOKEN: True})
    by_label = sorted((o[Attribute.CLASS], o[Attribute.LABEL]) for o in s.get_objects({Attribute.LABEL: "py-find"}))
    by_id = [o[Attribute.ID] for o in s.get_objects({Attribute.ID: bytes([0xf1])})]
    both = [o[Attribute.ID] for o in s.get_objects({Attribute.LABEL: "py-find",
                                                      Attribute.CLASS: ObjectClass.SECRET_KEY,
                                                      Attribute.ID: bytes([0xf2])})]
    none = list(s.get_objects({Attribute.LABEL: "py-find", Attribute.ID: bytes([0xee])}))
    emit(by_label=by_label, by_id=by_id, both=both, none=len(none))
"""
    )
    assert result["by_label"] == [[0, "py-find"], [4, "py-find"], [4, "py-find"], [4, "py-find"]]
    assert result["by_id"] == [bytes([0xF1])]
    assert result["both"] == [bytes([0xF2])]
    assert result["none"] == 0


def test_get_objects_with_1000_objects(fresh_token: Token) -> None:
    init_with_cli(fresh_token)
    created = fresh_token.python(
        r"""
with token.open(rw=True, user_pin=PIN) as s:
    for i in range(1000):
        s.create_object({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.GENERIC_SECRET,
                         Attribute.VALUE: i.to_bytes(16, "big"), Attribute.LABEL: f"bulk-{i % 10}",
                         Attribute.ID: i.to_bytes(2, "big"), Attribute.PRIVATE: i % 2 == 0,
                         Attribute.TOKEN: True})
emit(done=True)
"""
    )
    assert created["done"] is True
    # A later process (the store is reopened) queries: exact sets, with and without a login.
    result = fresh_token.python(
        r"""
def ids(s, template):
    return sorted(int.from_bytes(o[Attribute.ID], "big") for o in s.get_objects(template))

with token.open() as public:
    public_all = ids(public, {Attribute.CLASS: ObjectClass.SECRET_KEY})
    public_3 = ids(public, {Attribute.LABEL: "bulk-3"})
    public_4 = ids(public, {Attribute.LABEL: "bulk-4"})
with token.open(user_pin=PIN) as s:
    everything = ids(s, {})
    label_4 = ids(s, {Attribute.LABEL: "bulk-4"})
    label_7 = ids(s, {Attribute.LABEL: "bulk-7", Attribute.CLASS: ObjectClass.SECRET_KEY})
    id_500 = [(o[Attribute.LABEL], o[Attribute.PRIVATE]) for o in s.get_objects({Attribute.ID: (500).to_bytes(2, "big")})]
    id_label = ids(s, {Attribute.ID: (123).to_bytes(2, "big"), Attribute.LABEL: "bulk-3"})
    id_wrong_label = ids(s, {Attribute.ID: (123).to_bytes(2, "big"), Attribute.LABEL: "bulk-4"})
    missing = ids(s, {Attribute.LABEL: "bulk-10"})
emit(public_all=public_all, public_3=public_3, public_4=public_4, everything=everything,
     label_4=label_4, label_7=label_7, id_500=id_500, id_label=id_label,
     id_wrong_label=id_wrong_label, missing=missing)
"""
    )
    assert result["public_all"] == list(range(1, 1000, 2))
    assert result["public_3"] == list(range(3, 1000, 10))
    assert result["public_4"] == []  # private objects are invisible without a login
    assert result["everything"] == list(range(1000))
    assert result["label_4"] == list(range(4, 1000, 10))
    assert result["label_7"] == list(range(7, 1000, 10))
    assert result["id_500"] == [["bulk-0", True]]
    assert result["id_label"] == [123]
    assert result["id_wrong_label"] == []
    assert result["missing"] == []
