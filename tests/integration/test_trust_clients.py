"""Issue 9's attribute and key-use rules, seen by real clients against the real module:

* item 1: a private, sensitive key cannot be copied to a public object (python-pkcs11), and
  the refused copy leaves no key bytes in the SQLite files; a new process without login
  finds no private key;
* item 2: the wrap/unwrap flows of pkcs11-tool and python-pkcs11 with ordinary
  (non-sensitive) keys keep working, and wrap-then-decrypt of a sensitive key is refused;
* item 13: a CKA_ALWAYS_AUTHENTICATE key signs through pkcs11-tool (which sends the
  context-specific login itself) and python-pkcs11 (``sign(..., pin=...)``), and not without.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from .tools import Token, init_with_cli, needs_python_pkcs11, new_token, output, skip_without

pytestmark = [needs_python_pkcs11, skip_without("pkcs11-tool")]


@pytest.fixture
def tok(module_path: str, tmp_path: Path) -> Token:
    token = new_token(module_path, tmp_path, "trust")
    init_with_cli(token)
    return token


def test_a_private_key_is_not_copied_to_a_public_object(tok: Token) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    pem = tok.workdir / "key.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    tok.tool_ok("--write-object", str(pem), "--type", "privkey", "--id", "42",
                "--label", "device", login=True)
    result = tok.python(
        r"""
with token.open(rw=True, user_pin=PIN) as s:
    key = s.get_key(object_class=ObjectClass.PRIVATE_KEY, label="device")
    emit(private=key[Attribute.PRIVATE], sensitive=key[Attribute.SENSITIVE],
         copy=raised(key.copy, {Attribute.PRIVATE: False, Attribute.TOKEN: True}),
         copy_unsensitive=raised(key.copy, {Attribute.SENSITIVE: False}),
         copy_extractable=raised(key.copy, {Attribute.EXTRACTABLE: True}))
"""
    )
    assert result == {
        "private": True, "sensitive": True, "copy": "AttributeReadOnly",
        "copy_unsensitive": "AttributeReadOnly", "copy_extractable": "AttributeReadOnly",
    }
    assert scalar not in tok.store_bytes()
    public = tok.python(
        r"""
with token.open() as s:
    emit(found=len(list(s.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))))
"""
    )
    assert public == {"found": 0}


def test_python_pkcs11_wraps_ordinary_keys_and_refuses_wrap_then_decrypt(tok: Token) -> None:
    result = tok.python(
        r"""
with token.open(rw=True, user_pin=PIN) as s:
    kek = s.generate_key(KeyType.AES, 256, template={Attribute.WRAP: True, Attribute.UNWRAP: True})
    ordinary = s.generate_key(KeyType.AES, 128, template={
        Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True})
    wrapped = kek.wrap_key(ordinary, mechanism=Mechanism.AES_KEY_WRAP)
    back = kek.unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES, wrapped,
                          mechanism=Mechanism.AES_KEY_WRAP,
                          template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True})
    secret = s.generate_key(KeyType.AES, 128, template={Attribute.EXTRACTABLE: True})
    try:
        kek.wrap_key(secret, mechanism=Mechanism.AES_KEY_WRAP)
        refused = "no exception"
    except p11x.PKCS11Error as exc:  # python-pkcs11 has no class for CKR 0x68
        refused = str(exc)
    emit(same=back[Attribute.VALUE] == ordinary[Attribute.VALUE],
         kek_decrypts=kek[Attribute.DECRYPT], sensitive=refused)
