"""Attribute value kinds and their C encodings (PKCS #11 v2.40 s2.? data types, s4 attributes).

Inside the core every attribute value is typed:

=========== ======================== =====================================
kind        Python value             C encoding (pValue / ulValueLen)
=========== ======================== =====================================
BOOL        bool                     CK_BBOOL, 1 byte
ULONG       int                      CK_ULONG, native unsigned long
BYTES       bytes                    byte array (also UTF-8 strings)
DATE        bytes (b"" or 8 digits)  CK_DATE, 8 ASCII digits YYYYMMDD or empty
MECHANISMS  tuple[int, ...]          array of CK_MECHANISM_TYPE
=========== ======================== =====================================

Attribute types not listed are treated as BYTES by the codec; whether an attribute is
valid for an object is the schema's decision, not the codec's.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from enum import Enum

from tokenport.ck import CKA, CKF
from tokenport.errors import AttributeTypeInvalid, AttributeValueInvalid

AttrValue = bool | int | bytes | tuple[int, ...]
"""A decoded attribute value (see the module docstring)."""

Template = Sequence[tuple[int, AttrValue]]
"""A decoded template: (attribute type, value) pairs in the caller's order."""

ULONG = struct.Struct("=L" if struct.calcsize("L") == 4 else "=Q")
ULONG_SIZE = ULONG.size
ULONG_MAX = (1 << (8 * ULONG_SIZE)) - 1


class AttrKind(Enum):
    """How an attribute's value is represented."""

    BOOL = "bool"
    ULONG = "ulong"
    BYTES = "bytes"
    DATE = "date"
    MECHANISMS = "mechanisms"


_BOOL = {
    CKA.TOKEN, CKA.PRIVATE, CKA.MODIFIABLE, CKA.COPYABLE, CKA.DESTROYABLE, CKA.TRUSTED,
    CKA.SENSITIVE, CKA.ENCRYPT, CKA.DECRYPT, CKA.WRAP, CKA.UNWRAP, CKA.SIGN, CKA.SIGN_RECOVER,
    CKA.VERIFY, CKA.VERIFY_RECOVER, CKA.DERIVE, CKA.EXTRACTABLE, CKA.LOCAL,
    CKA.NEVER_EXTRACTABLE, CKA.ALWAYS_SENSITIVE, CKA.WRAP_WITH_TRUSTED, CKA.ALWAYS_AUTHENTICATE,
    CKA.RESET_ON_INIT, CKA.HAS_RESET, CKA.COLOR, CKA.OTP_USER_FRIENDLY_MODE,
    CKA.ENCAPSULATE, CKA.DECAPSULATE,  # PKCS #11 v3.2
}
_ULONG = {
    CKA.CLASS, CKA.CERTIFICATE_TYPE, CKA.KEY_TYPE, CKA.MODULUS_BITS, CKA.VALUE_BITS,
    CKA.VALUE_LEN, CKA.KEY_GEN_MECHANISM, CKA.CERTIFICATE_CATEGORY,
    CKA.JAVA_MIDP_SECURITY_DOMAIN, CKA.NAME_HASH_ALGORITHM, CKA.HW_FEATURE_TYPE,
    CKA.PRIME_BITS, CKA.SUB_PRIME_BITS, CKA.MECHANISM_TYPE,
    CKA.PARAMETER_SET,  # PKCS #11 v3.2 (CK_ML_DSA/ML_KEM_PARAMETER_SET_TYPE)
}
_DATE = {CKA.START_DATE, CKA.END_DATE}
_MECHANISMS = {CKA.ALLOWED_MECHANISMS}

KINDS: dict[int, AttrKind] = {
    **{int(a): AttrKind.BOOL for a in _BOOL},
    **{int(a): AttrKind.ULONG for a in _ULONG},
    **{int(a): AttrKind.DATE for a in _DATE},
    **{int(a): AttrKind.MECHANISMS for a in _MECHANISMS},
}


def attribute_kind(attr: int) -> AttrKind:
    """The value kind of attribute type ``attr`` (BYTES for anything not listed)."""
    return KINDS.get(attr, AttrKind.BYTES)


_ARRAY_ATTRIBUTE = int(CKF.ARRAY_ATTRIBUTE)
_ALLOWED_MECHANISMS = int(CKA.ALLOWED_MECHANISMS)


