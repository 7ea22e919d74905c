"""`tokenport key generate --type des|des2|des3` (PKCS #11 v2.40 Current Mechanisms s2.18,
Historical Mechanisms (DES))."""

from __future__ import annotations

import pytest

from .test_cli import Cli, cli, token

__all__ = ["cli", "token"]


def test_generate_des_keys(token: Cli) -> None:
    for key_type in ("des", "des2", "des3"):
        result = token.run("key", "generate", "--type", key_type, "--label", key_type)
        assert f"Generated {key_type} key" in result.stdout
    rows = token.json("object", "list")
    assert isinstance(rows, list)
    assert sorted((r["class"], r["label"]) for r in rows) == [
        ("secretkey", "des"), ("secretkey", "des2"), ("secretkey", "des3"),
    ]


@pytest.mark.parametrize("key_type", ["des3:24", "des:64", "des4"])
def test_des_sizes_are_not_options(token: Cli, key_type: str) -> None:
    result = token.run("key", "generate", "--type", key_type, "--label", "x", ok=False)
    assert result.returncode != 0
    assert "unknown key type" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
