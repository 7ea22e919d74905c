"""The versioned record codec and the encryption of private objects at rest.

Layers: the core hands whole objects to this module, which produces the opaque records the
storage port (PAL) keeps. Nothing here touches files.

Object record (version 1)::

    b"TPO" version(1) count(u32) { type(u64) tag(u8) length(u32) payload }*

tags: 0 bool, 1 ulong (u64), 2 bytes, 3 date, 4 mechanism list (u64 each), 5 sealed.
A *sealed* entry holds a secret attribute (key material, private data) of a private object:
``nonce(12) || AES-256-GCM(master key, tag || payload)`` with the object's uid and the
attribute type as additional data, so a sealed value cannot be moved to another object or
attribute unnoticed.

Token record: JSON with the token's label, serial, slot, PIN records and failure counters.
A PIN record wraps the token's 32-byte master key under a key derived from the PIN with
PBKDF2-HMAC-SHA256 (>= 200,000 iterations, 16-byte salt) using AES-256-GCM; C_SetPIN
re-wraps the master key only, objects are never re-encrypted.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from tokenport.attributes.kinds import AttrKind, AttrValue, attribute_kind
from tokenport.errors import DeviceError, EncryptedDataInvalid, PinIncorrect

MAGIC = b"TPO"
FORMAT_VERSION = 1
MASTER_KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
MIN_PIN_KDF_ITERATIONS = 200_000

_HEADER = struct.Struct(">3sBI")
_ENTRY = struct.Struct(">QBI")
_U64 = struct.Struct(">Q")

TAG_BOOL, TAG_ULONG, TAG_BYTES, TAG_DATE, TAG_MECHANISMS, TAG_SEALED = range(6)
_TAG_OF_KIND = {
    AttrKind.BOOL: TAG_BOOL,
    AttrKind.ULONG: TAG_ULONG,
    AttrKind.BYTES: TAG_BYTES,
    AttrKind.DATE: TAG_DATE,
    AttrKind.MECHANISMS: TAG_MECHANISMS,
}


class SealingCrypto(Protocol):
    """The part of the crypto port this module needs."""

    def aes_gcm_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes: ...
    def aes_gcm_decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes: ...
    def pbkdf2_sha256(self, secret: bytes, salt: bytes, iterations: int, length: int) -> bytes: ...


class RecordCorrupt(DeviceError):
    """A stored record cannot be decoded (truncated, wrong magic, unknown tag)."""


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


def encode_object(attrs: Mapping[int, AttrValue], sealed: Mapping[int, bytes]) -> bytes:
    """Serialize an object: clear attributes plus sealed secret attributes."""
    parts = [_HEADER.pack(MAGIC, FORMAT_VERSION, len(attrs) + len(sealed))]
    for attr in sorted(attrs):
        if attr in sealed:
            continue
        tag, payload = _encode_payload(attr, attrs[attr])
        parts.append(_ENTRY.pack(attr, tag, len(payload)))
        parts.append(payload)
    for attr in sorted(sealed):
        blob = sealed[attr]
        parts.append(_ENTRY.pack(attr, TAG_SEALED, len(blob)))
        parts.append(blob)
    count = (len(parts) - 1) // 2
    parts[0] = _HEADER.pack(MAGIC, FORMAT_VERSION, count)
    return b"".join(parts)


def decode_object(data: bytes) -> tuple[dict[int, AttrValue], dict[int, bytes]]:
    """Parse a record into (clear attributes, sealed attributes). Raises RecordCorrupt."""
    if len(data) < _HEADER.size:
        raise RecordCorrupt("record is truncated")
    magic, version, count = _HEADER.unpack_from(data, 0)
    if magic != MAGIC or version != FORMAT_VERSION:
        raise RecordCorrupt("record has an unknown format")
    offset = _HEADER.size
    attrs: dict[int, AttrValue] = {}
    sealed: dict[int, bytes] = {}
    for _ in range(count):
        if offset + _ENTRY.size > len(data):
            raise RecordCorrupt("record is truncated")
        attr, tag, length = _ENTRY.unpack_from(data, offset)
        offset += _ENTRY.size
        payload = data[offset : offset + length]
        if len(payload) != length:
            raise RecordCorrupt("record is truncated")
        offset += length
        if tag == TAG_SEALED:
            sealed[attr] = payload
        else:
            attrs[attr] = _decode_payload(tag, payload)
    if offset != len(data):
        raise RecordCorrupt("record has trailing bytes")
    return attrs, sealed


def _attribute_aad(uid: str, attr: int) -> bytes:
    return b"tokenport/attr/v1|" + uid.encode("ascii") + b"|" + _U64.pack(attr)


def seal_value(
    crypto: SealingCrypto,
    master_key: bytes,
    random_bytes: Callable[[int], bytes],
    uid: str,
    attr: int,
    value: AttrValue,
) -> bytes:
    """Encrypt one secret attribute of object ``uid`` under the token master key."""
    tag, payload = _encode_payload(attr, value)
    nonce = random_bytes(NONCE_BYTES)
    return nonce + crypto.aes_gcm_encrypt(
        master_key, nonce, bytes([tag]) + payload, _attribute_aad(uid, attr)
    )


def unseal_value(
    crypto: SealingCrypto, master_key: bytes, uid: str, attr: int, blob: bytes
) -> AttrValue:
    """Decrypt a sealed attribute; a bad tag (tampering, wrong key) raises RecordCorrupt."""
    if len(blob) < NONCE_BYTES + 17:
        raise RecordCorrupt("sealed attribute is truncated")
    try:
        plain = crypto.aes_gcm_decrypt(
            master_key, blob[:NONCE_BYTES], blob[NONCE_BYTES:], _attribute_aad(uid, attr)
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


def _pin_aad(serial: str, role: str) -> bytes:
    return f"tokenport/pin/v1|{serial}|{role}".encode()


def wrap_master_key(
    crypto: SealingCrypto,
    random_bytes: Callable[[int], bytes],
    pin: bytes,
    master_key: bytes,
    serial: str,
    role: str,
    iterations: int,
) -> PinRecord:
    """A new PIN record for ``role`` ("so" or "user") holding ``master_key``."""
    if iterations < MIN_PIN_KDF_ITERATIONS:
        raise ValueError("PIN KDF iterations below the 200,000 minimum")
    salt = random_bytes(SALT_BYTES)
    kek = crypto.pbkdf2_sha256(pin, salt, iterations, 32)
    nonce = random_bytes(NONCE_BYTES)
    wrapped = nonce + crypto.aes_gcm_encrypt(kek, nonce, master_key, _pin_aad(serial, role))
    return PinRecord(salt, iterations, wrapped)


def unwrap_master_key(
    crypto: SealingCrypto, pin: bytes, record: PinRecord, serial: str, role: str
) -> bytes:
    """The master key, if ``pin`` is right; PinIncorrect otherwise (GCM tag check)."""
    kek = crypto.pbkdf2_sha256(pin, record.salt, record.iterations, 32)
    try:
        key = crypto.aes_gcm_decrypt(
            kek, record.wrapped_key[:NONCE_BYTES], record.wrapped_key[NONCE_BYTES:],
            _pin_aad(serial, role),
        )
    except EncryptedDataInvalid:
        raise PinIncorrect() from None
    if len(key) != MASTER_KEY_BYTES:
        raise RecordCorrupt("PIN record holds a key of the wrong size")
    return key


@dataclass
class TokenRecord:
    """Everything stored about a token besides its objects."""

    serial: str
    slot_id: int
    label: str
    so_pin: PinRecord
    user_pin: PinRecord | None = None
    so_failures: int = 0
    user_failures: int = 0
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
                extra=dict(raw.get("extra", {})),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RecordCorrupt("token record is malformed") from exc
