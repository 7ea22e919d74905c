"""The curves of issue 11 with real clients: OpenSC's pkcs11-tool generates EC keys on
secp256k1, brainpoolP256r1 and prime192v1 and signs, openssl verifies; pkcs11-tool makes an
X25519 (EC:curve25519) key pair; python-pkcs11 generates secp256k1 / brainpool / Ed448 keys
and signs, pyca/cryptography verifies; python-pkcs11 checks a 512-bit RSA certificate
signature on the token. (OpenSC 0.23 knows no Edwards-448 key type: Ed448 goes through
python-pkcs11; python-pkcs11 0.10 has no CKK_EC_MONTGOMERY: X25519 derivation between two
token keys is in tests/abi/test_mech_curves.py, through the C ABI.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .tools import (
    Token,
    init_with_cli,
    init_with_pkcs11_tool,
    needs_python_pkcs11,
    new_token,
    output,
    run,
    skip_without,
    unwrap_ec_point,
)

MESSAGE = b"tokenport curves interop \x00\x01\xff"
CERT = Path(__file__).resolve().parents[1] / "vectors" / "curves" / "rsa512_selfsigned.pem"


def _raw_to_der(signature: bytes) -> bytes:
    half = len(signature) // 2
    return encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                int.from_bytes(signature[half:], "big"))


# -- pkcs11-tool and openssl ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tool_token(module_path: str, tmp_path_factory: pytest.TempPathFactory) -> Token:
    tok = new_token(module_path, tmp_path_factory.mktemp("curves-tool"), "curves-tool")
    init_with_pkcs11_tool(tok)
    return tok


@skip_without("pkcs11-tool", "openssl")
@pytest.mark.parametrize(("key_type", "key_id", "curve_name"), [
    ("EC:secp256k1", "21", "secp256k1"),
    ("EC:brainpoolP256r1", "22", "brainpoolP256r1"),
    ("EC:prime192v1", "23", "secp192r1"),
])
def test_pkcs11_tool_keypair_signature_verified_by_openssl(
    tool_token: Token, tmp_path: Path, key_type: str, key_id: str, curve_name: str
) -> None:
    tok = tool_token
    made = tok.tool_ok("--keypairgen", "--key-type", key_type, "--id", key_id,
                       "--label", f"curve-{key_id}", login=True)
    assert "Public Key Object; EC" in made.stdout, output(made)
    message = tmp_path / "message"
    message.write_bytes(MESSAGE)
    signature = tmp_path / "signature"
    tok.tool_ok("--sign", "-m", "ECDSA-SHA256", "--id", key_id, "-i", str(message),
                "-o", str(signature), "--signature-format", "openssl", login=True)
    raw = tmp_path / "public.der"
    if curve_name == "secp192r1":  # pkcs11-tool 0.23 cannot read a P-192 key (SoftHSM's neither)
        exported = run([sys.executable, "-m", "tokenport", "object", "export", "--type", "pubkey",
                        "--token", tok.label, "--id", key_id, "--der", "--out", str(raw)], tok.env)
        assert exported.returncode == 0, output(exported)
    else:
        tok.tool_ok("--read-object", "--type", "pubkey", "--id", key_id, "-o", str(raw))
    pem = tmp_path / "public.pem"
    conv = run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(raw), "-out", str(pem)],
               tok.env)
    assert conv.returncode == 0, output(conv)
    key = serialization.load_pem_public_key(pem.read_bytes())
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == curve_name
    verify = ["openssl", "dgst", "-sha256", "-verify", str(pem), "-signature", str(signature)]
    verified = run([*verify, str(message)], tok.env)
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, output(verified)
    other = tmp_path / "other"
    other.write_bytes(MESSAGE + b"!")
    rejected = run([*verify, str(other)], tok.env)
    assert rejected.returncode != 0


@skip_without("pkcs11-tool")
def test_pkcs11_tool_makes_an_x25519_key_pair(tool_token: Token) -> None:
    """pkcs11-tool 0.23 asks for EC:curve25519 with CKM_EC_MONTGOMERY_KEY_PAIR_GEN and its
    misencoded curveName (see curves.MISENCODED_PARAMS). (Its --derive cannot read an X25519
    peer key, so the derivation is tested through the C ABI.)"""
    made = tool_token.tool("--keypairgen", "--key-type", "EC:curve25519", "--id", "31",
                           "--label", "x25519", login=True)
    assert made.returncode == 0, output(made)
    assert "Public Key Object; EC_MONTGOMERY" in made.stdout, output(made)
    point = next(line.split()[1] for line in made.stdout.splitlines()
                 if line.strip().startswith("EC_POINT:"))
    assert point.startswith("0420") and len(point) == 68  # the DER OCTET STRING of 32 bytes


# -- python-pkcs11 ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def py_token(module_path: str, tmp_path_factory: pytest.TempPathFactory) -> Token:
    tok = new_token(module_path, tmp_path_factory.mktemp("curves-py"), "curves-py")
    init_with_cli(tok)
    return tok


@needs_python_pkcs11
def test_python_pkcs11_ec_keys_on_new_curves(py_token: Token) -> None:
    result = py_token.python(
        r"""
