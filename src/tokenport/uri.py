"""PKCS #11 URIs (RFC 7512): parse, print and match ``pkcs11:`` URIs.

A URI names tokens and objects by their attributes::

    pkcs11:token=dev;object=Device%20Priv%20TLS%20Key;type=private?pin-value=1234

* path attributes (separated by ``;``) select a library, slot, token and object:
  ``library-manufacturer``, ``library-description``, ``library-version``,
  ``slot-manufacturer``, ``slot-description``, ``slot-id``, ``manufacturer``, ``model``,
  ``serial``, ``token`` (the token label), ``object`` (CKA_LABEL), ``id`` (CKA_ID, binary)
  and ``type`` (``cert``, ``data``, ``private``, ``public``, ``secret-key``);
* query attributes (after ``?``, separated by ``&``) say how to use it: ``pin-value``,
  ``pin-source``, ``module-name``, ``module-path``.

Values are percent-decoded (RFC 3986 s2.1). An attribute that is absent matches anything.
As RFC 7512 s3.3 asks, an unrecognized path attribute (a vendor-specific one included) makes
the URI match nothing, and unrecognized query attributes are ignored. For compatibility with
OpenSC and libp11, which write ``;pin-value=...`` in the path, ``pin-value`` and
``pin-source`` are accepted in the path too (and printed in the query, where RFC 7512 puts
them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKO

SCHEME = "pkcs11:"

PATH_ATTRIBUTES = (
    "library-manufacturer", "library-description", "library-version",
    "slot-manufacturer", "slot-description", "slot-id",
    "manufacturer", "model", "serial", "token", "object", "id", "type",
)
"""The path attributes of RFC 7512 s2.3, in the order this module prints them."""
QUERY_ATTRIBUTES = ("pin-source", "pin-value", "module-name", "module-path")
"""The query attributes of RFC 7512 s2.3."""

OBJECT_TYPES: dict[str, int] = {
    "cert": int(CKO.CERTIFICATE),
    "data": int(CKO.DATA),
    "private": int(CKO.PRIVATE_KEY),
    "public": int(CKO.PUBLIC_KEY),
    "secret-key": int(CKO.SECRET_KEY),
}
"""``type=`` values and the object classes they select."""
TYPE_OF_CLASS = {cls: name for name, cls in OBJECT_TYPES.items()}

_UNRESERVED = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)
_PATH_SAFE = _UNRESERVED | frozenset(":[]@!$'()*+,=")
_QUERY_SAFE = _PATH_SAFE | frozenset("/?|")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
_VERSION = re.compile(r"([0-9]+)(?:\.([0-9]+))?\Z")


class UriError(ValueError):
    """A string that is not a valid PKCS #11 URI (the message says why)."""


def is_uri(text: str) -> bool:
    """Whether ``text`` is written as a PKCS #11 URI (scheme ``pkcs11:``, any case)."""
    return text[: len(SCHEME)].lower() == SCHEME


