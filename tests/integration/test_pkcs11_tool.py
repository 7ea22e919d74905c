"""OpenSC's pkcs11-tool drives the module; openssl (and pyca/cryptography) check its results.

One token, initialized by pkcs11-tool itself, is shared by the module; its keys are generated
once (``keys``). Tests that need a clean token (wrong PIN) make their own.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

from .tools import Token, init_with_pkcs11_tool, new_token, output, run, skip_without

pytestmark = skip_without("pkcs11-tool", "openssl")

MESSAGE = b"tokenport interop: the quick brown fox jumps over the lazy dog\n"
IV = "000102030405060708090a0b0c0d0e0f"
EC_ID, RSA_ID, ED_ID, AES_ID, CERT_ID, IMPORTED_AES_ID = "01", "02", "03", "04", "05", "06"


@pytest.fixture(scope="module")
def token(module_path: str, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A token initialized with pkcs11-tool --init-token and --init-pin (outputs kept)."""
    tok = new_token(module_path, tmp_path_factory.mktemp("pkcs11-tool"), "interop-tool")
    init, pin = init_with_pkcs11_tool(tok)
    return SimpleNamespace(tok=tok, init=init, pin=pin)


@pytest.fixture(scope="module")
def tok(token: SimpleNamespace) -> Token:
    initialized: Token = token.tok
    return initialized


@pytest.fixture(scope="module")
def keys(tok: Token) -> dict[str, subprocess.CompletedProcess[str]]:
    """Key generation with pkcs11-tool (EC P-256, RSA 2048, Ed25519, AES-256) on the token."""
    return {
        "ec": tok.tool(
            "--keypairgen",
            "--key-type",
            "EC:prime256v1",
            "--id",
            EC_ID,
            "--label",
            "ec-p256",
            login=True,
        ),
        "rsa": tok.tool(
            "--keypairgen",
            "--key-type",
            "rsa:2048",
            "--id",
            RSA_ID,
            "--label",
            "rsa-2048",
            login=True,
        ),
        "ed25519": tok.tool(
            "--keypairgen",
            "--key-type",
            "EC:edwards25519",
            "--id",
            ED_ID,
            "--label",
            "ed25519",
            login=True,
        ),
        "aes": tok.tool(
            "--keygen", "--key-type", "AES:32", "--id", AES_ID, "--label", "aes-256", login=True
        ),
    }


@pytest.fixture
def message(tmp_path: Path) -> Path:
    path = tmp_path / "message.txt"
    path.write_bytes(MESSAGE)
    return path


def _generated(keys: dict[str, subprocess.CompletedProcess[str]], name: str) -> None:
    proc = keys[name]
    if name == "ed25519" and "Unknown EC key params" in proc.stdout + proc.stderr:
        pytest.skip("this pkcs11-tool does not know EC:edwards25519")
    assert proc.returncode == 0, output(proc)


def _public_key(tok: Token, key_id: str, tmp_path: Path) -> tuple[Path, object]:
    """--read-object --type pubkey, converted to PEM by openssl; plus the pyca key."""
    raw = tmp_path / f"pub-{key_id}.bin"
    tok.tool_ok("--read-object", "--type", "pubkey", "--id", key_id, "-o", str(raw))
    pem = tmp_path / f"pub-{key_id}.pem"
    conv = run(["openssl", "pkey", "-pubin", "-in", str(raw), "-out", str(pem)], tok.env)
    assert conv.returncode == 0, output(conv)
    return pem, serialization.load_pem_public_key(pem.read_bytes())


def _sign(tok: Token, mechanism: str, key_id: str, infile: Path, *extra: str) -> bytes:
    sig = infile.parent / f"sig-{mechanism}-{key_id}.bin"
    tok.tool_ok(
        "--sign",
        "-m",
        mechanism,
        "--id",
        key_id,
        "-i",
        str(infile),
        "-o",
        str(sig),
        *extra,
        login=True,
    )
    return sig.read_bytes()


def _openssl_verify(
    tok: Token, pem: Path, sig: bytes, infile: Path, *opts: str
) -> subprocess.CompletedProcess[str]:
    sigfile = infile.parent / "to-verify.sig"
    sigfile.write_bytes(sig)
    return run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            str(pem),
            *opts,
            "-signature",
            str(sigfile),
            str(infile),
        ],
        tok.env,
    )


# -- token and slot information ------------------------------------------------------------------


