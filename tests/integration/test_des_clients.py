"""DES3, DES3-CMAC and derivation by encryption with real clients: python-pkcs11 drives the
module in a subprocess and pyca/cryptography checks its results here; pkcs11-tool generates
a DES3 key (PKCS #11 v2.40 Current Mechanisms s2.17-2.19)."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .tools import Token, init_with_cli, needs_python_pkcs11, new_token

KEY = bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123")  # odd parity


@pytest.fixture(scope="module")
def tok(module_path: str, tmp_path_factory: pytest.TempPathFactory) -> Token:
    token = new_token(module_path, tmp_path_factory.mktemp("des-clients"), "interop-des")
    init_with_cli(token)
    return token


def _parity_ok(value: bytes) -> bool:
    return all(b.bit_count() % 2 == 1 for b in value)


@needs_python_pkcs11
def test_des3_generate_encrypt_cmac(tok: Token) -> None:
    iv = os.urandom(8)
    plain = os.urandom(100)
    result = tok.python(
        r"""
IV, PLAIN, KEY = (bytes.fromhex(os.environ[n]) for n in ("IV", "PLAIN", "KEY"))
with token.open(rw=True, user_pin=PIN) as s:
    generated = s.generate_key(KeyType.DES3, label="py-des3",
                               template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True})
    ct = generated.encrypt(PLAIN, mechanism=Mechanism.DES3_CBC_PAD, mechanism_param=IV)
    back = generated.decrypt(ct, mechanism=Mechanism.DES3_CBC_PAD, mechanism_param=IV)
    chunks = [PLAIN[i:i + 7] for i in range(0, len(PLAIN), 7)]
    ct_multi = b"".join(generated.encrypt(iter(chunks), mechanism=Mechanism.DES3_CBC_PAD,
                                          mechanism_param=IV))
    mac = generated.sign(PLAIN, mechanism=Mechanism.DES3_CMAC)
    default_mac = generated.sign(PLAIN)  # python-pkcs11's default for DES3: CKM_DES3_MAC
    good = generated.verify(PLAIN, mac, mechanism=Mechanism.DES3_CMAC)
    bad = generated.verify(PLAIN + b"x", mac, mechanism=Mechanism.DES3_CMAC)
    ecb = generated.encrypt(PLAIN[:96], mechanism=Mechanism.DES3_ECB)
    known = s.create_object({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.DES3,
                             Attribute.VALUE: KEY, Attribute.SIGN: True})
    known_mac = known.sign(PLAIN, mechanism=Mechanism.DES3_CMAC)
    des2 = s.generate_key(KeyType.DES2, label="py-des2")
    emit(value=generated[Attribute.VALUE], key_type=generated[Attribute.KEY_TYPE], ct=ct, back=back,
         ct_multi=ct_multi, mac=mac, default_mac=default_mac, good=good, bad=bad, ecb=ecb, known_mac=known_mac,
         des2_type=des2[Attribute.KEY_TYPE],
         des2_ct=des2.encrypt(PLAIN[:16], mechanism=Mechanism.DES3_ECB))
""",
        env={"IV": iv.hex(), "PLAIN": plain.hex(), "KEY": KEY.hex()},
    )
    value = result["value"]
    assert len(value) == 24 and _parity_ok(value)
    assert result["key_type"] == 0x15 and result["des2_type"] == 0x14
    assert result["back"] == plain and result["ct_multi"] == result["ct"]
    pad = 8 - len(plain) % 8
    encryptor = Cipher(TripleDES(value), modes.CBC(iv)).encryptor()
    assert result["ct"] == encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
    ecb = Cipher(TripleDES(value), modes.ECB()).encryptor()
    assert result["ecb"] == ecb.update(plain[:96]) + ecb.finalize()
    expected = cmac.CMAC(TripleDES(value))
    expected.update(plain)
    assert result["mac"] == expected.finalize()
    assert result["good"] is True and result["bad"] is False
    cbc_mac = Cipher(TripleDES(value), modes.CBC(bytes(8))).encryptor()
    padded = plain + bytes(-len(plain) % 8)
    assert result["default_mac"] == (cbc_mac.update(padded) + cbc_mac.finalize())[-8:-4]
    known = cmac.CMAC(TripleDES(KEY))
    known.update(plain)
    assert result["known_mac"] == known.finalize()
    assert isinstance(result["des2_ct"], bytes) and len(result["des2_ct"]) == 16


@needs_python_pkcs11
def test_derive_by_aes_ecb_and_cbc_encrypt_data(tok: Token) -> None:
    key, data, iv = os.urandom(16), os.urandom(32), os.urandom(16)
    result = tok.python(
        r"""
KEY, DATA, IV = (bytes.fromhex(os.environ[n]) for n in ("KEY", "DATA", "IV"))
readable = {Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True}
with token.open(rw=True, user_pin=PIN) as s:
    base = s.create_object({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
                            Attribute.VALUE: KEY, Attribute.DERIVE: True, **readable})
    ecb = base.derive_key(KeyType.AES, 256, mechanism=Mechanism.AES_ECB_ENCRYPT_DATA,
                          mechanism_param=DATA, template=readable)
    cbc = base.derive_key(KeyType.GENERIC_SECRET, 128, mechanism=Mechanism.AES_CBC_ENCRYPT_DATA,
                          mechanism_param=(IV, DATA), template=readable)
    strong = s.create_object({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
                              Attribute.VALUE: KEY, Attribute.DERIVE: True})
    weaker = raised(strong.derive_key, KeyType.AES, 256, mechanism=Mechanism.AES_ECB_ENCRYPT_DATA,
                    mechanism_param=DATA, template=readable)
    hidden = strong.derive_key(KeyType.AES, 256, mechanism=Mechanism.AES_ECB_ENCRYPT_DATA,
                               mechanism_param=DATA)
    emit(ecb=ecb[Attribute.VALUE], cbc=cbc[Attribute.VALUE], weaker=weaker,
         hidden=raised(lambda: hidden[Attribute.VALUE]),
         always=hidden[Attribute.ALWAYS_SENSITIVE],
         bad_data=raised(base.derive_key, KeyType.AES, 128, mechanism=Mechanism.AES_ECB_ENCRYPT_DATA,
                         mechanism_param=DATA[:15]))
""",
        env={"KEY": key.hex(), "DATA": data.hex(), "IV": iv.hex()},
    )
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    assert result["ecb"] == ecb.update(data) + ecb.finalize()
    cbc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    assert result["cbc"] == (cbc.update(data) + cbc.finalize())[:16]
    assert result["weaker"] == "TemplateInconsistent"
    assert result["hidden"] == "AttributeSensitive"
    assert result["always"] is False  # the base key was created, not generated
    assert result["bad_data"] == "MechanismParamInvalid"


def test_pkcs11_tool_generates_a_des3_key(tok: Token) -> None:
    proc = tok.tool_ok("--keygen", "--key-type", "DES3:24", "--label", "tool-des3", "--id", "d3",
                       login=True)
    listing = tok.tool_ok("--list-objects", "--type", "secrkey", login=True)
    assert "tool-des3" in listing.stdout, listing.stdout
    assert "DES3" in (proc.stdout + listing.stdout), proc.stdout + listing.stdout



@needs_python_pkcs11
def test_pkcs11_tool_lists_and_imports_des3(tok: Token) -> None:
    """pkcs11-tool 0.23 lists the mechanisms and imports a DES3 key (C_CreateObject); it has
    no DES encryption nor CMAC of its own (its --encrypt refuses DES3-CBC and its --sign looks
    for a private key), so python-pkcs11 uses the imported key."""
    listed = tok.tool_ok("-M").stdout
    for line in ("DES3-KEY-GEN, keySize={24,24}, generate",
                 "DES3-CBC-PAD, keySize={16,24}, encrypt, decrypt, wrap, unwrap",
                 "DES3-CMAC, keySize={16,24}, sign, verify",
                 "AES-ECB-ENCRYPT-DATA, keySize={16,32}, derive"):
        assert line in listed, listed
    workdir = tok.workdir
    (workdir / "des3.key").write_bytes(KEY)
    tok.tool_ok("--write-object", "des3.key", "--type", "secrkey", "--key-type", "DES3:24",
                "--label", "tool-known", "--id", "d4", "--usage-sign", login=True)
    plain = os.urandom(40)
    result = tok.python(
        r"""
with token.open(user_pin=PIN) as s:
    key = s.get_key(object_class=ObjectClass.SECRET_KEY, label="tool-known")
    emit(key_type=key[Attribute.KEY_TYPE], mac=key.sign(bytes.fromhex(os.environ["PLAIN"]),
                                                          mechanism=Mechanism.DES3_CMAC))
""",
        env={"PLAIN": plain.hex()},
    )
    mac = cmac.CMAC(TripleDES(KEY))
    mac.update(plain)
    assert result["key_type"] == 0x15 and result["mac"] == mac.finalize()