def is_nested_template(attr: int) -> bool:
    """True for CKF_ARRAY_ATTRIBUTE attributes holding CK_ATTRIBUTE arrays (WRAP_TEMPLATE ...).

    CKA_ALLOWED_MECHANISMS carries the array flag too but holds mechanism types.
    """
    return bool(int(attr) & _ARRAY_ATTRIBUTE) and attr != _ALLOWED_MECHANISMS


_FIXED_SIZES: dict[AttrKind, frozenset[int]] = {
    AttrKind.BOOL: frozenset({1}),
    AttrKind.ULONG: frozenset({ULONG_SIZE}),
    AttrKind.DATE: frozenset({0, 8}),
}


def check_value_length(attr: int, length: int) -> None:
    """Refuse a ulValueLen that cannot hold a value of ``attr``'s kind (CK_BBOOL, CK_ULONG,
    CK_DATE) before anything is read, so a lying length never reads past the caller's value
    (AttributeValueInvalid), and nested templates (AttributeTypeInvalid)."""
    if is_nested_template(attr):
        raise AttributeTypeInvalid("nested attribute templates are not supported")
    sizes = _FIXED_SIZES.get(attribute_kind(attr))
    if sizes is not None and length not in sizes:
        raise AttributeValueInvalid(
            f"attribute 0x{attr:x} needs a value of {' or '.join(map(str, sorted(sizes)))} bytes"
        )


def decode_value(attr: int, raw: bytes) -> AttrValue:
    """Decode the C bytes of attribute ``attr``; wrong sizes raise AttributeValueInvalid."""
    if is_nested_template(attr):
        raise AttributeTypeInvalid("nested attribute templates are not supported")
    kind = attribute_kind(attr)
    if kind is AttrKind.BYTES:
        return bytes(raw)
    if kind is AttrKind.BOOL:
        if len(raw) != 1:
            raise AttributeValueInvalid(f"attribute 0x{attr:x} needs a 1-byte CK_BBOOL")
        return raw[0] != 0
    if kind is AttrKind.ULONG:
        if len(raw) != ULONG_SIZE:
            raise AttributeValueInvalid(f"attribute 0x{attr:x} needs a {ULONG_SIZE}-byte CK_ULONG")
        return int(ULONG.unpack(raw)[0])
    if kind is AttrKind.DATE:
        if len(raw) not in (0, 8) or (raw and not bytes(raw).isdigit()):
            raise AttributeValueInvalid(f"attribute 0x{attr:x} needs an empty or YYYYMMDD CK_DATE")
        return bytes(raw)
    if len(raw) % ULONG_SIZE:
        raise AttributeValueInvalid("CKA_ALLOWED_MECHANISMS needs a CK_MECHANISM_TYPE array")
    return tuple(int(v[0]) for v in ULONG.iter_unpack(raw))


def encode_value(attr: int, value: AttrValue) -> bytes:
    """The C bytes of a typed value of attribute ``attr`` (inverse of decode_value)."""
    kind = attribute_kind(attr)
    if kind is AttrKind.BOOL:
        return b"\x01" if value else b"\x00"
    if kind is AttrKind.ULONG:
        assert isinstance(value, int)
        return ULONG.pack(value & ULONG_MAX)
    if kind is AttrKind.MECHANISMS:
        assert isinstance(value, tuple)
        return b"".join(ULONG.pack(v) for v in value)
    assert isinstance(value, bytes), f"attribute 0x{attr:x} holds {type(value).__name__}"
    return value


def check_value_type(attr: int, value: object) -> AttrValue:
    """Validate a value passed through the Python API; raises AttributeValueInvalid."""
    kind = attribute_kind(attr)
    if kind is AttrKind.BYTES:
        ok = isinstance(value, bytes)
    elif kind is AttrKind.BOOL:
        ok = isinstance(value, bool)
    elif kind is AttrKind.ULONG:
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= ULONG_MAX
    elif kind is AttrKind.DATE:
        ok = isinstance(value, bytes) and (value == b"" or (len(value) == 8 and value.isdigit()))
    else:
        ok = isinstance(value, tuple) and all(isinstance(v, int) for v in value)
    if not ok:
        raise AttributeValueInvalid(f"attribute 0x{attr:x} needs a {kind.value} value")
    return value  # type: ignore[return-value]
