"""DES, AES-MAC and derivation by encryption through the compiled module (C structures of
PKCS #11 v2.40 Current Mechanisms s2.10, s2.17-2.19, the miscellaneous simple key derivations,
Historical Mechanisms' DES): parameter structures read
with their length checks, results checked against pyca/cryptography, C_GetMechanismInfo."""

from __future__ import annotations

import ctypes
from typing import Any

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tokenport.ck import CKA, CKF, CKK, CKM, CKO, CKR

from .p11ctypes import CK_MECHANISM, CK_MECHANISM_INFO, CK_ULONG, P11, template, ulong_bytes
from .test_calls_crypto import mechanism

MESSAGE_SIGNS = CKF.MESSAGE_SIGN | CKF.MESSAGE_VERIFY  # v3.0: every signing mechanism

TRUE, FALSE = b"\x01", b"\x00"
INVALID = int(CKR.MECHANISM_PARAM_INVALID)
DES3 = bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123")
AES = bytes(range(16))


class CK_KEY_DERIVATION_STRING_DATA(ctypes.Structure):
    _fields_ = [("pData", ctypes.c_void_p), ("ulLen", CK_ULONG)]


class CK_DES_CBC_ENCRYPT_DATA_PARAMS(ctypes.Structure):
    _fields_ = [("iv", ctypes.c_ubyte * 8), ("pData", ctypes.c_void_p), ("length", CK_ULONG)]


class CK_AES_CBC_ENCRYPT_DATA_PARAMS(ctypes.Structure):
    _fields_ = [("iv", ctypes.c_ubyte * 16), ("pData", ctypes.c_void_p), ("length", CK_ULONG)]


KEEP: list[object] = []


def _buffer(data: bytes) -> int | None:
    buffer = ctypes.create_string_buffer(data, max(len(data), 1))
    KEEP.append(buffer)
    return ctypes.cast(buffer, ctypes.c_void_p).value


def _string_data(data: bytes) -> CK_KEY_DERIVATION_STRING_DATA:
    return CK_KEY_DERIVATION_STRING_DATA(_buffer(data), len(data))


def _secret(lib: P11, session: int, key_type: int, value: bytes, *extra: tuple[int, bytes]) -> int:
    entries = [
        (int(CKA.CLASS), ulong_bytes(int(CKO.SECRET_KEY))), (int(CKA.KEY_TYPE), ulong_bytes(key_type)),
        (int(CKA.VALUE), value), (int(CKA.SENSITIVE), FALSE), (int(CKA.EXTRACTABLE), TRUE),
        (int(CKA.DERIVE), TRUE), *extra,
    ]
    handle = CK_ULONG()
    attrs = template(*[(t, v, None) for t, v in entries])
    rv = lib.C_CreateObject(session, attrs, len(entries), ctypes.byref(handle))
    assert rv == 0, hex(rv)
    return int(handle.value)


def _derive(lib: P11, session: int, mech: CK_MECHANISM, base: int, key_type: int,
            value_len: int | None = None) -> tuple[int, int]:
    entries = [
        (int(CKA.CLASS), ulong_bytes(int(CKO.SECRET_KEY))), (int(CKA.KEY_TYPE), ulong_bytes(key_type)),
        (int(CKA.SENSITIVE), FALSE), (int(CKA.EXTRACTABLE), TRUE),
    ]
    if value_len is not None:
        entries.append((int(CKA.VALUE_LEN), ulong_bytes(value_len)))
    handle = CK_ULONG()
    attrs = template(*[(t, v, None) for t, v in entries])
    rv = lib.C_DeriveKey(session, ctypes.byref(mech), base, attrs, len(entries), ctypes.byref(handle))
    return rv, int(handle.value)


def _value(lib: P11, session: int, handle: int) -> bytes:
    attrs = template((int(CKA.VALUE), None, None))
    assert lib.C_GetAttributeValue(session, handle, attrs, 1) == 0
    length = attrs[0].ulValueLen
    attrs = template((int(CKA.VALUE), b"\x00" * length, None))
    assert lib.C_GetAttributeValue(session, handle, attrs, 1) == 0
    return ctypes.string_at(attrs[0].pValue, length)


def _encrypt(algorithm: Any, mode: Any, data: bytes) -> bytes:
    encryptor = Cipher(algorithm, mode).encryptor()
    result: bytes = encryptor.update(data) + encryptor.finalize()
    return result


