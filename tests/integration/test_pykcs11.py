"""PyKCS11 drives the module (in a subprocess); pyca/cryptography, in this process, checks
its signatures independently.

PyKCS11 is a Python host: the module runs in its interpreter, so the host's cyclic garbage
collector must never run host finalizers inside a call (issue 9, item 10). PyKCS11Lib.__del__
calls unload(), which takes the class lock that load() holds around C_Initialize: a finalizer
run inside that C_Initialize deadlocks the host. The hang tests run in a subprocess with a
timeout, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .tools import Token, isolated_env, new_token, output, run, unwrap_ec_point

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("PyKCS11") is None,
    reason="PyKCS11 is not installed (pip install '.[test]')",
)

HANG_TIMEOUT = 90.0
"""Seconds a hang test may take: the loops take a few seconds; a deadlock never ends."""


def _run_host(script: str, home: Path, *args: str, timeout: float = HANG_TIMEOUT) -> str:
    """Run a Python host script (argv[1:] = ``args``) to exit 0 within ``timeout``; its stdout."""
    home.mkdir(parents=True, exist_ok=True)
    try:
        proc = run([sys.executable, "-c", script, *args], isolated_env(home), timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the Python host hung (no exit in {timeout}s); its output: {exc.stdout!r}")
    assert proc.returncode == 0, output(proc)
    return proc.stdout


# -- the host's garbage collector and the module ------------------------------------------------

LOAD_UNLOAD_LOOP = r"""
import sys, PyKCS11
for i in range(20):
    lib = PyKCS11.PyKCS11Lib(); lib.load(sys.argv[1]); lib.unload()
    lib.self_ref = lib          # garbage in a cycle, freed by the GC at a later allocation
    del lib
    print("turn", i, flush=True)
print("DONE")
"""


def test_load_unload_loop_with_garbage_in_cycles_completes(
    module_path: str, tmp_path: Path
) -> None:
    """The issue's loop: it hung on the 4th-6th turn (a PyKCS11Lib finalizer run by the GC
    inside C_Initialize, waiting for the lock load() holds)."""
    stdout = _run_host(LOAD_UNLOAD_LOOP, tmp_path / "home", module_path)
    assert stdout.splitlines()[-1] == "DONE"
    assert stdout.count("turn ") == 20


FINALIZERS_CALL_BACK = r"""
import gc, sys, PyKCS11

class InCall:
    # PyKCS11's low-level library, counting the host's calls in flight (its methods
    # return a CK_RV: nothing is allocated between the module's return and the count)
    depth = 0

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        function = getattr(self._inner, name)

        def call(*args):
            InCall.depth += 1
            try:
                return function(*args)
            finally:
                InCall.depth -= 1
        return call

lib = PyKCS11.PyKCS11Lib()
lib.load(sys.argv[1])
lib.lib = InCall(lib.lib)
finalized = []

class Garbage:
    def __init__(self):
        self.me = self          # in a cycle: only the cyclic GC frees it
        self.payload = [object() for _ in range(20)]

    def __del__(self):          # notes where it runs, then calls back into the module
        depth = InCall.depth
        info = lib.getInfo()
        finalized.append((depth, tuple(info.cryptokiVersion), len(lib.getSlotList())))

slots = lib.getSlotList()
for i in range(2000):
    Garbage()
    lib.getInfo()
    lib.getTokenInfo(slots[0])
    lib.getSlotList()
gc.collect()
assert gc.isenabled()
assert len(finalized) == 2000, len(finalized)
assert set(finalized) == {(0, (2, 40), len(slots))}, set(finalized)
lib.unload()
print("DONE", len(finalized))
"""


def test_host_finalizers_calling_back_into_the_module_run_outside_calls(
    module_path: str, tmp_path: Path
) -> None:
    """Host objects whose __del__ calls the module die in cycles while the host calls the
    module 6,000 times: every finalizer runs and calls back, none inside a call."""
    stdout = _run_host(FINALIZERS_CALL_BACK, tmp_path / "home", module_path)
    assert stdout.strip() == "DONE 2000"


# -- PyKCS11 as a client ------------------------------------------------------------------------

SO_PIN = "pykcs11-so-pin"
USER_PIN = "pykcs11-user-pin"
MESSAGE = b"PyKCS11 interop message \x00\x01\x02 with binary bytes \xff"
P256_PARAMS = bytes.fromhex("06082a8648ce3d030107")  # DER OID prime256v1

CLIENT = r"""
import json, sys, PyKCS11
from PyKCS11 import *

