"""`tokenport provision` on a fresh token: import mode, on-device mode, parameter files,
status, bad input; and pkcs11: URIs in the object commands."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tokenport.provisioning import hex_dump

from ..cli.test_cli import Cli
from .pki import TestPki, ec_key, key_pem, name, pem


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def listing(cli: Cli) -> list[tuple[str, str, str]]:
    rows = cli.json("object", "list")
    assert isinstance(rows, list)
    return sorted((r["class"], r["label"], r["id"]) for r in rows)


def spki_of(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def test_import_mode_on_a_fresh_token(token: Cli, pki: TestPki, tmp_path: Path) -> None:
    key = ec_key()
    cert = write(tmp_path / "device.pem", pem(pki.ca.issue(key.public_key(), name("device-1"))))
    key_file = write(tmp_path / "device.key", key_pem(key))
    out = token.run("provision", "--cert", cert, "--key", key_file, "--root-ca", str(pki.ca_file),
                    "--jitp-cert", str(pki.other_ca_file), "--code-verify-key", str(pki.ca_file))
    assert "Provisioned token 'dev': Device Priv TLS Key, Device Pub TLS Key, Device Cert, " \
           "JITP Cert, Root Cert, Code Verify Key." in out.stdout
    rows = listing(token)
    assert [(c, label) for c, label, _ in rows] == sorted([
        ("privkey", "Device Priv TLS Key"), ("pubkey", "Device Pub TLS Key"),
        ("cert", "Device Cert"), ("cert", "JITP Cert"), ("cert", "Root Cert"),
        ("cert", "Code Verify Key"), ("pubkey", "Code Verify Key")])
    # again, with a new key: replaced, not duplicated
    key2 = ec_key()
    cert2 = write(tmp_path / "device2.pem", pem(pki.ca.issue(key2.public_key(), name("device-2"))))
    token.run("provision", "--cert", cert2, "--key", write(tmp_path / "device2.key", key_pem(key2)))
    assert len(listing(token)) == len(rows)

    status = token.run("provision", "status", "--hex-out", str(tmp_path / "pub.hex")).stdout
    assert "Certificate matches key: yes" in status
    assert "certificate CN=device-2, issued by CN=tokenport test CA, expires" in status
    assert "private key EC P-256, sensitive, non-extractable" in status
    assert hex_dump(spki_of(key2)) in status
    assert (tmp_path / "pub.hex").read_text() == hex_dump(spki_of(key2))
    data = token.json("provision", "status")
    assert isinstance(data, dict)
    assert data["certificate_matches_key"] is True
    assert bytes.fromhex(data["device_public_key"]) == spki_of(key2)
    assert data["public_key_fingerprint"].startswith("sha256:")
    assert data["objects"]["Device Cert"][0]["subject"] == "CN=device-2"


def test_on_device_mode_csr_ca_attach_verify(token: Cli, pki: TestPki, tmp_path: Path) -> None:
    """The factory flow: generate on the device, CSR, the CA signs, attach, verify."""
    out = token.run("provision", "--generate", "--csr", str(tmp_path / "device.csr"),
                    "--subject", "/O=Acme/CN=dev-42", "--hex-out", str(tmp_path / "pub.hex"))
    assert "Generated the device key pair (EC P-256) inside token 'dev'." in out.stdout
    verify = subprocess.run(
        ["openssl", "req", "-verify", "-noout", "-in", str(tmp_path / "device.csr")],
        capture_output=True, text=True, check=False)
    assert verify.returncode == 0 and "verify OK" in verify.stderr + verify.stdout
    csr_pem = (tmp_path / "device.csr").read_bytes()
    request = x509.load_pem_x509_csr(csr_pem)
    assert request.subject.rfc4514_string() == "CN=dev-42,O=Acme"
    spki = request.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    assert (tmp_path / "pub.hex").read_text() == hex_dump(spki)
    assert hex_dump(spki) in out.stdout

    before = listing(token)
    stranger = write(tmp_path / "stranger.pem", pem(pki.ca.issue(ec_key().public_key(), name("x"))))
    refused = token.run("provision", "--cert", stranger, ok=False)
    assert refused.returncode == 1 and "does not match the device key" in refused.stderr
    assert listing(token) == before
    issued = write(tmp_path / "device.pem", pem(pki.ca.issue_for_csr(csr_pem)))
    token.run("provision", "--cert", issued, "--root-ca", str(pki.ca_file))
    status = token.run("provision", "status").stdout
    assert "Certificate matches key: yes" in status and "CN=dev-42,O=Acme" in status
    again = token.run("provision", "--generate", "rsa", ok=False)
    assert "already has a device key" in again.stderr and "--force" in again.stderr
    token.run("provision", "--generate", "rsa", "--force", "--csr", str(tmp_path / "rsa.csr"))
    rows = listing(token)
    assert not any(label == "Device Cert" for _, label, _ in rows), "the stale cert went"
    rsa_request = x509.load_pem_x509_csr((tmp_path / "rsa.csr").read_bytes())
    rsa_key = rsa_request.public_key()
    assert isinstance(rsa_key, rsa.RSAPublicKey) and rsa_key.key_size == 2048
    assert rsa_request.is_signature_valid
    assert rsa_request.subject.rfc4514_string().startswith("CN=")  # default: the serial


@pytest.mark.parametrize("case", ["bad cert + good key", "expired", "malformed", "curve"])
def test_bad_input_leaves_the_store_unchanged(token: Cli, pki: TestPki, tmp_path: Path,
                                              case: str) -> None:
    key = ec_key()
    token.run("provision", "--cert", write(tmp_path / "ok.pem", pem(pki.ca.issue(
        key.public_key(), name("device")))), "--key", write(tmp_path / "ok.key", key_pem(key)))
    before = listing(token)
    new_key = ec_key()
    cert = pki.ca.issue(new_key.public_key(), name("new"))
    if case == "bad cert + good key":
        cert = pki.ca.issue(ec_key().public_key(), name("someone else"))
    elif case == "expired":
        cert = pki.ca.issue(new_key.public_key(), name("new"), days=-3)
    cert_pem = pem(cert)
    if case == "malformed":
        cert_pem = cert_pem.replace(b"\n", b"\n#", 3)
    if case == "curve":
        new_key = ec.generate_private_key(ec.SECP256K1())
        cert_pem = pem(pki.ca.issue(new_key.public_key(), name("k1")))
    result = token.run("provision", "--cert", write(tmp_path / "new.pem", cert_pem), "--key",
                       write(tmp_path / "new.key", key_pem(new_key)), "--root-ca",
                       str(pki.other_ca_file), ok=False)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    expected = {"bad cert + good key": "does not match", "expired": "expired on",
                "malformed": "not a valid X.509 certificate", "curve": "unsupported curve"}[case]
    assert expected in result.stderr
    assert listing(token) == before


def test_parameter_files(token: Cli, pki: TestPki, tmp_path: Path) -> None:
    factory = tmp_path / "factory"
    factory.mkdir()
    (factory / "params.json").write_text(json.dumps({
        "generate": "ec:p384", "csr": "out/device.csr", "subject": "CN=from-json",
        "hex-out": "out/pub.hex", "root-ca": str(pki.ca_file)}))
    (factory / "out").mkdir()
    token.run("provision", "--params", str(factory / "params.json"))
    csr_pem = (factory / "out" / "device.csr").read_bytes()
    assert x509.load_pem_x509_csr(csr_pem).subject.rfc4514_string() == "CN=from-json"
    write(factory / "device.pem", pem(pki.ca.issue_for_csr(csr_pem)))
    (factory / "attach.toml").write_text('token = "dev"\ncert = "device.pem"\n'
                                         'code_verify_key = "signer.pem"\n')
    write(factory / "signer.pem", pem(pki.ca.cert))
    token.run("provision", "--params", str(factory / "attach.toml"))
    status = token.json("provision", "status")
    assert isinstance(status, dict) and status["certificate_matches_key"] is True
    assert status["objects"]["Device Priv TLS Key"][0]["algorithm"] == "EC P-384"
    kinds = [o["kind"] for o in status["objects"]["Code Verify Key"]]
    assert kinds == ["certificate", "public key"]
    (factory / "bad.toml").write_text('cerificate = "device.pem"\n')
    bad = token.run("provision", "--params", str(factory / "bad.toml"), ok=False)
    assert "unknown parameter 'cerificate'" in bad.stderr
    (factory / "broken.json").write_text("{")
    assert "not valid JSON" in token.run("provision", "--params", str(factory / "broken.json"),
                                         ok=False).stderr


def test_nothing_to_do_and_misplaced_options(token: Cli, tmp_path: Path) -> None:
    assert "nothing to do" in token.run("provision", ok=False).stderr
    misplaced = token.run("provision", "--force", "status", ok=False)
    assert "put the options after 'status'" in misplaced.stderr
    unknown = token.run("provision", "--generate", "dsa", ok=False)
    assert "unknown key type 'dsa'" in unknown.stderr


def test_uris_name_tokens_and_objects(token: Cli, tmp_path: Path) -> None:
    token.run("token", "init", "--label", "second")
    token.run("key", "generate", "--type", "ec", "--label", "k", "--id", "0a0b",
              "--token", "pkcs11:token=second")
    rows = token.json("object", "list", "--token", "pkcs11:token=second")
    assert isinstance(rows, list)
    uris = {r["class"]: r["uri"] for r in rows}
    assert uris["pubkey"].startswith("pkcs11:token=second;serial=")
    assert uris["pubkey"].endswith(";object=k;id=%0A%0B;type=public")
    assert uris["privkey"].endswith(";object=k;id=%0A%0B;type=private")
    text = token.run("object", "list", "--token", "second").stdout
    assert uris["pubkey"] in text
    exported = token.run("object", "export", "--uri", uris["pubkey"]).stdout
    public = serialization.load_pem_public_key(exported.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    missing = token.run("object", "list", "--token", "pkcs11:token=nope", ok=False)
    assert "no initialized token matches pkcs11:token=nope" in missing.stderr
    vendor = token.run("object", "list", "--token", "pkcs11:token=second;x-vendor=1", ok=False)
    assert "unrecognized URI attribute 'x-vendor'" in vendor.stderr
    token.run("object", "delete", "--uri", "pkcs11:token=second;object=k;type=public")
    rows = token.json("object", "list", "--token", "second")
    assert isinstance(rows, list) and [r["class"] for r in rows] == ["privkey"]
