"""C_EncapsulateKey / C_DecapsulateKey at the C ABI (PKCS #11 v3.2): argument validation
through the real module, and the length protocol of the handler against a stand-in Module
(the key encapsulation itself: tests/integration/test_python_pkcs11_pqc.py and the PQC unit
tests)."""

from __future__ import annotations

import ctypes
from typing import Any

import pytest

from tokenport.ck import CKR
from tokenport.mechanisms.params import Mechanism

from .p11ctypes import CK_MECHANISM, CK_ULONG, P11

CKM_ML_KEM = 0x17  # v3.2 CKM_ML_KEM (validation comes before the mechanism is looked at)


def _mech() -> CK_MECHANISM:
    mech = CK_MECHANISM()
    mech.mechanism = CKM_ML_KEM
    return mech


def test_encapsulate_argument_validation(session: int, lib: P11) -> None:
    mech = _mech()
    key = CK_ULONG()
    length = CK_ULONG(0)
    buf = ctypes.create_string_buffer(8)
    enc = lib.C_EncapsulateKey
    assert enc(session, None, 1, None, 0, buf, ctypes.byref(length), ctypes.byref(key)) == (
        CKR.ARGUMENTS_BAD
    )
    assert enc(session, ctypes.byref(mech), 1, None, 0, buf, None, ctypes.byref(key)) == (
        CKR.ARGUMENTS_BAD
    )
    assert enc(session, ctypes.byref(mech), 1, None, 0, buf, ctypes.byref(length), None) == (
        CKR.ARGUMENTS_BAD
    )
    assert enc(session, ctypes.byref(mech), 1, None, 3, buf, ctypes.byref(length),
               ctypes.byref(key)) == CKR.ARGUMENTS_BAD  # NULL template with a count
    assert enc(session + 1000, ctypes.byref(mech), 1, None, 0, None, ctypes.byref(length),
               ctypes.byref(key)) == CKR.SESSION_HANDLE_INVALID


def test_decapsulate_argument_validation(session: int, lib: P11) -> None:
    mech = _mech()
    key = CK_ULONG()
    dec = lib.C_DecapsulateKey
    assert dec(session, None, 1, None, 0, b"c", 1, ctypes.byref(key)) == CKR.ARGUMENTS_BAD
    assert dec(session, ctypes.byref(mech), 1, None, 0, b"c", 1, None) == CKR.ARGUMENTS_BAD
    assert dec(session, ctypes.byref(mech), 1, None, 0, None, 5, ctypes.byref(key)) == (
        CKR.ARGUMENTS_BAD
    )
    assert dec(session + 1000, ctypes.byref(mech), 1, None, 0, b"c", 1, ctypes.byref(key)) == (
        CKR.SESSION_HANDLE_INVALID
    )


def test_before_initialize(p11: P11) -> None:
    key = CK_ULONG()
    assert p11.C_DecapsulateKey(1, None, 1, None, 0, None, 0, ctypes.byref(key)) == (
        CKR.CRYPTOKI_NOT_INITIALIZED
    )


# -- the handler against stand-in Modules ---------------------------------------------------


class _Lib:
    def __init__(self, module: Any) -> None:
        self._module = module

    def module(self) -> Any:
        return self._module


class _NoKem:
    def get_session_info(self, session: int) -> None:
        pass


class _Kem(_NoKem):
    def __init__(self) -> None:
        self.made: list[tuple[int, Mechanism, int]] = []

    def ciphertext_length(self, session: int, mechanism: Mechanism, public_key: int) -> int:
        return 5

    def encapsulate_key(self, session: int, mechanism: Mechanism, public_key: int,
                        template: Any) -> tuple[int, bytes]:
        self.made.append((session, mechanism, public_key))
        return 77, b"CIPHR"

    def decapsulate_key(self, session: int, mechanism: Mechanism, private_key: int,
                        template: Any, ciphertext: bytes) -> int:
        assert ciphertext == b"CIPHR" and list(template) == []
        return 78


@pytest.fixture
def cffi(p11: P11) -> Any:
    p11.C_Finalize(None)  # starts Python in the module (the abi package is loaded)
    from tokenport._pkcs11 import ffi

    return ffi


def test_encapsulate_length_protocol(cffi: Any) -> None:
    from tokenport.abi.calls_v3 import C_DecapsulateKey, C_EncapsulateKey

    kem = _Kem()
    lib = _Lib(kem)
    mech = cffi.new("CK_MECHANISM *", {"mechanism": CKM_ML_KEM})
    length = cffi.new("CK_ULONG *", 0)
    key = cffi.new("CK_ULONG *", 0)
    assert C_EncapsulateKey(lib, 1, mech, 9, cffi.NULL, 0, cffi.NULL, length, key) == CKR.OK
    assert length[0] == 5 and not kem.made and key[0] == 0
    small = cffi.new("CK_BYTE[]", 4)
    length[0] = 4
    assert C_EncapsulateKey(lib, 1, mech, 9, cffi.NULL, 0, small, length, key) == (
        CKR.BUFFER_TOO_SMALL
    )
    assert length[0] == 5 and not kem.made and key[0] == 0
    out = cffi.new("CK_BYTE[]", 16)
    length[0] = 16
    assert C_EncapsulateKey(lib, 1, mech, 9, cffi.NULL, 0, out, length, key) == CKR.OK
    assert (length[0], bytes(cffi.buffer(out, 5)), key[0]) == (5, b"CIPHR", 77)
    assert kem.made == [(1, Mechanism(CKM_ML_KEM), 9)]
    data = cffi.new("CK_BYTE[]", b"CIPHR")
    assert C_DecapsulateKey(lib, 1, mech, 8, cffi.NULL, 0, data, 5, key) == CKR.OK
    assert key[0] == 78


