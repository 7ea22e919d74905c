"""PyKCS11 as a client, and Python hosts that never hang (issue 9 item 10).

Inside a Python host tokenport shares the host's interpreter, so a garbage collection
started inside a call could run host finalizers there. PyKCS11's ``PyKCS11Lib.__del__``
unloads under the class lock that ``load()`` holds around C_Initialize: the loop below hung
on its 4th turn before the collector was paused during calls (it completes on SoftHSM).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from .tools import Token, init_with_cli, new_token, output, parse_results, run

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("PyKCS11") is None,
    reason="PyKCS11 is not installed (pip install '.[test]')",
)

LOOP = r"""
import sys, PyKCS11
for i in range(20):
    lib = PyKCS11.PyKCS11Lib(); lib.load(sys.argv[1]); lib.unload()
    lib.self_ref = lib          # garbage in a cycle, freed by the GC at a later allocation
    del lib
print("done", flush=True)
"""


@pytest.fixture
def tok(module_path: str, tmp_path: Path) -> Token:
    token = new_token(module_path, tmp_path, "pykcs11")
    init_with_cli(token)
    return token


def test_the_unload_in_a_finalizer_loop_completes(tok: Token) -> None:
    proc = run([sys.executable, "-c", LOOP, tok.module], tok.env, timeout=60)
    assert proc.returncode == 0, output(proc)
    assert proc.stdout.strip() == "done"


FINALIZER_CALLS_BACK = r"""
import ctypes, gc, sys, threading
lib = ctypes.CDLL(sys.argv[1])
info = ctypes.create_string_buffer(256)
assert lib.C_Initialize(None) == 0
calls = []

class Reentrant:
    '''Garbage whose finalizer calls the module (it may run between calls, never inside).'''
    def __del__(self):
        calls.append(lib.C_GetInfo(info))

def churn():
    for _ in range(3000):
        node = Reentrant(); node.cycle = node; del node
        assert lib.C_GetInfo(info) == 0

threads = [threading.Thread(target=churn) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
gc.collect()
assert calls and set(calls) == {0}, set(calls)
assert gc.isenabled()
gc.disable()
assert lib.C_GetInfo(info) == 0 and not gc.isenabled()   # the host's choice is kept
gc.enable()
assert lib.C_Finalize(None) == 0
assert lib.C_Finalize(None) != 0 and gc.isenabled()      # an error path restores it too
print("finalizers", len(calls), flush=True)
"""


def test_host_finalizers_that_call_back_run_between_calls(tok: Token) -> None:
    proc = run([sys.executable, "-c", FINALIZER_CALLS_BACK, tok.module], tok.env, timeout=120)
    assert proc.returncode == 0, output(proc)
    assert proc.stdout.startswith("finalizers ")


FORK_WHILE_CALLING = r"""
import ctypes, gc, os, sys, threading
lib = ctypes.CDLL(sys.argv[1])
info = ctypes.create_string_buffer(256)
assert lib.C_Initialize(None) == 0
stop = False
def busy():
    while not stop:
        lib.C_GetInfo(info)
worker = threading.Thread(target=busy); worker.start()
bad = 0
for _ in range(20):
    pid = os.fork()
    if pid == 0:
        os._exit(0 if gc.isenabled() else 1)
    bad += os.waitpid(pid, 0)[1] != 0
stop = True; worker.join()
print("children with the collector off:", bad, flush=True)
assert bad == 0
"""


def test_a_child_forked_during_calls_has_its_collector_back(tok: Token) -> None:
    proc = run([sys.executable, "-c", FORK_WHILE_CALLING, tok.module], tok.env, timeout=120)
    assert proc.returncode == 0, output(proc)


CLIENT = r"""
import json, os, sys
import PyKCS11
from PyKCS11 import CKA_CLASS, CKA_ID, CKA_LABEL, CKA_EC_POINT, CKA_MODULUS, \
    CKA_PUBLIC_EXPONENT, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKA_KEY_TYPE, CKK_EC, CKK_RSA, \
    CKA_TOKEN, CKA_SIGN, CKA_VERIFY, CKA_EC_PARAMS, CKA_MODULUS_BITS, CKA_PRIVATE, \
    CKA_SENSITIVE, CKM_EC_KEY_PAIR_GEN, CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_ECDSA_SHA256, \
    CKM_SHA256_RSA_PKCS, CKF_RW_SESSION, CKF_SERIAL_SESSION, CKU_USER, CK_TRUE, CK_FALSE

pkcs11 = PyKCS11.PyKCS11Lib()
pkcs11.load(os.environ["TP_MODULE"])
slot = next(s for s in pkcs11.getSlotList(tokenPresent=True)
            if pkcs11.getTokenInfo(s).label.strip() == os.environ["TP_TOKEN"])
session = pkcs11.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
session.login(os.environ["TP_PIN"])
p256 = bytes.fromhex("06082a8648ce3d030107")
ec_pub, ec_priv = session.generateKeyPair(
    [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_EC), (CKA_TOKEN, CK_TRUE),
     (CKA_EC_PARAMS, p256), (CKA_VERIFY, CK_TRUE), (CKA_LABEL, "pyk-ec"), (CKA_ID, (1,))],
    [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_EC), (CKA_TOKEN, CK_TRUE),
     (CKA_SIGN, CK_TRUE), (CKA_LABEL, "pyk-ec"), (CKA_ID, (1,))],
    mecha=PyKCS11.Mechanism(CKM_EC_KEY_PAIR_GEN))
