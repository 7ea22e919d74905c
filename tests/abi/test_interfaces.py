"""The PKCS #11 v3.0 / v3.2 interfaces through the real module (v3.0 s5.4, v3.2 s5).

C_GetInterfaceList / C_GetInterface (names, versions, flags, NULL arguments, the
counted-list convention), the three function tables against the exported symbols, the
version C_GetInfo reports through each, and the entries tokenport does not implement.
"""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import pytest

from tokenport.abi.functions import (
    ADDED_IN_3_0,
    ADDED_IN_3_2,
    FUNCTION_LIST,
    FUNCTION_LIST_3_0,
    FUNCTION_LIST_3_2,
    NOT_SUPPORTED,
)
from tokenport.ck import CKR

from .p11ctypes import CK_INFO, CK_INTERFACE, CK_ULONG, CK_VERSION, P11

ARGUMENTS_BAD = int(CKR.ARGUMENTS_BAD)


def _interfaces(p11: P11) -> list[CK_INTERFACE]:
    count = CK_ULONG(0)
    assert p11.C_GetInterfaceList(None, ctypes.byref(count)) == 0
    array = (CK_INTERFACE * count.value)()
    assert p11.C_GetInterfaceList(array, ctypes.byref(count)) == 0
    return list(array)[: count.value]


def _version_of(iface: CK_INTERFACE) -> tuple[int, int]:
    v = ctypes.cast(iface.pFunctionList, ctypes.POINTER(CK_VERSION)).contents
    return (v.major, v.minor)


def test_the_lists_are_the_oasis_lists() -> None:
    assert len(FUNCTION_LIST) == 68
    assert len(FUNCTION_LIST_3_0) == 92 and FUNCTION_LIST_3_0[:68] == FUNCTION_LIST
    assert len(FUNCTION_LIST_3_2) == 104 and FUNCTION_LIST_3_2[:92] == FUNCTION_LIST_3_0
    assert ADDED_IN_3_0[:4] == ("C_GetInterfaceList", "C_GetInterface", "C_LoginUser",
                                "C_SessionCancel")
    assert ADDED_IN_3_2[0] == "C_EncapsulateKey" and ADDED_IN_3_2[-1] == "C_UnwrapKeyAuthenticated"


def test_interface_list_offers_3_2_then_3_0_then_2_40(p11: P11) -> None:
    interfaces = _interfaces(p11)
    assert [i.pInterfaceName for i in interfaces] == [b"PKCS 11"] * 3
    assert [_version_of(i) for i in interfaces] == [(3, 2), (3, 0), (2, 40)]
    assert [i.flags for i in interfaces] == [0, 0, 0]  # CKF_INTERFACE_FORK_SAFE not offered
    table = ctypes.c_void_p()
    assert p11.C_GetFunctionList(ctypes.byref(table)) == 0
    assert interfaces[2].pFunctionList == table.value


def test_interface_list_counted_list_convention(p11: P11) -> None:
    count = CK_ULONG(0)
    array = (CK_INTERFACE * 3)()
    assert p11.C_GetInterfaceList(array, ctypes.byref(count)) == CKR.BUFFER_TOO_SMALL
    assert count.value == 3
    count.value = 2
    assert p11.C_GetInterfaceList(array, ctypes.byref(count)) == CKR.BUFFER_TOO_SMALL
    assert count.value == 3 and array[0].pFunctionList is None  # nothing written
    assert p11.C_GetInterfaceList(array, None) == ARGUMENTS_BAD
    assert p11.C_GetInterfaceList(None, None) == ARGUMENTS_BAD
    count.value = 7
    assert p11.C_GetInterfaceList(array, ctypes.byref(count)) == 0 and count.value == 3


def _get(p11: P11, name: bytes | None, version: tuple[int, int] | None, flags: int = 0) -> tuple[int, tuple[int, int] | None]:
    iface = ctypes.POINTER(CK_INTERFACE)()
    v = CK_VERSION(*version) if version is not None else None
    rv = p11.C_GetInterface(name, ctypes.byref(v) if v is not None else None,
                            ctypes.byref(iface), flags)
    return rv, (_version_of(iface.contents) if rv == 0 else None)


def test_get_interface_chooses_by_name_version_and_flags(p11: P11) -> None:
    assert _get(p11, None, None) == (0, (3, 2))  # the default: first of the list
    assert _get(p11, b"PKCS 11", None) == (0, (3, 2))
    for version in ((3, 2), (3, 0), (2, 40)):
        assert _get(p11, b"PKCS 11", version) == (0, version)
        assert _get(p11, None, version) == (0, version)
    assert _get(p11, b"PKCS 11", (3, 1))[0] == ARGUMENTS_BAD
    assert _get(p11, b"PKCS 11", (2, 20))[0] == ARGUMENTS_BAD
    assert _get(p11, b"Vendor tokenport", None)[0] == ARGUMENTS_BAD
    assert _get(p11, b"", None)[0] == ARGUMENTS_BAD
    assert _get(p11, None, None, flags=1)[0] == ARGUMENTS_BAD  # CKF_INTERFACE_FORK_SAFE
    assert _get(p11, b"PKCS 11", (3, 0), flags=0x80)[0] == ARGUMENTS_BAD
    assert p11.C_GetInterface(None, None, None, 0) == ARGUMENTS_BAD


