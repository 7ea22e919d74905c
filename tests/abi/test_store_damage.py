"""The store damaged under a running application, through the compiled module (issue 9
item 4): truncating the flash image to 0 bytes, or deleting the SQLite database, while a
process has the store open gives CKR_DEVICE_ERROR from C_CreateObject, never a signal and
never CKR_OK for an object that is stored nowhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenport.ck import CKR

from .conftest import run_python

SCRIPT = r"""
import ctypes, os, sys
from pathlib import Path
from tokenport.abi import module_path
from tokenport.ck import CKA, CKO
from tests.abi.p11ctypes import CK_ULONG, P11, template, ulong_bytes
from tests.abi.helpers import SO_PIN, first_slot, open_session

home = Path(os.environ["TOKENPORT_HOME"])
p11 = P11(module_path())
assert p11.C_Initialize(None) == 0
slot = first_slot(p11)
assert p11.C_InitToken(slot, SO_PIN, len(SO_PIN), b"damage".ljust(32)) == 0
session = open_session(p11, slot)
handle = CK_ULONG()
def create(label):
    attrs = template((int(CKA.CLASS), ulong_bytes(int(CKO.DATA)), None),
                     (int(CKA.TOKEN), b"\x01", None), (int(CKA.LABEL), label, None))
    return p11.C_CreateObject(session, attrs, 3, ctypes.byref(handle))
assert create(b"before") == 0
DAMAGE
print(hex(create(b"after")))
print(hex(create(b"again")))
"""

DAMAGES = {
    "flash": (
        '[store]\nbackend = "flash"\n',
        'os.truncate(home / "tokenport.flash", 0)',
    ),
    "sqlite": (
        "",
        '[os.unlink(f) for f in home.glob("tokenport.sqlite3*")]',
    ),
}


@pytest.mark.parametrize("backend", sorted(DAMAGES))
def test_a_damaged_store_gives_device_error_not_a_signal(
    backend: str, module_path: str, token_home: Path
) -> None:
    config, damage = DAMAGES[backend]
    (token_home / "tokenport.toml").write_text(config)
    proc = run_python(SCRIPT.replace("DAMAGE", damage), timeout=60)
    assert proc.returncode == 0, (proc.returncode, proc.stdout + proc.stderr)
    assert proc.stdout.split() == [hex(CKR.DEVICE_ERROR)] * 2
