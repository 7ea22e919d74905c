"""The tokenport command, run as users run it: the installed entry point in a subprocess,
with its store in a temporary TOKENPORT_HOME."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SO_PIN = "so-pin-5678"
USER_PIN = "user-pin-1234"


def tokenport_command() -> list[str]:
    exe = shutil.which("tokenport")
    return [exe] if exe else [sys.executable, "-m", "tokenport"]


class Cli:
    """Runs `tokenport ...` with an isolated store and PINs from the environment."""

    def __init__(self, home: Path) -> None:
        self.env = {
            **os.environ, "TOKENPORT_HOME": str(home), "XDG_CONFIG_HOME": str(home / "xdg"),
            "TOKENPORT_SO_PIN": SO_PIN, "TOKENPORT_PIN": USER_PIN,
        }
        self.env.pop("TOKENPORT_CONF", None)

    def run(self, *args: str, ok: bool = True, env: dict[str, str] | None = None,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            tokenport_command() + list(args), env={**self.env, **(env or {})}, input=stdin,
            capture_output=True, text=True, timeout=120, check=False,
        )
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    def json(self, *args: str) -> object:
        return json.loads(self.run(*args, "--json").stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def token(cli: Cli) -> Iterator[Cli]:
    cli.run("token", "init", "--label", "dev")
    yield cli


def test_init_list_info_delete(cli: Cli) -> None:
    assert cli.json("token", "list") == [
        {"slot": 0, "label": "", "serial": "", "initialized": False, "damaged": False,
         "flags": ["LOGIN_REQUIRED", "RNG"], "min_pin_len": 4, "max_pin_len": 255},
    ]
    out = cli.run("token", "init", "--label", "dev").stdout
    assert "Initialized token 'dev'" in out
    info = cli.json("token", "info", "--token", "dev")
    assert isinstance(info, dict)
    assert info["label"] == "dev" and info["initialized"] is True
    assert "USER_PIN_INITIALIZED" in info["flags"]
    slots = cli.json("token", "list")
    assert isinstance(slots, list) and [s["slot"] for s in slots] == [0, 1]
    cli.run("token", "delete", "--token", "dev", "--yes")
    slots = cli.json("token", "list")
    assert isinstance(slots, list) and len(slots) == 1 and not slots[0]["initialized"]


def test_free_slot_names_the_slot_to_initialize(cli: Cli, tmp_path: Path) -> None:
    assert cli.run("token", "list", "--free-slot").stdout == "0\n"
    assert not (tmp_path / "tokenport.sqlite3").exists()  # asking creates no store
    cli.run("token", "init", "--label", "dev")
    assert cli.run("token", "list", "--free-slot").stdout == "1\n"
    assert cli.json("token", "list", "--free-slot") == {"free_slot": 1}


def test_store_lives_in_tokenport_home_with_owner_only_modes(cli: Cli, tmp_path: Path) -> None:
    cli.run("token", "init", "--label", "dev")
    store = tmp_path / "tokenport.sqlite3"
    assert store.exists()
    assert store.stat().st_mode & 0o777 == 0o600


def test_generate_list_export(token: Cli, tmp_path: Path) -> None:
    for key_type, label in (("ec", "e"), ("ec:p384", "e384"), ("rsa:2048", "r"),
                            ("ed25519", "ed"), ("aes:128", "a")):
        token.run("key", "generate", "--type", key_type, "--label", label)
    rows = token.json("object", "list")
    assert isinstance(rows, list)
    assert sorted((r["class"], r["label"]) for r in rows) == sorted(
        [("privkey", l) for l in ("e", "e384", "r", "ed")] + [("pubkey", l) for l in ("e", "e384", "r", "ed")]
        + [("secretkey", "a")]
    )
    pem = token.run("object", "export", "--type", "pubkey", "--label", "e").stdout
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    refused = token.run("object", "export", "--type", "privkey", "--label", "e", ok=False)
    assert refused.returncode == 1
    assert "CKR_KEY_UNEXTRACTABLE" in refused.stderr and len(refused.stderr.splitlines()) == 1


def test_public_listing_without_pin_hides_private_objects(token: Cli) -> None:
    token.run("key", "generate", "--type", "ec", "--label", "k")
    env = {k: v for k, v in token.env.items() if k != "TOKENPORT_PIN"}
    result = subprocess.run(tokenport_command() + ["object", "list", "--json"], env=env,
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert [(r["class"], r["label"]) for r in json.loads(result.stdout)] == [("pubkey", "k")]


def test_import_certificate_and_keys(token: Cli, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "device")])
    import datetime

    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.der").write_bytes(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    token.run("object", "import", str(tmp_path / "cert.pem"), "--label", "Device Cert")
    out = token.run("object", "import", str(tmp_path / "key.der"), "--label", "Device Key").stdout
    assert "Imported 2 object(s)" in out
    exported = token.run("object", "export", "--type", "cert", "--label", "Device Cert", "--der",
                         "--out", str(tmp_path / "back.der"))
    assert "Wrote" in exported.stdout
    assert (tmp_path / "back.der").read_bytes() == cert.public_bytes(serialization.Encoding.DER)
    rows = token.json("object", "list")
    assert isinstance(rows, list)
    private = next(r for r in rows if r["class"] == "privkey")
    assert private["label"] == "Device Key" and "sensitive" in private["flags"]
    assert "extractable" not in private["flags"]
    token.run("object", "delete", "--label", "Device Cert")
    rows = token.json("object", "list")
    assert isinstance(rows, list) and all(r["label"] != "Device Cert" for r in rows)


def test_pin_sources_and_change(token: Cli, tmp_path: Path) -> None:
    pin_file = tmp_path / "pin.txt"
    pin_file.write_text(USER_PIN + "\n")
    env = {"TOKENPORT_PIN": "", "MY_PIN": USER_PIN}
    token.run("key", "generate", "--type", "aes", "--label", "f", "--pin-file", str(pin_file), env=env)
    token.run("key", "generate", "--type", "aes", "--label", "g", "--pin-env", "MY_PIN", env=env)
    token.run("pin", "change", env={"TOKENPORT_NEW_PIN": "brand-new-pin"})
    wrong = token.run("object", "list", "--login", ok=False)
    assert wrong.returncode == 1 and "CKR_PIN_INCORRECT" in wrong.stderr
    listed = token.run("object", "list", env={"TOKENPORT_PIN": "brand-new-pin"})
    assert "label='f'" in listed.stdout and "label='g'" in listed.stdout


def test_lockout_and_so_unlock(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "tokenport.toml").write_text("[token]\nmax_pin_attempts = 2\n")
    cli.run("token", "init", "--label", "dev")
    for _ in range(2):
        assert "CKR_PIN_INCORRECT" in cli.run(
            "object", "list", env={"TOKENPORT_PIN": "wrong-pin"}, ok=False).stderr
    locked = cli.run("object", "list", ok=False)
    assert "CKR_PIN_LOCKED" in locked.stderr
    info = cli.json("token", "info")
    assert isinstance(info, dict) and "USER_PIN_LOCKED" in info["flags"]
    cli.run("pin", "init", env={"TOKENPORT_NEW_PIN": "fresh-pin-1"})
    cli.run("object", "list", env={"TOKENPORT_PIN": "fresh-pin-1"})


@pytest.mark.parametrize("args, message", [
    (("key", "generate", "--type", "elgamal", "--label", "x"), "unknown key type"),
    (("object", "import", "/nonexistent/file.pem", "--label", "x"), "does not exist"),
    (("token", "info", "--token", "nope"), "no initialized token"),
    (("token", "init", "--label", "x" * 40), "longer than 32 bytes"),
])
def test_bad_input_gives_one_clear_line(token: Cli, args: tuple[str, ...], message: str) -> None:
    result = token.run(*args, ok=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_garbage_file_is_refused_without_changing_the_store(token: Cli, tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    before = token.json("object", "list")
    result = token.run("object", "import", str(tmp_path / "junk.pem"), "--label", "x", ok=False)
    assert result.returncode == 1 and "CKR_ATTRIBUTE_VALUE_INVALID" in result.stderr
    assert token.json("object", "list") == before


def test_no_pin_and_no_terminal_is_an_error(token: Cli) -> None:
    env = {k: v for k, v in token.env.items() if k != "TOKENPORT_PIN"}
    result = subprocess.run(tokenport_command() + ["key", "generate", "--label", "x"], env=env,
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                            check=False)
    assert result.returncode == 1 and "no user PIN given" in result.stderr


def test_mechanisms_and_module_path(cli: Cli) -> None:
    rows = cli.json("mechanisms")
    assert isinstance(rows, list)
    names = {r["mechanism"] for r in rows}
    assert {"CKM_ECDSA", "CKM_RSA_PKCS_PSS", "CKM_AES_GCM", "CKM_EDDSA", "CKM_SHA256"} <= names
    path = cli.run("module-path").stdout.strip()
    assert os.path.isabs(path) and path.endswith(".so") and os.path.exists(path)


def test_quickstart_is_idempotent(cli: Cli) -> None:
    first = cli.run("quickstart").stdout
    assert "Created token 'tokenport'" in first and "Device Priv TLS Key" in first
    assert "pkcs11-tool --module" in first
    second = cli.run("quickstart").stdout
    assert "Created token" not in second and "Generated" not in second
    assert second.count("Device Priv TLS Key") == 1


def test_generate_dsa_and_dh_keys(token: Cli) -> None:
    for key_type, label in (("dsa", "d"), ("dsa:3072", "d3"), ("dh", "h"), ("dh:1024", "h1")):
        token.run("key", "generate", "--type", key_type, "--label", label)
    rows = token.json("object", "list")
    assert isinstance(rows, list)
    assert sorted((r["class"], r["label"]) for r in rows) == sorted(
        [(c, l) for l in ("d", "d3", "h", "h1") for c in ("privkey", "pubkey")])  # no parameters kept
    for spec, message in (("dsa:1024", "DSA keys are 2048 or 3072 bits"),
                          ("dh:4096", "DH parameters are generated with 1024 or 2048 bits")):
        refused = token.run("key", "generate", "--type", spec, "--label", "x", ok=False)
        assert refused.returncode != 0 and message in refused.stderr
