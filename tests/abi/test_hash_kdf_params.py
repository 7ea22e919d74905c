"""SHA-3 digests, general-length HMACs, HKDF and PBKDF2 through the compiled module
(ctypes): CK_MAC_GENERAL_PARAMS, CK_HKDF_PARAMS and both PBKD2 parameter layouts
(CK_PKCS5_PBKD2_PARAMS2 of PKCS #11 v3.0 and the v2.40 CK_PKCS5_PBKD2_PARAMS whose
ulPasswordLen is a pointer) decoded with full pointer and length checks; malformed ones give
CKR_MECHANISM_PARAM_INVALID. C_GetMechanismInfo gives the ranges in bytes."""

from __future__ import annotations

import ctypes
import hashlib
import hmac

import pytest

from tokenport.ck import CKA, CKF, CKK, CKM, CKO, CKP, CKR, CKZ

from .helpers import first_slot
from .p11ctypes import CK_BBOOL, CK_MECHANISM_INFO, CK_ULONG, P11, template, ulong_bytes
from .test_calls_crypto import mechanism

INVALID = int(CKR.MECHANISM_PARAM_INVALID)
TRUE = b"\x01"
FALSE = b"\x00"
IKM = bytes.fromhex("0b" * 22)
SALT = bytes.fromhex("000102030405060708090a0b0c")
INFO = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
OKM = bytes.fromhex(
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
)  # RFC 5869 A.1
PRK = bytes.fromhex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")


class CK_HKDF_PARAMS(ctypes.Structure):
    _fields_ = [
        ("bExtract", CK_BBOOL),
        ("bExpand", CK_BBOOL),
        ("prfHashMechanism", CK_ULONG),
        ("ulSaltType", CK_ULONG),
        ("pSalt", ctypes.c_void_p),
        ("ulSaltLen", CK_ULONG),
        ("hSaltKey", CK_ULONG),
        ("pInfo", ctypes.c_void_p),
        ("ulInfoLen", CK_ULONG),
    ]


_PBKD2_HEAD = [
    ("saltSource", CK_ULONG),
    ("pSaltSourceData", ctypes.c_void_p),
    ("ulSaltSourceDataLen", CK_ULONG),
    ("iterations", CK_ULONG),
    ("prf", CK_ULONG),
    ("pPrfData", ctypes.c_void_p),
    ("ulPrfDataLen", CK_ULONG),
    ("pPassword", ctypes.c_void_p),
]


class CK_PKCS5_PBKD2_PARAMS2(ctypes.Structure):
    _fields_ = [*_PBKD2_HEAD, ("ulPasswordLen", CK_ULONG)]


class CK_PKCS5_PBKD2_PARAMS(ctypes.Structure):  # v2.40: the length behind a pointer
    _fields_ = [*_PBKD2_HEAD, ("ulPasswordLen", ctypes.c_void_p)]


def _buffer(data: bytes) -> tuple[int | None, object]:
    if not data:
        return None, None
    buf = ctypes.create_string_buffer(data, len(data))
    return ctypes.cast(buf, ctypes.c_void_p).value, buf


class Keep:
    """Buffers a parameter structure points into, kept alive for the call."""

    def __init__(self) -> None:
        self.items: list[object] = []

    def ptr(self, data: bytes) -> int | None:
        address, buf = _buffer(data)
        self.items.append(buf)
        return address


def _secret(lib: P11, session: int, value: bytes, key_type: int = CKK.GENERIC_SECRET) -> int:
    key = CK_ULONG()
    attrs = template(
        (int(CKA.CLASS), ulong_bytes(int(CKO.SECRET_KEY)), None),
        (int(CKA.KEY_TYPE), ulong_bytes(int(key_type)), None),
        (int(CKA.VALUE), value, None),
        (int(CKA.DERIVE), TRUE, None),
        (int(CKA.SIGN), TRUE, None),
        (int(CKA.VERIFY), TRUE, None),
    )
    assert lib.C_CreateObject(session, attrs, 6, ctypes.byref(key)) == 0
    return int(key.value)