def test_aes_ecb_and_cbc_encrypt_data(session: int, lib: P11) -> None:
    base = _secret(lib, session, int(CKK.AES), AES)
    data = bytes(range(100, 132))
    rv, key = _derive(lib, session, mechanism(int(CKM.AES_ECB_ENCRYPT_DATA), _string_data(data)),
                      base, int(CKK.AES))
    assert rv == 0, hex(rv)
    assert _value(lib, session, key) == _encrypt(algorithms.AES(AES), modes.ECB(), data)
    iv = bytes(range(16, 32))
    params = CK_AES_CBC_ENCRYPT_DATA_PARAMS((ctypes.c_ubyte * 16)(*iv), _buffer(data), len(data))
    rv, key = _derive(lib, session, mechanism(int(CKM.AES_CBC_ENCRYPT_DATA), params), base,
                      int(CKK.GENERIC_SECRET), 20)
    assert rv == 0, hex(rv)
    assert _value(lib, session, key) == _encrypt(algorithms.AES(AES), modes.CBC(iv), data)[:20]


def test_des3_cbc_encrypt_data(session: int, lib: P11) -> None:
    base = _secret(lib, session, int(CKK.DES3), DES3)
    data, iv = bytes(range(24)), b"\x5a" * 8
    params = CK_DES_CBC_ENCRYPT_DATA_PARAMS((ctypes.c_ubyte * 8)(*iv), _buffer(data), len(data))
    rv, key = _derive(lib, session, mechanism(int(CKM.DES3_CBC_ENCRYPT_DATA), params), base,
                      int(CKK.GENERIC_SECRET))
    assert rv == 0, hex(rv)
    assert _value(lib, session, key) == _encrypt(TripleDES(DES3), modes.CBC(iv), data)


def test_structure_lengths_are_checked(session: int, lib: P11) -> None:
    aes = _secret(lib, session, int(CKK.AES), AES)
    des3 = _secret(lib, session, int(CKK.DES3), DES3)
    data = bytes(16)
    string = _string_data(data)
    size = ctypes.sizeof(string)
    for length in (0, size - 1, size + 1):
        rv, _ = _derive(lib, session, mechanism(int(CKM.AES_ECB_ENCRYPT_DATA), string, length),
                        aes, int(CKK.AES))
        assert rv == INVALID, (length, hex(rv))
    rv, _ = _derive(lib, session, mechanism(int(CKM.AES_ECB_ENCRYPT_DATA), None), aes, int(CKK.AES))
    assert rv == INVALID
    null_data = CK_KEY_DERIVATION_STRING_DATA(None, 16)  # a length without data
    rv, _ = _derive(lib, session, mechanism(int(CKM.AES_ECB_ENCRYPT_DATA), null_data), aes,
                    int(CKK.AES))
    assert rv == INVALID
    aes_cbc = CK_AES_CBC_ENCRYPT_DATA_PARAMS((ctypes.c_ubyte * 16)(), _buffer(data), 16)
    des_cbc = CK_DES_CBC_ENCRYPT_DATA_PARAMS((ctypes.c_ubyte * 8)(), _buffer(data), 16)
    # each CBC structure is refused where the other is expected (sizes 32 and 24 on LP64)
    rv, _ = _derive(lib, session, mechanism(int(CKM.AES_CBC_ENCRYPT_DATA), des_cbc), aes, int(CKK.AES))
    assert rv == INVALID
    rv, _ = _derive(lib, session, mechanism(int(CKM.DES3_CBC_ENCRYPT_DATA), aes_cbc), des3,
                    int(CKK.DES3))
    assert rv == INVALID
    rv, _ = _derive(lib, session, mechanism(int(CKM.DES3_CBC_ENCRYPT_DATA), des_cbc), des3,
                    int(CKK.DES2))
    assert rv == 0
    odd = CK_DES_CBC_ENCRYPT_DATA_PARAMS((ctypes.c_ubyte * 8)(), _buffer(data), 12)
    rv, _ = _derive(lib, session, mechanism(int(CKM.DES3_CBC_ENCRYPT_DATA), odd), des3, int(CKK.DES2))
    assert rv == INVALID  # not a multiple of the block size


def test_mac_general_params(session: int, lib: P11) -> None:
    aes = _secret(lib, session, int(CKK.AES), AES, (int(CKA.SIGN), TRUE), (int(CKA.VERIFY), TRUE))
    message = bytes(range(32))
    full = _encrypt(algorithms.AES(AES), modes.CBC(bytes(16)), message)[-16:]
    for mac_len in (4, 16):
        mech = mechanism(int(CKM.AES_MAC_GENERAL), ulong_bytes(mac_len))
        assert lib.C_SignInit(session, ctypes.byref(mech), aes) == 0
        out, length = ctypes.create_string_buffer(16), CK_ULONG(16)
        assert lib.C_Sign(session, message, len(message), out, ctypes.byref(length)) == 0
        assert out.raw[: length.value] == full[:mac_len]
    for bad in (ulong_bytes(0), ulong_bytes(17), b"\x04\x00\x00\x00"):
        mech = mechanism(int(CKM.AES_MAC_GENERAL), bad)
        assert lib.C_SignInit(session, ctypes.byref(mech), aes) == INVALID
    mech = mechanism(int(CKM.AES_MAC))
    assert lib.C_SignInit(session, ctypes.byref(mech), aes) == 0
    out, length = ctypes.create_string_buffer(16), CK_ULONG(16)
    assert lib.C_Sign(session, message, len(message), out, ctypes.byref(length)) == 0
    assert out.raw[: length.value] == full[:8]