rsa_pub, rsa_priv = session.generateKeyPair(
    [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_RSA), (CKA_TOKEN, CK_TRUE),
     (CKA_MODULUS_BITS, 2048), (CKA_VERIFY, CK_TRUE), (CKA_LABEL, "pyk-rsa"), (CKA_ID, (2,))],
    [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_RSA), (CKA_TOKEN, CK_TRUE),
     (CKA_SIGN, CK_TRUE), (CKA_LABEL, "pyk-rsa"), (CKA_ID, (2,))],
    mecha=PyKCS11.MechanismRSAGENERATEKEYPAIR)
message = b"signed through PyKCS11"
ec_sig = bytes(session.sign(ec_priv, message, PyKCS11.Mechanism(CKM_ECDSA_SHA256)))
rsa_sig = bytes(session.sign(rsa_priv, message, PyKCS11.Mechanism(CKM_SHA256_RSA_PKCS)))
ok = [session.verify(ec_pub, message, ec_sig, PyKCS11.Mechanism(CKM_ECDSA_SHA256)),
      session.verify(rsa_pub, message, rsa_sig, PyKCS11.Mechanism(CKM_SHA256_RSA_PKCS))]
tampered = session.verify(ec_pub, b"other", ec_sig, PyKCS11.Mechanism(CKM_ECDSA_SHA256))
listing = sorted(
    (session.getAttributeValue(o, [CKA_LABEL])[0],
     bytes(session.getAttributeValue(o, [CKA_ID])[0]).hex(),
     session.getAttributeValue(o, [CKA_CLASS])[0])
    for o in session.findObjects([]))
point = bytes(session.getAttributeValue(ec_pub, [CKA_EC_POINT])[0])
modulus, exponent = session.getAttributeValue(rsa_pub, [CKA_MODULUS, CKA_PUBLIC_EXPONENT])
private_flags = session.getAttributeValue(ec_priv, [CKA_PRIVATE, CKA_SENSITIVE])
session.logout(); session.closeSession()
print("RESULT " + json.dumps({
    "ec_sig": {"hex": ec_sig.hex()}, "rsa_sig": {"hex": rsa_sig.hex()}, "ok": ok,
    "tampered": tampered, "listing": listing, "point": {"hex": point.hex()},
    "modulus": {"hex": bytes(modulus).hex()}, "exponent": {"hex": bytes(exponent).hex()},
    "private_flags": [bool(v) for v in private_flags]}))
"""


def test_pykcs11_generates_signs_verifies_and_lists(tok: Token) -> None:
    proc = run([sys.executable, "-c", CLIENT], tok.env, timeout=120)
    assert proc.returncode == 0, output(proc)
    result = parse_results(proc.stdout)
    assert result["ok"] == [True, True] and result["tampered"] is False
    assert result["listing"] == [
        ["pyk-ec", "01", 2], ["pyk-ec", "01", 3], ["pyk-rsa", "02", 2], ["pyk-rsa", "02", 3],
    ]
    assert result["private_flags"] == [True, True]
    message = b"signed through PyKCS11"
    from .tools import unwrap_ec_point

    ec_key = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), unwrap_ec_point(result["point"])
    )
    sig = result["ec_sig"]
    ec_key.verify(
        utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
        message, ec.ECDSA(hashes.SHA256()),
    )
    rsa_key = rsa.RSAPublicNumbers(
        int.from_bytes(result["exponent"], "big"), int.from_bytes(result["modulus"], "big")
    ).public_key()
    rsa_key.verify(result["rsa_sig"], message, padding.PKCS1v15(), hashes.SHA256())
    assert rsa_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