"""
    )
    # python-pkcs11 asks for every capability of an AES key, DECRYPT included: such a key
    # wraps ordinary keys, never a sensitive one.
    assert result == {
        "same": True, "kek_decrypts": True,
        "sensitive": "Unmapped error code 0x68",  # CKR_KEY_FUNCTION_NOT_PERMITTED
    }


def test_pkcs11_tool_wraps_and_unwraps_an_ordinary_key(tok: Token) -> None:
    tok.tool_ok("--keygen", "--key-type", "AES:32", "--label", "kek", "--id", "01",
                "--usage-wrap", login=True)
    value = bytes(range(16))
    target = tok.workdir / "target.key"
    target.write_bytes(value)
    tok.tool_ok("--write-object", str(target), "--type", "secrkey", "--key-type", "AES:16",
                "--label", "target", "--id", "02", "--extractable", login=True)
    wrapped = tok.workdir / "wrapped.bin"
    tok.tool_ok("--wrap", "--id", "01", "--application-id", "02", "-m", "AES-KEY-WRAP",
                "--output-file", str(wrapped), login=True)
    from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

    assert len(wrapped.read_bytes()) == 24
    tok.tool_ok("--unwrap", "--id", "01", "-m", "AES-KEY-WRAP", "-i", str(wrapped),
                "--key-type", "AES:", "--application-id", "03",
                "--application-label", "unwrapped", login=True)
    listing = tok.tool_ok("--list-objects", "--type", "secrkey", login=True).stdout
    assert "unwrapped" in listing and "target" in listing
    assert aes_key_unwrap  # the wrapped blob is an RFC 3394 wrap (checked in test_python_pkcs11)


def _verify(public_der: bytes, data: bytes, signature: bytes) -> None:
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    half = len(signature) // 2
    der = utils.encode_dss_signature(
        int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    )
    public.verify(der, data, ec.ECDSA(hashes.SHA256()))


def test_an_always_authenticate_key_signs_through_pkcs11_tool(tok: Token) -> None:
    tok.tool_ok("--keypairgen", "--key-type", "EC:prime256v1", "--label", "auth", "--id", "0a",
                "--always-auth", login=True)
    data = tok.workdir / "data"
    data.write_bytes(b"signed with a re-authenticated key")
    signature = tok.workdir / "sig"
    tok.tool_ok("--sign", "-m", "ECDSA-SHA256", "--id", "0a", "-i", str(data),
                "-o", str(signature), login=True)
    public = tok.workdir / "pub.der"
    tok.tool_ok("--read-object", "--type", "pubkey", "--id", "0a", "-o", str(public))
    _verify(public.read_bytes(), data.read_bytes(), signature.read_bytes())


def test_an_always_authenticate_key_needs_the_pin_in_python_pkcs11(tok: Token) -> None:
    result = tok.python(
        r"""
with token.open(rw=True, user_pin=PIN) as s:
    public, private = s.generate_keypair(KeyType.EC, 256, store=False,
        public_template={Attribute.EC_PARAMS: bytes.fromhex("06082a8648ce3d030107")},
        private_template={Attribute.ALWAYS_AUTHENTICATE: True})
    emit(flag=private[Attribute.ALWAYS_AUTHENTICATE],
         without=raised(private.sign, b"m", mechanism=Mechanism.ECDSA_SHA256),
         wrong=raised(private.sign, b"m", mechanism=Mechanism.ECDSA_SHA256, pin="wrong-pin-0"),
         signature=private.sign(b"m", mechanism=Mechanism.ECDSA_SHA256, pin=PIN),
         point=public[Attribute.EC_POINT])
"""
    )
    assert result["flag"] is True
    assert result["without"] == "UserNotLoggedIn"
    assert result["wrong"] == "PinIncorrect"
    from .tools import unwrap_ec_point

    key = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), unwrap_ec_point(result["point"])
    )
    public_der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _verify(public_der, b"m", result["signature"])
    with pytest.raises(InvalidSignature):
        _verify(public_der, b"other", result["signature"])


def test_pkcs11_tool_reports_the_wrong_sequence(tok: Token) -> None:
    """Without --login there is no user, so the key is not even visible: a clear failure."""
    tok.tool_ok("--keypairgen", "--key-type", "EC:prime256v1", "--label", "auth2", "--id", "0b",
                "--always-auth", login=True)
    data = tok.workdir / "data2"
    data.write_bytes(b"x")
    proc = tok.tool("--sign", "-m", "ECDSA-SHA256", "--id", "0b", "-i", str(data))
    assert proc.returncode != 0, output(proc)
