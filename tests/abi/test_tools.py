"""Real PKCS #11 applications load the module: OpenSC's pkcs11-tool (dlopen + C_GetFunctionList)
and GnuTLS's p11tool (through p11-kit: RTLD_LOCAL, and dlclose when done)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

SO_PIN = "abi-so-1234"
PIN = "abi-user-1234"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=False, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(shutil.which("pkcs11-tool") is None, reason="opensc not installed")
def test_pkcs11_tool_end_to_end(module_path: str, token_home: Path, tmp_path: Path) -> None:
    tool = ["pkcs11-tool", "--module", module_path]
    info = _run(*tool, "--show-info")
    assert info.returncode == 0, info.stderr
    # OpenSC takes the default interface (C_GetInterface(NULL, NULL)): the 3.2 list, whose
    # C_GetInfo reports 3.2 (docs/pkcs11-3.md)
    assert "Cryptoki version 3.2" in info.stdout
    assert _run(*tool, "--init-token", "--label", "abi", "--so-pin", SO_PIN).returncode == 0
    init_pin = _run(*tool, "--init-pin", "--login", "--so-pin", SO_PIN, "--pin", PIN)
    assert init_pin.returncode == 0, init_pin.stdout + init_pin.stderr
    message = tmp_path / "message"
    message.write_bytes(b"hello tokenport\n")
    digest = tmp_path / "digest"
    hashed = _run(*tool, "--hash", "-m", "SHA256", "-i", str(message), "-o", str(digest))
    assert hashed.returncode == 0, hashed.stderr
    assert digest.read_bytes() == hashlib.sha256(message.read_bytes()).digest()
    login = [*tool, "--login", "--pin", PIN]
    keygen = _run(
        *login, "--keypairgen", "--key-type", "EC:prime256v1", "--id", "01", "--label", "k1"
    )
    assert keygen.returncode == 0, keygen.stdout + keygen.stderr
    signature = tmp_path / "signature"
    signed = _run(
        *login,
        "--sign",
        "-m",
        "ECDSA-SHA256",
        "--id",
        "01",
        "-i",
        str(message),
        "-o",
        str(signature),
    )
    assert signed.returncode == 0, signed.stderr
    verified = _run(
        *login,
        "--verify",
        "-m",
        "ECDSA-SHA256",
        "--id",
        "01",
        "-i",
        str(message),
        "--signature-file",
        str(signature),
    )
    assert verified.returncode == 0 and "Signature is valid" in verified.stdout, verified.stderr


@pytest.mark.skipif(shutil.which("p11tool") is None, reason="gnutls-bin not installed")
def test_p11tool_through_p11_kit(module_path: str, token_home: Path) -> None:
    pkcs11_tool = shutil.which("pkcs11-tool")
    if pkcs11_tool is not None:
        init = _run(
            pkcs11_tool,
            "--module",
            module_path,
            "--init-token",
            "--label",
            "p11kit",
            "--so-pin",
            SO_PIN,
        )
        assert init.returncode == 0, init.stderr
    listed = _run("p11tool", "--provider", module_path, "--list-tokens")
    assert listed.returncode == 0, listed.stderr
    assert "Manufacturer: tokenport" in listed.stdout