def _value(lib: P11, session: int, handle: int, attr: int = CKA.VALUE) -> bytes:
    query = template((int(attr), None, 0))
    assert lib.C_GetAttributeValue(session, handle, query, 1) == 0
    buf = ctypes.create_string_buffer(query[0].ulValueLen)
    out = template((int(attr), bytes(buf), None))
    assert lib.C_GetAttributeValue(session, handle, out, 1) == 0
    return ctypes.string_at(out[0].pValue, out[0].ulValueLen)


def _derive(lib: P11, session: int, mech: object, base: int,
            attrs: list[tuple[int, bytes]]) -> tuple[int, int]:
    key = CK_ULONG()
    t = template(*[(int(a), v, None) for a, v in attrs])
    rv = lib.C_DeriveKey(session, ctypes.byref(mech), base, t, len(attrs),  # type: ignore[arg-type]
                         ctypes.byref(key))
    return rv, int(key.value)


EXTRACTABLE = [(CKA.SENSITIVE, FALSE), (CKA.EXTRACTABLE, TRUE)]


def _hkdf(keep: Keep, *, salt_type: int = CKF.HKDF_SALT_DATA, salt: bytes = SALT,
          info: bytes = INFO, extract: bool = True, expand: bool = True,
          salt_key: int = 0, prf: int = CKM.SHA256) -> CK_HKDF_PARAMS:
    return CK_HKDF_PARAMS(int(extract), int(expand), prf, salt_type, keep.ptr(salt), len(salt),
                          salt_key, keep.ptr(info), len(info))


def test_sha3_digest(session: int, lib: P11) -> None:
    for mech_type, name in ((CKM.SHA3_256, "sha3_256"), (CKM.SHA512_224, "sha512_224")):
        assert lib.C_DigestInit(session, ctypes.byref(mechanism(int(mech_type)))) == 0
        out, length = ctypes.create_string_buffer(64), CK_ULONG(64)
        assert lib.C_Digest(session, b"abc", 3, out, ctypes.byref(length)) == 0
        assert out.raw[: length.value] == hashlib.new(name, b"abc").digest()


def test_general_length_hmac(session: int, lib: P11) -> None:
    key = _secret(lib, session, b"mac key", CKK.SHA3_256_HMAC)
    full = hmac.new(b"mac key", b"data", "sha3_256").digest()
    mech = mechanism(int(CKM.SHA3_256_HMAC_GENERAL), ulong_bytes(10))
    assert lib.C_SignInit(session, ctypes.byref(mech), key) == 0
    out, length = ctypes.create_string_buffer(64), CK_ULONG(64)
    assert lib.C_Sign(session, b"data", 4, out, ctypes.byref(length)) == 0
    assert out.raw[: length.value] == full[:10]
    assert lib.C_VerifyInit(session, ctypes.byref(mech), key) == 0
    assert lib.C_Verify(session, b"data", 4, full[:10], 10) == 0
    for bad in (mechanism(int(CKM.SHA3_256_HMAC_GENERAL), ulong_bytes(33)),
                mechanism(int(CKM.SHA3_256_HMAC_GENERAL), ulong_bytes(10), length=4),
                mechanism(int(CKM.SHA3_256_HMAC_GENERAL))):
        assert lib.C_SignInit(session, ctypes.byref(bad), key) == INVALID


