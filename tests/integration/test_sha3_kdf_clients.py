"""SHA-3 with real clients. pkcs11-tool: SHA3-256-RSA-PKCS, SHA3-384-RSA-PKCS-PSS and
ECDSA-SHA3-256 signatures verified by ``openssl dgst -verify``, SHA3-256 and SHA-512/256 (by
mechanism number) digests, the mechanism list. python-pkcs11: Mechanism.SHA3_256 / SHA3_512
digests, SHA3_256_HMAC with a key from CKM_SHA3_256_KEY_GEN, SHA3_256_RSA_PKCS and
SHA3_512_RSA_PKCS signatures checked by pyca and openssl. python-pkcs11 0.10 has no names for
CKM_SHA512_224/256 or CKM_ECDSA_SHA3_*, cannot pass CK_RSA_PKCS_PSS_PARAMS to the SHA-3 PSS
mechanisms, and has no CK_HKDF_PARAMS / PBKD2 parameter classes: those go through pkcs11-tool
here and through ctypes in tests/abi/test_hash_kdf_params.py."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .tools import (
    Token,
    init_with_pkcs11_tool,
    needs_python_pkcs11,
    new_token,
    output,
    run,
    skip_without,
)

pytestmark = skip_without("pkcs11-tool", "openssl")

MESSAGE = b"tokenport SHA-3 interop: the quick brown fox\n"
RSA_ID, EC_ID = "21", "22"


@pytest.fixture(scope="module")
def tok(module_path: str, tmp_path_factory: pytest.TempPathFactory) -> Token:
    token = new_token(module_path, tmp_path_factory.mktemp("sha3-kdf"), "interop-sha3")
    init_with_pkcs11_tool(token)
    for args in (("rsa:2048", RSA_ID, "rsa"), ("EC:prime256v1", EC_ID, "ec")):
        token.tool_ok("--keypairgen", "--key-type", args[0], "--id", args[1], "--label",
                      f"sha3-{args[2]}", login=True)
    return token


@pytest.fixture
def message(tmp_path: Path) -> Path:
    path = tmp_path / "message.txt"
    path.write_bytes(MESSAGE)
    return path


def _public_pem(tok: Token, key_id: str, tmp_path: Path) -> Path:
    raw = tmp_path / f"pub-{key_id}.der"
    tok.tool_ok("--read-object", "--type", "pubkey", "--id", key_id, "-o", str(raw))
    pem = tmp_path / f"pub-{key_id}.pem"
    conv = run(["openssl", "pkey", "-pubin", "-in", str(raw), "-out", str(pem)], tok.env)
    assert conv.returncode == 0, output(conv)
    return pem


def _sign(tok: Token, mechanism: str, key_id: str, infile: Path, *extra: str) -> Path:
    sig = infile.parent / f"sig-{mechanism}.bin"
    tok.tool_ok("--sign", "-m", mechanism, "--id", key_id, "-i", str(infile), "-o", str(sig),
                *extra, login=True)
    return sig


def _openssl_verify(tok: Token, digest: str, pem: Path, sig: Path,
                    infile: Path) -> subprocess.CompletedProcess[str]:
    return run(["openssl", "dgst", f"-{digest}", "-verify", str(pem), "-signature", str(sig),
                str(infile)], tok.env)


def test_sha3_256_rsa_pkcs_verified_by_openssl(tok: Token, message: Path, tmp_path: Path) -> None:
    sig = _sign(tok, "SHA3-256-RSA-PKCS", RSA_ID, message)
    pem = _public_pem(tok, RSA_ID, tmp_path)
    verified = _openssl_verify(tok, "sha3-256", pem, sig, message)
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, output(verified)
    wrong_hash = _openssl_verify(tok, "sha256", pem, sig, message)
    assert wrong_hash.returncode != 0, output(wrong_hash)


def test_sha3_384_rsa_pss_verified_by_openssl(tok: Token, message: Path, tmp_path: Path) -> None:
    sig = _sign(tok, "SHA3-384-RSA-PKCS-PSS", RSA_ID, message, "--mgf", "MGF1-SHA3_384")
    pem = _public_pem(tok, RSA_ID, tmp_path)
    verified = run(["openssl", "dgst", "-sha3-384", "-verify", str(pem), "-sigopt",
                    "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:48", "-sigopt",
                    "rsa_mgf1_md:sha3-384", "-signature", str(sig), str(message)], tok.env)
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, output(verified)
    public = serialization.load_pem_public_key(pem.read_bytes())
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(sig.read_bytes(), MESSAGE, padding.PSS(padding.MGF1(hashes.SHA3_384()), 48),
                  hashes.SHA3_384())


def test_ecdsa_sha3_256_verified_by_openssl(tok: Token, message: Path, tmp_path: Path) -> None:
    sig = _sign(tok, "ECDSA-SHA3-256", EC_ID, message, "--signature-format", "openssl")
    pem = _public_pem(tok, EC_ID, tmp_path)
    verified = _openssl_verify(tok, "sha3-256", pem, sig, message)
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, output(verified)
    other = tmp_path / "other.txt"
    other.write_bytes(MESSAGE + b"!")
    rejected = _openssl_verify(tok, "sha3-256", pem, sig, other)
    assert rejected.returncode != 0, output(rejected)


def test_sha3_digest(tok: Token, message: Path, tmp_path: Path) -> None:
    out = tmp_path / "digest.bin"
    tok.tool_ok("--hash", "-m", "SHA3-256", "-i", str(message), "-o", str(out))
    assert out.read_bytes() == hashlib.sha3_256(MESSAGE).digest()
    # pkcs11-tool has no name for CKM_SHA512_256 (0x4c): by number
    tok.tool_ok("--hash", "-m", "0x4c", "-i", str(message), "-o", str(out))
    assert out.read_bytes() == hashlib.new("sha512_256", MESSAGE).digest()


def test_mechanism_list(tok: Token) -> None:
    proc = tok.tool("-M")
    assert proc.returncode == 0, output(proc)
    listed = {line.strip().split(",")[0] for line in proc.stdout.splitlines()
              if line.startswith("  ")}
    expected = {"SHA3-256-RSA-PKCS", "SHA3-512-RSA-PKCS-PSS", "ECDSA-SHA3-256", "SHA3-256-HMAC",
                "SHA3-224", "SHA3-512", "SHA3-384-HMAC"}
    assert expected <= listed, (sorted(expected - listed), proc.stdout)


# -- python-pkcs11 -------------------------------------------------------------------------------


@needs_python_pkcs11
def test_python_pkcs11_digest_and_hmac(tok: Token) -> None:
    result = tok.python(r"""
