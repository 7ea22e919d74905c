"""Unit tests of the Python half of the ABI: marshalling, the library holder, the guard."""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

import pytest

from tokenport.abi.functions import PYTHON_FUNCTIONS
from tokenport.abi.library import Library
from tokenport.ck import CKM, CKR
from tokenport.errors import (
    CryptokiAlreadyInitialized,
    CryptokiNotInitialized,
    MechanismParamInvalid,
    PinIncorrect,
)
from tokenport.mechanisms.params import (
    Ecdh1DeriveParams,
    EddsaParams,
    GcmParams,
    OaepParams,
    PssParams,
)

from .p11ctypes import P11


@pytest.fixture(scope="module")
def embedded(p11: P11) -> Any:
    """The embedded module (ffi, and the loaded abi package), started by one call."""
    p11.C_Finalize(None)  # starts Python in the module: not initialized, but loaded
    from tokenport._pkcs11 import ffi

    return ffi


@pytest.fixture(scope="module")
def marshal(embedded: Any) -> ModuleType:
    from tokenport.abi import marshal

    return marshal


# -- text --------------------------------------------------------------------------------------


def test_pad_blank_pads_and_truncates_on_a_character_boundary(marshal: ModuleType) -> None:
    assert marshal.pad("abc", 8) == b"abc     "
    assert marshal.pad("", 4) == b"    "
    assert marshal.pad("x" * 40, 32) == b"x" * 32
    # "é" is two bytes: it does not fit in the last byte, so it is dropped whole
    assert marshal.pad("a" * 31 + "é", 32) == b"a" * 31 + b" "
    assert marshal.pad("a" * 30 + "é", 32) == ("a" * 30 + "é").encode()


# -- mechanisms ------------------------------------------------------------------------------


def _mech(ffi: Any, kind: int, param: Any = None, length: int | None = None) -> Any:
    mech = ffi.new("CK_MECHANISM *")
    mech.mechanism = kind
    if param is not None:
        mech.pParameter = param
        mech.ulParameterLen = ffi.sizeof(param[0]) if length is None else length
    return mech


def test_gcm_with_and_without_iv_bits(embedded: Any, marshal: ModuleType) -> None:
    ffi = embedded
    iv, aad = ffi.new("CK_BYTE[]", b"123456789012"), ffi.new("CK_BYTE[]", b"aad")
    v240 = ffi.new(
        "CK_GCM_PARAMS *",
        {"pIv": iv, "ulIvLen": 12, "ulIvBits": 96, "pAAD": aad, "ulAADLen": 3, "ulTagBits": 96},
    )
    old = ffi.new(
        "TP_GCM_PARAMS_NO_IVBITS *",
        {"pIv": iv, "ulIvLen": 12, "pAAD": aad, "ulAADLen": 3, "ulTagBits": 96},
    )
    expected = GcmParams(iv=b"123456789012", aad=b"aad", tag_bits=96)
    assert marshal.read_mechanism(_mech(ffi, int(CKM.AES_GCM), v240)).param == expected
    assert marshal.read_mechanism(_mech(ffi, int(CKM.AES_GCM), old)).param == expected
    with pytest.raises(MechanismParamInvalid):
        marshal.read_mechanism(_mech(ffi, int(CKM.AES_GCM), v240, length=8))


def test_struct_parameters(embedded: Any, marshal: ModuleType) -> None:
    ffi = embedded
    pss = ffi.new("CK_RSA_PKCS_PSS_PARAMS *", {"hashAlg": 0x250, "mgf": 2, "sLen": 32})
    assert marshal.read_mechanism(_mech(ffi, int(CKM.RSA_PKCS_PSS), pss)).param == PssParams(
        0x250, 2, 32
    )
    label = ffi.new("CK_BYTE[]", b"label")
    oaep = ffi.new(
        "CK_RSA_PKCS_OAEP_PARAMS *",
        {"hashAlg": 0x250, "mgf": 2, "source": 1, "pSourceData": label, "ulSourceDataLen": 5},
    )
    assert marshal.read_mechanism(_mech(ffi, int(CKM.RSA_PKCS_OAEP), oaep)).param == OaepParams(
        0x250, 2, 1, b"label"
    )
    point = ffi.new("CK_BYTE[]", b"\x04" + b"\x01" * 64)
    ecdh = ffi.new(
        "CK_ECDH1_DERIVE_PARAMS *",
        {
            "kdf": 1,
            "ulSharedDataLen": 0,
            "pSharedData": ffi.NULL,
            "ulPublicDataLen": 65,
            "pPublicData": point,
        },
    )
    assert marshal.read_mechanism(_mech(ffi, int(CKM.ECDH1_DERIVE), ecdh)).param == (
        Ecdh1DeriveParams(1, b"", b"\x04" + b"\x01" * 64)
    )
    ecdh.pPublicData = ffi.NULL
    with pytest.raises(MechanismParamInvalid):
        marshal.read_mechanism(_mech(ffi, int(CKM.ECDH1_DERIVE), ecdh))
    ctx = ffi.new("CK_BYTE[]", b"ctx")
    eddsa = ffi.new("CK_EDDSA_PARAMS *", {"phFlag": 1, "ulContextDataLen": 3, "pContextData": ctx})
    assert marshal.read_mechanism(_mech(ffi, int(CKM.EDDSA), eddsa)).param == EddsaParams(
        True, b"ctx"
    )
    assert marshal.read_mechanism(_mech(ffi, int(CKM.EDDSA))).param is None


