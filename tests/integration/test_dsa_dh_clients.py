"""DSA and PKCS #3 Diffie-Hellman through the compiled module with real clients (PKCS #11 v2.40
Current Mechanisms s2.2, s2.5): python-pkcs11 makes domain parameters (C_GenerateKey with
CKM_DSA_PARAMETER_GEN / CKM_DH_PKCS_PARAMETER_GEN), key pairs from them, DSA signatures and DH
derivations; pkcs11-tool lists the mechanisms and signs with CKM_DSA_SHA256; openssl and
pyca/cryptography (in this process) check every result independently.

pkcs11-tool (OpenSC 0.25) cannot generate DSA or DH key pairs (--key-type knows no DSA/DH),
write DSA keys (--write-object: "Unsupported key type") nor read DSA public keys, so those
steps go through python-pkcs11.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dh, dsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .tools import Token, have_tool, init_with_cli, needs_python_pkcs11, new_token, output, run

pytestmark = needs_python_pkcs11

MESSAGE = b"DSA and DH through python-pkcs11 \x00\xff"
FFDHE2048_P = int(
    "ffffffffffffffffadf85458a2bb4a9aafdc5620273d3cf1d8b9c583ce2d3695a9e13641146433fbcc939dce24"
    "9b3ef97d2fe363630c75d8f681b202aec4617ad3df1ed5d5fd65612433f51f5f066ed0856365553ded1af3b557"
    "135e7f57c935984f0c70e0e68b77e2a689daf3efe8721df158a136ade73530acca4f483a797abc0ab182b324fb"
    "61d108a94bb2c8e3fbb96adab760d7f4681d4f42a3de394df4ae56ede76372bb190b07a7c8ee0a6d709e02fce1"
    "cdf7e2ecc03404cd28342f619172fe9ce98583ff8e4f1232eef28183c3fe3b1b4c6fad733bb5fcbc2ec22005c5"
    "8ef1837d1683b2c6f34a26c1b2effa886b423861285c97ffffffffffffffff", 16)
"""RFC 7919 ffdhe2048 (generator 2)."""


@pytest.fixture(scope="module")
def tok(module_path: str, tmp_path_factory: pytest.TempPathFactory) -> Token:
    token = new_token(module_path, tmp_path_factory.mktemp("dsa-dh"), "interop-dsa-dh")
    init_with_cli(token)
    return token


def _dsa_public(result: dict[str, bytes]) -> dsa.DSAPublicKey:
    numbers = dsa.DSAParameterNumbers(*(int.from_bytes(result[k], "big") for k in ("p", "q", "g")))
    return dsa.DSAPublicNumbers(int.from_bytes(result["y"], "big"), numbers).public_key()


def _der(signature: bytes) -> bytes:
    half = len(signature) // 2
    return encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                int.from_bytes(signature[half:], "big"))


def test_python_pkcs11_dsa_parameters_key_pair_and_signatures(tok: Token) -> None:
    result = tok.python(
        r"""
import hashlib
MESSAGE = bytes.fromhex(os.environ["MESSAGE"])
with token.open(rw=True, user_pin=PIN) as s:
    params = s.generate_domain_parameters(KeyType.DSA, 2048, store=True)
    pub, priv = params.generate_keypair(label="py-dsa", store=True, id=b"\xd5")
    sig256 = priv.sign(MESSAGE, mechanism=Mechanism.DSA_SHA256)
    sig512 = priv.sign(MESSAGE)  # python-pkcs11's default for DSA: CKM_DSA_SHA512
    raw = priv.sign(hashlib.sha384(MESSAGE).digest(), mechanism=Mechanism.DSA)
    parts = priv.sign((MESSAGE[:5], MESSAGE[5:]), mechanism=Mechanism.DSA_SHA1)
    direct_pub, direct_priv = s.generate_keypair(KeyType.DSA, 3072)  # parameters made on the way
    direct = direct_priv.sign(MESSAGE, mechanism=Mechanism.DSA_SHA384)
    emit(direct=direct, direct_ok=direct_pub.verify(MESSAGE, direct, mechanism=Mechanism.DSA_SHA384),
         direct_p_len=len(direct_pub[Attribute.PRIME]))
    emit(
        cls=params[Attribute.CLASS], key_type=params[Attribute.KEY_TYPE],
        local=params[Attribute.LOCAL], bits=params[Attribute.PRIME_BITS],
        p=params[Attribute.PRIME], q=params[Attribute.SUBPRIME], g=params[Attribute.BASE],
        y=pub[Attribute.VALUE], pub_p=pub[Attribute.PRIME],
        sensitive=raised(priv.__getitem__, Attribute.VALUE),
        sig256=sig256, sig512=sig512, raw=raw, parts=parts,
        verified=pub.verify(MESSAGE, sig256, mechanism=Mechanism.DSA_SHA256),
        forged=pub.verify(MESSAGE + b"!", sig256, mechanism=Mechanism.DSA_SHA256),
    )