path, so_pin, pin, message = sys.argv[1], sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4])
p256 = bytes.fromhex(sys.argv[5])
out = {}

def hexed(value):
    return bytes(value).hex()

lib = PyKCS11Lib()
lib.load(path)
info = lib.getInfo()
out["cryptoki"] = list(info.cryptokiVersion)
slot = lib.getSlotList()[0]
lib.initToken(slot, so_pin, "pykcs11".ljust(32))   # pLabel: 32 bytes
session = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
session.login(so_pin, user_type=CKU_SO)
session.initPin(pin)
session.logout()
out["token_label"] = lib.getTokenInfo(slot).label.strip()
out["slots_with_token"] = [int(s) for s in lib.getSlotList(tokenPresent=True)]
session.login(pin)

ec_pub, ec_priv = session.generateKeyPair(
    [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_EC), (CKA_TOKEN, True),
     (CKA_VERIFY, True), (CKA_EC_PARAMS, p256), (CKA_LABEL, "ec-key"), (CKA_ID, (0x01, 0xEC))],
    [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_EC), (CKA_TOKEN, True),
     (CKA_PRIVATE, True), (CKA_SENSITIVE, True), (CKA_SIGN, True),
     (CKA_LABEL, "ec-key"), (CKA_ID, (0x01, 0xEC))],
    mecha=MechanismECGENERATEKEYPAIR,
)
rsa_pub, rsa_priv = session.generateKeyPair(
    [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_RSA), (CKA_TOKEN, True),
     (CKA_VERIFY, True), (CKA_MODULUS_BITS, 2048), (CKA_PUBLIC_EXPONENT, (0x01, 0x00, 0x01)),
     (CKA_LABEL, "rsa-key"), (CKA_ID, (0x02, 0x5A))],
    [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_RSA), (CKA_TOKEN, True),
     (CKA_PRIVATE, True), (CKA_SENSITIVE, True), (CKA_SIGN, True),
     (CKA_LABEL, "rsa-key"), (CKA_ID, (0x02, 0x5A))],
    mecha=MechanismRSAGENERATEKEYPAIR,
)
for i in range(12):            # more than one findObjects batch (PyKCS11 asks for 10)
    session.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, True), (CKA_PRIVATE, False),
                          (CKA_LABEL, "data-%02d" % i), (CKA_VALUE, bytes([i]) * 4)])

ecdsa = Mechanism(CKM_ECDSA_SHA256, None)
rsa_pkcs = Mechanism(CKM_SHA256_RSA_PKCS, None)
ec_sig = session.sign(ec_priv, message, ecdsa)
rsa_sig = session.sign(rsa_priv, message, rsa_pkcs)
out["ec_sig"], out["rsa_sig"] = hexed(ec_sig), hexed(rsa_sig)
out["ec_verify"] = session.verify(ec_pub, message, ec_sig, ecdsa)
out["rsa_verify"] = session.verify(rsa_pub, message, rsa_sig, rsa_pkcs)
out["ec_verify_other"] = session.verify(ec_pub, message + b"!", ec_sig, ecdsa)
out["rsa_verify_other"] = session.verify(rsa_pub, message + b"!", rsa_sig, rsa_pkcs)

out["ec_point"] = hexed(session.getAttributeValue(ec_pub, [CKA_EC_POINT])[0])
modulus, exponent = session.getAttributeValue(rsa_pub, [CKA_MODULUS, CKA_PUBLIC_EXPONENT])
out["rsa_modulus"], out["rsa_exponent"] = hexed(modulus), hexed(exponent)
label, sensitive, extractable, value = session.getAttributeValue(
    ec_priv, [CKA_LABEL, CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_VALUE])   # CKA_VALUE: sensitive
out["ec_priv_attrs"] = [label, sensitive, extractable, value]
out["ec_params"] = hexed(session.getAttributeValue(ec_priv, [CKA_EC_PARAMS])[0])

objects = []
for handle in session.findObjects():
    cls, lbl, ident = session.getAttributeValue(handle, [CKA_CLASS, CKA_LABEL, CKA_ID])
    objects.append([cls, lbl, hexed(ident) if ident is not None else None])
