"""Code signing: images verified with the "Code Verify Key" (API and `tokenport codesign`)."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from tokenport.backends.crypto.pyca import default_crypto
from tokenport.codesign import (
    Algorithm,
    CodeSignError,
    SignatureMismatch,
    SignatureVerification,
    VerificationKey,
    ecdsa_der,
    ecdsa_from_der,
    load_verification_key,
    read_signature,
    verify_file,
)
from tokenport.core.module import Module
from tokenport.errors import AttributeValueInvalid
from tokenport.provisioning import Credentials, Provisioner

from ..cli.test_cli import Cli, tokenport_command
from .pki import TestPki, ec_key, name, pem

IMAGE = bytes(1024)  # the FreeRTOS CRYPTO test vectors sign 1024 zero bytes
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def sign(key: SigningKey, data: bytes, algorithm: Algorithm) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    chosen = hashes.SHA1() if algorithm is Algorithm.RSA_SHA1 else hashes.SHA256()
    return key.sign(data, padding.PKCS1v15(), chosen)


def spki(key: SigningKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def flip_first_bit_of_signature_value(signature: bytes, algorithm: Algorithm) -> bytes:
    """The signature with one bit of its value changed (for ECDSA, inside r: DER stays valid)."""
    if algorithm is Algorithm.ECDSA_SHA256:
        r, s = utils.decode_dss_signature(signature)
        return ecdsa_der(r ^ 1, s)
    return bytes([signature[0] ^ 0x01]) + signature[1:]


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_known_good_signatures_verify_and_flipped_ones_do_not(
        tmp_path: Path, rsa_key: rsa.RSAPrivateKey, algorithm: Algorithm) -> None:
    key: SigningKey = ec_key() if algorithm is Algorithm.ECDSA_SHA256 else rsa_key
    image = tmp_path / "image.bin"
    image.write_bytes(IMAGE)
    signature = sign(key, IMAGE, algorithm)
    verification_key = VerificationKey("Code Verify Key", "public key", spki(key))
    crypto = default_crypto()
    assert verify_file(crypto, image, signature, verification_key, algorithm) is algorithm
    with pytest.raises(SignatureMismatch, match="modified or signed with another key"):
        verify_file(crypto, image, flip_first_bit_of_signature_value(signature, algorithm),
                    verification_key, algorithm)


def test_streaming_verification_equals_one_shot(rsa_key: rsa.RSAPrivateKey) -> None:
    data = bytes(range(256)) * 4099
    signature = sign(rsa_key, data, Algorithm.RSA_SHA256)
    check = SignatureVerification(default_crypto(), Algorithm.RSA_SHA256)
    for start in range(0, len(data), 1000):
        check.update(data[start : start + 1000])
    check.final(spki(rsa_key), signature)


def test_tampered_image_wrong_key_and_bad_signatures(tmp_path: Path) -> None:
    key, other = ec_key(), ec_key()
    image = tmp_path / "image.bin"
    image.write_bytes(IMAGE)
    signature = sign(key, IMAGE, Algorithm.ECDSA_SHA256)
    crypto = default_crypto()
    right = VerificationKey("Code Verify Key", "public key", spki(key))
    wrong = VerificationKey("Code Verify Key", "public key", spki(other))
    with pytest.raises(SignatureMismatch):
        verify_file(crypto, image, signature, wrong)
    image.write_bytes(IMAGE[:-1] + b"\x01")
    with pytest.raises(SignatureMismatch):
        verify_file(crypto, image, signature, right)
    image.write_bytes(IMAGE)
    with pytest.raises(CodeSignError, match="not a DER-encoded ECDSA signature"):
        verify_file(crypto, image, bytes([signature[0] ^ 1]) + signature[1:], right)
    r, s = utils.decode_dss_signature(signature)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    with pytest.raises(CodeSignError, match="not a DER-encoded"):
        verify_file(crypto, image, raw, right)
    with pytest.raises(CodeSignError, match="does not fit"):
        verify_file(crypto, image, signature, right, Algorithm.RSA_SHA256)


def test_ecdsa_der_round_trip_is_strict() -> None:
    assert ecdsa_from_der(ecdsa_der(1, 2**255)) == (1, 2**255)
    for bad in (b"", b"\x30\x00", ecdsa_der(1, 2) + b"\x00", b"\x30\x06\x02\x01\x01\x02\x01\xff",
                b"\x30\x07\x02\x02\x00\x01\x02\x01\x01"):
        with pytest.raises(AttributeValueInvalid):
            ecdsa_from_der(bad)


def test_signature_files_may_hold_base64() -> None:
    signature = ecdsa_der(5, 7)
    assert read_signature(signature) == signature
    assert read_signature(base64.b64encode(signature) + b"\n") == signature


def test_key_from_a_certificate_or_a_public_key(module: Module, session: int, pki: TestPki,
                                                tmp_path: Path) -> None:
    signer = ec_key()
    image = tmp_path / "image.bin"
    image.write_bytes(IMAGE)
    signature = sign(signer, IMAGE, Algorithm.ECDSA_SHA256)
    with pytest.raises(CodeSignError, match="no public key or certificate labelled"):
        load_verification_key(module, session)
    provisioner = Provisioner(module, session)
    public_pem = signer.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    provisioner.provision(Credentials(code_verify_key=public_pem))
    key = load_verification_key(module, session)
    assert key.source == "public key"
    verify_file(module.crypto, image, signature, key)
    certificate = pem(pki.ca.issue(signer.public_key(), name("code signer")))
    provisioner.provision(Credentials(code_verify_key=certificate))
    verify_file(module.crypto, image, signature, load_verification_key(module, session))


# -- the command ------------------------------------------------------------------------------


def test_cli_verify_and_sign(token: Cli, pki: TestPki, tmp_path: Path) -> None:
    signer = ec_key()
    public = tmp_path / "signer.pub"
    public.write_bytes(signer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    token.run("provision", "--code-verify-key", str(public))
    image, sig = tmp_path / "image.bin", tmp_path / "image.sig"
    image.write_bytes(IMAGE * 3)
    sig.write_bytes(sign(signer, IMAGE * 3, Algorithm.ECDSA_SHA256))
    ok = token.run("codesign", "verify", str(image), "--sig", str(sig))
    assert "signature OK (ecdsa-sha256" in ok.stdout
    b64 = tmp_path / "image.sig.b64"
    b64.write_bytes(base64.b64encode(sig.read_bytes()))
    token.run("codesign", "verify", str(image), "--sig", str(b64), "--alg", "ecdsa-sha256",
              "--token", "pkcs11:token=dev")
    image.write_bytes(IMAGE * 3 + b"!")
    for args, why in (([], "signature does not match"), (["--alg", "rsa-sha1"], "does not fit"),
                      (["--label", "nothing"], "no public key or certificate labelled")):
        bad = token.run("codesign", "verify", str(image), "--sig", str(sig), *args, ok=False)
        assert bad.returncode == 1 and why in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    # sign with a token key, check with openssl
    token.run("key", "generate", "--type", "rsa:2048", "--label", "test signer")
    token.run("codesign", "sign", str(image), "--out", str(sig), "--label", "test signer",
              "--alg", "rsa-sha1")
    pem_file = tmp_path / "test-signer.pem"
    token.run("object", "export", "--type", "pubkey", "--label", "test signer", "--out",
              str(pem_file))
    check = subprocess.run(["openssl", "dgst", "-sha1", "-verify", str(pem_file), "-signature",
                            str(sig), str(image)], capture_output=True, text=True, check=False)
    assert check.returncode == 0 and "Verified OK" in check.stdout, check.stderr
    token.run("codesign", "verify", str(image), "--sig", str(sig), "--label", "test signer",
              "--alg", "rsa-sha1")


def _peak_rss_kib(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``command`` in a fresh helper process; its exit code and peak RSS (KiB)."""
    helper = ("import resource, subprocess, sys\n"
              "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
              "sys.stderr.write(p.stdout + p.stderr)\n"
              "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    proc = subprocess.run([sys.executable, "-c", helper, *command], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    code, peak = proc.stdout.split()
    assert code == "0", proc.stderr
    return int(peak), proc.stderr


def test_multi_gib_image_is_streamed_in_constant_memory(token: Cli, tmp_path: Path) -> None:
    """A 2 GiB (sparse) image is signed through the token and verified, each in well under
    the memory a single read of it would take."""
    image = tmp_path / "big.img"
    with image.open("wb") as stream:
        stream.truncate(2 << 30)
        stream.seek(1 << 30)
        stream.write(b"firmware in the middle")
    token.run("key", "generate", "--type", "ec", "--label", "signer")
    exported = token.run("object", "export", "--type", "pubkey", "--label", "signer").stdout
    (tmp_path / "signer.pem").write_text(exported)
    token.run("provision", "--code-verify-key", str(tmp_path / "signer.pem"))
    sig = tmp_path / "big.sig"
    command = tokenport_command()
    peak_sign, _ = _peak_rss_kib(
        [*command, "codesign", "sign", str(image), "--out", str(sig), "--label", "signer"],
        token.env)
    peak_verify, out = _peak_rss_kib(
        [*command, "codesign", "verify", str(image), "--sig", str(sig)], token.env)
    assert "signature OK" in out
    assert peak_sign < 200 * 1024 and peak_verify < 200 * 1024, (peak_sign, peak_verify)
