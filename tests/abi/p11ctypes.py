"""A small ctypes binding of a PKCS #11 v2.40 module, for tests of the C ABI.

Argument types come from the package's header (pkcs11_v240.h): pointers are c_void_p,
CK_BBOOL is c_ubyte, every other scalar is CK_ULONG; every function returns CK_RV.
Pass None for NULL, ``ctypes.byref(x)`` or arrays for pointers.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

CK_ULONG = ctypes.c_ulong
CK_BBOOL = ctypes.c_ubyte
CK_RV_TYPE = ctypes.c_ulong
NULL = None


class CK_VERSION(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


class CK_INFO(ctypes.Structure):
    _fields_ = [
        ("cryptokiVersion", CK_VERSION),
        ("manufacturerID", ctypes.c_ubyte * 32),
        ("flags", CK_ULONG),
        ("libraryDescription", ctypes.c_ubyte * 32),
        ("libraryVersion", CK_VERSION),
    ]


class CK_SLOT_INFO(ctypes.Structure):
    _fields_ = [
        ("slotDescription", ctypes.c_ubyte * 64),
        ("manufacturerID", ctypes.c_ubyte * 32),
        ("flags", CK_ULONG),
        ("hardwareVersion", CK_VERSION),
        ("firmwareVersion", CK_VERSION),
    ]


class CK_TOKEN_INFO(ctypes.Structure):
    _fields_ = [
        ("label", ctypes.c_ubyte * 32),
        ("manufacturerID", ctypes.c_ubyte * 32),
        ("model", ctypes.c_ubyte * 16),
        ("serialNumber", ctypes.c_ubyte * 16),
        ("flags", CK_ULONG),
        *[
            (name, CK_ULONG)
            for name in (
                "ulMaxSessionCount",
                "ulSessionCount",
                "ulMaxRwSessionCount",
                "ulRwSessionCount",
                "ulMaxPinLen",
                "ulMinPinLen",
                "ulTotalPublicMemory",
                "ulFreePublicMemory",
                "ulTotalPrivateMemory",
                "ulFreePrivateMemory",
            )
        ],
        ("hardwareVersion", CK_VERSION),
        ("firmwareVersion", CK_VERSION),
        ("utcTime", ctypes.c_ubyte * 16),
    ]


class CK_SESSION_INFO(ctypes.Structure):
    _fields_ = [
        ("slotID", CK_ULONG),
        ("state", CK_ULONG),
        ("flags", CK_ULONG),
        ("ulDeviceError", CK_ULONG),
    ]


class CK_MECHANISM_INFO(ctypes.Structure):
    _fields_ = [("ulMinKeySize", CK_ULONG), ("ulMaxKeySize", CK_ULONG), ("flags", CK_ULONG)]


class CK_ATTRIBUTE(ctypes.Structure):
    _fields_ = [("type", CK_ULONG), ("pValue", ctypes.c_void_p), ("ulValueLen", CK_ULONG)]


class CK_MECHANISM(ctypes.Structure):
    _fields_ = [
        ("mechanism", CK_ULONG),
        ("pParameter", ctypes.c_void_p),
        ("ulParameterLen", CK_ULONG),
    ]


class CK_C_INITIALIZE_ARGS(ctypes.Structure):
    _fields_ = [
        ("CreateMutex", ctypes.c_void_p),
        ("DestroyMutex", ctypes.c_void_p),
        ("LockMutex", ctypes.c_void_p),
        ("UnlockMutex", ctypes.c_void_p),
        ("flags", CK_ULONG),
        ("pReserved", ctypes.c_void_p),
    ]


class CK_GCM_PARAMS(ctypes.Structure):
    _fields_ = [
        ("pIv", ctypes.c_void_p),
        ("ulIvLen", CK_ULONG),
        ("ulIvBits", CK_ULONG),
        ("pAAD", ctypes.c_void_p),
        ("ulAADLen", CK_ULONG),
        ("ulTagBits", CK_ULONG),
    ]


class CK_GCM_PARAMS_NO_IVBITS(ctypes.Structure):
    _fields_ = [
        ("pIv", ctypes.c_void_p),
        ("ulIvLen", CK_ULONG),
        ("pAAD", ctypes.c_void_p),
        ("ulAADLen", CK_ULONG),
        ("ulTagBits", CK_ULONG),
    ]


class CK_INTERFACE(ctypes.Structure):
    _fields_ = [
        ("pInterfaceName", ctypes.c_char_p),
        ("pFunctionList", ctypes.c_void_p),
        ("flags", CK_ULONG),
    ]


class CK_AES_CTR_PARAMS(ctypes.Structure):
    _fields_ = [("ulCounterBits", CK_ULONG), ("cb", ctypes.c_ubyte * 16)]


_MEMBER = re.compile(r"CK_RV\s*\(\s*\*\s*(C_\w+)\s*\)\s*\((.*?)\)\s*;", re.DOTALL)


def header_signatures(header: str, struct: str = "CK_FUNCTION_LIST") -> list[tuple[str, list[str]]]:
    """(name, [C parameter types]) for each member of function list ``struct`` of ``header``,
    in order."""
    start = header.index(f"struct {struct} {{")
    body = header[start : header.index("};", start)]
    out = []
    for name, params in _MEMBER.findall(body):
        types = [" ".join(p.split()[:-1]) for p in " ".join(params.split()).split(",")]
        out.append((name, types))
    return out


def _ctype(c_type: str) -> Any:
    if c_type.endswith("_PTR") or "*" in c_type or c_type in ("CK_VOID_PTR", "CK_NOTIFY"):
        return ctypes.c_void_p
    if c_type == "CK_BBOOL":
        return CK_BBOOL
    return CK_ULONG


class P11:
    """The exported C_* functions of a module, typed from the header; ``p11.C_Foo(...)``
    returns the CK_RV as an int."""

    def __init__(self, path: str, header: str | None = None) -> None:
        if header is None:
            from tokenport.abi import header_path

            header = header_path()
        self.path = path
        self.lib = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
        self.signatures = header_signatures(Path(header).read_text())
        self.functions: dict[str, Callable[..., int]] = {}
        for name, types in self.signatures:
            fn = getattr(self.lib, name)
            fn.restype = CK_RV_TYPE
            fn.argtypes = [_ctype(t) for t in types]
            self.functions[name] = fn
        # the v3.0 / v3.2 entries (pkcs11_v3.h next to the v2.40 header, when there is one)
        v3 = Path(header).with_name("pkcs11_v3.h")
        self.signatures_3_2 = (
            header_signatures(v3.read_text(), "CK_FUNCTION_LIST_3_2") if v3.exists() else []
        )
        for name, types in self.signatures_3_2:
            if name not in self.functions:
                fn = getattr(self.lib, name)
                fn.restype = CK_RV_TYPE
                fn.argtypes = [_ctype(t) for t in types]
                self.functions[name] = fn

    def __getattr__(self, name: str) -> Callable[..., int]:
        try:
            return self.functions[name]
        except KeyError:
            raise AttributeError(name) from None

    def function_list(self) -> list[int]:
        """The 68 entry addresses of the CK_FUNCTION_LIST returned by C_GetFunctionList."""
        table = ctypes.c_void_p()
        rv = self.C_GetFunctionList(ctypes.byref(table))
        assert rv == 0, rv
        entries = ctypes.cast(
            table.value + ctypes.sizeof(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p)
        )
        return [entries[i] for i in range(len(self.signatures))]

    def interface_list(self, version: tuple[int, int]) -> list[int]:
        """The entry addresses of the "PKCS 11" function list of ``version`` (C_GetInterface)."""
        v = CK_VERSION(*version)
        iface = ctypes.POINTER(CK_INTERFACE)()
        rv = self.C_GetInterface(b"PKCS 11", ctypes.byref(v), ctypes.byref(iface), 0)
        assert rv == 0, rv
        table = iface.contents.pFunctionList
        assert ctypes.cast(table, ctypes.POINTER(CK_VERSION)).contents.major == version[0]
        count = {(2, 40): 68, (3, 0): 92, (3, 2): 104}[version]
        entries = ctypes.cast(table + ctypes.sizeof(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p))
        return [entries[i] for i in range(count)]

    def address(self, name: str) -> int:
        """The address of the exported symbol ``name``."""
        return ctypes.cast(getattr(self.lib, name), ctypes.c_void_p).value or 0


def ulong_array(values: Sequence[int]) -> Any:
    """A CK_ULONG array initialised with ``values``."""
    return (CK_ULONG * len(values))(*values)


def template(*entries: tuple[int, bytes | None, int | None]) -> Any:
    """A CK_ATTRIBUTE array from (type, value bytes or None, length or None) triples.

    A None value gives a NULL pValue; a None length means len(value). The value buffers are
    kept alive on the returned array (attribute ``buffers``).
    """
    array = (CK_ATTRIBUTE * len(entries))()
    buffers = []
    for i, (kind, value, length) in enumerate(entries):
        array[i].type = kind
        if value is None:
            array[i].pValue = None
            array[i].ulValueLen = length or 0
        else:
            buf = ctypes.create_string_buffer(value, len(value))
            buffers.append(buf)
            array[i].pValue = ctypes.cast(buf, ctypes.c_void_p)
            array[i].ulValueLen = len(value) if length is None else length
    array.buffers = buffers  # type: ignore[attr-defined]
    return array


def ulong_bytes(value: int) -> bytes:
    """The native encoding of a CK_ULONG value."""
    return bytes(CK_ULONG(value))


def text(field: Any) -> str:
    """A blank-padded UTF-8 field of an info structure, right-stripped."""
    return bytes(field).decode("utf-8").rstrip(" ")
