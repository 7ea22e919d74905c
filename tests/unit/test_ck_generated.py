"""ck.py is exactly what tools/gen_ck.py makes from the official header, and its fast-built
enumerations behave as IntEnum / IntFlag (names, aliases, value lookup, flag arithmetic)."""

from __future__ import annotations

import enum
import subprocess
import sys
from pathlib import Path

import pytest

from tokenport import ck

ROOT = Path(__file__).resolve().parents[2]
HEADER = Path("/usr/include/p11-kit-1/p11-kit/pkcs11.h")


@pytest.mark.skipif(not HEADER.is_file(), reason="needs libp11-kit-dev (installed by .ci/run)")
def test_ck_py_is_generated_from_the_header() -> None:
    generated = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_ck.py"), str(HEADER)],
                               check=True, capture_output=True, text=True).stdout
    assert generated == (ROOT / "src" / "tokenport" / "ck.py").read_text(encoding="utf-8")


def test_enumerations_are_int_enums_with_names_and_values() -> None:
    assert issubclass(ck.CKM, enum.IntEnum) and issubclass(ck.CKF, enum.IntFlag)
    assert ck.CKM.ECDSA == 0x1041 and isinstance(ck.CKM.ECDSA, int)
    assert ck.CKM(0x1041) is ck.CKM.ECDSA and ck.CKM(0x1041).name == "ECDSA"
    assert ck.CKR["PIN_INCORRECT"] == 0xA0
    assert repr(ck.CKM.ECDSA) == "<CKM.ECDSA: 4161>"
    with pytest.raises(ValueError):
        ck.CKR(0x7FFF_FFFE)
    assert ck.CKF.SIGN | ck.CKF.VERIFY == 0x2800
    assert isinstance(ck.CKF.SIGN | ck.CKF.VERIFY, ck.CKF)
    # an alias keeps the first name's member
    assert ck.CKM.ECDSA_KEY_PAIR_GEN is ck.CKM.EC_KEY_PAIR_GEN


def test_members_are_plain_class_attributes_for_fast_reads() -> None:
    # the hot paths read CKA.* / CKM.* many times per call: no descriptor in between
    for enumeration in (ck.CKA, ck.CKM, ck.CKF, ck.CKR):
        for name, member in enumeration.__members__.items():
            assert vars(enumeration)[name] is member, f"{enumeration.__name__}.{name}"