def test_init_token_and_init_pin(token: SimpleNamespace) -> None:
    assert "Token successfully initialized" in token.init.stdout, output(token.init)
    assert "User PIN successfully initialized" in token.pin.stdout, output(token.pin)


def test_list_slots_shows_the_initialized_token(tok: Token) -> None:
    proc = tok.tool("-L", by_label=False)
    assert proc.returncode == 0, output(proc)
    assert re.search(r"token label\s+: interop-tool\n", proc.stdout), proc.stdout
    assert re.search(r"token manufacturer\s+: tokenport\n", proc.stdout), proc.stdout
    flags = re.search(r"token flags\s+: (.*)\n", proc.stdout)
    assert flags is not None, proc.stdout
    for flag in ("login required", "rng", "token initialized", "PIN initialized"):
        assert flag in flags.group(1), flags.group(1)
    assert "user PIN locked" not in flags.group(1)


def test_list_mechanisms(tok: Token) -> None:
    proc = tok.tool("-M")
    assert proc.returncode == 0, output(proc)
    listed = {
        line.strip().split(",")[0] for line in proc.stdout.splitlines() if line.startswith("  ")
    }
    expected = {
        "RSA-PKCS-KEY-PAIR-GEN",
        "SHA256-RSA-PKCS",
        "SHA256-RSA-PKCS-PSS",
        "RSA-PKCS-OAEP",
        "ECDSA-KEY-PAIR-GEN",
        "ECDSA",
        "ECDSA-SHA256",
        "ECDH1-DERIVE",
        "EC-EDWARDS-KEY-PAIR-GEN",
        "EDDSA",
        "AES-KEY-GEN",
        "AES-CBC-PAD",
        "AES-GCM",
        "AES-KEY-WRAP",
        "SHA256",
        "SHA256-HMAC",
        "GENERIC-SECRET-KEY-GEN",
    }
    assert expected <= listed, sorted(expected - listed)
    ecdsa = next(
        line for line in proc.stdout.splitlines() if line.strip().startswith("ECDSA-SHA256,")
    )
    assert "sign" in ecdsa and "verify" in ecdsa, ecdsa


# -- key generation and signatures ---------------------------------------------------------------


def test_keypairgen_ec_p256(keys: dict[str, subprocess.CompletedProcess[str]]) -> None:
    _generated(keys, "ec")
    out = keys["ec"].stdout
    assert "Private Key Object; EC" in out, out
    assert "Public Key Object; EC  EC_POINT 256 bits" in out, out
    assert "EC_PARAMS:  06082a8648ce3d030107" in out, out  # prime256v1 OID
    assert "sensitive, always sensitive, never extractable, local" in out, out


def test_keypairgen_rsa_2048(keys: dict[str, subprocess.CompletedProcess[str]]) -> None:
    _generated(keys, "rsa")
    out = keys["rsa"].stdout
    assert "Private Key Object; RSA" in out and "Public Key Object; RSA 2048 bits" in out, out


def test_ecdsa_sha256_signature_verified_by_openssl(
    tok: Token, keys: dict[str, subprocess.CompletedProcess[str]], message: Path, tmp_path: Path
) -> None:
    _generated(keys, "ec")
    signature = _sign(tok, "ECDSA-SHA256", EC_ID, message, "--signature-format", "openssl")
    pem, key = _public_key(tok, EC_ID, tmp_path)
    verified = _openssl_verify(tok, pem, signature, message)
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, output(verified)
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    key.verify(signature, MESSAGE, ec.ECDSA(hashes.SHA256()))  # raises when invalid
    # The check has teeth: another message does not verify.
    other = tmp_path / "other.txt"
    other.write_bytes(MESSAGE + b"!")
    rejected = _openssl_verify(tok, pem, signature, other)
    assert rejected.returncode != 0 and "Verification failure" in rejected.stdout + rejected.stderr


