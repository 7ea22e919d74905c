"""The entropy port through the compiled module: fork safety and CKR_DEVICE_ERROR from a
failing source."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from tokenport.ck import CKR

from .conftest import run_python
from .helpers import SO_PIN, first_slot, open_session
from .p11ctypes import P11

FIXED_SOURCE = '[entropy]\nsource = "fixed"\nallow_fixed_source = true\n'

FORK = r"""
import ctypes, os
from tokenport.abi import module_path
from tests.abi.p11ctypes import P11
from tests.abi.helpers import SO_PIN, first_slot, open_session

p11 = P11(module_path())

def draw(session, n=32):
    buf = ctypes.create_string_buffer(n)
    rv = p11.C_GenerateRandom(session, buf, n)
    assert rv == 0, hex(rv)
    return buf.raw

assert p11.C_Initialize(None) == 0
slot = first_slot(p11)
assert p11.C_InitToken(slot, SO_PIN, len(SO_PIN), b"fork".ljust(32)) == 0
session = open_session(p11, slot)
before = draw(session)
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    code = 0
    try:
        os.close(read_end)
        if p11.C_GenerateRandom(session, ctypes.create_string_buffer(8), 8) != 0x190:
            code = 3        # the child must call C_Initialize first (s6.7.1)
        elif p11.C_Initialize(None) != 0:
            code = 4
        else:
            child_session = open_session(p11, first_slot(p11))
            os.write(write_end, draw(child_session, 64))
            p11.C_Finalize(None)
    except BaseException:
        code = 5
    os._exit(code)
os.close(write_end)
parent = draw(session, 64)
child = b""
while chunk := os.read(read_end, 4096):
    child += chunk
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
assert p11.C_Finalize(None) == 0
print(before.hex(), parent.hex(), child.hex())
"""


@pytest.mark.parametrize("source", ["os", "fixed"])
def test_parent_and_child_never_return_the_same_bytes(
    module_path: str, token_home: Path, source: str
) -> None:
    """A host forks after C_Initialize; parent and child both draw. With the fixed test
    source both processes get the very same entropy: their outputs still differ (the
    child's instantiation names its own pid and time)."""
    if source == "fixed":
        (token_home / "tokenport.toml").write_text(FIXED_SOURCE, encoding="utf-8")
    proc = run_python(FORK)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before, parent, child = proc.stdout.split()
    assert len(child) == 128 and len(parent) == 128
    assert parent != child
    blocks = {parent[i:i + 16] for i in range(0, 128, 16)}
    assert not blocks & {child[i:i + 16] for i in range(0, 128, 16)}
    assert before not in (parent[:64], child[:64])


def test_stuck_source_is_ckr_device_error(
    lib: P11, token_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    slot = first_slot(lib)
    assert lib.C_InitToken(slot, SO_PIN, len(SO_PIN), b"stuck".ljust(32)) == 0
    assert lib.C_Finalize(None) == 0
    conf = tmp_path / "stuck.toml"
    conf.write_text(
        '[entropy.tokens.stuck]\nsource = "fixed"\nallow_fixed_source = true\n'
        'fixed_pattern = "00"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("TOKENPORT_CONF", str(conf))
    assert lib.C_Initialize(None) == 0
    session = open_session(lib, slot)
    out = ctypes.create_string_buffer(16)
    assert lib.C_GenerateRandom(session, out, 16) == CKR.DEVICE_ERROR
    assert out.raw == bytes(16)  # nothing was written
    assert lib.C_SeedRandom(session, b"seed", 4) == CKR.DEVICE_ERROR
    assert lib.C_GenerateRandom(session, out, 16) == CKR.DEVICE_ERROR  # keeps failing


def test_token_init_with_a_stuck_source_is_ckr_device_error(
    p11: P11, token_home: Path
) -> None:
    (token_home / "tokenport.toml").write_text(
        FIXED_SOURCE + 'fixed_pattern = "abab"\n', encoding="utf-8"
    )
    assert p11.C_Initialize(None) == 0
    try:
        slot = first_slot(p11)
        rv = p11.C_InitToken(slot, SO_PIN, len(SO_PIN), b"t".ljust(32))
        assert rv == CKR.DEVICE_ERROR
    finally:
        p11.C_Finalize(None)