with token.open(user_pin=PIN) as session:
    from pkcs11 import MechanismFlag
    key = session.generate_key(KeyType.SHA3_256_HMAC, 256, mechanism=Mechanism.SHA3_256_KEY_GEN,
                               capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                               template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True})
    data = b"hmac message"
    mac = key.sign(data, mechanism=Mechanism.SHA3_256_HMAC)
    emit(
        sha3=session.digest(b"abc", mechanism=Mechanism.SHA3_256),
        sha3_parts=session.digest([b"a", b"bc"], mechanism=Mechanism.SHA3_512),
        key=key[Attribute.VALUE],
        key_type=int(key[Attribute.KEY_TYPE]),
        mac=mac,
        verified=key.verify(data, mac, mechanism=Mechanism.SHA3_256_HMAC),
        forged=key.verify(data + b"!", mac, mechanism=Mechanism.SHA3_256_HMAC),
    )
""")
    assert result["sha3"] == hashlib.sha3_256(b"abc").digest()
    assert result["sha3_parts"] == hashlib.sha3_512(b"abc").digest()
    assert result["key_type"] == 0x37  # CKK_SHA3_256_HMAC
    assert len(result["key"]) == 32
    assert result["mac"] == hmac.new(result["key"], b"hmac message", "sha3_256").digest()
    assert result["verified"] is True and result["forged"] is False


@needs_python_pkcs11
def test_python_pkcs11_sha3_signatures(tok: Token, tmp_path: Path) -> None:
    result = tok.python(rf"""
with token.open(user_pin=PIN) as session:
    rsa_key = session.get_key(ObjectClass.PRIVATE_KEY, id=bytes.fromhex("{RSA_ID}"))
    data = {MESSAGE!r}
    emit(
        pkcs=rsa_key.sign(data, mechanism=Mechanism.SHA3_256_RSA_PKCS),
        pkcs512=rsa_key.sign(data, mechanism=Mechanism.SHA3_512_RSA_PKCS),
    )
""")
    pem = _public_pem(tok, RSA_ID, tmp_path)
    public = serialization.load_pem_public_key(pem.read_bytes())
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(result["pkcs"], MESSAGE, padding.PKCS1v15(), hashes.SHA3_256())
    sig = tmp_path / "py-sig.bin"
    sig.write_bytes(result["pkcs"])
    msg = tmp_path / "py-msg.txt"
    msg.write_bytes(MESSAGE)
    verified = _openssl_verify(tok, "sha3-256", pem, sig, msg)
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, output(verified)
    public.verify(result["pkcs512"], MESSAGE, padding.PKCS1v15(), hashes.SHA3_512())
