"""`tokenport key generate` with the PKCS #11 v3.0 secret key types: HMAC keys of a hash
(CKM_SHA3_256_KEY_GEN ...) and HKDF keys (CKM_HKDF_KEY_GEN)."""

from __future__ import annotations

from .test_cli import Cli, cli, token  # noqa: F401  (fixtures)


def test_generate_hmac_and_hkdf_keys(token: Cli) -> None:  # noqa: F811
    for key_type, label in (("hmac:sha3-256", "h3"), ("hmac:sha512-256:16", "h5"),
                            ("hmac", "h2"), ("hkdf", "k"), ("hkdf:64", "k64")):
        out = token.run("key", "generate", "--type", key_type, "--label", label).stdout
        assert f"Generated {key_type} key '{label}'" in out
    rows = token.json("object", "list")
    assert isinstance(rows, list)
    assert sorted((r["class"], r["label"]) for r in rows) == [
        ("secretkey", label) for label in ("h2", "h3", "h5", "k", "k64")
    ]
    types = {r["label"]: r["key_type"] for r in rows}  # CKK values without a name print as hex
    assert types["h3"] in ("0x37", "sha3-256-hmac") and types["h5"] in ("0x44", "sha512-256-hmac")
    assert types["k"] in ("0x42", "hkdf") and types["h2"] in ("0x2b", "sha256-hmac")
    for bad, message in (("hmac:md4", "unknown HMAC hash"), ("hkdf:0", "1 to 512 bytes"),
                         ("hmac:sha3-256:513", "1 to 512 bytes")):
        refused = token.run("key", "generate", "--type", bad, "--label", "x", ok=False)
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr
