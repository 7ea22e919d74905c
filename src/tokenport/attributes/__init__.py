"""Attributes: value kinds and codecs per CKA, per-class schemas as data, the template engine."""

from tokenport.attributes.kinds import (
    AttrKind,
    AttrValue,
    Template,
    attribute_kind,
    decode_value,
    encode_value,
)

__all__ = ["AttrKind", "AttrValue", "Template", "attribute_kind", "decode_value", "encode_value"]
