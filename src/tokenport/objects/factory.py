"""Object factories: build TokenObjects for C_CreateObject, key generation, unwrapping,
derivation and C_CopyObject (PKCS #11 v2.40 s5.7, s5.14), with the attributes the token
computes itself (CKA_LOCAL, CKA_ALWAYS_SENSITIVE, certificate fields, public key info).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from tokenport.attributes.kinds import AttrValue
from tokenport.attributes.schema import Schema
from tokenport.attributes.template import (
    Origin,
    check_modification,
    check_template,
    resolve_schema,
    with_defaults,
)
from tokenport.ck import CK_UNAVAILABLE_INFORMATION, CKA, CKC, CKO
from tokenport.objects.model import TokenObject

if TYPE_CHECKING:
    from tokenport.mechanisms.keyformats import KeyMaterialCrypto
    from tokenport.x509 import X509Fields

CertificateFieldReader = Callable[[bytes], "X509Fields"]
"""Reads the CKA_SUBJECT / CKA_ISSUER / CKA_SERIAL_NUMBER / CKA_PUBLIC_KEY_INFO defaults of
an X.509 certificate object from its DER CKA_VALUE (PKCS #11 v2.40 s4.6.3);
AttributeValueInvalid for anything that is not a certificate."""


def _default_certificate_fields(der: bytes) -> X509Fields:
    from tokenport.x509 import certificate_fields

    return certificate_fields(der)

KEY_CLASSES = frozenset({int(CKO.PUBLIC_KEY), int(CKO.PRIVATE_KEY), int(CKO.SECRET_KEY)})
SECRET_BEARING = frozenset({int(CKO.PRIVATE_KEY), int(CKO.SECRET_KEY)})


def new_uid() -> str:
    """A fresh, store-unique object identifier (also CKA_UNIQUE_ID)."""
    return secrets.token_hex(16)


class ObjectFactory:
    """Builds objects from templates; raises tokenport.errors on any template problem."""

    def __init__(
        self,
        crypto: KeyMaterialCrypto,
        certificate_fields: CertificateFieldReader | None = None,
    ) -> None:
        """``crypto``: the crypto port families that check and encode key material;
        ``certificate_fields``: the certificate reader (default: ``tokenport.x509``'s,
        imported at the first certificate object)."""
        self._crypto = crypto
        self._certificate_fields = certificate_fields or _default_certificate_fields

    def create(self, template: Mapping[int, AttrValue], *, is_so: bool) -> TokenObject:
        """C_CreateObject: validate the template, fill defaults, complete computed fields."""
        schema = resolve_schema(template)
        check_template(schema, Origin.CREATE, template, is_so=is_so)
        attrs = with_defaults(schema, template, {})
        if schema.object_class in SECRET_BEARING:
            attrs[CKA.ALWAYS_SENSITIVE] = False
            attrs[CKA.NEVER_EXTRACTABLE] = False
        return self._finish(schema, attrs)

    def prepare(
        self,
        origin: Origin,
        template: Mapping[int, AttrValue],
        fixed: Mapping[int, AttrValue],
        *,
        is_so: bool,
    ) -> Schema:
        """Check a generate/unwrap/derive template before the (costly) operation runs."""
        schema = resolve_schema(template, fixed)
        check_template(schema, origin, template, is_so=is_so, provided=fixed)
        return schema

    def build(
        self,
        schema: Schema,
        origin: Origin,
        template: Mapping[int, AttrValue],
        provided: Mapping[int, AttrValue],
        *,
        is_so: bool,
        mechanism: int | None = None,
        base: TokenObject | None = None,
    ) -> TokenObject:
        """The object made by key generation, unwrapping or derivation.

        ``provided`` is the class/key type and the key material; the template may repeat a
        provided value only if it is equal (checked again here).
        """
        check_template(schema, origin, template, is_so=is_so, provided=provided)
        attrs = with_defaults(schema, template, provided)
        if schema.object_class in KEY_CLASSES:
            attrs[CKA.LOCAL] = origin is Origin.GENERATE
            if origin is Origin.GENERATE and mechanism is not None:
                attrs[CKA.KEY_GEN_MECHANISM] = mechanism
        elif schema.object_class == CKO.DOMAIN_PARAMETERS:
            attrs[CKA.LOCAL] = origin is Origin.GENERATE  # v2.40 s4.11, domain parameter objects
        if schema.object_class in SECRET_BEARING:
            sensitive = attrs.get(CKA.SENSITIVE) is True
            extractable = attrs.get(CKA.EXTRACTABLE) is True
            if origin is Origin.GENERATE:
                attrs[CKA.ALWAYS_SENSITIVE] = sensitive
                attrs[CKA.NEVER_EXTRACTABLE] = not extractable
            elif origin is Origin.DERIVE and base is not None:
                attrs[CKA.ALWAYS_SENSITIVE] = sensitive and base.attrs.get(CKA.ALWAYS_SENSITIVE) is True
                attrs[CKA.NEVER_EXTRACTABLE] = (
                    not extractable and base.attrs.get(CKA.NEVER_EXTRACTABLE) is True
                )
            else:
                attrs[CKA.ALWAYS_SENSITIVE] = False
                attrs[CKA.NEVER_EXTRACTABLE] = False
        return self._finish(schema, attrs)

    def copy(
        self, source: Mapping[int, AttrValue], schema: Schema, changes: Mapping[int, AttrValue],
        *, is_so: bool,
    ) -> TokenObject:
        """C_CopyObject: the source's attributes (secrets unsealed) with ``changes`` applied."""
        check_modification(schema, source, changes, is_so=is_so, copying=True)
        attrs = dict(source)
        attrs.update(changes)
        if changes.get(CKA.SENSITIVE) is True and source.get(CKA.SENSITIVE) is False:
            attrs[CKA.ALWAYS_SENSITIVE] = False
        if changes.get(CKA.EXTRACTABLE) is False and source.get(CKA.EXTRACTABLE) is True:
            attrs[CKA.NEVER_EXTRACTABLE] = False
        uid = new_uid()
        attrs[CKA.UNIQUE_ID] = uid.encode()
        return TokenObject(uid=uid, schema=schema, attrs=attrs)

    def _finish(self, schema: Schema, attrs: dict[int, AttrValue]) -> TokenObject:
        object_class = schema.object_class
        if object_class == CKO.CERTIFICATE and schema.subtype == CKC.X_509:
            self._complete_x509(attrs)
        elif object_class in KEY_CLASSES:
            from tokenport.mechanisms.keyformats import complete_key_attributes

            assert schema.subtype is not None
            attrs.update(complete_key_attributes(self._crypto, object_class, schema.subtype, attrs))
            attrs.setdefault(CKA.KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION)
        elif object_class == CKO.DOMAIN_PARAMETERS:
            from tokenport.mechanisms.keyformats import complete_domain_parameters

            assert schema.subtype is not None
            attrs.update(complete_domain_parameters(schema.subtype, attrs))
        uid = new_uid()
        attrs[CKA.UNIQUE_ID] = uid.encode()
        return TokenObject(uid=uid, schema=schema, attrs=attrs)

    def _complete_x509(self, attrs: dict[int, AttrValue]) -> None:
        value = attrs[CKA.VALUE]
        assert isinstance(value, bytes)
        fields = self._certificate_fields(value)
        attrs.setdefault(CKA.SUBJECT, fields.subject)
        attrs.setdefault(CKA.ISSUER, fields.issuer)
        attrs.setdefault(CKA.SERIAL_NUMBER, fields.serial_number)
        attrs.setdefault(CKA.PUBLIC_KEY_INFO, fields.public_key_info)
