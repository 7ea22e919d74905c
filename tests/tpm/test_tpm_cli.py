"""`tokenport provision --generate`, `key generate` and `object list` on a token whose config
selects the tpm2 port: the keys are made in the TPM, and the listing says where keys live."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from tests.cli.test_cli import Cli

from .swtpm import Swtpm


def _tpm_cli(tmp_path: Path, tcti: str) -> Cli:
    cli = Cli(tmp_path / "home")
    conf = tmp_path / "tokenport.toml"
    conf.write_text(f'[crypto]\nport = "tpm2"\n\n[crypto.tpm2]\ntcti = "{tcti}"\n', encoding="utf-8")
    cli.env["TOKENPORT_CONF"] = str(conf)
    cli.env["TOKENPORT_HOME"] = str(tmp_path / "home")
    return cli


def test_provision_and_key_generate_make_tpm_keys(swtpm: Swtpm, tmp_path: Path) -> None:
    cli = _tpm_cli(tmp_path, swtpm.tcti)
    cli.run("token", "init", "--label", "tpmdev")
    done = cli.json("provision", "--generate", "ec", "--csr", str(tmp_path / "d.csr"),
                    "--subject", "CN=tpm-device")
    assert isinstance(done, dict) and done["generated"] == "EC P-256"
    csr = x509.load_pem_x509_csr((tmp_path / "d.csr").read_bytes())
    assert csr.is_signature_valid and isinstance(csr.public_key(), ec.EllipticCurvePublicKey)
    cli.run("key", "generate", "--type", "rsa", "--label", "tpm rsa")
    cli.run("key", "generate", "--type", "ed25519", "--label", "soft ed")
    rows = cli.json("object", "list", "--login")
    assert isinstance(rows, list)
    where = {(r["class"], r["label"]): r.get("location") for r in rows}
    assert where[("privkey", "Device Priv TLS Key")] == "tpm2"
    assert where[("privkey", "tpm rsa")] == "tpm2"
    assert where[("privkey", "soft ed")] == "software"
    assert where[("pubkey", "tpm rsa")] is None
    text = cli.run("object", "list", "--login").stdout
    assert "location=tpm2" in text and "location=software" in text
