"""TPM-held keys through the real compiled module: pkcs11-tool (key pair generation, signing,
openssl verifying) and python-pkcs11 (sign, decrypt, derive), on a token whose config says
``[crypto] backend = "tpm2"`` with the session's swtpm."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.tools import (
    Token,
    init_with_pkcs11_tool,
    needs_python_pkcs11,
    new_token,
    output,
    run,
    skip_without,
)

from .swtpm import Swtpm

pytestmark = skip_without("pkcs11-tool", "openssl")

LOCATION = 0x80545001  # CKA_TOKENPORT_KEY_LOCATION
BLOB = 0x80545002  # CKA_TOKENPORT_TPM_BLOB


def tpm_token(module: str, base: Path, tcti: str, label: str = "tpm") -> Token:
    """An initialized token whose configuration selects the tpm2 port on ``tcti``."""
    token = new_token(module, base, label)
    conf = base / "tokenport.toml"
    conf.write_text(f'[crypto]\nport = "tpm2"\n\n[crypto.tpm2]\ntcti = "{tcti}"\n', encoding="utf-8")
    token.extra_env["TOKENPORT_CONF"] = str(conf)
    for proc in init_with_pkcs11_tool(token):
        assert proc.returncode == 0, output(proc)
    return token


@pytest.fixture(scope="module")
def tok(swtpm: Swtpm, tmp_path_factory: pytest.TempPathFactory) -> Token:
    from tokenport.abi import module_path

    return tpm_token(module_path(), tmp_path_factory.mktemp("tpm-clients"), swtpm.tcti)


def _verify_with_openssl(tok: Token, key_id: str, signature: bytes, data: Path, *opts: str) -> None:
    raw = data.parent / f"pub-{key_id}.der"
    tok.tool_ok("--read-object", "--type", "pubkey", "--id", key_id, "-o", str(raw))
    pem = data.parent / f"pub-{key_id}.pem"
    conv = run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(raw), "-out", str(pem)], tok.env)
    assert conv.returncode == 0, output(conv)
    sig = data.parent / f"sig-{key_id}.bin"
    sig.write_bytes(signature)
    good = run(["openssl", "dgst", "-sha256", "-verify", str(pem), *opts, "-signature", str(sig), str(data)],
               tok.env)
    assert good.returncode == 0 and "Verified OK" in good.stdout, output(good)
    data.write_bytes(data.read_bytes() + b"!")
    bad = run(["openssl", "dgst", "-sha256", "-verify", str(pem), *opts, "-signature", str(sig), str(data)],
              tok.env)
    assert bad.returncode != 0, output(bad)


@pytest.mark.parametrize("key_type,key_id,mechanism,opts", [
    ("EC:prime256v1", "11", "ECDSA-SHA256", ()),
    ("rsa:3072", "12", "SHA256-RSA-PKCS", ()),  # (P-384: pkcs11-tool cannot read its pubkey)
    ("rsa:2048", "13", "SHA256-RSA-PKCS", ()),
    ("rsa:2048", "14", "SHA256-RSA-PKCS-PSS", ("-sigopt", "rsa_padding_mode:pss",
                                               "-sigopt", "rsa_pss_saltlen:32")),
])
def test_pkcs11_tool_generates_in_the_tpm_and_openssl_verifies(
    tok: Token, tmp_path: Path, key_type: str, key_id: str, mechanism: str, opts: tuple[str, ...]
) -> None:
    started = time.monotonic()
    tok.tool_ok("--keypairgen", "--key-type", key_type, "--id", key_id, "--label", f"tpm-{key_id}",
                login=True)
    generated = time.monotonic() - started
    data = tmp_path / "data.txt"
    data.write_bytes(b"signed by a key in the TPM\n")
    sig = tmp_path / "sig.bin"
    extra = ["--signature-format", "openssl"] if key_type.startswith("EC") else []
    if mechanism.endswith("PSS"):
        extra += ["--mgf", "MGF1-SHA256", "--salt-len", "32"]
    tok.tool_ok("--sign", "-m", mechanism, "--id", key_id, "-i", str(data), "-o", str(sig), *extra,
                login=True)
    assert generated < 60
    _verify_with_openssl(tok, key_id, sig.read_bytes(), data, *opts)


@needs_python_pkcs11
def test_python_pkcs11_signs_decrypts_and_derives_with_tpm_keys(tok: Token) -> None:
    results = tok.python(r'''
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from pkcs11.attributes import AttributeMapper, handle_bytes
mapper = AttributeMapper()
for vendor in (0x80545001, 0x80545002, 0x80545003):  # tokenport's vendor attributes: bytes
    mapper.register_handler(vendor, *handle_bytes)
with token.open(user_pin=PIN, rw=True, attribute_mapper=mapper) as s:
    ec_pub, ec_priv = s.generate_keypair(KeyType.EC, store=True, label="py-ec",
        public_template={Attribute.EC_PARAMS: bytes.fromhex("06082a8648ce3d030107")},
        private_template={Attribute.DERIVE: True})
    location = ec_priv[0x80545001]
    blob = raised(lambda: ec_priv[0x80545002])
    value = raised(lambda: ec_priv[Attribute.VALUE])
    point = ec_pub[Attribute.EC_POINT]
    sig = ec_priv.sign(b"python", mechanism=Mechanism.ECDSA_SHA256)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point[2:])
    key.verify(utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
               b"python", ec.ECDSA(hashes.SHA256()))
    peer = ec.generate_private_key(ec.SECP256R1())
    peer_point = peer.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint)
    derived = ec_priv.derive_key(KeyType.GENERIC_SECRET, 256, mechanism_param=(KDF.NULL, None, peer_point),
        template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True})
    same = derived[Attribute.VALUE] == peer.exchange(ec.ECDH(), key)
    rsa_pub, rsa_priv = s.generate_keypair(KeyType.RSA, 2048, store=True, label="py-rsa")
    n = int.from_bytes(rsa_pub[Attribute.MODULUS], "big")
    public = rsa.RSAPublicNumbers(65537, n).public_key()
    ciphertext = public.encrypt(b"for the TPM", padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    plain = rsa_priv.decrypt(ciphertext, mechanism=Mechanism.RSA_PKCS_OAEP,
                             mechanism_param=(Mechanism.SHA256, MGF.SHA256, None))
    rsa_sig = rsa_priv.sign(b"python", mechanism=Mechanism.SHA256_RSA_PKCS)
    public.verify(rsa_sig, b"python", padding.PKCS1v15(), hashes.SHA256())
    rsa_location = rsa_priv[0x80545001]
    extractable = raised(lambda: s.generate_keypair(KeyType.EC, store=True,
        public_template={Attribute.EC_PARAMS: bytes.fromhex("06082a8648ce3d030107")},
        private_template={Attribute.EXTRACTABLE: True}))
emit(location=location, blob=blob, value=value, same=same, plain=plain,
     rsa_location=rsa_location, extractable=extractable)
''')
    assert results["location"] == b"tpm2" and results["rsa_location"] == b"tpm2"
    assert results["blob"] == "AttributeSensitive"
    assert results["value"] == "AttributeSensitive"
    assert results["same"] is True
    assert results["plain"] == b"for the TPM"
    assert results["extractable"] == "TemplateInconsistent"


def test_unreachable_tpm_is_a_device_error_at_first_use(swtpm: Swtpm, tmp_path: Path) -> None:
    from tokenport.abi import module_path

    token = tpm_token(module_path(), tmp_path, swtpm.tcti, label="gone")
    conf = Path(token.extra_env["TOKENPORT_CONF"])
    conf.write_text('[crypto]\nbackend = "tpm2"\n\n[crypto.tpm2]\n'
                    'tcti = "swtpm:host=127.0.0.1,port=1"\n', encoding="utf-8")
    proc = token.tool("--keypairgen", "--key-type", "EC:prime256v1", "--id", "21", login=True)
    assert proc.returncode != 0
    assert "CKR_DEVICE_ERROR" in proc.stdout + proc.stderr, output(proc)
