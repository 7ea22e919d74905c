"""`tokenport key generate` with the PKCS #11 v3.2 key types and `tokenport mechanisms`
listing ML-DSA / ML-KEM (run as users run the command, as in test_cli)."""

from __future__ import annotations

from .test_cli import Cli, cli, token  # noqa: F401 (fixtures)


def test_generate_pq_key_pairs(token: Cli) -> None:  # noqa: F811
    for key_type in ("ml-dsa-44", "ml-dsa-65", "ml-dsa-87", "ml-kem-768", "ml-kem-1024"):
        token.run("key", "generate", "--type", key_type, "--label", key_type)
    rows = token.json("object", "list")
    assert isinstance(rows, list)
    assert sorted((r["class"], r["label"]) for r in rows) == sorted(
        (kind, label) for kind in ("privkey", "pubkey")
        for label in ("ml-dsa-44", "ml-dsa-65", "ml-dsa-87", "ml-kem-768", "ml-kem-1024")
    )
    refused = token.run("key", "generate", "--type", "ml-kem-512", "--label", "x", ok=False)
    assert refused.returncode != 0 and "ml-dsa-44|65|87, ml-kem-768|1024" in refused.stderr


def test_mechanisms_lists_ml_dsa_and_ml_kem(cli: Cli) -> None:  # noqa: F811
    rows = cli.json("mechanisms")
    assert isinstance(rows, list)
    by_name = {r["mechanism"]: r for r in rows}
    assert by_name["CKM_ML_DSA"]["operations"] == ["sign", "verify"]
    assert by_name["CKM_ML_KEM"]["operations"] == ["encapsulate", "decapsulate"]
    assert (by_name["CKM_ML_KEM_KEY_PAIR_GEN"]["min_key_size"],
            by_name["CKM_ML_KEM_KEY_PAIR_GEN"]["max_key_size"]) == (1184, 1568)
    assert by_name["CKM_ML_DSA_KEY_PAIR_GEN"]["operations"] == ["generate_key_pair"]
