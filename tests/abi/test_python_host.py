"""The module loaded by a Python host: it runs inside the host's interpreter (cffi embedding
shares the interpreter; the module must neither start a second one nor break the host).
Each scenario runs in a fresh interpreter."""

from __future__ import annotations

from pathlib import Path

from .conftest import run_python

SHARED_INTERPRETER = r"""
import ctypes, sys
import tokenport
from tokenport.abi import module_path
from tests.abi.p11ctypes import P11

host_tokenport = sys.modules["tokenport"]
p11 = P11(module_path())
assert "tokenport.abi.entry" not in sys.modules     # loading alone starts nothing
assert p11.C_Initialize(None) == 0
assert "tokenport.abi.entry" in sys.modules         # the callbacks live in this interpreter
assert sys.modules["tokenport"] is host_tokenport   # ... importing the host's package
count = ctypes.c_ulong()
assert p11.C_GetSlotList(0, None, ctypes.byref(count)) == 0
assert count.value >= 1, count.value
library = sys.modules["tokenport._pkcs11"].library  # this copy's state, in the host
assert library.module() is not None
assert p11.C_Finalize(None) == 0
assert p11.C_Finalize(None) == 0x190
print("OK")
"""


def test_python_host_shares_its_interpreter(module_path: str, token_home: Path) -> None:
    proc = run_python(SHARED_INTERPRETER)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stdout + proc.stderr


PYTHON_PKCS11 = r"""
import pkcs11
from tokenport.abi import module_path

lib = pkcs11.lib(module_path())
assert lib.cryptoki_version == (2, 40), lib.cryptoki_version
slots = lib.get_slots()
assert slots, "no slots"
token = slots[0].get_token()
print("OK", len(slots), repr(token.label))
"""


def test_python_pkcs11_loads_the_module(module_path: str, token_home: Path) -> None:
    proc = run_python(PYTHON_PKCS11)
    assert proc.returncode == 0 and proc.stdout.startswith("OK"), proc.stdout + proc.stderr


IMPORTED_BEFORE_LOADING = r"""
import ctypes
import tokenport.abi.entry                          # imports tokenport._pkcs11 as an extension
from tokenport.abi import module_path
from tests.abi.p11ctypes import P11

p11 = P11(module_path())
assert p11.C_Initialize(None) == 0
count = ctypes.c_ulong()
assert p11.C_GetSlotList(0, None, ctypes.byref(count)) == 0 and count.value >= 1
assert p11.C_Finalize(None) == 0
print("OK")
"""


def test_python_host_that_imported_the_abi_first(module_path: str, token_home: Path) -> None:
    proc = run_python(IMPORTED_BEFORE_LOADING)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stdout + proc.stderr


OS_FORK = r"""
import ctypes, os
from tokenport.abi import module_path
from tests.abi.p11ctypes import P11

p11 = P11(module_path())
assert p11.C_Initialize(None) == 0
pid = os.fork()
if pid == 0:
    info = ctypes.create_string_buffer(128)
    code = 0
    if p11.C_GetInfo(info) != 0x190:
        code = 3
    elif p11.C_Initialize(None) != 0 or p11.C_GetInfo(info) != 0 or p11.C_Finalize(None) != 0:
        code = 4
    os._exit(code)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
assert p11.C_GetInfo(ctypes.create_string_buffer(128)) == 0   # the parent is unaffected
assert p11.C_Finalize(None) == 0
print("OK")
"""


def test_python_host_os_fork_child_must_initialize(module_path: str, token_home: Path) -> None:
    proc = run_python(OS_FORK)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stdout + proc.stderr
