"""Helpers of the tests of the qualification suite: tokens to qualify, `tokenport qualify`
runs in subprocesses (several at once), and a parser of the console report.

Every subprocess gets an explicit environment whose TOKENPORT_HOME (and SOFTHSM2_CONF) point
into a temporary directory: no test touches the user's store.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tokenport.ck import CKA, CKO

SO_PIN = "so-pin-87654321"
USER_PIN = "user-pin-1234"
TIMEOUT = 300.0
#: concurrent `tokenport qualify` runs (each waits on PBKDF2 and its token store a lot)
PARALLEL = max(2, min(6, (os.cpu_count() or 2) * 2))
SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)
_SCRUBBED = ("TOKENPORT_HOME", "TOKENPORT_CONF", "TOKENPORT_PIN", "TOKENPORT_SO_PIN", "SOFTHSM2_CONF",
             "QUALIFY_BROKEN_MODE", "QUALIFY_BROKEN_TARGET", "QUALIFY_BROKEN_LOG")

TEST_LINE = re.compile(
    r"^TEST\((?P<group>\w+), (?P<name>\w+)\)"
    r"(?: PASS|(?P<file>[\w./-]+\.py):(?P<line>\d+)::(?P<status>FAIL|IGNORE): (?P<message>.+))$"
)
SUMMARY = re.compile(r"^(\d+) Tests (\d+) Failures (\d+) Ignored $")
BREAKER = "-----------------------"


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """This environment without any store, PIN or module settings, with the store in ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    home.mkdir(parents=True, exist_ok=True)
    env["TOKENPORT_HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home.parent / "xdg-config")
    env["XDG_DATA_HOME"] = str(home.parent / "xdg-data")
    env.update(extra)
    return env


def softhsm_module() -> str | None:
    return next((m for m in SOFTHSM_MODULES if Path(m).is_file()), None)


def have_softhsm() -> bool:
    return softhsm_module() is not None and shutil.which("softhsm2-util") is not None


def needs_softhsm() -> pytest.MarkDecorator:
    return pytest.mark.skipif(not have_softhsm(),
                              reason="SoftHSMv2 is not installed (apt softhsm2; CI installs it)")


def needs_gcc() -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed (CI installs it)")


def tokenport(*args: str) -> list[str]:
    return [sys.executable, "-m", "tokenport", *args]


def run(args: Sequence[str], env: Mapping[str, str], timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), env=dict(env), capture_output=True, text=True, timeout=timeout,
                          check=False)


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return f"[exit {proc.returncode}]\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


# -- tokens -------------------------------------------------------------------------------------


def tokenport_token(home: Path, label: str = "qualify") -> dict[str, str]:
    """A fresh tokenport store in ``home`` with one initialized token; its environment."""
    env = isolated_env(home)
    proc = run(tokenport("token", "init", "--label", label),
               {**env, "TOKENPORT_SO_PIN": SO_PIN, "TOKENPORT_PIN": USER_PIN})
    assert proc.returncode == 0, output(proc)
    return env


def softhsm_token(directory: Path, label: str = "qualify") -> dict[str, str]:
    """A fresh SoftHSMv2 token store in ``directory`` (softhsm2-util --init-token); its environment."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n", encoding="utf-8")
    env = isolated_env(directory / "tokenport-home", SOFTHSM2_CONF=str(conf))
    proc = run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN,
                "--pin", USER_PIN], env)
    assert proc.returncode == 0, output(proc)
    return env


# -- runs ---------------------------------------------------------------------------------------


@dataclass
class Run:
    """One `tokenport qualify` run and its parsed console report."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    statuses: dict[str, str] = field(default_factory=dict)  # "Group.Name" -> PASS/FAIL/IGNORE
    messages: dict[str, str] = field(default_factory=dict)
    summary: tuple[int, int, int] | None = None
    verdict: str | None = None

    def names(self, status: str) -> set[str]:
        """The test names (without group) with this status."""
        return {key.split(".", 1)[1] for key, value in self.statuses.items() if value == status}

    @property
    def failed(self) -> set[str]:
        return self.names("FAIL")

    @property
    def ignored(self) -> set[str]:
        return self.names("IGNORE")

    @property
    def passed(self) -> set[str]:
        return self.names("PASS")

    def __str__(self) -> str:
        return f"[exit {self.returncode}] {' '.join(self.args)}\n{self.stdout}\n--- stderr\n{self.stderr}"