def test_sha256_rsa_pkcs_signature_verified_by_openssl(
    tok: Token, keys: dict[str, subprocess.CompletedProcess[str]], message: Path, tmp_path: Path
) -> None:
    _generated(keys, "rsa")
    signature = _sign(tok, "SHA256-RSA-PKCS", RSA_ID, message)
    pem, key = _public_key(tok, RSA_ID, tmp_path)
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
    assert len(signature) == 256
    verified = _openssl_verify(tok, pem, signature, message)
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, output(verified)
    key.verify(signature, MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    # PKCS #1 v1.5 is deterministic: a second signature is the same bytes.
    assert _sign(tok, "SHA256-RSA-PKCS", RSA_ID, message) == signature


def test_sha256_rsa_pss_signature_verified_by_openssl(
    tok: Token, keys: dict[str, subprocess.CompletedProcess[str]], message: Path, tmp_path: Path
) -> None:
    _generated(keys, "rsa")
    signature = _sign(tok, "SHA256-RSA-PKCS-PSS", RSA_ID, message)
    pem, key = _public_key(tok, RSA_ID, tmp_path)
    verified = _openssl_verify(
        tok,
        pem,
        signature,
        message,
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:-1",
    )
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, output(verified)
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(
        signature,
        MESSAGE,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    # PSS is randomized: a second signature differs and verifies too.
    again = _sign(tok, "SHA256-RSA-PKCS-PSS", RSA_ID, message)
    assert again != signature
    key.verify(again, MESSAGE, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())


def test_ed25519_keypairgen_and_eddsa_verified_by_openssl(
    tok: Token, keys: dict[str, subprocess.CompletedProcess[str]], message: Path, tmp_path: Path
) -> None:
    _generated(keys, "ed25519")
    assert "Public Key Object; EC_EDWARDS" in keys["ed25519"].stdout, output(keys["ed25519"])
    signature = _sign(tok, "EDDSA", ED_ID, message)
    assert len(signature) == 64
    pem, key = _public_key(tok, ED_ID, tmp_path)
    sigfile = tmp_path / "ed.sig"
    sigfile.write_bytes(signature)
    verified = run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            str(pem),
            "-rawin",
            "-in",
            str(message),
            "-sigfile",
            str(sigfile),
        ],
        tok.env,
    )
    assert verified.returncode == 0 and "Signature Verified Successfully" in verified.stdout, (
        output(verified)
    )
    assert isinstance(key, ed25519.Ed25519PublicKey)
    key.verify(signature, MESSAGE)
    # Ed25519 is deterministic.
    assert _sign(tok, "EDDSA", ED_ID, message) == signature


def test_ecdh_derive_agrees_with_openssl(
    tok: Token, keys: dict[str, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    _generated(keys, "ec")
    peer = tmp_path / "peer.pem"
    gen = run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            str(peer),
        ],
        tok.env,
    )
    assert gen.returncode == 0, output(gen)
    peer_pub = tmp_path / "peer.pub.der"
    pub = run(
        ["openssl", "pkey", "-in", str(peer), "-pubout", "-outform", "DER", "-out", str(peer_pub)],
        tok.env,
    )
    assert pub.returncode == 0, output(pub)
    on_token = tmp_path / "shared.token"
    tok.tool_ok(
        "--derive",
        "-m",
        "ECDH1-DERIVE",
        "--id",
        EC_ID,
        "-i",
        str(peer_pub),
        "-o",
        str(on_token),
        login=True,
    )
    token_pem, _ = _public_key(tok, EC_ID, tmp_path)
    by_openssl = tmp_path / "shared.openssl"
    derived = run(
        [
            "openssl",
            "pkeyutl",
            "-derive",
            "-inkey",
            str(peer),
            "-peerkey",
            str(token_pem),
            "-out",
            str(by_openssl),
        ],
        tok.env,
    )
    assert derived.returncode == 0, output(derived)
    assert len(on_token.read_bytes()) == 32
    assert on_token.read_bytes() == by_openssl.read_bytes()


@pytest.mark.parametrize(
    ("mechanism", "tool_opts", "openssl_opts"),
    [
        ("RSA-PKCS", (), ()),
        (
            "RSA-PKCS-OAEP",
            ("--hash-algorithm", "SHA256", "--mgf", "MGF1-SHA256"),
            (
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                "rsa_oaep_md:sha256",
                "-pkeyopt",
                "rsa_mgf1_md:sha256",
            ),
        ),
    ],
)
def test_rsa_decrypt_of_openssl_ciphertext(
    tok: Token,
    keys: dict[str, subprocess.CompletedProcess[str]],
    tmp_path: Path,
    mechanism: str,
    tool_opts: tuple[str, ...],
    openssl_opts: tuple[str, ...],
) -> None:
    _generated(keys, "rsa")
    pem, _ = _public_key(tok, RSA_ID, tmp_path)
    secret = tmp_path / "secret.bin"
    secret.write_bytes(os.urandom(40))
    cipher = tmp_path / "secret.enc"
    enc = run(
        [
            "openssl",
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            str(pem),
            *openssl_opts,
            "-in",
            str(secret),
            "-out",
            str(cipher),
        ],
        tok.env,
    )
    assert enc.returncode == 0, output(enc)
    back = tmp_path / "secret.dec"
    tok.tool_ok(
        "--decrypt",
        "-m",
        mechanism,
        *tool_opts,
        "--id",
        RSA_ID,
        "-i",
        str(cipher),
        "-o",
        str(back),
        login=True,
    )
    assert back.read_bytes() == secret.read_bytes()


