"""Garbage lengths and counts must give the spec's error, never a crash: each scenario runs
in its own interpreter, so a crash fails the test instead of killing pytest."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenport.ck import CKR

from .conftest import run_python

PRELUDE = r"""
import ctypes
from tokenport.abi import module_path
from tokenport.ck import CKA, CKF, CKM, CKO, CKU
from tests.abi.p11ctypes import CK_ATTRIBUTE, CK_MECHANISM, CK_ULONG, P11, template, ulong_bytes
from tests.abi.helpers import SO_PIN, first_slot, open_session

HUGE = (1 << (8 * ctypes.sizeof(ctypes.c_ulong))) - 1   # CK_UNAVAILABLE_INFORMATION
p11 = P11(module_path())
assert p11.C_Initialize(None) == 0
slot = first_slot(p11)
assert p11.C_InitToken(slot, SO_PIN, len(SO_PIN), b"garbage".ljust(32)) == 0
session = open_session(p11, slot)
buf = ctypes.create_string_buffer(64)
handle = CK_ULONG()
"""

SCENARIOS = {
    "data length": (
        """
digest = CK_MECHANISM(int(CKM.SHA256), None, 0)
assert p11.C_DigestInit(session, ctypes.byref(digest)) == 0
n = CK_ULONG(64)
rv = p11.C_Digest(session, buf, HUGE, buf, ctypes.byref(n))
""",
        CKR.ARGUMENTS_BAD,
    ),
    "random length": ("rv = p11.C_GenerateRandom(session, buf, HUGE)", CKR.ARGUMENTS_BAD),
    "attribute length": (
        """
attrs = template((int(CKA.CLASS), ulong_bytes(int(CKO.DATA)), None), (int(CKA.VALUE), b"x", HUGE))
rv = p11.C_CreateObject(session, attrs, 2, ctypes.byref(handle))
""",
        CKR.ATTRIBUTE_VALUE_INVALID,
    ),
    "template count": (
        """
attrs = template((int(CKA.CLASS), ulong_bytes(int(CKO.DATA)), None))
rv = p11.C_CreateObject(session, attrs, HUGE, ctypes.byref(handle))
""",
        CKR.ARGUMENTS_BAD,
    ),
    "get attribute count": (
        "rv = p11.C_GetAttributeValue(session, 1, None, HUGE)",
        CKR.ARGUMENTS_BAD,
    ),
    "mechanism parameter length": (
        """
mech = CK_MECHANISM(int(CKM.AES_CBC), ctypes.cast(buf, ctypes.c_void_p), HUGE)
rv = p11.C_EncryptInit(session, ctypes.byref(mech), 1)
""",
        CKR.MECHANISM_PARAM_INVALID,
    ),
    "pin length": ("rv = p11.C_Login(session, int(CKU.USER), buf, HUGE)", CKR.ARGUMENTS_BAD),
    # v3.0 / v3.2 entry points
    "login user name length": (
        "rv = p11.C_LoginUser(session, int(CKU.USER), buf, 4, buf, HUGE)",
        CKR.ARGUMENTS_BAD,
    ),
    "login user NULL name": (
        "rv = p11.C_LoginUser(session, int(CKU.USER), buf, 4, None, 5)",
        CKR.ARGUMENTS_BAD,
    ),
    "session cancel flags": ("rv = p11.C_SessionCancel(session, HUGE)", CKR.ARGUMENTS_BAD),
    "sign message data length": (
        "rv = p11.C_SignMessage(session, None, 0, buf, HUGE, buf, ctypes.byref(handle))",
        CKR.ARGUMENTS_BAD,
    ),
    "sign message parameter": (
        "rv = p11.C_SignMessageBegin(session, buf, HUGE)",
        CKR.ARGUMENTS_BAD,
    ),
    "verify message signature length": (
        "rv = p11.C_VerifyMessage(session, None, 0, buf, 4, buf, HUGE)",
        CKR.ARGUMENTS_BAD,
    ),
    "encapsulate template count": (
        """
mech = CK_MECHANISM(0x17, None, 0)
rv = p11.C_EncapsulateKey(session, ctypes.byref(mech), 1, buf, HUGE, buf,
                          ctypes.byref(handle), ctypes.byref(handle))
""",
        CKR.ARGUMENTS_BAD,
    ),
    "decapsulate ciphertext length": (
        """
mech = CK_MECHANISM(0x17, None, 0)
rv = p11.C_DecapsulateKey(session, ctypes.byref(mech), 1, None, 0, buf, HUGE,
                          ctypes.byref(handle))
""",
        CKR.ARGUMENTS_BAD,
    ),
    "encrypt message lengths": (
        """
assert p11.C_Login(session, int(CKU.SO), SO_PIN, len(SO_PIN)) == 0
assert p11.C_InitPIN(session, b"user-pin-9", 10) == 0
assert p11.C_Logout(session) == 0
assert p11.C_Login(session, int(CKU.USER), b"user-pin-9", 10) == 0
gen = CK_MECHANISM(int(CKM.AES_KEY_GEN), None, 0)
attrs = template((int(CKA.VALUE_LEN), ulong_bytes(16), None), (int(CKA.ENCRYPT), b"\x01", None))
assert p11.C_GenerateKey(session, ctypes.byref(gen), attrs, 2, ctypes.byref(handle)) == 0
gcm = CK_MECHANISM(int(CKM.AES_GCM), None, 0)
assert p11.C_MessageEncryptInit(session, ctypes.byref(gcm), handle.value) == 0
n = CK_ULONG(64)
codes = {
    p11.C_EncryptMessage(session, buf, HUGE, None, 0, buf, 4, buf, ctypes.byref(n)),
    p11.C_EncryptMessage(session, buf, 48, buf, HUGE, buf, 4, buf, ctypes.byref(n)),
    p11.C_EncryptMessageBegin(session, buf, 48, buf, HUGE),
    p11.C_EncryptMessageNext(session, buf, 48, buf, HUGE, buf, ctypes.byref(n), 1),
}
rv = 0x71 if codes == {0x71, 0x7} else sorted(codes)  # MECHANISM_PARAM_INVALID, ARGUMENTS_BAD
""",
        CKR.MECHANISM_PARAM_INVALID,
    ),
    "find count": (
        """
assert p11.C_FindObjectsInit(session, None, 0) == 0
n = CK_ULONG()
rv = p11.C_FindObjects(session, None, HUGE, ctypes.byref(n))
""",
        CKR.ARGUMENTS_BAD,
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_garbage_lengths_are_rejected(name: str, module_path: str, token_home: Path) -> None:
    code, expected = SCENARIOS[name]
    script = PRELUDE + code.strip() + "\nprint(hex(rv) if isinstance(rv, int) else rv)\nassert p11.C_Finalize(None) == 0\n"
    proc = run_python(script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == hex(expected)