def test_byte_and_parameterless_mechanisms(embedded: Any, marshal: ModuleType) -> None:
    ffi = embedded
    iv = ffi.new("CK_BYTE[]", b"\x00" * 16)
    assert marshal.read_mechanism(_mech(ffi, int(CKM.AES_CBC), iv, 16)).param == b"\x00" * 16
    assert marshal.read_mechanism(_mech(ffi, int(CKM.AES_CBC))).param is None
    assert marshal.read_mechanism(_mech(ffi, int(CKM.SHA256))).param is None
    assert marshal.read_mechanism(_mech(ffi, int(CKM.SHA256), iv, 4)).param == b"\x00" * 4
    null_with_length = _mech(ffi, int(CKM.SHA256))
    null_with_length.ulParameterLen = 4
    with pytest.raises(MechanismParamInvalid):
        marshal.read_mechanism(null_with_length)


# -- the library holder ---------------------------------------------------------------------------


class FakeModule:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def initialize(self) -> None:
        self.log.append("initialize")

    def prepare_calls(self) -> None:
        self.prepared = True

    def finalize(self) -> None:
        self.log.append("finalize")


def test_library_lifecycle() -> None:
    log: list[str] = []
    library = Library(lambda: FakeModule(log))  # type: ignore[arg-type,return-value]
    with pytest.raises(CryptokiNotInitialized):
        library.module()
    library.initialize()
    with pytest.raises(CryptokiAlreadyInitialized):
        library.initialize()
    assert isinstance(library.module(), FakeModule)
    assert library.module().prepared  # type: ignore[attr-defined]  # C_Initialize loads the call groups
    library.finalize()
    with pytest.raises(CryptokiNotInitialized):
        library.finalize()
    assert log == ["initialize", "finalize"]


def test_library_in_a_forked_child_drops_but_never_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    import tokenport.abi.library as library_module

    log: list[str] = []
    library = Library(lambda: FakeModule(log))  # type: ignore[arg-type,return-value]
    library.initialize()
    parent_lock = library.lifecycle_lock()
    parent_lock.acquire()  # as if a parent thread were inside C_Initialize at fork time
    monkeypatch.setattr(library_module.os, "getpid", lambda: 999_999)
    library.after_fork_child()  # what CPython's fork helpers run in the child
    with pytest.raises(CryptokiNotInitialized):
        library.module()
    assert library.lifecycle_lock() is not parent_lock
    library.initialize()  # the child's own C_Initialize
    assert log == ["initialize", "initialize"]  # the parent's module was never finalized
    parent_lock.release()


# -- the guard -----------------------------------------------------------------------------------


def test_handlers_cover_every_python_entry(embedded: Any) -> None:
    from tokenport.abi.entry import handlers

    assert set(handlers()) == set(PYTHON_FUNCTIONS)


def test_guard_turns_exceptions_into_return_values(
    embedded: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from tokenport.abi.entry import guard

    library = Library(lambda: None)  # type: ignore[arg-type,return-value]

    def wrong_pin(lib: Library, pin: bytes) -> int:
        raise PinIncorrect()

    def broken(lib: Library, pin: bytes) -> int:
        raise ValueError("boom")

    secret = b"123456-secret-pin"
    assert guard("C_Login", wrong_pin, library)(secret) == (
        CKR.PIN_INCORRECT
    )
    with caplog.at_level(logging.ERROR, logger="tokenport"):
        rv = guard("C_Login", broken, library)(secret)
    assert rv == CKR.GENERAL_ERROR
    assert "C_Login" in caplog.text and "boom" in caplog.text
    assert "secret" not in caplog.text