def test_hkdf_derive_and_data(session: int, lib: P11) -> None:
    keep = Keep()
    base = _secret(lib, session, IKM)
    mech = mechanism(int(CKM.HKDF_DERIVE), bytes(_hkdf(keep)))
    rv, key = _derive(lib, session, mech, base, [(CKA.VALUE_LEN, ulong_bytes(42)), *EXTRACTABLE])
    assert rv == 0, hex(rv)
    assert _value(lib, session, key) == OKM
    mech = mechanism(int(CKM.HKDF_DERIVE), bytes(_hkdf(keep, expand=False, info=b"\x00")))
    rv, key = _derive(lib, session, mech, base, EXTRACTABLE)
    assert rv == 0 and _value(lib, session, key) == PRK
    data_mech = mechanism(int(CKM.HKDF_DATA), bytes(_hkdf(keep)))
    rv, data = _derive(lib, session, data_mech, base, [(CKA.VALUE_LEN, ulong_bytes(42))])
    assert rv == 0, hex(rv)
    assert _value(lib, session, data, CKA.CLASS) == ulong_bytes(int(CKO.DATA))
    assert _value(lib, session, data) == OKM


def test_hkdf_salt_key(session: int, lib: P11) -> None:
    keep = Keep()
    base = _secret(lib, session, IKM)
    salt_key = _secret(lib, session, SALT)
    param = _hkdf(keep, salt_type=CKF.HKDF_SALT_KEY, salt=b"", salt_key=salt_key)
    rv, key = _derive(lib, session, mechanism(int(CKM.HKDF_DERIVE), bytes(param)), base,
                      [(CKA.VALUE_LEN, ulong_bytes(42)), *EXTRACTABLE])
    assert rv == 0 and _value(lib, session, key) == OKM
    # pSalt is not read with CKF_HKDF_SALT_KEY: garbage there is harmless
    garbage = _hkdf(keep, salt_type=CKF.HKDF_SALT_KEY, salt=b"", salt_key=salt_key)
    garbage.pSalt, garbage.ulSaltLen = 0x10, (1 << 40)
    rv, key = _derive(lib, session, mechanism(int(CKM.HKDF_DERIVE), bytes(garbage)), base,
                      [(CKA.VALUE_LEN, ulong_bytes(42)), *EXTRACTABLE])
    assert rv == 0 and _value(lib, session, key) == OKM
    param = _hkdf(keep, salt_type=CKF.HKDF_SALT_KEY, salt=b"", salt_key=0x7FFF_FFFF)
    rv, _ = _derive(lib, session, mechanism(int(CKM.HKDF_DERIVE), bytes(param)), base, [])
    assert rv == CKR.KEY_HANDLE_INVALID


def test_hkdf_malformed_parameters(session: int, lib: P11) -> None:
    keep = Keep()
    base = _secret(lib, session, IKM)
    good = bytes(_hkdf(keep))
    null_salt = _hkdf(keep)
    null_salt.pSalt = None  # NULL with a length
    null_info = _hkdf(keep)
    null_info.pInfo = None
    cases = [
        mechanism(int(CKM.HKDF_DERIVE)),  # no parameter
        mechanism(int(CKM.HKDF_DERIVE), good, length=len(good) - 8),  # wrong ulParameterLen
        mechanism(int(CKM.HKDF_DERIVE), bytes(null_salt)),
        mechanism(int(CKM.HKDF_DERIVE), bytes(null_info)),
        mechanism(int(CKM.HKDF_DERIVE), bytes(_hkdf(keep, salt_type=CKF.HKDF_SALT_NULL))),
        mechanism(int(CKM.HKDF_DERIVE), bytes(_hkdf(keep, extract=False, expand=False))),
        mechanism(int(CKM.HKDF_DERIVE), bytes(_hkdf(keep, prf=CKM.AES_ECB))),
    ]
    for mech in cases:
        rv, _ = _derive(lib, session, mech, base, [])
        assert rv == INVALID, hex(rv)
    # the salt is ignored without extract, the info without expand (NULL with a length: fine)
    expand_only = _hkdf(keep, extract=False)
    expand_only.pSalt = None
    rv, _ = _derive(lib, session, mechanism(int(CKM.HKDF_DERIVE), bytes(expand_only)), base, [])
    assert rv == 0
    extract_only = _hkdf(keep, expand=False)
    extract_only.pInfo = None
    rv, _ = _derive(lib, session, mechanism(int(CKM.HKDF_DERIVE), bytes(extract_only)), base, [])
    assert rv == 0


