"""A call that re-enters the module on the thread already inside it never deadlocks
(DESIGN.md "The C ABI"; tokenport.reentry).

The real way in: a Python host runs its signal handlers in the main thread between any two
bytecodes, also those of tokenport's own code in the middle of a call. The host below fires a
timer signal every millisecond while its main loop creates, finds and destroys token
objects, draws random bytes and digests; the handler calls the module each time. What must
hold: nothing hangs; the interrupted calls all succeed; a re-entrant call either succeeds or,
when it would enter a critical section its own thread is in the middle of (the DRBG, the
store), gets CKR_FUNCTION_FAILED and nothing else.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import run_python

REENTRY = r"""
import ctypes, signal, sys, time
from collections import Counter
from tokenport.abi import module_path
from tests.abi.p11ctypes import P11, CK_MECHANISM, CK_SESSION_INFO, template

OK, FUNCTION_FAILED = 0, 0x6
p11 = P11(module_path())
byref = ctypes.byref
assert p11.C_Initialize(None) == OK
count = ctypes.c_ulong(8); slots = (ctypes.c_ulong * 8)()
assert p11.C_GetSlotList(1, slots, byref(count)) == OK
SO, PIN = b"so-pin-1234", b"user-1234"
assert p11.C_InitToken(slots[0], SO, len(SO), b"reentry".ljust(32)) == OK
count.value = 8
assert p11.C_GetSlotList(1, slots, byref(count)) == OK
slot = slots[0]
handle = ctypes.c_ulong()
assert p11.C_OpenSession(slot, 6, None, None, byref(handle)) == OK
main = handle.value
assert p11.C_Login(main, 0, SO, len(SO)) == OK and p11.C_InitPIN(main, PIN, len(PIN)) == OK
assert p11.C_Logout(main) == OK and p11.C_Login(main, 1, PIN, len(PIN)) == OK
assert p11.C_OpenSession(slot, 6, None, None, byref(handle)) == OK
side = handle.value  # the handler's own session

inner = Counter()
def inside_a_call(frame):
    while frame is not None:
        code = frame.f_code
        if code.co_name == "callback" and code.co_filename.endswith("entry.py"):
            return True
        frame = frame.f_back
    return False

busy = False
def handler(signum, frame):
    global busy
    if busy:  # a signal during the handler's own calls: let it pass
        return
    busy = True
    try:
        run_handler(frame)
    finally:
        busy = False

def run_handler(frame):
    where = "inside" if inside_a_call(frame) else "outside"
    info = CK_SESSION_INFO()
    buf = ctypes.create_string_buffer(32)
    found = (ctypes.c_ulong * 4)(); n = ctypes.c_ulong()
    rvs = [p11.C_GetSessionInfo(side, byref(info)), p11.C_GenerateRandom(side, buf, 32)]
    rv = p11.C_FindObjectsInit(side, None, 0)
    rvs.append(rv)
    if rv == OK:
        rvs += [p11.C_FindObjects(side, found, 4, byref(n)), p11.C_FindObjectsFinal(side)]
    for rv in rvs:
        inner[(where, rv)] += 1

signal.signal(signal.SIGALRM, handler)
signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
outer = Counter()
sha = CK_MECHANISM(); sha.mechanism = 0x250
data = ctypes.create_string_buffer(b"x" * 4096, 4096)
digest = ctypes.create_string_buffer(32); dlen = ctypes.c_ulong()
rnd = ctypes.create_string_buffer(64)
obj = ctypes.c_ulong(); found = (ctypes.c_ulong * 16)(); n = ctypes.c_ulong()
deadline = time.monotonic() + 3
i = 0
while time.monotonic() < deadline or inner[("inside", OK)] < 5:
    i += 1
    label = b"reentry-%d" % i
    t = template((0x0, bytes(ctypes.c_ulong(0)), None), (0x1, b"\x01", None), (0x3, label, None),
                 (0x11, b"v" * 64, None))
    outer[p11.C_CreateObject(main, t, 4, byref(obj))] += 1
    outer[p11.C_GenerateRandom(main, rnd, 64)] += 1
    dlen.value = 32
    outer[p11.C_DigestInit(main, byref(sha))] += 1
    outer[p11.C_Digest(main, data, 4096, digest, byref(dlen))] += 1
    outer[p11.C_FindObjectsInit(main, t, 1)] += 1
    outer[p11.C_FindObjects(main, found, 16, byref(n))] += 1
    outer[p11.C_FindObjectsFinal(main)] += 1
    outer[p11.C_DestroyObject(main, obj.value)] += 1
    if time.monotonic() > deadline + 60:
        break
signal.setitimer(signal.ITIMER_REAL, 0, 0)
assert set(outer) == {OK}, outer
assert {rv for (_, rv) in inner} <= {OK, FUNCTION_FAILED}, inner
assert inner[("inside", OK)] >= 5, inner
assert p11.C_Finalize(None) == OK
print("OK", i, dict(inner))
"""


def test_a_signal_handler_calling_the_module_mid_call_never_deadlocks(
    module_path: str, token_home: Path
) -> None:
    proc = run_python(REENTRY, timeout=180)
    assert proc.returncode == 0 and proc.stdout.startswith("OK"), proc.stdout + proc.stderr
