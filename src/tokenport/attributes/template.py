"""The one template rules engine (PKCS #11 v2.40 s4.1-4.3, s5.7 C_CreateObject/C_CopyObject/
C_SetAttributeValue/C_GetAttributeValue, s5.14 key generation, unwrapping and derivation).

Given a schema (attributes/schema.py) it decides which attributes a template may carry for
an operation, which are missing, what the defaults are, and which attributes may be read.
It knows nothing of sessions or storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from tokenport.attributes.kinds import AttrValue, Template, check_value_type
from tokenport.attributes.schema import Rule, Schema, schema_for, subtype_attribute
from tokenport.ck import CKA, CKR
from tokenport.errors import (
    AttributeReadOnly,
    AttributeTypeInvalid,
    AttributeValueInvalid,
    TemplateIncomplete,
    TemplateInconsistent,
)


class Origin(Enum):
    """How an object comes to be; selects the footnote rules that apply."""

    CREATE = "create"
    GENERATE = "generate"
    UNWRAP = "unwrap"
    DERIVE = "derive"


_FORBIDDEN = {
    Origin.CREATE: Rule.FORBID_CREATE,
    Origin.GENERATE: Rule.FORBID_GENERATE,
    Origin.UNWRAP: Rule.FORBID_UNWRAP,
    Origin.DERIVE: Rule.FORBID_GENERATE,
}
_REQUIRED = {
    Origin.CREATE: Rule.REQUIRED_CREATE,
    Origin.GENERATE: Rule.REQUIRED_GENERATE,
    Origin.UNWRAP: Rule.REQUIRED_UNWRAP,
    Origin.DERIVE: Rule.NONE,
}

COPY_ONLY_ATTRIBUTES = frozenset({int(CKA.TOKEN), int(CKA.PRIVATE), int(CKA.MODIFIABLE)})
"""Attributes C_CopyObject may set although C_SetAttributeValue may not (s5.7)."""


def template_dict(template: Template) -> dict[int, AttrValue]:
    """A template as a dict; a type given twice with different values is inconsistent."""
    result: dict[int, AttrValue] = {}
    for attr, value in template:
        attr = int(attr)
        check_value_type(attr, value)
        if attr in result and result[attr] != value:
            raise TemplateInconsistent(f"attribute 0x{attr:x} given twice with different values")
        result[attr] = value
    return result


def resolve_schema(
    attrs: Mapping[int, AttrValue],
    fixed: Mapping[int, AttrValue] | None = None,
) -> Schema:
    """The schema for a template, from CKA_CLASS and the class's subtype attribute.

    ``fixed`` holds values the operation imposes (e.g. the key type a mechanism makes);
    a template value contradicting them is TemplateInconsistent.
    """
    merged = dict(attrs)
    for attr, value in (fixed or {}).items():
        if attr in merged and merged[attr] != value:
            raise TemplateInconsistent(f"attribute 0x{attr:x} contradicts the mechanism")
        merged[attr] = value
    object_class = merged.get(CKA.CLASS)
    if not isinstance(object_class, int):
        raise TemplateIncomplete("CKA_CLASS is missing")
    sub_attr = subtype_attribute(object_class)
    subtype: int | None = None
    if sub_attr is not None:
        sub_value = merged.get(sub_attr)
        if not isinstance(sub_value, int):
            raise TemplateIncomplete(f"attribute 0x{sub_attr:x} is missing")
        subtype = sub_value
    schema = schema_for(object_class, subtype)
    if schema is None:
        if schema_for(object_class, None) is None and sub_attr is None:
            raise AttributeValueInvalid("unsupported object class")
        raise AttributeValueInvalid("unsupported object class, key type or certificate type")
    return schema


def check_template(
    schema: Schema,
    origin: Origin,
    template: Mapping[int, AttrValue],
    *,
    is_so: bool,
    provided: Mapping[int, AttrValue] | None = None,
) -> None:
    """Check a template against the schema's rules for ``origin``.

    ``provided`` are attributes the operation supplies itself (class, key type, or key
    material a generator produced); a template may repeat them with the same value.
    """
    provided = provided or {}
    forbidden = schema.having(_FORBIDDEN[origin])
    so_only = schema.having(Rule.SO_ONLY_TRUE)
    rules = schema.rules
    for attr, value in template.items():
        if attr not in rules:
            raise AttributeTypeInvalid(f"attribute 0x{attr:x} is not valid for this object")
        if attr in forbidden and not (attr in provided and provided[attr] == value):
            raise AttributeReadOnly(f"attribute 0x{attr:x} cannot be specified here")
        if value is True and attr in so_only and not is_so:
            raise AttributeReadOnly(f"only the SO can set attribute 0x{attr:x} to TRUE")
    required = _REQUIRED[origin]
    if required:
        for attr in schema.having(required):
            if attr not in template and attr not in provided:
                raise TemplateIncomplete(f"attribute 0x{attr:x} is required")


def with_defaults(
    schema: Schema, template: Mapping[int, AttrValue], provided: Mapping[int, AttrValue]
) -> dict[int, AttrValue]:
    """Defaults of the schema, overridden by the template, then by what the operation provides."""
    attrs = dict(schema.defaults)
    attrs.update(template)
    attrs.update(provided)
    return attrs


def check_modification(
    schema: Schema,
    current: Mapping[int, AttrValue],
    changes: Mapping[int, AttrValue],
    *,
    is_so: bool,
    copying: bool,
) -> None:
    """May ``changes`` be applied to an object with attributes ``current``? (s5.7 Set/Copy)."""
    if not copying and current.get(CKA.MODIFIABLE) is False:
        raise AttributeReadOnly("the object is not modifiable")
    for attr, value in changes.items():
        rule = schema.rule(attr)
        if rule is None:
            raise AttributeTypeInvalid(f"attribute 0x{attr:x} is not valid for this object")
        now = current.get(attr)
        if copying and attr in COPY_ONLY_ATTRIBUTES:
            continue
        if not rule.rules & Rule.MODIFIABLE:
            if now == value:
                continue
            raise AttributeReadOnly(f"attribute 0x{attr:x} cannot be modified")
        if rule.rules & Rule.STICKY_TRUE and now is True and value is False:
            raise AttributeReadOnly(f"attribute 0x{attr:x} cannot go back to FALSE")
        if rule.rules & Rule.STICKY_FALSE and now is False and value is True:
            raise AttributeReadOnly(f"attribute 0x{attr:x} cannot go back to TRUE")
        if rule.rules & Rule.SO_ONLY_TRUE and value is True and not is_so:
            raise AttributeReadOnly(f"only the SO can set attribute 0x{attr:x} to TRUE")


def is_protected(schema: Schema, attrs: Mapping[int, AttrValue], attr: int) -> bool:
    """True if ``attr`` may not be revealed (footnote 7: CKA_SENSITIVE or not CKA_EXTRACTABLE)."""
    if attr not in schema.sensitive_attributes():
        return False
    return attrs.get(CKA.SENSITIVE) is True or attrs.get(CKA.EXTRACTABLE) is False


def read_error(schema: Schema, attrs: Mapping[int, AttrValue], attr: int, present: bool) -> int:
    """The per-attribute C_GetAttributeValue outcome: CKR_OK or the attribute's error."""
    if schema.rule(attr) is None or not present:
        return int(CKR.ATTRIBUTE_TYPE_INVALID)
    if is_protected(schema, attrs, attr):
        return int(CKR.ATTRIBUTE_SENSITIVE)
    return int(CKR.OK)
