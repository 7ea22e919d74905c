"""The compiled module's shape: function list, exports, link flags, header layout (s5.2)."""

from __future__ import annotations

import re
import subprocess
import sysconfig
from pathlib import Path

import pytest

import tokenport.abi
from tokenport.abi.functions import (
    C_ONLY,
    FUNCTION_LIST,
    FUNCTION_LIST_3_2,
    PYTHON_FUNCTIONS,
    SESSION_FUNCTIONS,
)

from .p11ctypes import P11, header_signatures

P11KIT_HEADER = Path("/usr/include/p11-kit-1/p11-kit/pkcs11.h")


def test_function_list_has_the_68_entries_of_v240_in_header_order(header_dir: str) -> None:
    header = (Path(header_dir) / "pkcs11_v240.h").read_text()
    names = [name for name, _ in header_signatures(header)]
    assert len(FUNCTION_LIST) == 68
    assert tuple(names) == FUNCTION_LIST
    assert set(PYTHON_FUNCTIONS) | C_ONLY == set(FUNCTION_LIST_3_2)  # every list's entries
    assert SESSION_FUNCTIONS <= set(PYTHON_FUNCTIONS)


@pytest.mark.skipif(not P11KIT_HEADER.exists(), reason="libp11-kit-dev header not installed")
def test_function_list_order_matches_the_official_header() -> None:
    text = P11KIT_HEADER.read_text()
    body = re.search(r"struct ck_function_list\s*\{(.*?)\};", text, re.DOTALL)
    assert body is not None
    official = re.findall(r"CK_(C_\w+)\s+C_\w+;", body.group(1))
    assert tuple(official) == FUNCTION_LIST


_LAYOUT_PROBE = """
#include <stdio.h>
#include <stddef.h>
#include HEADER
#define S(t) printf("%s %zu\\n", #t, sizeof(t));
int main(void) {
    S(CK_VERSION) S(CK_INFO) S(CK_SLOT_INFO) S(CK_TOKEN_INFO) S(CK_SESSION_INFO)
    S(CK_ATTRIBUTE) S(CK_DATE) S(CK_MECHANISM) S(CK_MECHANISM_INFO) S(CK_C_INITIALIZE_ARGS)
    S(CK_RSA_PKCS_OAEP_PARAMS) S(CK_RSA_PKCS_PSS_PARAMS) S(CK_ECDH1_DERIVE_PARAMS)
    S(CK_AES_CTR_PARAMS) S(CK_GCM_PARAMS) S(CK_FUNCTION_LIST)
    printf("flags %zu\\n", offsetof(CK_TOKEN_INFO, flags));
    printf("utcTime %zu\\n", offsetof(CK_TOKEN_INFO, utcTime));
    printf("libraryVersion %zu\\n", offsetof(CK_INFO, libraryVersion));
    printf("C_WaitForSlotEvent %zu\\n", offsetof(CK_FUNCTION_LIST, C_WaitForSlotEvent));
    return 0;
}
"""


def _layout(tmp_path: Path, header: str, name: str) -> str:
    src = tmp_path / f"{name}.c"
    src.write_text(_LAYOUT_PROBE.replace("HEADER", f'"{header}"'))
    exe = tmp_path / name
    subprocess.run(["gcc", "-o", str(exe), str(src)], check=True)
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(not P11KIT_HEADER.exists(), reason="libp11-kit-dev header not installed")
def test_struct_layouts_match_the_official_header(tmp_path: Path, header_dir: str) -> None:
    ours = _layout(tmp_path, str(Path(header_dir) / "pkcs11_v240.h"), "ours")
    official = _layout(tmp_path, str(P11KIT_HEADER), "official")
    assert ours == official


def test_module_path_is_the_built_library_inside_the_package(module_path: str) -> None:
    path = Path(module_path)
    assert path.is_absolute() and path.is_file()
    assert path.parent == Path(tokenport.abi.__file__).resolve().parent.parent
    assert path.name.startswith("_pkcs11") and path.suffix == ".so"


def test_module_path_explains_a_missing_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokenport.abi, "_PACKAGE_DIR", tmp_path)
    with pytest.raises(tokenport.abi.ModuleNotBuilt, match="pip install"):
        tokenport.abi.module_path()


def test_every_function_list_entry_is_the_exported_c_function(p11: P11) -> None:
    entries = p11.function_list()
    assert all(entries)
    assert entries == [p11.address(name) for name in FUNCTION_LIST]


def _dynamic_symbols(module_path: str) -> set[str]:
    out = subprocess.run(
        ["nm", "-D", "--defined-only", module_path], check=True, capture_output=True, text=True
    ).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def test_exports_are_the_pkcs11_entry_points_only(module_path: str) -> None:
    expected = set(FUNCTION_LIST_3_2) | {"PyInit__pkcs11"}  # 3.2 includes 2.40 and 3.0
    assert _dynamic_symbols(module_path) == expected


def test_linked_to_libpython_never_unloaded_with_rpath(module_path: str) -> None:
    dynamic = subprocess.run(
        ["readelf", "-d", module_path], check=True, capture_output=True, text=True
    ).stdout
    assert sysconfig.get_config_var("INSTSONAME") in dynamic
    assert re.search(r"FLAGS_1.*NODELETE", dynamic)
    assert re.search(r"R(UN)?PATH.*" + re.escape(sysconfig.get_config_var("LIBDIR")), dynamic)
