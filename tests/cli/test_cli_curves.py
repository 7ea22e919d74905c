"""`tokenport key generate` with the curves of issue 11: EC on P-192, P-224, secp256k1 and
the Brainpool curves (as ec:CURVE or the bare curve name), Ed448, X25519 and X448."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, x448, x25519

from .test_cli import Cli


@pytest.fixture
def token(tmp_path: Path) -> Iterator[Cli]:
    cli = Cli(tmp_path)
    cli.run("token", "init", "--label", "dev")
    yield cli


def test_generate_new_curves(token: Cli) -> None:
    expected: dict[str, type | str] = {
        "ec:p192": "secp192r1", "ec:P224": "secp224r1", "secp256k1": "secp256k1",
        "ec:brainpoolP256r1": "brainpoolP256r1", "brainpoolP384r1": "brainpoolP384r1",
        "ec:brainpoolp512r1": "brainpoolP512r1",
        "ed448": ed448.Ed448PublicKey, "x25519": x25519.X25519PublicKey,
        "x448": x448.X448PublicKey,
    }
    for number, key_type in enumerate(expected):
        out = token.run("key", "generate", "--type", key_type, "--label", f"k{number}").stdout
        assert f"Generated {key_type} key 'k{number}'" in out
    for number, want in enumerate(expected.values()):
        pem = token.run("object", "export", "--type", "pubkey", "--label", f"k{number}").stdout
        key = serialization.load_pem_public_key(pem.encode())
        if isinstance(want, str):
            assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == want
        else:
            assert isinstance(key, want)


@pytest.mark.parametrize("bad", ["ec:secp192k1", "ed448:1", "x25519:2", "brainpoolP320r1"])
def test_unknown_curves_are_refused(token: Cli, bad: str) -> None:
    result = token.run("key", "generate", "--type", bad, "--label", "x", ok=False)
    assert result.returncode != 0
    assert "unknown" in result.stderr and len(result.stderr.splitlines()) == 1
