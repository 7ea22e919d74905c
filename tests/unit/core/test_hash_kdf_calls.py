"""The core around the SHA-3 / HKDF / PBKDF2 mechanisms (PKCS #11 v3.0): C_DigestKey with
SHA-3, HMAC keys of the new types, C_DeriveKey with CKM_HKDF_DERIVE (a salt key of the
session, the derived key's CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE following the base,
3.2 s6.62.3; a data object as the base), CKM_HKDF_DATA making a CKO_DATA object (s6.62.4),
and C_GenerateKey with
CKM_PKCS5_PBKD2 making a key of the template's type (s6.37.4)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tokenport.ck import CKA, CKF, CKK, CKM, CKO, CKP, CKZ
from tokenport.core.module import Module
from tokenport.errors import (
    KeyHandleInvalid,
    KeySizeRange,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    TemplateIncomplete,
    TemplateInconsistent,
)
from tokenport.mechanisms.params import Ecdh1DeriveParams, HkdfParams, Mechanism, Pbkdf2Params

IKM = bytes.fromhex("0b" * 22)
SALT = bytes.fromhex("000102030405060708090a0b0c")
INFO = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
OKM = bytes.fromhex(
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
)  # RFC 5869 A.1


def _secret(module: Module, session: int, value: bytes, key_type: int = CKK.GENERIC_SECRET,
            **flags: bool) -> int:
    template: list[tuple[int, object]] = [
        (CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(key_type)), (CKA.VALUE, value),
        (CKA.DERIVE, True), (CKA.SIGN, True), (CKA.VERIFY, True),
    ]
    template += [(getattr(CKA, name.upper()), flag) for name, flag in flags.items()]
    return module.create_object(session, template)  # type: ignore[arg-type]


def _get(module: Module, session: int, handle: int, attr: int) -> object:
    (result,) = module.get_attribute_value(session, handle, [attr])
    return result.value


def _hkdf(salt_type: int = CKF.HKDF_SALT_DATA, **changes: object) -> Mechanism:
    param = HkdfParams(True, True, CKM.SHA256, salt_type, salt=SALT, info=INFO)
    return Mechanism(CKM.HKDF_DERIVE, HkdfParams(**{**param.__dict__, **changes}))  # type: ignore[arg-type]


def test_digest_key_with_sha3(module: Module, user: int) -> None:
    key = _secret(module, user, b"k" * 32)
    module.digest_init(user, Mechanism(CKM.SHA3_256))
    module.digest_update(user, b"prefix")
    module.digest_key(user, key)
    assert module.digest_final(user) == hashlib.sha3_256(b"prefix" + b"k" * 32).digest()


def test_sha3_hmac_key_type(module: Module, user: int) -> None:
    key = _secret(module, user, b"hmac key", CKK.SHA3_384_HMAC)
    module.sign_init(user, Mechanism(CKM.SHA3_384_HMAC), key)
    assert module.sign(user, b"m") == hmac.new(b"hmac key", b"m", "sha3_384").digest()
    with pytest.raises(KeyTypeInconsistent):
        module.sign_init(user, Mechanism(CKM.SHA3_256_HMAC), key)
    generated = module.generate_key(user, Mechanism(CKM.SHA3_256_KEY_GEN), [(CKA.VALUE_LEN, 32)])
    assert _get(module, user, generated, CKA.KEY_TYPE) == CKK.SHA3_256_HMAC
    assert _get(module, user, generated, CKA.KEY_GEN_MECHANISM) == CKM.SHA3_256_KEY_GEN
    generic = module.generate_key(
        user, Mechanism(CKM.GENERIC_SECRET_KEY_GEN),
        [(CKA.VALUE_LEN, 16), (CKA.KEY_TYPE, int(CKK.SHA512_256_HMAC))],
    )
    assert _get(module, user, generic, CKA.KEY_TYPE) == CKK.SHA512_256_HMAC


def test_hkdf_derive_rfc5869_and_protection(module: Module, user: int) -> None:
    base = _secret(module, user, IKM, CKK.HKDF)  # created: never ALWAYS_SENSITIVE
    derived = module.derive_key(user, _hkdf(), base, [
        (CKA.VALUE_LEN, 42), (CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True),
    ])
    assert _get(module, user, derived, CKA.VALUE) == OKM
    assert _get(module, user, derived, CKA.CLASS) == CKO.SECRET_KEY
    assert _get(module, user, derived, CKA.KEY_TYPE) == CKK.GENERIC_SECRET
    assert _get(module, user, derived, CKA.LOCAL) is False
    assert _get(module, user, derived, CKA.ALWAYS_SENSITIVE) is False
    assert _get(module, user, derived, CKA.NEVER_EXTRACTABLE) is False
    # a generated base key: ALWAYS_SENSITIVE / NEVER_EXTRACTABLE carry over when kept
    strong = module.generate_key(user, Mechanism(CKM.HKDF_KEY_GEN),
                                 [(CKA.VALUE_LEN, 32), (CKA.DERIVE, True)])
    assert _get(module, user, strong, CKA.KEY_TYPE) == CKK.HKDF
    kept = module.derive_key(user, _hkdf(), strong, [
        (CKA.KEY_TYPE, int(CKK.AES)), (CKA.VALUE_LEN, 32),
    ])
    assert _get(module, user, kept, CKA.ALWAYS_SENSITIVE) is True
    assert _get(module, user, kept, CKA.NEVER_EXTRACTABLE) is True
    assert _get(module, user, kept, CKA.VALUE_LEN) == 32
    weakened = module.derive_key(user, _hkdf(), strong, [
        (CKA.VALUE_LEN, 16), (CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True),
    ])
    assert _get(module, user, weakened, CKA.ALWAYS_SENSITIVE) is False
    assert _get(module, user, weakened, CKA.NEVER_EXTRACTABLE) is False


def test_hkdf_salt_key_is_found_in_the_session(module: Module, user: int) -> None:
    base = _secret(module, user, IKM)
    salt_key = _secret(module, user, SALT)
    derived = module.derive_key(
        user, _hkdf(CKF.HKDF_SALT_KEY, salt=b"", salt_key=salt_key), base,
        [(CKA.VALUE_LEN, 42), (CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True)],
    )
    assert _get(module, user, derived, CKA.VALUE) == OKM
    with pytest.raises(KeyHandleInvalid):
        module.derive_key(user, _hkdf(CKF.HKDF_SALT_KEY, salt=b"", salt_key=0xDEAD), base,
                          [(CKA.VALUE_LEN, 42)])
    aes = _secret(module, user, b"\x00" * 16, CKK.AES)
    with pytest.raises(KeyTypeInconsistent):
        module.derive_key(user, _hkdf(CKF.HKDF_SALT_KEY, salt=b"", salt_key=aes), base,
                          [(CKA.VALUE_LEN, 42)])


def test_hkdf_data_makes_a_data_object(module: Module, user: int) -> None:
    base = _secret(module, user, IKM)
    mechanism = Mechanism(CKM.HKDF_DATA, _hkdf().param)
    handle = module.derive_key(user, mechanism, base, [(CKA.VALUE_LEN, 42), (CKA.LABEL, b"d")])
    assert _get(module, user, handle, CKA.CLASS) == CKO.DATA
    assert _get(module, user, handle, CKA.VALUE) == OKM
    assert _get(module, user, handle, CKA.LABEL) == b"d"
    default = module.derive_key(user, mechanism, base, [])
    assert len(_get(module, user, default, CKA.VALUE)) == 32  # type: ignore[arg-type]
    # a data object is public by default, but not one derived from a private key
    assert _get(module, user, base, CKA.PRIVATE) is True
    assert _get(module, user, handle, CKA.PRIVATE) is True
    public = module.derive_key(user, mechanism, base, [(CKA.PRIVATE, False)])
    assert _get(module, user, public, CKA.PRIVATE) is False
    plain = module.create_object(user, [(CKA.CLASS, int(CKO.DATA)), (CKA.VALUE, b"x")])
    assert _get(module, user, plain, CKA.PRIVATE) is False
    with pytest.raises(TemplateInconsistent):
        module.derive_key(user, mechanism, base, [(CKA.CLASS, int(CKO.SECRET_KEY))])


def test_pbkd2_generates_a_key_of_the_template_type(module: Module, user: int) -> None:
    param = Pbkdf2Params(CKZ.SALT_SPECIFIED, b"salt", 2, CKP.PKCS5_PBKD2_HMAC_SHA1, b"password")
    mechanism = Mechanism(CKM.PKCS5_PBKD2, param)
    key = module.generate_key(user, mechanism, [
        (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)), (CKA.VALUE_LEN, 20), (CKA.SENSITIVE, False),
        (CKA.EXTRACTABLE, True),
    ])
    assert _get(module, user, key, CKA.VALUE) == bytes.fromhex(
        "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"
    )  # RFC 6070 case 2
    assert _get(module, user, key, CKA.KEY_GEN_MECHANISM) == CKM.PKCS5_PBKD2
    aes = module.generate_key(user, mechanism, [(CKA.KEY_TYPE, int(CKK.AES)), (CKA.VALUE_LEN, 16)])
    assert _get(module, user, aes, CKA.KEY_TYPE) == CKK.AES
    module.encrypt_init(user, Mechanism(CKM.AES_ECB), aes)
    assert len(module.encrypt(user, bytes(16))) == 16
    with pytest.raises(TemplateIncomplete):
        module.generate_key(user, mechanism, [(CKA.VALUE_LEN, 16)])


def test_hkdf_takes_a_data_object_as_input_keying_material(module: Module, user: int) -> None:
    """3.2 s6.62.3: a data object of the digest length, extracted with a salt."""
    ikm = bytes(range(32))
    data = module.create_object(user, [(CKA.CLASS, int(CKO.DATA)), (CKA.VALUE, ikm),
                                       (CKA.PRIVATE, True)])
    derived = module.derive_key(user, _hkdf(), data, [
        (CKA.VALUE_LEN, 42), (CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True),
    ])
    prk = hmac.new(SALT, ikm, "sha256").digest()
    okm = hmac.new(prk, INFO + b"\x01", "sha256").digest()
    okm += hmac.new(prk, okm + INFO + b"\x02", "sha256").digest()
    assert _get(module, user, derived, CKA.VALUE) == okm[:42]
    kept = module.derive_key(user, _hkdf(), data, [(CKA.VALUE_LEN, 16)])
    assert _get(module, user, kept, CKA.ALWAYS_SENSITIVE) is False  # the base was never secret
    with pytest.raises(MechanismParamInvalid):  # no salt
        module.derive_key(user, _hkdf(CKF.HKDF_SALT_NULL, salt=b""), data, [])
    short = module.create_object(user, [(CKA.CLASS, int(CKO.DATA)), (CKA.VALUE, b"short")])
    with pytest.raises(KeySizeRange):
        module.derive_key(user, _hkdf(), short, [])
    with pytest.raises(KeyTypeInconsistent):  # other derivations take keys only
        module.derive_key(user, Mechanism(CKM.ECDH1_DERIVE, Ecdh1DeriveParams(1, b"", b"\x04")),
                          data, [])
    aes = _secret(module, user, b"\x00" * 16, CKK.AES)
    with pytest.raises(KeyTypeInconsistent):
        module.derive_key(user, _hkdf(), aes, [])
