"""The suite's own ctypes binding: the function table matches the v2.40 header, values are
encoded as the ABI wants them, and a file that is no module is refused (not a CKR code)."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import pytest

from tokenport.qualify.p11 import (
    FUNCTIONS,
    UNAVAILABLE,
    Client,
    ModuleLoadError,
    decode_ulong,
    encode_value,
    rv_name,
)

_MEMBER = re.compile(r"CK_RV\s*\(\s*\*\s*(C_\w+)\s*\)\s*\((.*?)\)\s*;", re.DOTALL)


def test_function_table_is_the_v240_order() -> None:
    """Names, order and arity of CK_FUNCTION_LIST, compared with the header tokenport ships."""
    from tokenport.abi import header_path

    header = Path(header_path()).read_text(encoding="utf-8")
    body = header[header.index("struct CK_FUNCTION_LIST {"):]
    body = body[: body.index("};")]
    members = [(name, len(params.split(","))) for name, params in _MEMBER.findall(body)]
    assert [(name, len(args)) for name, args in FUNCTIONS] == members
    assert len(FUNCTIONS) == 68
    assert FUNCTIONS[4] == ("C_GetSlotList", (ctypes.c_ubyte, ctypes.c_void_p, ctypes.c_void_p))


def test_value_encoding() -> None:
    assert encode_value(True) == b"\x01" and encode_value(False) == b"\x00"
    assert encode_value(3) == bytes(ctypes.c_ulong(3))
    assert encode_value("Device Cert") == b"Device Cert"
    assert decode_ulong(bytes(ctypes.c_ulong(0x1234))) == 0x1234
    assert UNAVAILABLE == 2 ** (8 * ctypes.sizeof(ctypes.c_ulong)) - 1
    assert rv_name(0x150) == "CKR_BUFFER_TOO_SMALL" and rv_name(0x8000_0001) == "0x80000001"


def test_not_a_module(tmp_path: Path) -> None:
    with pytest.raises(ModuleLoadError, match="cannot load"):
        Client(str(tmp_path / "missing.so"))
    text = tmp_path / "text.so"
    text.write_text("not a library")
    with pytest.raises(ModuleLoadError, match="cannot load"):
        Client(str(text))
