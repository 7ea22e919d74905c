"""Python values accepted by tokenport's public Python API, turned into what PKCS #11 takes.

PKCS #11 v2.40 s5.6 (C_Login) takes a PIN as bytes (CK_UTF8CHAR, so UTF-8 text); s3.2 and
s3.4 number object classes (CKO), key types (CKK) and mechanisms (CKM). A Python caller may
give a PIN as ``str`` (encoded UTF-8) or bytes, and such a number as the IntEnum member, the
plain int, or the member's name ("EC", "CKK_EC", "ec", "ecdsa-sha256"). Anything else is a
TypeError or ValueError naming the argument, never a failure deep in the token; no message
ever holds a PIN's value.
"""

from __future__ import annotations

import enum
from os import PathLike
from typing import TypeVar

E = TypeVar("E", bound=enum.IntEnum)

BytesLike = bytes | bytearray | memoryview
PinLike = str | BytesLike


def pin_bytes(pin: object, what: str = "PIN") -> bytes:
    """A PIN (s5.6: CK_UTF8CHAR) as bytes: ``str`` is encoded UTF-8, bytes-like is copied."""
    if isinstance(pin, str):
        return pin.encode("utf-8")
    if isinstance(pin, bytes | bytearray | memoryview):
        return bytes(pin)
    raise TypeError(f"the {what} must be str or bytes, not {type(pin).__name__}")


def data_bytes(value: object, what: str) -> bytes:
    """File contents (PEM text or DER) as bytes: ``str`` is encoded UTF-8 (PEM is ASCII)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, PathLike):
        raise TypeError(f"{what} takes the file's contents, not a path: "
                        f"pass Path({str(value)!r}).read_bytes()")
    raise TypeError(f"{what} must be bytes or str (PEM or DER contents), "
                    f"not {type(value).__name__}")


def enum_member(kind: type[E], value: object, what: str) -> E:
    """``value`` as a member of ``kind`` (CKO, CKK, CKM ...): the member itself, its int, or
    its name with or without the prefix, in any case, '-' for '_' ("CKK_EC", "ec")."""
    prefix = kind.__name__ + "_"
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a {kind.__name__} member, its name or its number, "
                        f"not bool")
    if isinstance(value, kind):
        return value
    if isinstance(value, int):
        try:
            return kind(value)
        except ValueError:
            raise ValueError(f"{what}: {value:#x} is not a {kind.__name__} value") from None
    if isinstance(value, str):
        name = value.strip().upper().replace("-", "_")
        name = name.removeprefix(prefix)
        member = kind.__members__.get(name)
        if member is None:
            raise ValueError(f"{what}: unknown {kind.__name__} name {value!r} "
                             f"(e.g. {next(iter(kind.__members__))!r})")
        return member
    raise TypeError(f"{what} must be a {kind.__name__} member, its name or its number, "
                    f"not {type(value).__name__}")
