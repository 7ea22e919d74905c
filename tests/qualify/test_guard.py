"""`tokenport qualify` never destroys what it did not create, and a wrong PIN costs one
failed login (issue 9 item 12).

The device: a tokenport token provisioned with `tokenport provision` (device key and
certificate, root CA, JITP CA and code-verify key), as a user would by mistake run the
suite against it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.provisioning.pki import Authority, ec_key, key_pem, name, pem

from .helpers import (
    SO_PIN,
    USER_PIN,
    needs_softhsm,
    output,
    qualify_args,
    run,
    softhsm_module,
    softhsm_token,
    tokenport,
    tokenport_token,
)

SNAPSHOT = r"""
import hashlib, json, sys
from tokenport.ck import CKA, CKF, CKO, CKU
from tokenport.qualify.p11 import Client

spec = json.loads(sys.argv[1])
client = Client(spec["module"])
assert client.initialize() == 0
rv, slots = client.get_slot_list(True)
slot = next(s for s in slots if client.get_token_info(s)[1].flags & CKF.TOKEN_INITIALIZED)
rv, session = client.open_session(slot)
assert client.login(session, CKU.USER, spec["pin"].encode()) == 0
rv, handles = client.find(session, [])
objects = []
for handle in handles:
    row = {}
    for kind in (CKA.CLASS, CKA.LABEL, CKA.ID, CKA.VALUE, CKA.EC_POINT, CKA.MODULUS,
                 CKA.SUBJECT, CKA.UNIQUE_ID):
        rv, value = client.get_attribute(session, handle, kind)
        row[CKA(kind).name] = value.hex() if rv == 0 and value is not None else f"rv {rv:#x}"
    objects.append(row)