def parse(args: list[str], proc: subprocess.CompletedProcess[str]) -> Run:
    """Parse the report; every TEST line must have the porting guide's format."""
    result = Run(args, proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stdout.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("TEST("):
            match = TEST_LINE.match(line)
            assert match, f"malformed result line {line!r}\n{result}"
            key = f"{match['group']}.{match['name']}"
            assert key not in result.statuses, f"{key} reported twice\n{result}"
            result.statuses[key] = match["status"] or "PASS"
            result.messages[key] = match["message"] or ""
        elif line == BREAKER:
            summary = SUMMARY.match(lines[number + 1])
            assert summary, f"no summary after the dashes\n{result}"
            result.summary = (int(summary[1]), int(summary[2]), int(summary[3]))
            result.verdict = lines[number + 2]
            assert lines[number - 1] == "", f"no blank line before the dashes\n{result}"
    return result


def qualify_args(module: str, *extra: str, pins: bool = True) -> list[str]:
    args = tokenport("qualify", "--module", module, *extra)
    if pins:
        args += ["--pin-env", "QUALIFY_TEST_PIN", "--so-pin-env", "QUALIFY_TEST_SO_PIN"]
    return args


def run_qualify(args: list[str], env: Mapping[str, str]) -> Run:
    full_env = {**env, "QUALIFY_TEST_PIN": USER_PIN, "QUALIFY_TEST_SO_PIN": SO_PIN}
    return parse(args, run(args, full_env))


def run_many(jobs: Mapping[str, tuple[list[str], Mapping[str, str]]]) -> dict[str, Run]:
    """Several runs at once (each on its own token); results by job name."""
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = {name: pool.submit(run_qualify, args, env) for name, (args, env) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def expect_clean(run_: Run, ignored: frozenset[str] | set[str] = frozenset()) -> None:
    """0 Failures, OK, exit 0, and exactly ``ignored`` ignored."""
    assert run_.returncode == 0, str(run_)
    assert run_.failed == set(), str(run_)
    assert run_.summary is not None and run_.summary[1] == 0, str(run_)
    assert run_.verdict == "OK", str(run_)
    assert run_.ignored == set(ignored), f"ignored {sorted(run_.ignored)}\n{run_}"
    assert run_.summary == (len(run_.statuses), 0, len(ignored)), str(run_)


# -- scripts that prepare or inspect a token through the suite's own client ---------------------

PROVISION = r"""
import json, sys
from tokenport.ck import CKA, CKF, CKM, CKU
from tokenport.qualify.credentials import Credentials
from tokenport.qualify.p11 import Client
from tokenport.qualify.templates import (certificate_template, ec_generation_templates,
    ec_public_key_from_point)

spec = json.loads(sys.argv[1])
client = Client(spec["module"])
assert client.initialize() == 0
rv, slots = client.get_slot_list(True)
slot = next(s for s in slots if client.get_token_info(s)[1].flags & CKF.TOKEN_INITIALIZED)
rv, session = client.open_session(slot)
assert client.login(session, CKU.USER, spec["pin"].encode()) == 0
creds = Credentials()
if spec.get("ec"):
    labels = spec["ec"]
    public, private = ec_generation_templates(labels["public"], labels["private"])
    rv, pub, priv = client.generate_key_pair(session, CKM.EC_KEY_PAIR_GEN, public, private)
    assert rv == 0, rv
    rv, point = client.get_attribute(session, pub, CKA.EC_POINT)
    cert = creds.issue("pre-provisioned device", ec_public_key_from_point(point))
    assert client.create_object(session, certificate_template(cert, labels["certificate"]))[0] == 0
for label in spec.get("sentinels", []):
    assert client.create_object(session, certificate_template(creds.root.certificate, label))[0] == 0
for label in spec.get("leftovers", []):  # as an interrupted run of the suite leaves them
    template = [*certificate_template(creds.root.certificate, label), (CKA.ID, b"tokenport-qualify:" + b"0" * 32)]
    assert client.create_object(session, template)[0] == 0
for label in spec.get("private_secrets", []):
    rv, _ = client.create_object(session, [(CKA.CLASS, 4), (CKA.KEY_TYPE, 0x1F), (CKA.TOKEN, True),
        (CKA.PRIVATE, True), (CKA.SENSITIVE, True), (CKA.ENCRYPT, True), (CKA.LABEL, label),
        (CKA.VALUE, bytes(range(16)))])
    assert rv == 0, rv
client.close_session(session)
client.finalize()
"""

def provision(module: str, env: Mapping[str, str], **spec: object) -> None:
    proc = run([sys.executable, "-c", PROVISION, json.dumps({"module": module, "pin": USER_PIN, **spec})], env)
    assert proc.returncode == 0, output(proc)


def token_objects(module: str, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(label, class) of every object on the token."""
    label, cls = str(int(CKA.LABEL)), str(int(CKA.CLASS))
    return sorted(
        (bytes.fromhex(o.get(label, "")).decode(),
         CKO(int.from_bytes(bytes.fromhex(o[cls]), sys.byteorder)).name)
        for o in snapshot(module, env)
    )


#: Every object on the token with the values of its readable attributes (hex), by the suite's
#: own client; with "pin" it logs in first (the private objects too), else public ones only.
SNAPSHOT = r"""
import json, sys
from tokenport.ck import CKA, CKF, CKR, CKU
from tokenport.qualify.p11 import Client

spec = json.loads(sys.argv[1])
client = Client(spec["module"])
assert client.initialize() == 0
rv, slots = client.get_slot_list(True)
slot = next(s for s in slots if client.get_token_info(s)[1].flags & CKF.TOKEN_INITIALIZED)
rv, session = client.open_session(slot)
if spec.get("pin"):
    assert client.login(session, CKU.USER, spec["pin"].encode()) == 0
rv, handles = client.find(session, [])
assert rv == 0, rv
objects = []
for handle in handles:
    values = {}
    for kind in spec["attributes"]:
        rv, value = client.get_attribute(session, handle, kind)
        if rv == CKR.OK and value is not None:
            values[str(kind)] = value.hex()
    objects.append(values)
print(json.dumps(sorted(objects, key=lambda o: json.dumps(o, sort_keys=True))))
client.finalize()
"""

#: CK_TOKEN_INFO.flags of the first initialized token, read without any login.
TOKEN_FLAGS = r"""
import json, sys
from tokenport.ck import CKF
from tokenport.qualify.p11 import Client

client = Client(json.loads(sys.argv[1])["module"])
assert client.initialize() == 0
rv, slots = client.get_slot_list(True)
infos = [client.get_token_info(s)[1] for s in slots]
print(next(i.flags for i in infos if i is not None and i.flags & CKF.TOKEN_INITIALIZED))
client.finalize()
"""

#: the attributes a snapshot reads: everything public a key or certificate may have (CKA_VALUE
#: of a certificate too; a sensitive value is refused, hence left out)
SNAPSHOT_ATTRIBUTES = tuple(int(CKA[name]) for name in (
    "CLASS", "TOKEN", "PRIVATE", "LABEL", "MODIFIABLE", "ID", "VALUE", "CERTIFICATE_TYPE", "ISSUER",
    "SERIAL_NUMBER", "SUBJECT", "START_DATE", "END_DATE", "KEY_TYPE", "SENSITIVE", "ENCRYPT", "DECRYPT",
    "WRAP", "UNWRAP", "SIGN", "SIGN_RECOVER", "VERIFY", "VERIFY_RECOVER", "DERIVE", "MODULUS",
    "MODULUS_BITS", "PUBLIC_EXPONENT", "EXTRACTABLE", "LOCAL", "NEVER_EXTRACTABLE", "ALWAYS_SENSITIVE",
    "KEY_GEN_MECHANISM", "EC_PARAMS", "EC_POINT",
))


def snapshot(module: str, env: Mapping[str, str], pin: str | None = USER_PIN) -> list[dict[str, str]]:
    """The token's objects (each: attribute type -> value in hex), to compare before/after."""
    spec = {"module": module, "pin": pin, "attributes": list(SNAPSHOT_ATTRIBUTES)}
    proc = run([sys.executable, "-c", SNAPSHOT, json.dumps(spec)], env)
    assert proc.returncode == 0, output(proc)
    result: list[dict[str, str]] = json.loads(proc.stdout)
    return result


def token_flags(module: str, env: Mapping[str, str]) -> int:
    """CK_TOKEN_INFO.flags of the token, read without logging in (no counter moves)."""
    proc = run([sys.executable, "-c", TOKEN_FLAGS, json.dumps({"module": module})], env)
    assert proc.returncode == 0, output(proc)
    return int(proc.stdout)


def provision_device(env: Mapping[str, str], directory: Path) -> None:
    """A provisioned device, the way a user does it with `tokenport provision`: the key pair
    generated on the token (and a CSR), then the device certificate the CA issued, the root
    CA, the JITP CA and the code-verification key."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    pins = {**env, "TOKENPORT_PIN": USER_PIN}
    csr_path = directory / "device.csr"
    proc = run(tokenport("provision", "--generate", "ec", "--csr", str(csr_path), "--subject", "CN=device-1"),
               pins)
    assert proc.returncode == 0, output(proc)
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: x509.Name, key: ec.EllipticCurvePublicKey, issuer: x509.Name,
                    signer: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key)
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .sign(signer, hashes.SHA256()))

    def pem(path: Path, cert: x509.Certificate) -> str:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return str(path)

    root_key, jitp_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device root CA")])
    jitp_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device JITP CA")])
    root = certificate(root_name, root_key.public_key(), root_name, root_key, True)
    jitp = certificate(jitp_name, jitp_key.public_key(), root_name, root_key, True)
    request = x509.load_pem_x509_csr(csr_path.read_bytes())
    device_key = request.public_key()
    assert isinstance(device_key, ec.EllipticCurvePublicKey)
    device = certificate(request.subject, device_key, root_name, root_key, False)
    verify_key = directory / "code-verify.pem"
    verify_key.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    proc = run(tokenport("provision", "--cert", pem(directory / "device.pem", device),
                         "--root-ca", pem(directory / "root.pem", root),
                         "--jitp-cert", pem(directory / "jitp.pem", jitp),
                         "--code-verify-key", str(verify_key)), pins)
    assert proc.returncode == 0, output(proc)