def test_pkcs11_tool_test_ec(tok: Token) -> None:
    """--test-ec: generate an EC pair, change CKA_ID/CKA_LABEL/CKA_SUBJECT, sign, delete."""
    proc = tok.tool(
        "--session-rw", "--test-ec", "--id", "e0", "--key-type", "EC:prime256v1", login=True
    )
    assert proc.returncode == 0, output(proc)
    assert "==> OK" in proc.stdout, output(proc)
    listed = _listed_objects(tok.tool_ok("-O", login=True).stdout)
    assert not any(label.startswith("test-ec") for _, label in listed), listed


# -- objects ---------------------------------------------------------------------------------------


def _self_signed_certificate() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tokenport interop")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_write_and_read_certificate(tok: Token, tmp_path: Path) -> None:
    der = _self_signed_certificate()
    cert_file = tmp_path / "cert.der"
    cert_file.write_bytes(der)
    written = tok.tool_ok(
        "--write-object",
        str(cert_file),
        "--type",
        "cert",
        "--id",
        CERT_ID,
        "--label",
        "interop-cert",
        login=True,
    )
    assert "Certificate Object; type = X.509 cert" in written.stdout, output(written)
    assert "subject:    DN: CN=tokenport interop" in written.stdout, output(written)
    back = tmp_path / "cert.back"
    tok.tool_ok("--read-object", "--type", "cert", "--id", CERT_ID, "-o", str(back))
    assert back.read_bytes() == der
    # Certificates are public objects: listed without a login.
    listed = tok.tool_ok("-O", "--type", "cert")
    assert ("Certificate Object", "interop-cert") in _listed_objects(listed.stdout), output(listed)


def _listed_objects(listing: str) -> set[tuple[str, str]]:
    """(object kind, label) of each entry of a ``pkcs11-tool -O`` listing."""
    entries = set()
    for block in re.split(r"\n(?=\S)", listing):
        kind = block.split(";", 1)[0].strip()
        label = re.search(r"^\s+label:\s+(.*)$", block, re.MULTILINE)
        if kind.endswith("Object") and label:
            entries.add((kind, label.group(1).strip()))
    return entries