print(json.dumps(sorted(objects, key=json.dumps)))
client.finalize()
"""


def snapshot(module: str, env: dict[str, str]) -> list[dict[str, str]]:
    """Every object of the token with its public attribute values (sensitive ones give
    their CKR code): equal snapshots mean nothing was changed, added or removed."""
    proc = run([sys.executable, "-c", SNAPSHOT, json.dumps({"module": module, "pin": USER_PIN})],
               env)
    assert proc.returncode == 0, output(proc)
    result: list[dict[str, str]] = json.loads(proc.stdout)
    return result


def token_flags(module: str, env: dict[str, str]) -> int:
    script = (
        "import sys\nfrom tokenport.qualify.p11 import Client\n"
        "c = Client(sys.argv[1]); assert c.initialize() == 0\n"
        "rv, slots = c.get_slot_list(True)\n"
        "print(max(c.get_token_info(s)[1].flags for s in slots))\n"
    )
    proc = run([sys.executable, "-c", script, module], env)
    assert proc.returncode == 0, output(proc)
    return int(proc.stdout)


@pytest.fixture
def device(tmp_path: Path) -> dict[str, str]:
    """A provisioned tokenport token: what a device in the field holds."""
    env = tokenport_token(tmp_path / "home", label="device")
    ca, jitp = Authority.create("device CA"), Authority.create("JITP CA")
    key = ec_key()
    files = tmp_path / "pki"
    files.mkdir()
    (files / "device.key").write_bytes(key_pem(key))
    (files / "device.pem").write_bytes(pem(ca.issue(key.public_key(), name("device-1"))))
    (files / "ca.pem").write_bytes(pem(ca.cert))
    (files / "jitp.pem").write_bytes(pem(jitp.cert))
    (files / "signer.pem").write_bytes(ec_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    proc = run(tokenport("provision", "--cert", str(files / "device.pem"),
                         "--key", str(files / "device.key"), "--root-ca", str(files / "ca.pem"),
                         "--jitp-cert", str(files / "jitp.pem"),
                         "--code-verify-key", str(files / "signer.pem")),
               {**env, "TOKENPORT_PIN": USER_PIN})
    assert proc.returncode == 0, output(proc)
    return {**env, "QUALIFY_TEST_PIN": USER_PIN, "QUALIFY_TEST_SO_PIN": SO_PIN}


def test_a_provisioned_device_is_refused_and_left_as_it_was(
    module_path: str, device: dict[str, str]
) -> None:
    before = snapshot(module_path, device)
    labels = {bytes.fromhex(o["LABEL"]).decode() for o in before}
    assert {"Device Priv TLS Key", "Device Cert", "Root Cert", "JITP Cert",
            "Code Verify Key"} <= labels
    proc = run(qualify_args(module_path), device)
    assert proc.returncode != 0, output(proc)
    assert "token 'device'" in proc.stdout  # named before anything happens
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1 and "did not create" in errors[0], output(proc)
    assert "TEST(" not in proc.stdout
    assert snapshot(module_path, device) == before


def test_allowed_explicitly_the_run_never_touches_the_device_objects(
    module_path: str, device: dict[str, str]
) -> None:
    before = snapshot(module_path, device)
    proc = run(qualify_args(module_path, "--allow-existing-objects"), device)
    assert "existing objects: 6, never destroyed by the suite" in proc.stdout, output(proc)
    assert proc.returncode == 0 and " 0 Failures " in proc.stdout, output(proc)
    assert "never destroys what it did not create" in proc.stdout  # some tests stood back
    assert snapshot(module_path, device) == before  # and what the run made is gone again


def test_a_preprovisioned_configuration_runs_on_the_device(
    module_path: str, device: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "device.json"
    config.write_text(json.dumps({"preProvisioned": "Yes", "PKCS11": "ECC",
                                  "KeyProvisioning": "No"}))
    before = snapshot(module_path, device)
    proc = run(qualify_args(module_path, "--config", str(config)), device)
    assert proc.returncode == 0, output(proc)
    assert snapshot(module_path, device) == before


def test_a_wrong_user_pin_costs_exactly_one_failed_login(
    module_path: str, tmp_path: Path
) -> None:
    env = tokenport_token(tmp_path / "home")
    proc = run([*qualify_args(module_path, pins=False)], {**env, "TOKENPORT_PIN": "wrong-pin-1"})
    assert proc.returncode != 0, output(proc)
    assert "CKR_PIN_INCORRECT" in proc.stderr and "TEST(" not in proc.stdout, output(proc)
    flags = token_flags(module_path, env)
    assert flags & 0x10000 and not flags & 0x60000  # USER_PIN_COUNT_LOW, not FINAL_TRY/LOCKED
    # exactly one: eight more wrong PINs reach the final try (10 allowed), not the lock
    script = (
        "import sys\nfrom tokenport.qualify.p11 import Client\n"
        "c = Client(sys.argv[1]); assert c.initialize() == 0\n"
        "rv, slots = c.get_slot_list(True); rv, s = c.open_session(slots[0])\n"
        "print([hex(c.login(s, 1, b'wrong-pin-2')) for _ in range(8)])\n"
    )
    tries = run([sys.executable, "-c", script, module_path], env)
    assert tries.returncode == 0, output(tries)
    flags = token_flags(module_path, env)
    assert flags & 0x20000 and not flags & 0x40000  # USER_PIN_FINAL_TRY, not USER_PIN_LOCKED


def test_a_wrong_so_pin_stops_before_any_test(module_path: str, tmp_path: Path) -> None:
    env = tokenport_token(tmp_path / "home")
    args = [*qualify_args(module_path, pins=False), "--pin-env", "GOOD", "--so-pin-env", "BAD"]
    proc = run(args, {**env, "GOOD": USER_PIN, "BAD": "wrong-so-pin"})
    assert proc.returncode != 0 and "SO PIN was refused" in proc.stderr, output(proc)
    assert "TEST(" not in proc.stdout
    flags = token_flags(module_path, env)
    assert flags & 0x100000 and not flags & 0x600000  # SO_PIN_COUNT_LOW only


@needs_softhsm()
def test_a_wrong_pin_stops_the_run_on_softhsm(tmp_path: Path) -> None:
    module = softhsm_module()
    assert module is not None
    env = softhsm_token(tmp_path / "softhsm")
    proc = run(qualify_args(module, pins=False), {**env, "TOKENPORT_PIN": "wrong-pin-1"})
    assert proc.returncode != 0, output(proc)
    assert "CKR_PIN_INCORRECT" in proc.stderr and "TEST(" not in proc.stdout, output(proc)
    assert SO_PIN  # the SO PIN was never tried
