"""Lying and impossible lengths through the C ABI (issue 9 items 6 and 15): a fixed-size
attribute is checked against its type's size before anything is read, and a data length
the token will never accept is refused before the data is touched. Every scenario puts
the caller's bytes at the very end of a mapped page, with nothing mapped after it, so a
single byte read too many kills the process and fails the test; each runs in its own
interpreter with a timeout, so a stall fails it too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenport.ck import CKR

from .conftest import run_python

PRELUDE = r"""
import ctypes, mmap
from tokenport.abi import module_path
from tokenport.ck import CKA, CKK, CKM, CKO, CKU
from tests.abi.p11ctypes import (
    CK_ATTRIBUTE, CK_GCM_PARAMS, CK_MECHANISM, CK_ULONG, P11, template, ulong_bytes,
)
from tests.abi.helpers import SO_PIN, USER_PIN, first_slot, open_session

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
PAGE = mmap.PAGESIZE

def edge(data: bytes) -> int:
    '''The address of ``data`` placed at the end of a page whose successor is unmapped.'''
    base = libc.mmap(None, 2 * PAGE, mmap.PROT_READ | mmap.PROT_WRITE,
                     mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    assert base not in (None, ctypes.c_void_p(-1).value)
    assert libc.munmap(base + PAGE, PAGE) == 0
    address = base + PAGE - len(data)
    ctypes.memmove(address, data, len(data))
    return address

p11 = P11(module_path())
assert p11.C_Initialize(None) == 0
slot = first_slot(p11)
assert p11.C_InitToken(slot, SO_PIN, len(SO_PIN), b"hostile".ljust(32)) == 0
session = open_session(p11, slot)
assert p11.C_Login(session, int(CKU.SO), SO_PIN, len(SO_PIN)) == 0
assert p11.C_InitPIN(session, USER_PIN, len(USER_PIN)) == 0
assert p11.C_Logout(session) == 0
assert p11.C_Login(session, int(CKU.USER), USER_PIN, len(USER_PIN)) == 0
out = ctypes.create_string_buffer(64)
out_len = CK_ULONG(64)
handle = CK_ULONG()

def aes_key() -> int:
    attrs = template(
        (int(CKA.CLASS), ulong_bytes(int(CKO.SECRET_KEY)), None),
        (int(CKA.KEY_TYPE), ulong_bytes(int(CKK.AES)), None),
        (int(CKA.VALUE), bytes(16), None),
        (int(CKA.ENCRYPT), b"\x01", None), (int(CKA.DECRYPT), b"\x01", None),
    )
    assert p11.C_CreateObject(session, attrs, 5, ctypes.byref(handle)) == 0
    return handle.value

KEEP = []

def lying(kind: int, value: bytes, length: int):
    '''{CKA_CLASS: CKO_DATA, kind: value} where ``kind`` claims ``length`` bytes.'''
    klass = ctypes.create_string_buffer(ulong_bytes(int(CKO.DATA)), ctypes.sizeof(CK_ULONG))
    KEEP.append(klass)
    attrs = (CK_ATTRIBUTE * 2)()
    attrs[0] = CK_ATTRIBUTE(int(CKA.CLASS), ctypes.cast(klass, ctypes.c_void_p),
                            ctypes.sizeof(CK_ULONG))
    attrs[1] = CK_ATTRIBUTE(kind, edge(value), length)
    return attrs
"""

SCENARIOS = {
    # item 6: CKA_TOKEN claims 1 MiB, points at one byte
    "bool attribute, 1 MiB length": (
        ("rv = p11.C_CreateObject(session, lying(int(CKA.TOKEN), b'\\x01', 1 << 20), 2,"
        " ctypes.byref(handle))"),
        CKR.ATTRIBUTE_VALUE_INVALID,
    ),
    "ulong attribute, 1 MiB length": (
        ("rv = p11.C_CreateObject(session, lying(int(CKA.CERTIFICATE_TYPE), b'\\x00', 1 << 20),"
        " 2, ctypes.byref(handle))"),
        CKR.ATTRIBUTE_VALUE_INVALID,
    ),
    "date attribute, 9 bytes": (
        ("rv = p11.C_CreateObject(session, lying(int(CKA.START_DATE), b'20260101', 9), 2,"
        " ctypes.byref(handle))"),
        CKR.ATTRIBUTE_VALUE_INVALID,
    ),
    "bool attribute in a search": (
        "rv = p11.C_FindObjectsInit(session, lying(int(CKA.PRIVATE), b'\\x01', 4096), 2)",
        CKR.ATTRIBUTE_VALUE_INVALID,
    ),
    "byte-string attribute, 2 GiB length": (
        ("rv = p11.C_CreateObject(session, lying(int(CKA.VALUE), b'x', 0x80000000), 2,"
        " ctypes.byref(handle))"),
        CKR.ATTRIBUTE_VALUE_INVALID,
    ),
    # item 15: impossible data lengths
    "C_Encrypt, 2 GiB": (
        """
key = aes_key()
mech = CK_MECHANISM(int(CKM.AES_ECB), None, 0)
assert p11.C_EncryptInit(session, ctypes.byref(mech), key) == 0
rv = p11.C_Encrypt(session, edge(bytes(16)), 0x80000000, out, ctypes.byref(out_len))
""",
        CKR.DATA_LEN_RANGE,
    ),
    "C_Decrypt, 2 GiB": (
        """
key = aes_key()
mech = CK_MECHANISM(int(CKM.AES_ECB), None, 0)
assert p11.C_DecryptInit(session, ctypes.byref(mech), key) == 0
rv = p11.C_Decrypt(session, edge(bytes(16)), 0x80000000, None, ctypes.byref(out_len))
""",
        CKR.ENCRYPTED_DATA_LEN_RANGE,
    ),
    "C_DecryptUpdate on AES-GCM, 4 GiB - 1": (
        """
key = aes_key()
iv = ctypes.create_string_buffer(12)
params = CK_GCM_PARAMS(ctypes.cast(iv, ctypes.c_void_p), 12, 96, None, 0, 128)
mech = CK_MECHANISM(int(CKM.AES_GCM), ctypes.cast(ctypes.byref(params), ctypes.c_void_p),
                    ctypes.sizeof(params))
assert p11.C_DecryptInit(session, ctypes.byref(mech), key) == 0
rv = p11.C_DecryptUpdate(session, edge(bytes(16)), 0xFFFFFFFF, out, ctypes.byref(out_len))
""",
        CKR.ENCRYPTED_DATA_LEN_RANGE,
    ),
    "C_DigestUpdate, 65 MiB": (
        """
mech = CK_MECHANISM(int(CKM.SHA256), None, 0)
assert p11.C_DigestInit(session, ctypes.byref(mech)) == 0
rv = p11.C_DigestUpdate(session, edge(bytes(16)), 65 << 20)
""",
        CKR.DATA_LEN_RANGE,
    ),
    "C_Verify signature, 3 GiB": (
        """
mech = CK_MECHANISM(int(CKM.SHA256_HMAC), None, 0)
attrs = template(
    (int(CKA.CLASS), ulong_bytes(int(CKO.SECRET_KEY)), None),
    (int(CKA.KEY_TYPE), ulong_bytes(int(CKK.GENERIC_SECRET)), None),
    (int(CKA.VALUE), bytes(32), None), (int(CKA.VERIFY), b"\\x01", None),
)
assert p11.C_CreateObject(session, attrs, 4, ctypes.byref(handle)) == 0
assert p11.C_VerifyInit(session, ctypes.byref(mech), handle.value) == 0
rv = p11.C_Verify(session, b"abc", 3, edge(bytes(32)), 0xC0000000)
""",
        CKR.SIGNATURE_LEN_RANGE,
    ),
    "C_Login PIN, 2 GiB": (
        """
rv = p11.C_Logout(session)
rv = p11.C_Login(session, int(CKU.USER), edge(b"1234"), 0x80000000)
from tests.abi.p11ctypes import CK_TOKEN_INFO
info = CK_TOKEN_INFO()
assert p11.C_GetTokenInfo(slot, ctypes.byref(info)) == 0
assert not info.flags & 0x10000, "an absurd PIN was counted as a wrong guess"
""",
        CKR.ARGUMENTS_BAD,
    ),
    "GCM IV length, 2 GiB": (
        """
key = aes_key()
params = CK_GCM_PARAMS(edge(bytes(12)), 0x80000000, 96, None, 0, 128)
mech = CK_MECHANISM(int(CKM.AES_GCM), ctypes.cast(ctypes.byref(params), ctypes.c_void_p),
                    ctypes.sizeof(params))
rv = p11.C_EncryptInit(session, ctypes.byref(mech), key)
""",
        CKR.MECHANISM_PARAM_INVALID,
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_hostile_lengths_are_refused_before_reading(
    name: str, module_path: str, token_home: Path
) -> None:
    code, expected = SCENARIOS[name]
    script = PRELUDE + code.strip() + "\nprint(hex(rv))\nassert p11.C_Finalize(None) == 0\n"
    proc = run_python(script, timeout=60)
    assert proc.returncode == 0, (proc.returncode, proc.stdout + proc.stderr)
    assert proc.stdout.strip() == hex(expected)
