"""Issue 12, item 4: --json on every command that reports something (key generate, object
import, token init, codesign verify and sign, qualify, module-path), parsed here."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .test_cli import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def test_token_init_and_key_generate(cli: Cli) -> None:
    made = cli.json("token", "init", "--label", "dev")
    assert isinstance(made, dict) and made["label"] == "dev" and made["initialized"] is True
    assert "USER_PIN_INITIALIZED" in made["flags"]
    key = cli.json("key", "generate", "--type", "ec:p384", "--label", "k", "--id", "0a0b")
    assert isinstance(key, dict)
    assert (key["type"], key["label"], key["id"], key["token"]) == ("ec:p384", "k", "0a0b", "dev")
    assert sorted((o["class"], o["label"], o["id"]) for o in key["objects"]) == [
        ("privkey", "k", "0a0b"), ("pubkey", "k", "0a0b")]
    assert all(o["uri"].startswith("pkcs11:") for o in key["objects"])
    secret = cli.json("key", "generate", "--type", "aes:256", "--label", "s")
    assert isinstance(secret, dict) and [o["size"] for o in secret["objects"]] == ["32 bytes"]


def test_object_import_and_codesign(cli: Cli, tmp_path: Path) -> None:
    cli.run("token", "init", "--label", "dev")
    signer = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "signer.pub.pem"
    pem.write_bytes(signer.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    imported = cli.json("object", "import", str(pem), "--label", "Code Verify Key")
    assert isinstance(imported, dict) and imported["file"] == str(pem)
    assert [(o["class"], o["label"]) for o in imported["objects"]] == [("pubkey", "Code Verify Key")]
    cli.run("key", "generate", "--label", "signer")
    image = tmp_path / "image.bin"
    image.write_bytes(b"firmware")
    signed = cli.json("codesign", "sign", str(image), "--out", str(tmp_path / "image.sig"),
                      "--label", "signer")
    assert signed == {"image": str(image), "signature": str(tmp_path / "image.sig"),
                      "algorithm": "ecdsa-sha256"}
    verified = cli.json("codesign", "verify", str(image), "--sig", str(tmp_path / "image.sig"),
                        "--label", "signer")
    assert verified == {"image": str(image), "ok": True, "algorithm": "ecdsa-sha256",
                        "key": {"source": "public key", "label": "signer"}}
    image.write_bytes(b"firmwarf")
    bad = cli.run("codesign", "verify", str(image), "--sig", str(tmp_path / "image.sig"),
                  "--label", "signer", "--json", ok=False)
    assert bad.returncode == 1 and bad.stdout == "" and len(bad.stderr.splitlines()) == 1


def test_qualify_and_module_path(cli: Cli) -> None:
    path = cli.json("module-path")
    assert isinstance(path, dict) and path["module"].endswith(".so")
    cli.run("token", "init", "--label", "dev")
    result = cli.run("qualify", "--module", path["module"], "--group", "StartFinish", "--json")
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["failures"] == 0
    assert report["tests"] == len(report["results"]) > 0
    assert {r["group"] for r in report["results"]} == {"Full_PKCS11_StartFinish"}
    assert all(r["status"] in ("PASS", "IGNORE") for r in report["results"])


NO_REPORT = {
    "pin change", "pin init",  # they say "done" and nothing else
    "token delete", "token repair",  # interactive (confirmation), a one-line outcome
    "object export",  # prints the object itself (PEM or DER)
    "entropy seed",  # writes a secret file; its one line names it
    "quickstart",  # a guided first run for people, not scripts
    "openssl-conf",  # prints the configuration file itself (or writes it; one line names it)
    "p11-kit-module",  # writes one file; its one line names it (--print shows the file)
}
"""Commands without --json, and why."""


def test_every_reporting_command_has_json() -> None:
    from .test_bad_arguments import COMMANDS

    missing = sorted(path for path, command in COMMANDS.items()
                     if path not in NO_REPORT and not (isinstance(command, click.Group)
                                                       and not command.invoke_without_command)
                     and not any("--json" in getattr(p, "opts", ()) for p in command.params))
    assert missing == []


def test_provision_store_object_and_entropy_json(cli: Cli, tmp_path: Path) -> None:
    cli.run("token", "init", "--label", "dev")
    done = cli.json("provision", "--generate", "ec:p384", "--csr", str(tmp_path / "d.csr"),
                    "--subject", "CN=dev-1")
    assert isinstance(done, dict)
    assert (done["token"], done["generated"], done["csr"], done["subject"]) == (
        "dev", "EC P-384", str(tmp_path / "d.csr"), "CN=dev-1")
    assert done["provisioned"] == [] and len(done["fingerprint"]) > 0
    exported = cli.json("store", "export", "--out", str(tmp_path / "all.export"))
    assert isinstance(exported, dict) and exported["records"] >= 3
    other = Cli(tmp_path / "other")
    imported = other.json("store", "import", str(tmp_path / "all.export"))
    assert isinstance(imported, dict) and imported["records"] == exported["records"]
    deleted = cli.json("object", "delete", "--label", "Device Pub TLS Key")
    assert isinstance(deleted, dict)
    assert [(o["class"], o["label"]) for o in deleted["deleted"]] == [("pubkey", "Device Pub TLS Key")]
    selftest = cli.json("entropy", "selftest")
    assert isinstance(selftest, dict) and selftest["ok"] is True
    assert all(c["passed"] for c in selftest["checks"]) and len(selftest["checks"]) > 5