def _pbkd2(keep: Keep, layout: str, password: bytes = b"password", iterations: int = 2,
           prf: int = CKP.PKCS5_PBKD2_HMAC_SHA1) -> ctypes.Structure:
    head = (CKZ.SALT_SPECIFIED, keep.ptr(b"salt"), 4, iterations, prf, None, 0,
            keep.ptr(password))
    if layout == "params2":
        return CK_PKCS5_PBKD2_PARAMS2(*head, len(password))
    length = CK_ULONG(len(password))
    keep.items.append(length)
    return CK_PKCS5_PBKD2_PARAMS(*head, ctypes.cast(ctypes.byref(length), ctypes.c_void_p))


def _generate(lib: P11, session: int, mech: object, attrs: list[tuple[int, bytes]]) -> tuple[int, int]:
    key = CK_ULONG()
    t = template(*[(int(a), v, None) for a, v in attrs])
    rv = lib.C_GenerateKey(session, ctypes.byref(mech), t, len(attrs),  # type: ignore[arg-type]
                           ctypes.byref(key))
    return rv, int(key.value)


GENERIC_20 = [(CKA.KEY_TYPE, ulong_bytes(int(CKK.GENERIC_SECRET))), (CKA.VALUE_LEN, ulong_bytes(20)),
              *EXTRACTABLE]


@pytest.mark.parametrize("layout", ["params2", "v240-params"])
def test_pbkd2_both_layouts(session: int, lib: P11, layout: str) -> None:
    keep = Keep()
    mech = mechanism(int(CKM.PKCS5_PBKD2), bytes(_pbkd2(keep, layout)))
    rv, key = _generate(lib, session, mech, GENERIC_20)
    assert rv == 0, hex(rv)
    assert _value(lib, session, key).hex() == "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"  # RFC 6070
    empty = mechanism(int(CKM.PKCS5_PBKD2), bytes(_pbkd2(keep, layout, password=b"")))
    rv, key = _generate(lib, session, empty, GENERIC_20)
    assert rv == 0 and _value(lib, session, key) == hashlib.pbkdf2_hmac("sha1", b"", b"salt", 2, 20)


def test_pbkd2_malformed_parameters(session: int, lib: P11) -> None:
    keep = Keep()
    good = _pbkd2(keep, "params2")
    null_password = _pbkd2(keep, "params2")
    null_password.pPassword = None
    null_salt = _pbkd2(keep, "params2")
    null_salt.pSaltSourceData = None
    absurd = CK_ULONG(1 << 20)  # v2.40 layout: the length behind the pointer is absurd
    absurd_length = _pbkd2(keep, "v240-params")
    absurd_length.ulPasswordLen = ctypes.cast(ctypes.byref(absurd), ctypes.c_void_p)
    cases = [
        mechanism(int(CKM.PKCS5_PBKD2)),
        mechanism(int(CKM.PKCS5_PBKD2), bytes(good), length=ctypes.sizeof(good) - 8),
        mechanism(int(CKM.PKCS5_PBKD2), bytes(null_password)),
        mechanism(int(CKM.PKCS5_PBKD2), bytes(null_salt)),
        mechanism(int(CKM.PKCS5_PBKD2), bytes(absurd_length)),
        mechanism(int(CKM.PKCS5_PBKD2), bytes(_pbkd2(keep, "params2", iterations=0))),
        mechanism(int(CKM.PKCS5_PBKD2), bytes(_pbkd2(keep, "params2", prf=0x2))),  # GOST
    ]
    for mech in cases:
        rv, _ = _generate(lib, session, mech, GENERIC_20)
        assert rv == INVALID, hex(rv)
    rv, _ = _generate(lib, session, mechanism(int(CKM.PKCS5_PBKD2), bytes(good)),
                      [(CKA.VALUE_LEN, ulong_bytes(20))])  # no CKA_KEY_TYPE
    assert rv == CKR.TEMPLATE_INCOMPLETE
    # A NULL ulPasswordLen pointer (v2.40 layout) reads as PARAMS2's length 0 on LP64, where
    # the layouts have the same size: an empty password, not an error.
    null_pointer = _pbkd2(keep, "v240-params", password=b"")
    null_pointer.ulPasswordLen = None
    rv, key = _generate(lib, session, mechanism(int(CKM.PKCS5_PBKD2), bytes(null_pointer)),
                        GENERIC_20)
    assert rv == 0 and _value(lib, session, key) == hashlib.pbkdf2_hmac("sha1", b"", b"salt", 2, 20)


