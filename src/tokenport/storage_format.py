"""The versioned record codec and the encryption of private objects at rest.

Layers: the core hands whole objects to this module, which produces the opaque records the
storage port (PAL) keeps. Nothing here touches files.

Object record::

    b"TPO" version(1) count(u32) { type(u64) tag(u8) length(u32) payload }*

tags: 0 bool, 1 ulong (u64), 2 bytes, 3 date, 4 mechanism list (u64 each), 5 sealed,
6 record authentication. No attribute type appears twice.

Version 2 (written since records are authenticated): clear attributes in type order, then
the *sealed* entries in type order, then -- for a private object, and only for one -- one
final authentication entry (type 0, tag 6)::

    sealed value   nonce(12) || AES-256-GCM(master key, tag || payload)
                   AAD "tokenport/attr/v2|<serial>|<uid>|" || type(u64)
    authentication nonce(12) || GCM tag(16) of the empty message under the master key,
                   AAD "tokenport/record/v2|<serial>|<uid>|" || SHA-256(every record byte
                   before the authentication entry)

so the whole record -- the format version, every clear attribute (CKA_PRIVATE,
CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_LABEL ...) and every sealed value -- is bound to the
object (uid) and the token (serial): an edited, moved or truncated record fails to open.
A record with an authentication entry or with sealed values is private; a version-2
record that is private but not authenticated (or the reverse) is corrupt.

Version 1 (legacy, read only): no authentication entry; sealed values with the AAD
"tokenport/attr/v1|<uid>|" || type(u64), which a version-2 sealed value never opens with,
so a version-2 record cannot be rewritten as a version-1 one with its secrets. The core
rewrites version-1 records in version 2 (see core/token_objects.py), then marks the token.

Token record: JSON with the token's label, serial, slot, PIN records, failure counters,
the persistent PIN locks and the "authenticated records" mark. A PIN record wraps the
token's 32-byte master key under a key derived from the PIN with PBKDF2-HMAC-SHA256
(>= 200,000 iterations, 16-byte salt) using AES-256-GCM; C_SetPIN re-wraps the master key
only, objects are never re-encrypted. The AAD of a PIN record is
"tokenport/pin/v2|<serial>|<role>" when the token accepts only authenticated private
records (its *mark*, which cannot be removed without the PIN), "tokenport/pin/v1|..."
before the token was migrated.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from tokenport.attributes.kinds import AttrKind, AttrValue, attribute_kind
from tokenport.ck import CKA
from tokenport.errors import DeviceError, EncryptedDataInvalid, PinIncorrect

if TYPE_CHECKING:  # the port's package loads with the crypto port, not with the store
    from tokenport.ports.crypto.seal import SealPort

MAGIC = b"TPO"
FORMAT_VERSION = 1  # of the token record
OBJECT_VERSION = 2  # of the object records written now
LEGACY_OBJECT_VERSION = 1
MASTER_KEY_BYTES = 32
NONCE_BYTES = 12
GCM_TAG_BYTES = 16
AUTH_BYTES = NONCE_BYTES + GCM_TAG_BYTES
SALT_BYTES = 16
MIN_PIN_KDF_ITERATIONS = 200_000

_HEADER = struct.Struct(">3sBI")
_ENTRY = struct.Struct(">QBI")
_U64 = struct.Struct(">Q")

TAG_BOOL, TAG_ULONG, TAG_BYTES, TAG_DATE, TAG_MECHANISMS, TAG_SEALED, TAG_AUTH = range(7)
_TAG_OF_KIND = {
    AttrKind.BOOL: TAG_BOOL,
    AttrKind.ULONG: TAG_ULONG,
    AttrKind.BYTES: TAG_BYTES,
    AttrKind.DATE: TAG_DATE,
    AttrKind.MECHANISMS: TAG_MECHANISMS,
}


SealingCrypto: TypeAlias = "SealPort"
"""The part of the crypto port this module needs: the seal family (PBKDF2 + AES-GCM)."""


class RecordCorrupt(DeviceError):
    """A stored record cannot be decoded (truncated, wrong magic, unknown tag) or fails its
    authentication."""


def _encode_payload(attr: int, value: AttrValue) -> tuple[int, bytes]:
    kind = attribute_kind(attr)
    tag = _TAG_OF_KIND[kind]
    if kind is AttrKind.BOOL:
        return tag, b"\x01" if value else b"\x00"
    if kind is AttrKind.ULONG:
        assert isinstance(value, int)
        return tag, _U64.pack(value)
    if kind is AttrKind.MECHANISMS:
        assert isinstance(value, tuple)
        return tag, b"".join(_U64.pack(v) for v in value)
    assert isinstance(value, bytes)
    return tag, value


def _decode_payload(tag: int, payload: bytes) -> AttrValue:
    if tag == TAG_BOOL and len(payload) == 1:
        return payload != b"\x00"
    if tag == TAG_ULONG and len(payload) == 8:
        return int(_U64.unpack(payload)[0])
    if tag in (TAG_BYTES, TAG_DATE):
        return payload
    if tag == TAG_MECHANISMS and len(payload) % 8 == 0:
        return tuple(int(v[0]) for v in _U64.iter_unpack(payload))
    raise RecordCorrupt(f"record entry with tag {tag} and length {len(payload)} is malformed")


def _encode_body(attrs: Mapping[int, AttrValue], sealed: Mapping[int, bytes], extra: int) -> bytes:
    parts: list[bytes] = []
    for attr in sorted(attrs):
        if attr in sealed:
            continue
        tag, payload = _encode_payload(attr, attrs[attr])
        parts.append(_ENTRY.pack(attr, tag, len(payload)) + payload)
    for attr in sorted(sealed):
        blob = sealed[attr]
        parts.append(_ENTRY.pack(attr, TAG_SEALED, len(blob)) + blob)
    return _HEADER.pack(MAGIC, OBJECT_VERSION, len(parts) + extra) + b"".join(parts)


def encode_object(attrs: Mapping[int, AttrValue], sealed: Mapping[int, bytes]) -> bytes:
    """Serialize a public object (version 2, no authentication entry).

    A private object is written with encode_private_object; this unauthenticated form of it
    only serves to estimate its size (C_GetObjectSize) and would not decode.
    """
    return _encode_body(attrs, sealed, 0)


def _record_aad(serial: str, uid: str, digest: bytes) -> bytes:
    return b"tokenport/record/v2|" + serial.encode("ascii") + b"|" + uid.encode("ascii") + b"|" \
        + digest


def encode_private_object(
    crypto: SealingCrypto,
    master_key: bytes,
    random_bytes: Callable[[int], bytes],
    serial: str,
    uid: str,
    attrs: Mapping[int, AttrValue],
    sealed: Mapping[int, bytes],
) -> bytes:
    """Serialize a private object of token ``serial``: the version-2 record with its final
    authentication entry (see the module docstring). ``sealed`` holds version-2 sealed
    values (seal_value with this serial and uid); ``attrs`` must say CKA_PRIVATE TRUE."""
    if attrs.get(CKA.PRIVATE) is not True:
        raise ValueError("encode_private_object needs a private object")
    body = _encode_body(attrs, sealed, 1)
    nonce = random_bytes(NONCE_BYTES)
    aad = _record_aad(serial, uid, hashlib.sha256(body).digest())
    tag = crypto.aes_gcm_encrypt(master_key, nonce, b"", aad)
    return body + _ENTRY.pack(0, TAG_AUTH, AUTH_BYTES) + nonce + tag


@dataclass(frozen=True)
class DecodedObject:
    """An object record, parsed and checked for structure (not yet authenticated).

    ``digest`` is the SHA-256 of the bytes the authentication entry covers (``auth`` is
    that entry's payload, None for a public or a version-1 record); verify_record checks it
    once the token's master key is available.
    """

    version: int
    attrs: dict[int, AttrValue]
    sealed: dict[int, bytes]
    auth: bytes | None = None
    digest: bytes = b""

    @property
    def private(self) -> bool:
        return self.auth is not None or bool(self.sealed) or self.attrs.get(CKA.PRIVATE) is True

    @property
    def legacy(self) -> bool:
        """A version-1 record of a private object: it opens, but is not authenticated."""
        return self.version == LEGACY_OBJECT_VERSION and self.private


def decode_record(data: bytes) -> DecodedObject:
    """Parse a record (any version) and check its structure. Raises RecordCorrupt.

    A record whose sealed values or authentication say "private" while CKA_PRIVATE does
    not say TRUE is corrupt (flipping CKA_PRIVATE never makes a private object public).
    """
    if len(data) < _HEADER.size:
        raise RecordCorrupt("record is truncated")
    magic, version, count = _HEADER.unpack_from(data, 0)
    if magic != MAGIC or version not in (LEGACY_OBJECT_VERSION, OBJECT_VERSION):
        raise RecordCorrupt("record has an unknown format")
    offset = _HEADER.size
    attrs: dict[int, AttrValue] = {}
    sealed: dict[int, bytes] = {}
    auth: bytes | None = None
    digest = b""
    for index in range(count):
        if offset + _ENTRY.size > len(data):
            raise RecordCorrupt("record is truncated")
        start = offset
        attr, tag, length = _ENTRY.unpack_from(data, offset)
        offset += _ENTRY.size
        payload = data[offset : offset + length]
        if len(payload) != length:
            raise RecordCorrupt("record is truncated")
        offset += length
        if tag != TAG_AUTH and (attr in attrs or attr in sealed):
            raise RecordCorrupt(f"record holds attribute 0x{attr:x} twice")
        if tag == TAG_AUTH:
            if version < OBJECT_VERSION or index != count - 1 or attr != 0 \
                    or length != AUTH_BYTES:
                raise RecordCorrupt("record has a malformed authentication entry")
            auth = payload
            digest = hashlib.sha256(data[:start]).digest()
        elif tag == TAG_SEALED:
            sealed[attr] = payload
        else:
            attrs[attr] = _decode_payload(tag, payload)
    if offset != len(data):
        raise RecordCorrupt("record has trailing bytes")
    says_private = attrs.get(CKA.PRIVATE) is True
    if (auth is not None or sealed) and not says_private:
        raise RecordCorrupt("record holds private values but CKA_PRIVATE is not TRUE")
    if version >= OBJECT_VERSION and says_private and auth is None:
        raise RecordCorrupt("private record without its authentication")
    return DecodedObject(version, attrs, sealed, auth, digest)


def decode_object(data: bytes) -> tuple[dict[int, AttrValue], dict[int, bytes]]:
    """(clear attributes, sealed attributes) of a record; see decode_record."""
    decoded = decode_record(data)
    return decoded.attrs, decoded.sealed


def verify_record(
    crypto: SealingCrypto, master_key: bytes, serial: str, uid: str, digest: bytes, auth: bytes
) -> None:
    """Check a private record's authentication entry (decode_record's ``digest`` and
    ``auth``) for object ``uid`` of token ``serial``; RecordCorrupt if it fails."""
    try:
        crypto.aes_gcm_decrypt(master_key, auth[:NONCE_BYTES], auth[NONCE_BYTES:],
                               _record_aad(serial, uid, digest))
    except EncryptedDataInvalid:
        raise RecordCorrupt("record failed its authentication (edited, moved or "
                            "from another token)") from None


def _attribute_aad(uid: str, attr: int, serial: str | None) -> bytes:
    if serial is None:
        return b"tokenport/attr/v1|" + uid.encode("ascii") + b"|" + _U64.pack(attr)
    return b"tokenport/attr/v2|" + serial.encode("ascii") + b"|" + uid.encode("ascii") + b"|" \
        + _U64.pack(attr)


def seal_value(
    crypto: SealingCrypto,
    master_key: bytes,
    random_bytes: Callable[[int], bytes],
    uid: str,
    attr: int,
    value: AttrValue,
    *,
    serial: str,
) -> bytes:
    """Encrypt one secret attribute of object ``uid`` of token ``serial`` (version 2)."""
    tag, payload = _encode_payload(attr, value)
    nonce = random_bytes(NONCE_BYTES)
    return nonce + crypto.aes_gcm_encrypt(
        master_key, nonce, bytes([tag]) + payload, _attribute_aad(uid, attr, serial)
    )


def unseal_value(
    crypto: SealingCrypto, master_key: bytes, uid: str, attr: int, blob: bytes,
    *, serial: str | None,
) -> AttrValue:
    """Decrypt a sealed attribute; a bad tag (tampering, wrong key) raises RecordCorrupt.

    ``serial`` is the token's serial for a version-2 record, None for a version-1 record.
    """
    if len(blob) < NONCE_BYTES + 17:
        raise RecordCorrupt("sealed attribute is truncated")
    try:
        plain = crypto.aes_gcm_decrypt(
            master_key, blob[:NONCE_BYTES], blob[NONCE_BYTES:], _attribute_aad(uid, attr, serial)
        )
    except EncryptedDataInvalid as exc:
        raise RecordCorrupt("sealed attribute failed its integrity check") from exc
    return _decode_payload(plain[0], plain[1:])


@dataclass(frozen=True)
class PinRecord:
    """The master key wrapped under a PIN-derived key (PBKDF2-HMAC-SHA256 + AES-256-GCM)."""

    salt: bytes
    iterations: int
    wrapped_key: bytes

    def to_json(self) -> dict[str, object]:
        return {
            "kdf": "pbkdf2-hmac-sha256",
            "salt": base64.b64encode(self.salt).decode(),
            "iterations": self.iterations,
            "wrapped_key": base64.b64encode(self.wrapped_key).decode(),
        }

    @staticmethod
    def from_json(raw: object) -> PinRecord:
        if not isinstance(raw, dict) or raw.get("kdf") != "pbkdf2-hmac-sha256":
            raise RecordCorrupt("PIN record has an unknown format")
        try:
            return PinRecord(
                base64.b64decode(raw["salt"]), int(raw["iterations"]),
                base64.b64decode(raw["wrapped_key"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordCorrupt("PIN record is malformed") from exc


def _pin_aad(serial: str, role: str, marked: bool) -> bytes:
    return f"tokenport/pin/{'v2' if marked else 'v1'}|{serial}|{role}".encode()


def wrap_master_key(
    crypto: SealingCrypto,
    random_bytes: Callable[[int], bytes],
    pin: bytes,
    master_key: bytes,
    serial: str,
    role: str,
    iterations: int,
    *,
    marked: bool = True,
) -> PinRecord:
    """A new PIN record for ``role`` ("so" or "user") holding ``master_key``.

    ``marked``: the token accepts only authenticated private records (bound into the AAD).
    """
    if iterations < MIN_PIN_KDF_ITERATIONS:
        raise ValueError("PIN KDF iterations below the 200,000 minimum")
    salt = random_bytes(SALT_BYTES)
    kek = crypto.pbkdf2_sha256(pin, salt, iterations, 32)
    nonce = random_bytes(NONCE_BYTES)
    wrapped = nonce + crypto.aes_gcm_encrypt(
        kek, nonce, master_key, _pin_aad(serial, role, marked)
    )
    return PinRecord(salt, iterations, wrapped)


def open_pin_record(
    crypto: SealingCrypto, pin: bytes, record: PinRecord, serial: str, role: str
) -> tuple[bytes, bool]:
    """(master key, marked) if ``pin`` is right; PinIncorrect otherwise (GCM tag check).

    ``marked`` says which AAD the record was wrapped with, whatever the clear token record
    claims: only the PIN holder can wrap a record, so the mark cannot be stripped.
    """
    kek = crypto.pbkdf2_sha256(pin, record.salt, record.iterations, 32)
    for marked in (True, False):
        try:
            key = crypto.aes_gcm_decrypt(
                kek, record.wrapped_key[:NONCE_BYTES], record.wrapped_key[NONCE_BYTES:],
                _pin_aad(serial, role, marked),
            )
        except EncryptedDataInvalid:
            continue
        if len(key) != MASTER_KEY_BYTES:
            raise RecordCorrupt("PIN record holds a key of the wrong size")
        return key, marked
    raise PinIncorrect()


def unwrap_master_key(
    crypto: SealingCrypto, pin: bytes, record: PinRecord, serial: str, role: str
) -> bytes:
    """The master key, if ``pin`` is right; PinIncorrect otherwise (GCM tag check)."""
    return open_pin_record(crypto, pin, record, serial, role)[0]


@dataclass
class TokenRecord:
    """Everything stored about a token besides its objects.

    ``so_locked`` / ``user_locked``: the PIN locked (CKF_*_PIN_LOCKED) -- a fact kept until
    C_InitPIN (user) or C_InitToken, whatever ``max_pin_attempts`` says later.
    ``authenticated_records``: the token refuses unauthenticated (version-1) private
    records. The PIN records carry the same mark where it cannot be stripped; this copy in
    clear is what tools without a PIN see.
    """

    serial: str
    slot_id: int
    label: str
    so_pin: PinRecord
    user_pin: PinRecord | None = None
    so_failures: int = 0
    user_failures: int = 0
    so_locked: bool = False
    user_locked: bool = False
    authenticated_records: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    def encode(self) -> bytes:
        body = {
            "format": FORMAT_VERSION,
            "serial": self.serial,
            "slot_id": self.slot_id,
            "label": self.label,
            "so_pin": self.so_pin.to_json(),
            "user_pin": self.user_pin.to_json() if self.user_pin else None,
            "so_failures": self.so_failures,
            "user_failures": self.user_failures,
            "so_locked": self.so_locked,
            "user_locked": self.user_locked,
            "authenticated_records": self.authenticated_records,
            **({"extra": self.extra} if self.extra else {}),
        }
        return json.dumps(body, sort_keys=True).encode()

    @staticmethod
    def decode(data: bytes) -> TokenRecord:
        try:
            raw = json.loads(data)
            if raw.get("format") != FORMAT_VERSION:
                raise RecordCorrupt("token record has an unknown format")
            return TokenRecord(
                serial=str(raw["serial"]),
                slot_id=int(raw["slot_id"]),
                label=str(raw["label"]),
                so_pin=PinRecord.from_json(raw["so_pin"]),
                user_pin=PinRecord.from_json(raw["user_pin"]) if raw.get("user_pin") else None,
                so_failures=int(raw.get("so_failures", 0)),
                user_failures=int(raw.get("user_failures", 0)),
                so_locked=_flag(raw.get("so_locked", False)),
                user_locked=_flag(raw.get("user_locked", False)),
                authenticated_records=_flag(raw.get("authenticated_records", False)),
                extra=dict(raw.get("extra", {})),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RecordCorrupt("token record is malformed") from exc


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError("flag is not a boolean")  # (decode turns it into RecordCorrupt)
    return value


_SLOT_ID = re.compile(rb'"slot_id"\s*:\s*(\d{1,19})\b')
_LABEL = re.compile(rb'"label"\s*:\s*"((?:[^"\\]|\\.){0,200})"')


def salvage_token_record(data: bytes) -> tuple[int | None, str | None]:
    """(slot ID, label) read from a damaged token record, where they survived; None where not.

    Only informational values are salvaged: a damaged record never yields PIN records.
    """
    slot_id: int | None = None
    label: str | None = None
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raw = None
    if isinstance(raw, dict):
        if isinstance(raw.get("slot_id"), int) and not isinstance(raw.get("slot_id"), bool):
            slot_id = raw["slot_id"]
        if isinstance(raw.get("label"), str):
            label = raw["label"]
    if slot_id is None and (match := _SLOT_ID.search(data)):
        slot_id = int(match.group(1))
    if label is None and (match := _LABEL.search(data)):
        try:
            label = json.loads(b'"' + match.group(1) + b'"')
        except (ValueError, UnicodeDecodeError):
            label = None
    if slot_id is not None and not 0 <= slot_id < 2**32:
        slot_id = None
    return slot_id, label