""",
        env={"MESSAGE": MESSAGE.hex()},
    )
    assert (result["cls"], result["key_type"], result["local"], result["bits"]) == (6, 1, True, 2048)
    assert result["pub_p"] == result["p"] and len(result["q"]) == 32
    assert result["sensitive"] == "AttributeSensitive"
    assert result["verified"] is True and result["forged"] is False
    key = _dsa_public(result)
    for name, algorithm in (("sig256", hashes.SHA256()), ("sig512", hashes.SHA512()),
                            ("parts", hashes.SHA1())):
        assert len(result[name]) == 64
        key.verify(_der(result[name]), MESSAGE, algorithm)  # raises when invalid
    key.verify(_der(result["raw"]), MESSAGE, hashes.SHA384())
    assert result["direct_ok"] is True and result["direct_p_len"] == 384 and len(result["direct"]) == 64


def test_python_pkcs11_imports_a_pyca_dsa_key_and_signs(tok: Token) -> None:
    private = dsa.generate_private_key(2048)
    numbers = private.private_numbers()
    pn = numbers.public_numbers.parameter_numbers
    values = {"p": pn.p, "q": pn.q, "g": pn.g, "x": numbers.x}
    result = tok.python(
        r"""
V = {k: int(os.environ[k], 16) for k in ("p", "q", "g", "x")}
def b(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")
with token.open(rw=True, user_pin=PIN) as s:
    key = s.create_object({
        Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.KEY_TYPE: KeyType.DSA,
        Attribute.PRIME: b(V["p"]), Attribute.SUBPRIME: b(V["q"]), Attribute.BASE: b(V["g"]),
        Attribute.VALUE: b(V["x"]), Attribute.SIGN: True, Attribute.LABEL: "imported-dsa",
    })
    emit(signature=key.sign(b"imported", mechanism=Mechanism.DSA_SHA224))
    bad = dict(p=b(V["p"]), q=b(V["q"]), g=b"\x01")
    emit(bad_domain=raised(s.create_object, {
        Attribute.CLASS: ObjectClass.DOMAIN_PARAMETERS, Attribute.KEY_TYPE: KeyType.DSA,
        Attribute.PRIME: bad["p"], Attribute.SUBPRIME: bad["q"], Attribute.BASE: bad["g"]}))
""",
        env={k: format(v, "x") for k, v in values.items()},
    )
    private.public_key().verify(_der(result["signature"]), b"imported", hashes.SHA224())
    assert result["bad_domain"] == "DomainParamsInvalid"


def test_python_pkcs11_dh_derive_agrees_between_tokens_keys_and_with_pyca(tok: Token) -> None:
    numbers = dh.DHParameterNumbers(FFDHE2048_P, 2)
    peer = numbers.parameters().generate_private_key()
    result = tok.python(
        r"""
P = int(os.environ["P"], 16)
PEER = bytes.fromhex(os.environ["PEER"])
OUT = {Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True}
with token.open(rw=True, user_pin=PIN) as s:
    made = s.generate_domain_parameters(KeyType.DH, 1024)
    m_pub, m_priv = made.generate_keypair()
    m2_pub, m2_priv = made.generate_keypair()
    params = s.create_domain_parameters(
        KeyType.DH, {Attribute.PRIME: P.to_bytes(256, "big"), Attribute.BASE: b"\x02"}, local=True)
    a_pub, a_priv = params.generate_keypair(label="py-dh-a")
    b_pub, b_priv = params.generate_keypair(label="py-dh-b")
    ab = a_priv.derive_key(KeyType.GENERIC_SECRET, 256, template=OUT,
                           mechanism_param=b_pub[Attribute.VALUE])
    ba = b_priv.derive_key(KeyType.GENERIC_SECRET, 256, template=OUT,
                           mechanism_param=a_pub[Attribute.VALUE])
    with_peer = a_priv.derive_key(KeyType.GENERIC_SECRET, 2048, template=OUT, mechanism_param=PEER)
    one = m_priv.derive_key(KeyType.AES, 128, template=OUT, mechanism_param=m2_pub[Attribute.VALUE])
    two = m2_priv.derive_key(KeyType.AES, 128, template=OUT, mechanism_param=m_pub[Attribute.VALUE])
    emit(ab=ab[Attribute.VALUE], ba=ba[Attribute.VALUE], with_peer=with_peer[Attribute.VALUE],
         a_y=a_pub[Attribute.VALUE], made_bits=made[Attribute.PRIME_BITS],
         made_p=made[Attribute.PRIME], one=one[Attribute.VALUE], two=two[Attribute.VALUE],
         bad_peer=raised(a_priv.derive_key, KeyType.GENERIC_SECRET, 256, template=OUT,
                         mechanism_param=(P - 1).to_bytes(256, "big")))
""",
        env={"P": format(FFDHE2048_P, "x"),
             "PEER": peer.public_key().public_numbers().y.to_bytes(256, "big").hex()},
    )
    assert len(result["ab"]) == 32 and result["ab"] == result["ba"]
    a_public = dh.DHPublicNumbers(int.from_bytes(result["a_y"], "big"), numbers).public_key()
    assert result["with_peer"] == peer.exchange(a_public)
    assert result["ab"] != result["with_peer"][-32:]
    assert result["made_bits"] == 1024 and len(result["made_p"]) == 128
    assert len(result["one"]) == 16 and result["one"] == result["two"]
    assert result["bad_peer"] == "MechanismParamInvalid"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.skipif(not (have_tool("pkcs11-tool") and have_tool("openssl")),
                    reason="pkcs11-tool and openssl are installed in CI")
def test_pkcs11_tool_lists_and_signs_openssl_verifies(tok: Token, tmp_path: Path) -> None:
    mechanisms = tok.tool_ok("-M").stdout
    for line in ("DSA-PARAMETER-GEN, keySize={2048,3072}, generate",
                 "DSA-KEY-PAIR-GEN, keySize={2048,3072}, generate_key_pair",
                 "DSA-SHA256, keySize={1024,3072}, sign, verify",
                 "DH-PKCS-PARAMETER-GEN, keySize={1024,2048}, generate",
                 "DH-PKCS-DERIVE, keySize={1024,8192}, derive"):
        assert line in mechanisms, mechanisms
    made = tok.python(
        r"""
with token.open(rw=True, user_pin=PIN) as s:
    params = s.generate_domain_parameters(KeyType.DSA, 3072)
    pub, priv = params.generate_keypair(label="tool-dsa", store=True, id=b"\xd3")
    emit(p=pub[Attribute.PRIME], q=pub[Attribute.SUBPRIME], g=pub[Attribute.BASE],
         y=pub[Attribute.VALUE])
""")
    message = _write(tmp_path / "message", MESSAGE)
    signature = tmp_path / "signature"
    tok.tool_ok("--sign", "-m", "DSA-SHA256", "--id", "d3", "-i", str(message), "-o", str(signature),
                login=True)
    raw = signature.read_bytes()
    assert len(raw) == 64  # r || s of the 256-bit subprime
    pem = tmp_path / "public.pem"
    spki = _dsa_public(made).public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    der = _write(tmp_path / "public.der", spki)
    converted = run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(der), "-out", str(pem)],
                    tok.env)
    assert converted.returncode == 0, output(converted)
    sig_der = _write(tmp_path / "signature.der", _der(raw))

    def verify(data: Path) -> subprocess.CompletedProcess[str]:
        return run(["openssl", "dgst", "-sha256", "-verify", str(pem), "-signature", str(sig_der),
                    str(data)], tok.env)

    verified = verify(message)
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, output(verified)
    rejected = verify(_write(tmp_path / "other", MESSAGE + b"!"))
    assert rejected.returncode != 0 and "Verification failure" in rejected.stdout + rejected.stderr
