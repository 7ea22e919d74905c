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

COPY_ONLY_ATTRIBUTES: dict[int, AttrValue | None] = {
    int(CKA.TOKEN): None,
    int(CKA.PRIVATE): True,
    int(CKA.MODIFIABLE): False,
}
"""Attributes C_CopyObject may set although C_SetAttributeValue may not (s5.7), each with
the value a copy may not leave (None: free). A private object's copy stays private (a
public copy would be readable without login and stored in clear); a non-modifiable
object's copy stays non-modifiable (else the copy's usage flags could be changed)."""


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
    """May ``changes`` be applied to an object with attributes ``current``? (s5.7
    C_SetAttributeValue and C_CopyObject; tables 10, 26, 32, 35).

    One rule for both calls: no change makes the object weaker. Attributes only the token
    sets are refused whatever their value; CKA_SENSITIVE, CKA_WRAP_WITH_TRUSTED stay TRUE,
    CKA_EXTRACTABLE, CKA_COPYABLE, CKA_DESTROYABLE stay FALSE once so; CKA_ALLOWED_MECHANISMS
    may only shrink. C_CopyObject may also set the copy-only attributes (CKA_TOKEN, and
    CKA_PRIVATE / CKA_MODIFIABLE only in their safe direction); a copy of a non-modifiable
    object may carry no other change than one that makes the copy stronger.
    """
    frozen = current.get(CKA.MODIFIABLE) is False
    if frozen and not copying:
        raise AttributeReadOnly("the object is not modifiable")
    for attr, value in changes.items():
        rule = schema.rule(attr)
        if rule is None:
            raise AttributeTypeInvalid(f"attribute 0x{attr:x} is not valid for this object")
        rules = rule.rules
        if rules & Rule.TOKEN_SET:
            raise AttributeReadOnly(f"attribute 0x{attr:x} is set by the token only")
        now = current.get(attr)
        if copying and attr in COPY_ONLY_ATTRIBUTES:
            kept = COPY_ONLY_ATTRIBUTES[attr]
            if kept is not None and now == kept and value != kept:
                raise AttributeReadOnly(f"a copy cannot change attribute 0x{attr:x} this way")
            continue
        if not rules & Rule.MODIFIABLE:
            if now == value:
                continue
            raise AttributeReadOnly(f"attribute 0x{attr:x} cannot be modified")
        if rules & Rule.STICKY_TRUE and now is True and value is False:
            raise AttributeReadOnly(f"attribute 0x{attr:x} cannot go back to FALSE")
        if rules & Rule.STICKY_FALSE and now is False and value is True:
            raise AttributeReadOnly(f"attribute 0x{attr:x} cannot go back to TRUE")
        if rules & Rule.SO_ONLY_TRUE and value is True and not is_so:
            raise AttributeReadOnly(f"only the SO can set attribute 0x{attr:x} to TRUE")
        if attr == CKA.ALLOWED_MECHANISMS and not _narrows(now, value):
            raise AttributeReadOnly("CKA_ALLOWED_MECHANISMS can only be narrowed")
        if frozen and not _strengthens(rules, now, value):
            raise AttributeReadOnly(
                f"the object is not modifiable: its copy cannot change attribute 0x{attr:x}"
            )


def _narrows(now: AttrValue | None, value: AttrValue) -> bool:
    """Is ``value`` an allowed-mechanism list no wider than ``now``? (empty: all allowed)"""
    if not isinstance(now, tuple) or not now:
        return True
    return isinstance(value, tuple) and bool(value) and set(value) <= set(now)


def _strengthens(rules: int, now: AttrValue | None, value: AttrValue) -> bool:
    """Does changing ``now`` to ``value`` only restrict the object?"""
    if now == value:
        return True
    if rules & Rule.STICKY_TRUE:
        return value is True
    if rules & (Rule.STICKY_FALSE | Rule.USAGE):
        return value is False
    return False


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