out["objects"] = sorted(objects, key=lambda o: (o[0], o[1], o[2] or ""))
out["private_keys"] = len(session.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY)]))
by_id = session.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_ID, (0x02, 0x5A))])
out["by_id"] = [session.getAttributeValue(h, [CKA_LABEL, CKA_KEY_TYPE]) for h in by_id]
out["data_values"] = sorted(
    hexed(session.getAttributeValue(h, [CKA_VALUE])[0])
    for h in session.findObjects([(CKA_CLASS, CKO_DATA)]))

session.logout()
out["public_view"] = sorted(   # without login: no private objects
    session.getAttributeValue(h, [CKA_LABEL])[0] for h in session.findObjects(
        [(CKA_CLASS, CKO_PUBLIC_KEY)]))
out["private_view"] = len(session.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY)]))
session.closeSession()
lib.unload()
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def client_run(module_path: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One PyKCS11 session on a fresh store: init the token, generate and use keys."""
    token: Token = new_token(module_path, tmp_path_factory.mktemp("pykcs11"), "pykcs11")
    proc = run(
        [
            sys.executable,
            "-c",
            CLIENT,
            module_path,
            SO_PIN,
            USER_PIN,
            MESSAGE.hex(),
            P256_PARAMS.hex(),
        ],
        token.env,
        cwd=token.workdir,
    )
    assert proc.returncode == 0, output(proc)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, output(proc)
    result: dict[str, Any] = json.loads(lines[0][len("RESULT ") :])
    return result


def test_pykcs11_initializes_the_token(client_run: dict[str, Any]) -> None:
    assert client_run["cryptoki"] == [2, 40]
    assert client_run["token_label"] == "pykcs11"
    assert len(client_run["slots_with_token"]) >= 1


def test_pykcs11_ecdsa_signature_verifies_in_both(client_run: dict[str, Any]) -> None:
    assert client_run["ec_verify"] is True
    assert client_run["ec_verify_other"] is False
    point = unwrap_ec_point(bytes.fromhex(client_run["ec_point"]))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    raw = bytes.fromhex(client_run["ec_sig"])
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, MESSAGE, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public.verify(der, MESSAGE + b"!", ec.ECDSA(hashes.SHA256()))


def test_pykcs11_rsa_pkcs1_signature_verifies_in_both(client_run: dict[str, Any]) -> None:
    assert client_run["rsa_verify"] is True
    assert client_run["rsa_verify_other"] is False
    modulus = int(client_run["rsa_modulus"], 16)
    assert modulus.bit_length() == 2048
    assert int(client_run["rsa_exponent"], 16) == 65537
    public = rsa.RSAPublicNumbers(65537, modulus).public_key()
    signature = bytes.fromhex(client_run["rsa_sig"])
    assert len(signature) == 256
    public.verify(signature, MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        public.verify(signature, MESSAGE + b"!", padding.PKCS1v15(), hashes.SHA256())


def test_pykcs11_attribute_values(client_run: dict[str, Any]) -> None:
    # the sensitive CKA_VALUE comes back empty (PyKCS11 retries one by one after
    # CKR_ATTRIBUTE_SENSITIVE); the other values are read
    assert client_run["ec_priv_attrs"] == ["ec-key", True, False, None]
    assert bytes.fromhex(client_run["ec_params"]) == P256_PARAMS
    assert client_run["data_values"] == [(bytes([i]) * 4).hex() for i in range(12)]


def test_pykcs11_lists_objects_by_class_label_and_id(client_run: dict[str, Any]) -> None:
    cko_data, cko_public, cko_private = 0, 2, 3
    # a data object has no CKA_ID: CKR_ATTRIBUTE_TYPE_INVALID, which PyKCS11 gives as None
    expected: list[list[Any]] = [[cko_data, f"data-{i:02d}", None] for i in range(12)]
    expected += [
        [cko_public, "ec-key", "01ec"],
        [cko_public, "rsa-key", "025a"],
        [cko_private, "ec-key", "01ec"],
        [cko_private, "rsa-key", "025a"],
    ]
    assert client_run["objects"] == expected
    assert client_run["private_keys"] == 2
    assert client_run["by_id"] == [["rsa-key", 0]]  # CKK_RSA
    assert client_run["public_view"] == ["ec-key", "rsa-key"]
    assert client_run["private_view"] == 0