def test_mechanism_info(lib: P11) -> None:
    slot = first_slot(lib)
    # every signing mechanism also signs message by message (v3.0 CKF_MESSAGE_SIGN/VERIFY)
    signs = CKF.SIGN | CKF.VERIFY | CKF.MESSAGE_SIGN | CKF.MESSAGE_VERIFY
    expected = {
        CKM.SHA3_256: (0, 0, CKF.DIGEST),
        CKM.SHA3_512_HMAC: (1, 512, signs),
        CKM.SHA512_256_HMAC_GENERAL: (1, 512, signs),
        CKM.SHA3_256_KEY_GEN: (1, 512, CKF.GENERATE),
        CKM.SHA3_256_RSA_PKCS_PSS: (1024, 16384, signs),
        CKM.HKDF_DERIVE: (1, 512, CKF.DERIVE),
        CKM.HKDF_DATA: (1, 512, CKF.DERIVE),
        CKM.HKDF_KEY_GEN: (1, 512, CKF.GENERATE),
        CKM.PKCS5_PBKD2: (1, 512, CKF.GENERATE),
    }
    for mech_type, (low, high, flags) in expected.items():
        info = CK_MECHANISM_INFO()
        assert lib.C_GetMechanismInfo(slot, int(mech_type), ctypes.byref(info)) == 0
        assert (info.ulMinKeySize, info.ulMaxKeySize, info.flags) == (low, high, int(flags))
    info = CK_MECHANISM_INFO()
    assert lib.C_GetMechanismInfo(slot, int(CKM.ECDSA_SHA3_256), ctypes.byref(info)) == 0
    assert info.flags & (CKF.SIGN | CKF.VERIFY) == CKF.SIGN | CKF.VERIFY


def test_hkdf_from_a_data_object(session: int, lib: P11) -> None:
    """A CKO_DATA object of the digest length as input keying material (3.2 s6.62.3)."""
    keep = Keep()
    ikm = bytes(range(32))
    data = CK_ULONG()
    attrs = template((int(CKA.CLASS), ulong_bytes(int(CKO.DATA)), None),
                     (int(CKA.VALUE), ikm, None))
    assert lib.C_CreateObject(session, attrs, 2, ctypes.byref(data)) == 0
    rv, key = _derive(lib, session, mechanism(int(CKM.HKDF_DERIVE), bytes(_hkdf(keep))),
                      int(data.value), [(CKA.VALUE_LEN, ulong_bytes(32)), *EXTRACTABLE])
    assert rv == 0, hex(rv)
    prk = hmac.new(SALT, ikm, "sha256").digest()
    assert _value(lib, session, key) == hmac.new(prk, INFO + b"\x01", "sha256").digest()
    no_salt = _hkdf(keep, salt_type=CKF.HKDF_SALT_NULL, salt=b"")
    rv, _ = _derive(lib, session, mechanism(int(CKM.HKDF_DERIVE), bytes(no_salt)),
                    int(data.value), [])
    assert rv == INVALID
