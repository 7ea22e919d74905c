"""A damaged, shrunk or vanished store never kills the host (issue 9, item 4).

Each scenario runs the compiled module in its own Python host (ctypes, a fresh interpreter)
on a store of the backend it names: it initializes a token, creates an object, damages the
store's files behind the module's back, then calls C_CreateObject again. The host must
survive (no signal exit: a SIGBUS from a memory-mapped file that shrank used to end it with
rc 135) and get CKR_DEVICE_ERROR, never CKR_OK for an object the store can no longer keep.
"""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest

from tokenport.ck import CKR

from .conftest import run_python

HOST = r"""
import ctypes, os, shutil, sys
from tokenport.abi import module_path
from tokenport.ck import CKA, CKO
from tests.abi.p11ctypes import CK_ULONG, P11, template, ulong_bytes
from tests.abi.helpers import SO_PIN, first_slot, open_session

home = os.environ["TOKENPORT_HOME"]
p11 = P11(module_path())
assert p11.C_Initialize(None) == 0
slot = first_slot(p11)
assert p11.C_InitToken(slot, SO_PIN, len(SO_PIN), b"damage".ljust(32)) == 0
session = open_session(p11, slot)

def create(label):
    handle = CK_ULONG()
    attrs = template(
        (int(CKA.CLASS), ulong_bytes(int(CKO.DATA)), None),
        (int(CKA.TOKEN), b"\x01", None),
        (int(CKA.LABEL), label, None),
        (int(CKA.VALUE), b"v" * 100, None),
    )
    return p11.C_CreateObject(session, attrs, len(attrs), ctypes.byref(handle))

assert create(b"before") == 0
DAMAGE
print("create=%#x" % create(b"after"), flush=True)
print("again=%#x" % create(b"again"), flush=True)
print("finalize=%#x" % p11.C_Finalize(None), flush=True)
"""

SCENARIOS = {
    # backend, config lines, damage
    "flash image truncated to 0": (
        "flash",
        "[store.flash]\nsectors = 16\nsector_size = 4096\n",
        "os.truncate(os.path.join(home, 'tokenport.flash'), 0)",
    ),
    "flash image truncated to one sector": (
        "flash",
        "[store.flash]\nsectors = 16\nsector_size = 4096\n",
        "os.truncate(os.path.join(home, 'tokenport.flash'), 4096)",
    ),
    "flash image deleted": (
        "flash", "", "os.unlink(os.path.join(home, 'tokenport.flash'))",
    ),
    "sqlite database deleted": (
        "sqlite", "", "os.unlink(os.path.join(home, 'tokenport.sqlite3'))",
    ),
    "sqlite database replaced": (
        "sqlite",
        "",
        ("db = os.path.join(home, 'tokenport.sqlite3')\n"
        "os.rename(db, db + '.moved')\n"
        "shutil.copyfile(db + '.moved', db)"),
    ),
    "sqlite shared-memory index truncated": (
        "sqlite", "", "os.truncate(os.path.join(home, 'tokenport.sqlite3-shm'), 0)",
    ),
    "files directory deleted": (
        "files", "", "shutil.rmtree(os.path.join(home, 'objects'))",
    ),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_damaged_store_gives_device_error(
    scenario: str, module_path: str, token_home: Path, tmp_path: Path
) -> None:
    backend, options, damage = SCENARIOS[scenario]
    conf = tmp_path / "tokenport.toml"
    conf.write_text(f'[store]\nbackend = "{backend}"\n{options}')
    env = dict(os.environ, TOKENPORT_CONF=str(conf))
    proc = run_python(HOST.replace("DAMAGE", damage), env=env)
    assert proc.returncode >= 0, (
        f"the host died of {signal.Signals(-proc.returncode).name}: {proc.stderr[-2000:]}"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    values = dict(line.split("=", 1) for line in proc.stdout.split())
    assert int(values["create"], 16) == CKR.DEVICE_ERROR, proc.stdout + proc.stderr[-3000:]
    assert int(values["again"], 16) == CKR.DEVICE_ERROR, proc.stdout + proc.stderr[-3000:]
    assert int(values["finalize"], 16) == CKR.OK


PRIVATE_HOME = r"""
import os
os.umask(UMASK)
from tokenport.abi import module_path
from tests.abi.p11ctypes import P11
from tests.abi.helpers import SO_PIN, first_slot

p11 = P11(module_path())
assert p11.C_Initialize(None) == 0
slot = first_slot(p11)
assert p11.C_InitToken(slot, SO_PIN, len(SO_PIN), b"modes".ljust(32)) == 0
assert p11.C_Finalize(None) == 0
print("OK")
"""


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=oct)
@pytest.mark.parametrize("backend", ["sqlite", "files", "flash"])
def test_store_directory_is_private_whatever_the_umask(
    backend: str, umask: int, module_path: str, tmp_path: Path
) -> None:
    """Issue 9, item 7, through the module: a TOKENPORT_HOME that does not exist yet (nor
    its parent) is created 0700 with everything in it private (the files backend's store
    directory used to get 0755, or 0777 with umask 0)."""
    home = tmp_path / "new-parent" / "home"
    conf = tmp_path / "tokenport.toml"
    conf.write_text(f'[store]\nbackend = "{backend}"\n')
    env = dict(os.environ, TOKENPORT_CONF=str(conf), TOKENPORT_HOME=str(home))
    proc = run_python(PRIVATE_HOME.replace("UMASK", oct(umask)), env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stdout + proc.stderr
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode)
             for p in [home.parent, home, *home.rglob("*")]}
    wrong = {name: oct(mode) for name, mode in modes.items()
             if mode != (0o700 if (tmp_path / name).is_dir() else 0o600)}
    assert not wrong, wrong