def _decode(value: str, where: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(value):
        char = value[i]
        if char == "%":
            pair = value[i + 1 : i + 3]
            if len(pair) != 2 or any(c not in "0123456789abcdefABCDEF" for c in pair):
                raise UriError(f"bad percent-encoding in {where}")
            out.append(int(pair, 16))
            i += 3
            continue
        out += char.encode("utf-8")
        i += 1
    return bytes(out)


def _encode(value: bytes, safe: frozenset[str], *, all_bytes: bool = False) -> str:
    return "".join(
        chr(b) if not all_bytes and chr(b) in safe else f"%{b:02X}" for b in value
    )


@dataclass(frozen=True)
class Pkcs11Uri:
    """A parsed PKCS #11 URI: its path and query attributes with decoded values.

    Build one with ``Pkcs11Uri.parse(text)`` or ``Pkcs11Uri.of(...)``; ``str()`` prints it
    (percent-encoding what RFC 7512 requires; ``id`` is always fully percent-encoded).
    """

    path: tuple[tuple[str, bytes], ...] = ()
    query: tuple[tuple[str, bytes], ...] = ()

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Pkcs11Uri:
        """Parse ``text``; UriError says what is wrong with it."""
        if not is_uri(text):
            raise UriError("a PKCS #11 URI starts with 'pkcs11:'")
        body = text[len(SCHEME):]
        path_text, _, query_text = body.partition("?")
        path: dict[str, bytes] = {}
        query: list[tuple[str, bytes]] = []
        for part in filter(None, path_text.split(";")):
            name, value = cls._attribute(part)
            if name in QUERY_ATTRIBUTES:  # OpenSC / libp11 style: ;pin-value=... in the path
                query.append((name, value))
                continue
            if name in path:
                raise UriError(f"attribute {name!r} appears twice in the URI path")
            path[name] = value
        for part in filter(None, query_text.split("&")):
            query.append(cls._attribute(part))
        uri = cls(tuple(path.items()), tuple(query))
        uri._check()
        return uri

    @staticmethod
    def _attribute(part: str) -> tuple[str, bytes]:
        name, equals, value = part.partition("=")
        if not equals or not _NAME.match(name):
            raise UriError(f"{part!r} is not an attribute=value pair")
        return name, _decode(value, name)

    def _check(self) -> None:
        names = [name for name, _ in self.query]
        for name in ("pin-value", "pin-source"):
            if names.count(name) > 1:
                raise UriError(f"attribute {name!r} appears twice in the URI query")
        if "pin-value" in names and "pin-source" in names:
            raise UriError("pin-value and pin-source exclude each other")
        for name, value in (*self.path, *self.query):
            if name == "id" or (name not in PATH_ATTRIBUTES and name not in QUERY_ATTRIBUTES):
                continue
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                raise UriError(f"the value of {name!r} is not UTF-8 text") from None
        kind = self.text("type")
        if kind is not None and kind not in OBJECT_TYPES:
            raise UriError(f"type must be one of {', '.join(OBJECT_TYPES)}, not {kind!r}")
        slot = self.text("slot-id")
        if slot is not None and not _DIGITS.match(slot):
            raise UriError("slot-id must be a decimal number")
        version = self.text("library-version")
        if version is not None and not _VERSION.match(version):
            raise UriError("library-version must be MAJOR or MAJOR.MINOR")

    @classmethod
    def of(cls, *, token: str | None = None, manufacturer: str | None = None,
           model: str | None = None, serial: str | None = None, label: bytes | None = None,
           key_id: bytes | None = None, object_class: int | None = None) -> Pkcs11Uri:
        """The URI of a token (and of one object on it, given its label / id / class)."""
        path: list[tuple[str, bytes]] = []
        for name, value in (("token", token), ("manufacturer", manufacturer),
                            ("model", model), ("serial", serial)):
            if value:
                path.append((name, value.encode("utf-8")))
        if label is not None:
            path.append(("object", label))
        if key_id:
            path.append(("id", key_id))
        if object_class is not None and object_class in TYPE_OF_CLASS:
            path.append(("type", TYPE_OF_CLASS[object_class].encode()))
        return cls(tuple(path))

    # -- reading --------------------------------------------------------------------------

    def get(self, name: str) -> bytes | None:
        """The decoded value of an attribute (path or query), or None when absent."""
        for key, value in (*self.path, *self.query):
            if key == name:
                return value
        return None

    def text(self, name: str) -> str | None:
        """``get(name)`` as text."""
        value = self.get(name)
        return None if value is None else value.decode("utf-8", "replace")

    @property
    def object_class(self) -> int | None:
        """The object class ``type=`` selects, or None."""
        kind = self.text("type")
        return None if kind is None else OBJECT_TYPES[kind]

    @property
    def unrecognized(self) -> list[str]:
        """Path attributes this module does not know (the URI then matches nothing)."""
        return [name for name, _ in self.path if name not in PATH_ATTRIBUTES]

    @property
    def names_object(self) -> bool:
        """Whether the URI says which object(s) it means (object=, id= or type=)."""
        return any(self.get(name) is not None for name in ("object", "id", "type"))

    def object_template(self) -> list[tuple[int, AttrValue]]:
        """A C_FindObjectsInit template for the objects the URI names."""
        template: list[tuple[int, AttrValue]] = []
        label, key_id, object_class = self.get("object"), self.get("id"), self.object_class
        if label is not None:
            template.append((int(CKA.LABEL), label))
        if key_id is not None:
            template.append((int(CKA.ID), key_id))
        if object_class is not None:
            template.append((int(CKA.CLASS), object_class))
        return template

    # -- matching -------------------------------------------------------------------------

    def _same(self, name: str, actual: str) -> bool:
        if self.unrecognized:
            return False
        wanted = self.text(name)
        return wanted is None or wanted == actual.rstrip(" ")

    def matches_library(self, manufacturer: str, description: str,
                        version: tuple[int, int]) -> bool:
        """Whether the library attributes (if any) name a library with this CK_INFO."""
        if self.unrecognized:
            return False
        wanted = self.text("library-version")
        if wanted is not None:
            match = _VERSION.match(wanted)
            assert match is not None
            if (int(match.group(1)), int(match.group(2) or 0)) != version:
                return False
        return (self._same("library-manufacturer", manufacturer)
                and self._same("library-description", description))

    def matches_slot(self, slot_id: int, description: str = "", manufacturer: str = "") -> bool:
        """Whether the slot attributes (if any) name this slot."""
        if self.unrecognized:
            return False
        wanted = self.text("slot-id")
        if wanted is not None and int(wanted) != slot_id:
            return False
        return (self._same("slot-description", description)
                and self._same("slot-manufacturer", manufacturer))

    def matches_token(self, label: str, manufacturer: str, model: str, serial: str) -> bool:
        """Whether the token attributes (if any) name a token with this CK_TOKEN_INFO."""
        return (self._same("token", label) and self._same("manufacturer", manufacturer)
                and self._same("model", model) and self._same("serial", serial))

    # -- printing -------------------------------------------------------------------------

    def __str__(self) -> str:
        path = ";".join(
            f"{name}={_encode(value, _PATH_SAFE, all_bytes=name == 'id')}"
            for name, value in self.path
        )
        query = "&".join(f"{name}={_encode(value, _QUERY_SAFE)}" for name, value in self.query)
        return SCHEME + path + (f"?{query}" if query else "")

    def __repr__(self) -> str:
        shown = Pkcs11Uri(self.path, tuple(
            (name, b"***" if name == "pin-value" else value) for name, value in self.query
        ))
        return f"Pkcs11Uri({str(shown)!r})"
