"""Credentials in files: certificates and keys in PEM or DER, turned into PKCS #11 templates
for C_CreateObject, and token objects turned back into files (used by the CLI and by
provisioning). Files are read by ``tokenport.x509`` (PEM / DER), key material is checked
through the crypto port; nothing here imports pyca."""

from __future__ import annotations

import base64
import hashlib

from tokenport import x509
from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKC, CKK, CKO, CKR
from tokenport.core.module import Module
from tokenport.errors import AttributeSensitive, AttributeValueInvalid, KeyUnextractable
from tokenport.mechanisms.keyformats import (
    KeyMaterialCrypto,
    decode_private_key_pkcs8,
    decode_public_key_info,
    public_attributes_of_pkcs8,
)

Template = list[tuple[int, AttrValue]]
PEM_LABELS = {"cert": "CERTIFICATE", "pubkey": "PUBLIC KEY", "privkey": "PRIVATE KEY",
              "csr": "CERTIFICATE REQUEST"}


def detect(data: bytes) -> str:
    """What a file holds: "cert", "privkey" or "pubkey" (from PEM headers or a DER try)."""
    head = data.lstrip()[:64]
    if head.startswith(b"-----BEGIN"):
        if b"CERTIFICATE" in head:
            return "cert"
        if b"PUBLIC KEY" in head:
            return "pubkey"
        if b"PRIVATE KEY" in head:
            return "privkey"
        raise AttributeValueInvalid("unknown PEM type")
    for kind, loader in (("cert", x509.load_certificate), ("pubkey", x509.load_public_key)):
        try:
            loader(data)
            return kind
        except AttributeValueInvalid:
            continue
    return "privkey"


def key_id_of(key_type: int, public: dict[int, AttrValue]) -> bytes:
    """The customary CKA_ID: SHA-1 of the modulus (RSA) or of the EC point value."""
    value = public[CKA.MODULUS] if key_type == CKK.RSA else public[CKA.EC_POINT]
    assert isinstance(value, bytes)
    return hashlib.sha1(value).digest()


def import_templates(
    crypto: KeyMaterialCrypto, kind: str, data: bytes, label: bytes, key_id: bytes | None,
    password: bytes | None, *, with_public: bool = True,
) -> list[Template]:
    """Templates creating token objects for a certificate, private key (+ public) or public key."""
    if kind == "cert":
        der = x509.load_certificate(data)
        return [[(CKA.CLASS, int(CKO.CERTIFICATE)), (CKA.CERTIFICATE_TYPE, int(CKC.X_509)),
                 (CKA.VALUE, der), (CKA.LABEL, label), (CKA.TOKEN, True),
                 *([(CKA.ID, key_id)] if key_id is not None else [])]]
    if kind == "pubkey":
        key_type, public = decode_public_key_info(crypto, x509.load_public_key(data))
        return [_public_template(key_type, public, label, key_id or key_id_of(key_type, public))]
    pkcs8 = x509.load_private_key(data, password)
    key_type, material = decode_private_key_pkcs8(crypto, pkcs8)
    public = public_attributes_of_pkcs8(crypto, pkcs8)
    ident = key_id or key_id_of(key_type, public)
    private: Template = [
        (CKA.CLASS, int(CKO.PRIVATE_KEY)), (CKA.KEY_TYPE, key_type), (CKA.LABEL, label),
        (CKA.ID, ident), (CKA.TOKEN, True), (CKA.PRIVATE, True), (CKA.SENSITIVE, True),
        (CKA.EXTRACTABLE, False), *material.items(),
    ]
    templates = [private]
    if with_public:
        templates.append(_public_template(key_type, public, label, ident))
    return templates


def _public_template(key_type: int, public: dict[int, AttrValue], label: bytes, key_id: bytes) -> Template:
    return [(CKA.CLASS, int(CKO.PUBLIC_KEY)), (CKA.KEY_TYPE, key_type), (CKA.LABEL, label),
            (CKA.ID, key_id), (CKA.TOKEN, True), *public.items()]


def export_object(module: Module, session: int, handle: int, kind: str) -> bytes:
    """The DER of a certificate, a public key (SPKI) or an extractable private key (PKCS #8)."""
    if kind == "cert":
        return _read(module, session, handle, CKA.VALUE)
    if kind == "pubkey":
        return _read(module, session, handle, CKA.PUBLIC_KEY_INFO)
    flags = module.get_attribute_value(session, handle, [CKA.EXTRACTABLE, CKA.SENSITIVE])
    if flags[0].value is not True or flags[1].value is not False:
        raise KeyUnextractable("the private key is non-extractable or sensitive; it never leaves the token")
    from tokenport.mechanisms.keyformats import encode_private_key_pkcs8
    from tokenport.objects.model import ObjectKeyView, TokenObject

    types = [CKA.KEY_TYPE, CKA.MODULUS, CKA.PUBLIC_EXPONENT, CKA.PRIVATE_EXPONENT, CKA.PRIME_1,
             CKA.PRIME_2, CKA.EXPONENT_1, CKA.EXPONENT_2, CKA.COEFFICIENT, CKA.EC_PARAMS, CKA.VALUE]
    attrs = {r.type: r.value for r in module.get_attribute_value(session, handle, types)
             if r.error == CKR.OK and r.value is not None}
    from tokenport.attributes.schema import schema_for

    key_type = attrs[CKA.KEY_TYPE]
    assert isinstance(key_type, int)
    schema = schema_for(int(CKO.PRIVATE_KEY), key_type)
    assert schema is not None
    attrs[CKA.CLASS] = int(CKO.PRIVATE_KEY)
    view = ObjectKeyView(TokenObject("export", schema, dict(attrs)), lambda o, a: b"")
    return encode_private_key_pkcs8(module.crypto, view)


def _read(module: Module, session: int, handle: int, attr: int) -> bytes:
    (result,) = module.get_attribute_value(session, handle, [attr])
    if result.error == CKR.ATTRIBUTE_SENSITIVE:
        raise AttributeSensitive()
    if not isinstance(result.value, bytes) or not result.value:
        raise AttributeValueInvalid("the object has no such value")
    return result.value


def to_pem(kind: str, der: bytes) -> str:
    """PEM armour for DER bytes of the given kind."""
    label = PEM_LABELS[kind]
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"
