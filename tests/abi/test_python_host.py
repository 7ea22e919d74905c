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


# -- the cyclic GC is paused inside every call (no host finalizer runs in a call) ------------
#
# A host profile function (sys.setprofile) runs inside a call for every Python frame of
# tokenport: it sees the collector's state there and can hold a thread inside a call (at the
# start of the guard, before any tokenport lock) to make calls of two threads overlap.

GC_PAUSE = r"""
import ctypes, gc, sys
from tokenport.abi import module_path
from tests.abi.p11ctypes import P11

seen = []          # gc.isenabled() at every profile event inside a call
state = {"inside": False, "enable": False, "raise": None}

def profile(frame, event, arg):
    if not state["inside"] or event != "call":
        return
    seen.append(gc.isenabled())
    if "tokenport" in frame.f_code.co_filename and frame.f_code.co_name == "callback":
        if state["enable"]:
            gc.enable()                          # the host enables the collector in a call
        if state["raise"] is not None:
            raise state["raise"]("raised by the host inside a call")

def call(name, *args):
    function = getattr(p11, name)
    seen.clear()
    state["inside"] = True
    sys.setprofile(profile)                      # a raising profile function is removed
    try:
        return function(*args)
    finally:
        sys.setprofile(None)
        state["inside"] = False

p11 = P11(module_path())
assert gc.isenabled()
assert call("C_Initialize", None) == 0           # the first call: the embedded init runs in it
assert len(seen) > 100 and not any(seen), (len(seen), seen.count(True))
assert gc.isenabled()
info = ctypes.create_string_buffer(128)
assert call("C_GetInfo", info) == 0
assert seen and not any(seen) and gc.isenabled(), seen

gc.disable()                                     # the host's own choice is kept
assert call("C_GetInfo", info) == 0
assert seen and not any(seen) and not gc.isenabled(), seen
state["enable"] = True                           # ... also a change made during the call
assert call("C_GetInfo", info) == 0
assert gc.isenabled()
state["enable"] = False

for error in (RuntimeError, KeyboardInterrupt):  # no path leaves the collector paused
    state["raise"] = error
    assert call("C_GetInfo", info) == 0x5        # CKR_GENERAL_ERROR
    assert gc.isenabled(), error
    state["raise"] = None
    assert call("C_GetInfo", info) == 0
    assert seen and not any(seen) and gc.isenabled(), seen
assert call("C_GetSessionInfo", 12345, info) == 0xB3    # a PKCS11Error: CKR_SESSION_HANDLE_INVALID
assert seen and not any(seen) and gc.isenabled(), seen
assert call("C_Finalize", None) == 0
assert gc.isenabled()
print("OK")
"""


def test_python_host_gc_is_paused_inside_calls(module_path: str, token_home: Path) -> None:
    proc = run_python(GC_PAUSE)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stdout + proc.stderr


OVERLAPPING_CALLS = r"""
import ctypes, gc, sys, threading
from tokenport.abi import module_path
from tests.abi.p11ctypes import P11

WAIT = 60
a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()
result = {}

def entering(frame, event):
    return event == "call" and frame.f_code.co_name == "callback" and "tokenport" in frame.f_code.co_filename

def profile_a(frame, event, arg):       # A stays in its call until B is in its own
    if entering(frame, event) and not a_inside.is_set():
        a_inside.set()
        result["a_saw_b"] = b_inside.wait(WAIT)
        result["a_inside"] = gc.isenabled()

def profile_b(frame, event, arg):       # B stays in its call until A has left
    if entering(frame, event) and not b_inside.is_set():
        b_inside.set()
        result["b_saw_a_leave"] = a_left.wait(WAIT)
        result["b_after_a_left"] = gc.isenabled()

def thread_a():
    sys.setprofile(profile_a)
    result["a_rv"] = p11.C_GetInfo(ctypes.create_string_buffer(128))
    sys.setprofile(None)
    result["a_returned"] = gc.isenabled()
    a_left.set()

def thread_b():
    if not a_inside.wait(WAIT):
        return
    sys.setprofile(profile_b)
    result["b_rv"] = p11.C_GetInfo(ctypes.create_string_buffer(128))
    sys.setprofile(None)

p11 = P11(module_path())
assert p11.C_Initialize(None) == 0
threads = [threading.Thread(target=f, daemon=True) for f in (thread_a, thread_b)]
for t in threads:
    t.start()
for t in threads:
    t.join(2 * WAIT)
assert result == {
    "a_saw_b": True, "a_inside": False, "a_rv": 0,
    "a_returned": False,                 # B is still inside a call
    "b_saw_a_leave": True, "b_after_a_left": False, "b_rv": 0,
}, result
assert gc.isenabled()                    # the last call out re-enabled the collector
assert p11.C_Finalize(None) == 0
print("OK")
"""


def test_python_host_gc_pause_counts_overlapping_calls(
    module_path: str, token_home: Path
) -> None:
    proc = run_python(OVERLAPPING_CALLS)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stdout + proc.stderr


FORK_DURING_A_CALL = r"""
import ctypes, gc, os, sys, threading
from tokenport.abi import module_path
from tests.abi.p11ctypes import P11

inside, forked = threading.Event(), threading.Event()

def profile(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "callback" and not inside.is_set():
        inside.set()
        forked.wait(60)

def in_call():
    sys.setprofile(profile)
    assert p11.C_GetInfo(ctypes.create_string_buffer(128)) == 0
    sys.setprofile(None)

p11 = P11(module_path())
assert p11.C_Initialize(None) == 0
worker = threading.Thread(target=in_call, daemon=True)
worker.start()
assert inside.wait(60)
assert not gc.isenabled()                # paused: the worker is inside a call
pid = os.fork()
if pid == 0:                             # the worker's call does not exist here
    code = 0 if gc.isenabled() else 3
    if code == 0 and (p11.C_Initialize(None) != 0 or not gc.isenabled()):
        code = 4
    os._exit(code)
forked.set()
worker.join(60)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
assert gc.isenabled()
assert p11.C_Finalize(None) == 0
print("OK")
"""


def test_python_host_fork_during_a_call_ends_the_gc_pause_in_the_child(
    module_path: str, token_home: Path
) -> None:
    proc = run_python(FORK_DURING_A_CALL)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stdout + proc.stderr
