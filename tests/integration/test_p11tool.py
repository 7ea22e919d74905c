"""GnuTLS's p11tool loads the module through p11-kit (RTLD_LOCAL, then dlclose).

The token is initialized and given keys by the tokenport command; p11tool lists it,
generates keys of its own and signs with every key (its --test-sign signs, then verifies
against the private key's parameters and against the public key object on the token).
"""

from __future__ import annotations

import re
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .tools import Token, init_with_cli, new_token, output, run, skip_without

pytestmark = skip_without("p11tool")

LABEL = "interop-gnutls"


@pytest.fixture(scope="module")
def tok(module_path: str, tmp_path_factory: pytest.TempPathFactory) -> Token:
    token = new_token(module_path, tmp_path_factory.mktemp("p11tool"), LABEL)
    token.extra_env["GNUTLS_PIN"] = token.pin  # p11tool --login reads the PIN from here
    init_with_cli(token)
    for kind, label in (("ec:p256", "cli-ec"), ("rsa:2048", "cli-rsa"), ("ed25519", "cli-ed")):
        proc = run(
            [
                sys.executable,
                "-m",
                "tokenport",
                "key",
                "generate",
                "--token",
                LABEL,
                "--type",
                kind,
                "--label",
                label,
                "--pin-env",
                "TP_PIN",
            ],
            token.env,
        )
        assert proc.returncode == 0, output(proc)
    return token


def p11tool(tok: Token, *args: str) -> str:
    """p11tool's output (stdout, then stderr: --test-sign reports there); it must exit 0."""
    proc = run(["p11tool", "--provider", tok.module, *args], tok.env, cwd=tok.workdir)
    assert proc.returncode == 0, output(proc)
    return proc.stdout + proc.stderr


def test_list_tokens_shows_the_label(tok: Token) -> None:
    listed = p11tool(tok, "--list-tokens")
    assert re.search(rf"^\s+Label: {LABEL}$", listed, re.MULTILINE), listed
    assert f";token={LABEL}" in listed, listed
    assert re.search(r"^\s+Manufacturer: tokenport$", listed, re.MULTILINE), listed
    assert "Requires login" in listed, listed


def test_list_private_keys_after_login(tok: Token) -> None:
    listed = p11tool(tok, "--login", "--list-privkeys", f"pkcs11:token={LABEL}")
    labels = set(re.findall(r"^\s+Label: (.*)$", listed, re.MULTILINE))
    assert {"cli-ec", "cli-rsa", "cli-ed"} <= labels, listed
    assert "Private key (EC/ECDSA-SECP256R1)" in listed and "Private key (RSA-2048)" in listed
    # Without a login, no private key is visible.
    anonymous = run(
        ["p11tool", "--provider", tok.module, "--list-privkeys", f"pkcs11:token={LABEL}"], tok.env
    )
    assert "cli-ec" not in anonymous.stdout, output(anonymous)


@pytest.mark.parametrize(
    ("label", "extra", "algorithm"),
    [
        ("cli-ec", (), "ECDSA-SHA256"),
        ("cli-rsa", (), "RSA-SHA256"),
        ("cli-rsa", ("--sign-params", "rsa-pss"), "RSA-PSS-SHA256"),
        ("cli-ed", ("--hash", "SHA512"), "EdDSA-Ed25519"),
    ],
)
def test_test_sign(tok: Token, label: str, extra: tuple[str, ...], algorithm: str) -> None:
    out = p11tool(
        tok, "--login", "--test-sign", *extra, f"pkcs11:token={LABEL};object={label};type=private"
    )
    assert f"Signing using {algorithm}... ok" in out, out
    assert "Verifying against private key parameters... ok" in out, out
    assert "Verifying against public key in the token... ok" in out, out


def _pem_block(text: str) -> bytes:
    match = re.search(r"-----BEGIN PUBLIC KEY-----\n.*?-----END PUBLIC KEY-----\n", text, re.DOTALL)
    assert match, text
    return match.group(0).encode()


def test_generate_key_with_p11tool_then_sign(tok: Token) -> None:
    out = p11tool(
        tok,
        "--login",
        "--generate-privkey",
        "ECDSA",
        "--curve",
        "secp256r1",
        "--label",
        "gnutls-ec",
        f"pkcs11:token={LABEL}",
    )
    key = serialization.load_pem_public_key(_pem_block(out))
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    signed = p11tool(
        tok, "--login", "--test-sign", f"pkcs11:token={LABEL};object=gnutls-ec;type=private"
    )
    assert "Verifying against public key in the token... ok" in signed, signed
    # The public key p11tool exported at generation is the one stored on the token.
    exported = p11tool(tok, "--export", f"pkcs11:token={LABEL};object=gnutls-ec;type=public")
    stored = serialization.load_pem_public_key(_pem_block(exported))
    assert stored.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