def test_list_objects_shows_generated_keys(
    tok: Token, keys: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    for name in ("ec", "rsa", "aes"):
        _generated(keys, name)
    listed = tok.tool_ok("-O", login=True).stdout
    entries = _listed_objects(listed)
    for expected in [
        ("Private Key Object", "ec-p256"),
        ("Public Key Object", "ec-p256"),
        ("Private Key Object", "rsa-2048"),
        ("Public Key Object", "rsa-2048"),
        ("Secret Key Object", "aes-256"),
    ]:
        assert expected in entries, (expected, listed)
    # Without a login, private objects stay hidden.
    public_only = _listed_objects(tok.tool_ok("-O").stdout)
    assert ("Public Key Object", "ec-p256") in public_only, public_only
    assert not any(kind == "Private Key Object" for kind, _ in public_only), public_only
    # pkcs11-tool --keygen asks for CKA_PRIVATE=false: that secret key is a public object.
    assert ("Secret Key Object", "aes-256") in public_only, public_only


# -- self test -------------------------------------------------------------------------------------


def test_pkcs11_tool_self_test(
    tok: Token, keys: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    _generated(keys, "rsa")
    proc = tok.tool("--test", login=True)
    assert proc.returncode == 0, output(proc)
    assert "No errors" in proc.stdout, output(proc)
    assert "ERR:" not in proc.stdout


def test_pkcs11_tool_self_test_with_software_mechanisms(
    tok: Token, keys: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    """--allow-sw runs the signature tests too (tokenport's mechanisms have no CKF_HW). Among
    them: C_Sign with a too-small buffer, then with a NULL buffer, then (after pkcs11-tool
    reads CKA_ALWAYS_AUTHENTICATE on the same session) with a big enough buffer, which must
    still find the operation active (PKCS #11 v2.40 s5.2)."""
    _generated(keys, "rsa")
    proc = tok.tool("--test", "--allow-sw", login=True)
    assert proc.returncode == 0, output(proc)
    assert "ERR:" not in proc.stdout, output(proc)
    assert "No errors" in proc.stdout, output(proc)


# -- secret keys -----------------------------------------------------------------------------------


def test_aes_keygen_encrypt_decrypt_round_trip(
    tok: Token, keys: dict[str, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    _generated(keys, "aes")
    assert "Secret Key Object; AES length 32" in keys["aes"].stdout, output(keys["aes"])
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(100))
    cipher, back = tmp_path / "cipher.bin", tmp_path / "back.bin"
    tok.tool_ok(
        "--encrypt",
        "-m",
        "AES-CBC-PAD",
        "--id",
        AES_ID,
        "--iv",
        IV,
        "-i",
        str(plain),
        "-o",
        str(cipher),
        login=True,
    )
    assert len(cipher.read_bytes()) == 112  # 100 bytes + PKCS#7 padding to 7 blocks
    assert cipher.read_bytes()[:100] != plain.read_bytes()
    tok.tool_ok(
        "--decrypt",
        "-m",
        "AES-CBC-PAD",
        "--id",
        AES_ID,
        "--iv",
        IV,
        "-i",
        str(cipher),
        "-o",
        str(back),
        login=True,
    )
    assert back.read_bytes() == plain.read_bytes()


def test_imported_aes_key_encrypts_like_openssl(tok: Token, tmp_path: Path) -> None:
    key = os.urandom(32)
    key_file = tmp_path / "aes.key"
    key_file.write_bytes(key)
    tok.tool_ok(
        "--write-object",
        str(key_file),
        "--type",
        "secrkey",
        "--key-type",
        "AES:32",
        "--id",
        IMPORTED_AES_ID,
        "--label",
        "aes-imported",
        login=True,
    )
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"known plaintext, fifty bytes long, for AES-CBC-PAD")
    cipher = tmp_path / "cipher.bin"
    tok.tool_ok(
        "--encrypt",
        "-m",
        "AES-CBC-PAD",
        "--id",
        IMPORTED_AES_ID,
        "--iv",
        IV,
        "-i",
        str(plain),
        "-o",
        str(cipher),
        login=True,
    )
    reference = tmp_path / "openssl.bin"
    enc = run(
        [
            "openssl",
            "enc",
            "-aes-256-cbc",
            "-K",
            key.hex(),
            "-iv",
            IV,
            "-in",
            str(plain),
            "-out",
            str(reference),
        ],
        tok.env,
    )
    assert enc.returncode == 0, output(enc)
    assert cipher.read_bytes() == reference.read_bytes()
    padder = sym_padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes.fromhex(IV))).encryptor()
    expected = (
        encryptor.update(padder.update(plain.read_bytes()) + padder.finalize())
        + encryptor.finalize()
    )
    assert cipher.read_bytes() == expected


def test_sha256_digest(tok: Token, message: Path, tmp_path: Path) -> None:
    out = tmp_path / "digest.bin"
    tok.tool_ok("--hash", "-m", "SHA256", "-i", str(message), "-o", str(out))
    assert out.read_bytes() == hashlib.sha256(MESSAGE).digest()


# -- PIN -------------------------------------------------------------------------------------------


def test_wrong_pin_is_pin_incorrect(fresh_token: Token) -> None:
    init_with_pkcs11_tool(fresh_token)
    proc = fresh_token.tool("--login", "--pin", "wrong-pin-0000", "-O")
    assert proc.returncode != 0, output(proc)
    assert "CKR_PIN_INCORRECT" in proc.stdout + proc.stderr, output(proc)
    # The right PIN still works afterwards (one failure does not lock).
    ok = fresh_token.tool("-O", login=True)
    assert ok.returncode == 0, output(ok)


def test_change_pin(fresh_token: Token) -> None:
    init_with_pkcs11_tool(fresh_token)
    new_pin = "changed-pin-2468"
    changed = fresh_token.tool("--change-pin", "--pin", fresh_token.pin, "--new-pin", new_pin)
    assert changed.returncode == 0, output(changed)
    old = fresh_token.tool("--login", "--pin", fresh_token.pin, "-O")
    assert old.returncode != 0 and "CKR_PIN_INCORRECT" in old.stdout + old.stderr, output(old)
    new = fresh_token.tool("--login", "--pin", new_pin, "-O")
    assert new.returncode == 0, output(new)