from pkcs11.util.ec import encode_named_curve_parameters
MESSAGE = bytes.fromhex(os.environ["MESSAGE"])
out = {}
with token.open(rw=True, user_pin=PIN) as s:
    for name in ("secp256k1", "brainpoolp256r1", "brainpoolp512r1", "secp224r1"):
        params = s.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(name)}, local=True)
        pub, priv = params.generate_keypair(label="py-" + name)
        out[name] = {"point": pub[Attribute.EC_POINT],
                     "sig": priv.sign(MESSAGE, mechanism=Mechanism.ECDSA_SHA256),
                     "verified": pub.verify(MESSAGE, priv.sign(MESSAGE, mechanism=Mechanism.ECDSA_SHA256),
                                            mechanism=Mechanism.ECDSA_SHA256)}
emit(**out)
""",
        env={"MESSAGE": MESSAGE.hex()},
    )
    curves = {"secp256k1": ec.SECP256K1(), "brainpoolp256r1": ec.BrainpoolP256R1(),
              "brainpoolp512r1": ec.BrainpoolP512R1(), "secp224r1": ec.SECP224R1()}
    for name, curve in curves.items():
        entry = result[name]
        key = ec.EllipticCurvePublicKey.from_encoded_point(curve, unwrap_ec_point(entry["point"]))
        key.verify(_raw_to_der(entry["sig"]), MESSAGE, ec.ECDSA(hashes.SHA256()))
        assert entry["verified"] is True


@needs_python_pkcs11
def test_python_pkcs11_ed448_signature_verified_by_pyca(py_token: Token) -> None:
    result = py_token.python(
        r"""
MESSAGE = bytes.fromhex(os.environ["MESSAGE"])
with token.open(rw=True, user_pin=PIN) as s:
    pub, priv = s.generate_keypair(
        KeyType.EC_EDWARDS, mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
        public_template={Attribute.EC_PARAMS: bytes.fromhex("06032b6571")}, label="py-ed448")
    sig = priv.sign(MESSAGE, mechanism=Mechanism.EDDSA)
    emit(point=pub[Attribute.EC_POINT], sig=sig, again=priv.sign(MESSAGE, mechanism=Mechanism.EDDSA),
         verified=pub.verify(MESSAGE, sig, mechanism=Mechanism.EDDSA),
         forged=pub.verify(MESSAGE + b"!", sig, mechanism=Mechanism.EDDSA))
""",
        env={"MESSAGE": MESSAGE.hex()},
    )
    assert len(result["sig"]) == 114 and result["again"] == result["sig"]  # deterministic
    key = ed448.Ed448PublicKey.from_public_bytes(unwrap_ec_point(result["point"]))
    key.verify(result["sig"], MESSAGE)
    assert result["verified"] is True and result["forged"] is False


@needs_python_pkcs11
def test_python_pkcs11_verifies_a_512_bit_rsa_certificate(py_token: Token) -> None:
    cert = x509.load_pem_x509_certificate(CERT.read_bytes())
    numbers = cert.public_key().public_numbers()  # type: ignore[union-attr]
    result = py_token.python(
        r"""
N, E = int(os.environ["N"], 16), int(os.environ["E"])
TBS, SIG = bytes.fromhex(os.environ["TBS"]), bytes.fromhex(os.environ["SIG"])
with token.open(rw=True, user_pin=PIN) as s:
    key = s.create_object({Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.KEY_TYPE: KeyType.RSA,
                           Attribute.MODULUS: N.to_bytes(64, "big"),
                           Attribute.PUBLIC_EXPONENT: E.to_bytes(3, "big"),
                           Attribute.VERIFY: True, Attribute.ENCRYPT: True, Attribute.LABEL: "old-ca"})
    emit(bits=key[Attribute.MODULUS_BITS],
         good=key.verify(TBS, SIG, mechanism=Mechanism.SHA256_RSA_PKCS),
         bad=key.verify(TBS + b"x", SIG, mechanism=Mechanism.SHA256_RSA_PKCS),
         encrypt=raised(key.encrypt, b"secret", mechanism=Mechanism.RSA_PKCS))
""",
        env={"N": f"{numbers.n:x}", "E": str(numbers.e), "TBS": cert.tbs_certificate_bytes.hex(),
             "SIG": cert.signature.hex()},
    )
    assert result["bits"] == 512
    assert result["good"] is True and result["bad"] is False
    assert result["encrypt"] == "KeySizeRange"
    cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes,  # type: ignore[union-attr]
                             padding.PKCS1v15(), hashes.SHA256())