def test_concatenate_base_and_key(session: int, lib: P11) -> None:
    base = _secret(lib, session, int(CKK.GENERIC_SECRET), b"b" * 8)
    other = _secret(lib, session, int(CKK.GENERIC_SECRET), b"o" * 8)
    rv, key = _derive(lib, session, mechanism(int(CKM.CONCATENATE_BASE_AND_KEY), ulong_bytes(other)),
                      base, int(CKK.GENERIC_SECRET))
    assert rv == 0, hex(rv)
    assert _value(lib, session, key) == b"b" * 8 + b"o" * 8
    rv, _ = _derive(lib, session, mechanism(int(CKM.CONCATENATE_BASE_AND_KEY), b"\x01\x02"), base,
                    int(CKK.GENERIC_SECRET))
    assert rv == INVALID
    rv, _ = _derive(lib, session, mechanism(int(CKM.CONCATENATE_BASE_AND_KEY), ulong_bytes(9999)),
                    base, int(CKK.GENERIC_SECRET))
    assert rv == int(CKR.KEY_HANDLE_INVALID)
    rv, key = _derive(lib, session, mechanism(int(CKM.CONCATENATE_DATA_AND_BASE), _string_data(b"d")),
                      base, int(CKK.GENERIC_SECRET))
    assert rv == 0 and _value(lib, session, key) == b"d" + b"b" * 8


def test_des_key_value_len_is_fixed(session: int, lib: P11) -> None:
    """CKK_DES3 with an empty CKA_VALUE: CKR_ATTRIBUTE_VALUE_INVALID; a derived DES3 key with
    a CKA_VALUE_LEN other than 24: CKR_TEMPLATE_INCONSISTENT."""
    entries = [
        (int(CKA.CLASS), ulong_bytes(int(CKO.SECRET_KEY)), None),
        (int(CKA.KEY_TYPE), ulong_bytes(int(CKK.DES)), None), (int(CKA.VALUE), b"", None),
    ]
    handle = CK_ULONG()
    rv = lib.C_CreateObject(session, template(*entries), 3, ctypes.byref(handle))
    assert rv == int(CKR.ATTRIBUTE_VALUE_INVALID)
    rv = lib.C_CreateObject(session, template(*entries[:2]), 2, ctypes.byref(handle))
    assert rv == int(CKR.TEMPLATE_INCOMPLETE)
    base = _secret(lib, session, int(CKK.DES3), DES3)
    mech = mechanism(int(CKM.DES3_ECB_ENCRYPT_DATA), _string_data(bytes(24)))
    rv, _ = _derive(lib, session, mech, base, int(CKK.DES3), 16)
    assert rv == int(CKR.TEMPLATE_INCONSISTENT)


@pytest.mark.parametrize(
    ("mech", "low", "high", "flags"),
    [
        (CKM.DES_KEY_GEN, 8, 8, CKF.GENERATE),
        (CKM.DES2_KEY_GEN, 16, 16, CKF.GENERATE),
        (CKM.DES3_KEY_GEN, 24, 24, CKF.GENERATE),
        (CKM.DES_CBC_PAD, 8, 8, CKF.ENCRYPT | CKF.DECRYPT | CKF.WRAP | CKF.UNWRAP),
        (CKM.DES3_ECB, 16, 24, CKF.ENCRYPT | CKF.DECRYPT),
        (CKM.DES3_CMAC_GENERAL, 16, 24, CKF.SIGN | CKF.VERIFY | MESSAGE_SIGNS),
        (CKM.AES_MAC, 16, 32, CKF.SIGN | CKF.VERIFY | MESSAGE_SIGNS),
        (CKM.AES_ECB_ENCRYPT_DATA, 16, 32, CKF.DERIVE),
        (CKM.DES3_CBC_ENCRYPT_DATA, 16, 24, CKF.DERIVE),
        (CKM.CONCATENATE_BASE_AND_KEY, 1, 512, CKF.DERIVE),
    ],
)
def test_mechanism_info(session: int, lib: P11, mech: int, low: int, high: int, flags: int) -> None:
    from .helpers import first_slot

    info = CK_MECHANISM_INFO()
    assert lib.C_GetMechanismInfo(first_slot(lib), int(mech), ctypes.byref(info)) == 0
    assert (info.ulMinKeySize, info.ulMaxKeySize, info.flags) == (low, high, int(flags))