@pytest.mark.parametrize(
    "version, names", [((2, 40), FUNCTION_LIST), ((3, 0), FUNCTION_LIST_3_0), ((3, 2), FUNCTION_LIST_3_2)]
)
def test_each_list_points_to_the_exported_symbols(
    p11: P11, version: tuple[int, int], names: tuple[str, ...]
) -> None:
    entries = p11.interface_list(version)
    assert all(entries)
    for name, entry in zip(names, entries):
        if name == "C_GetInfo" and version != (2, 40):
            continue  # the 3.x lists' C_GetInfo reports the list's version (below)
        assert entry == p11.address(name), name


@pytest.mark.parametrize("version", [(2, 40), (3, 0), (3, 2)])
def test_get_info_reports_the_version_of_the_list_used(lib: P11, version: tuple[int, int]) -> None:
    entries = lib.interface_list(version)
    get_info = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)(entries[2])
    info = CK_INFO()
    assert get_info(ctypes.byref(info)) == 0
    assert (info.cryptokiVersion.major, info.cryptokiVersion.minor) == version
    assert get_info(None) == ARGUMENTS_BAD
    exported = CK_INFO()
    assert lib.C_GetInfo(ctypes.byref(exported)) == 0
    assert (exported.cryptokiVersion.major, exported.cryptokiVersion.minor) == (2, 40)
    assert bytes(exported.manufacturerID) == bytes(info.manufacturerID)


def test_get_info_through_a_3_x_list_before_initialize(p11: P11) -> None:
    entries = p11.interface_list((3, 2))
    get_info = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)(entries[2])
    info = CK_INFO()
    assert get_info(ctypes.byref(info)) == CKR.CRYPTOKI_NOT_INITIALIZED
    assert info.cryptokiVersion.major == 0  # untouched on error


def _call_with_nulls(p11: P11, name: str, session: int = 0) -> int:
    fn = p11.functions[name]
    args: list[object] = [session] + [None if t is ctypes.c_void_p else 0 for t in fn.argtypes[1:]]
    return int(fn(*args))


@pytest.mark.parametrize("name", sorted(NOT_SUPPORTED))
def test_entries_not_implemented_return_function_not_supported(
    p11: P11, name: str, session: int
) -> None:
    assert _call_with_nulls(p11, name, session) == CKR.FUNCTION_NOT_SUPPORTED


@pytest.mark.parametrize("name", sorted(ADDED_IN_3_0[2:] + ADDED_IN_3_2))
def test_every_3_x_entry_needs_initialize_first(p11: P11, name: str) -> None:
    assert _call_with_nulls(p11, name, 1) == CKR.CRYPTOKI_NOT_INITIALIZED


NSS_HEADER = Path("/usr/include/nss/pkcs11.h")
_V3_TYPES = ("CK_GCM_MESSAGE_PARAMS", "CK_CCM_MESSAGE_PARAMS",
             "CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS", "CK_CCM_PARAMS",
             "CK_SALSA20_CHACHA20_POLY1305_PARAMS", "CK_FUNCTION_LIST_3_0")


def _probe(tmp_path: Path, name: str, includes: str, flags: list[str]) -> str:
    lines = [f'printf("{t} %zu\\n", sizeof({t}));' for t in _V3_TYPES]
    lines += [f'printf("{n} %zu\\n", offsetof(CK_FUNCTION_LIST_3_0, {n}));'
              for n in FUNCTION_LIST_3_0]
    src = tmp_path / f"{name}.c"
    src.write_text("#include <stdio.h>\n#include <stddef.h>\n" + includes
                   + "\nint main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n")
    exe = tmp_path / name
    subprocess.run(["gcc", *flags, "-o", str(exe), str(src)], check=True)
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(not NSS_HEADER.exists(), reason="libnss3-dev header not installed")
def test_v3_layouts_match_the_nss_header(tmp_path: Path, header_dir: str) -> None:
    """CK_FUNCTION_LIST_3_0 member offsets and the AEAD parameter structures of pkcs11_v3.h
    are those of NSS's copy of the OASIS 3.0 headers."""
    ours = _probe(tmp_path, "ours", '#include "pkcs11_v240.h"\n#include "pkcs11_v3.h"',
                  ["-I", header_dir])
    nss = _probe(tmp_path, "nss", "#include <pkcs11.h>",
                 ["-I", str(NSS_HEADER.parent), "-I", "/usr/include/nspr"])
    assert ours == nss
    assert "CK_FUNCTION_LIST_3_0 744\n" in ours


def test_v3_2_list_size(tmp_path: Path, header_dir: str) -> None:
    src = tmp_path / "size.c"
    src.write_text('#include <stdio.h>\n#include "pkcs11_v240.h"\n#include "pkcs11_v3.h"\n'
                   'int main(void) { printf("%zu\\n", sizeof(CK_FUNCTION_LIST_3_2)); return 0; }\n')
    subprocess.run(["gcc", "-I", header_dir, "-o", str(tmp_path / "size"), str(src)], check=True)
    out = subprocess.run([str(tmp_path / "size")], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "840"  # the version and 104 entries (LP64)
