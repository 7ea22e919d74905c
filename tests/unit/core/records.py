"""Raw-store tools for the record tests: find, edit and rewrite object records byte by byte
(as an attacker with write access to the store would), and the version-1 encoder of the
code before records were authenticated (commit af4d377), to write old-format stores.

Only names the code of af4d377 also has are imported at module level, so that the tests
that use these tools run (and fail for what they test) against that code too."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Mapping

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA
from tokenport.ports.storage import ObjectStore, StoredEntry
from tokenport.storage_format import PinRecord, SealingCrypto, TokenRecord, decode_object

_HEADER = struct.Struct(">3sBI")
_ENTRY = struct.Struct(">QBI")
_U64 = struct.Struct(">Q")
TAG_SEALED = 5
TAG_AUTH = 6

Entry = tuple[int, int, bytes]


def split(data: bytes) -> tuple[int, list[Entry]]:
    """(version, [(type, tag, payload)]) of a record, without any check."""
    _magic, version, count = _HEADER.unpack_from(data, 0)
    offset, entries = _HEADER.size, []
    for _ in range(count):
        attr, tag, length = _ENTRY.unpack_from(data, offset)
        offset += _ENTRY.size
        entries.append((attr, tag, data[offset : offset + length]))
        offset += length
    return version, entries


def join(version: int, entries: list[Entry]) -> bytes:
    body = b"".join(_ENTRY.pack(a, t, len(p)) + p for a, t, p in entries)
    return _HEADER.pack(b"TPO", version, len(entries)) + body


def with_entry(data: bytes, attr: int, payload: bytes, tag: int | None = None) -> bytes:
    """The record with the payload of ``attr`` replaced (the authentication entry kept)."""
    version, entries = split(data)
    out = []
    for a, t, p in entries:
        if a == attr and t != TAG_AUTH:
            out.append((a, t if tag is None else tag, payload))
        else:
            out.append((a, t, p))
    assert out != entries, "nothing edited"
    return join(version, out)


def sealed_blob(store: ObjectStore, entry: StoredEntry, attr: int) -> bytes:
    """The sealed value of ``attr`` in a stored record."""
    (blob,) = [p for a, t, p in split(store.get_object_value(entry.handle)[0])[1]
               if a == attr and t == TAG_SEALED]
    return blob


def object_entries(store: ObjectStore) -> list[StoredEntry]:
    return [e for e in store.enumerate_objects(b"t/") if b"/o/" in e.label]


def find_record(store: ObjectStore, cls: int, label: bytes) -> StoredEntry:
    """The stored entry of the token object with this class and CKA_LABEL."""
    for entry in object_entries(store):
        attrs = decode_object(store.get_object_value(entry.handle)[0])[0]
        if attrs.get(CKA.CLASS) == cls and attrs.get(CKA.LABEL) == label:
            return entry
    raise AssertionError(f"no record of class {cls} labelled {label!r}")


def rewrite(store: ObjectStore, entry: StoredEntry, change: Callable[[bytes], bytes]) -> None:
    data, private = store.get_object_value(entry.handle)
    store.save_object(entry.label, change(data), private=private)


def token_record(store: ObjectStore, serial: str | None = None) -> tuple[StoredEntry, TokenRecord]:
    infos = [e for e in store.enumerate_objects(b"t/") if e.label.endswith(b"/info")]
    for entry in infos:
        record = TokenRecord.decode(store.get_object_value(entry.handle)[0])
        if serial is None or record.serial == serial:
            return entry, record
    raise AssertionError("no token record")


def master_key(store: ObjectStore, crypto: SealingCrypto, user_pin: bytes,
               serial: str | None = None) -> bytes:
    from tokenport.storage_format import open_pin_record

    _entry, record = token_record(store, serial)
    assert record.user_pin is not None
    return open_pin_record(crypto, user_pin, record.user_pin, record.serial, "user")[0]


def user_pin_marked(store: ObjectStore, crypto: SealingCrypto, user_pin: bytes) -> bool:
    from tokenport.storage_format import open_pin_record

    _entry, record = token_record(store)
    assert record.user_pin is not None
    return open_pin_record(crypto, user_pin, record.user_pin, record.serial, "user")[1]


# -- the version-1 format (the encoder of commit af4d377) -----------------------------------

def legacy_seal(crypto: SealingCrypto, key: bytes, nonce: bytes, uid: str, attr: int,
                tag_and_payload: bytes) -> bytes:
    aad = b"tokenport/attr/v1|" + uid.encode("ascii") + b"|" + _U64.pack(attr)
    return nonce + crypto.aes_gcm_encrypt(key, nonce, tag_and_payload, aad)


def legacy_record(data: bytes, crypto: SealingCrypto, key: bytes, serial: str, uid: str) -> bytes:
    """A version-2 record as the old code wrote it: version 1, no authentication entry,
    sealed values re-sealed with the version-1 AAD."""
    from tokenport.storage_format import unseal_value

    version, entries = split(data)
    assert version == 2
    out = []
    for attr, tag, payload in entries:
        if tag == TAG_AUTH:
            continue
        if tag == TAG_SEALED:
            value = unseal_value(crypto, key, uid, attr, payload, serial=serial)
            plain = _plain(attr, value)
            payload = legacy_seal(crypto, key, os.urandom(12), uid, attr, plain)
        out.append((attr, tag, payload))
    return join(1, out)


def _plain(attr: int, value: AttrValue) -> bytes:
    from tokenport.storage_format import _encode_payload  # the payload codec is unchanged

    tag, payload = _encode_payload(attr, value)
    return bytes([tag]) + payload


def legacy_token_record(record: TokenRecord, crypto: SealingCrypto, random: Callable[[int], bytes],
                        key: bytes, pins: Mapping[str, bytes]) -> bytes:
    """The token record as the old code wrote it: PIN records with the v1 AAD, and no lock
    or mark fields."""
    from tokenport.storage_format import wrap_master_key

    def wrap(role: str) -> PinRecord:
        return wrap_master_key(crypto, random, pins[role], key, record.serial, role, 200_000,
                               marked=False)

    body = {
        "format": 1, "serial": record.serial, "slot_id": record.slot_id, "label": record.label,
        "so_pin": wrap("so").to_json(),
        "user_pin": wrap("user").to_json() if record.user_pin else None,
        "so_failures": record.so_failures, "user_failures": record.user_failures,
    }
    return json.dumps(body, sort_keys=True).encode()


def make_legacy(store: ObjectStore, crypto: SealingCrypto, random: Callable[[int], bytes],
                so_pin: bytes, user_pin: bytes) -> None:
    """Turn the store's only token into what the code before authenticated records wrote."""
    from tokenport.storage_format import decode_record

    entry, record = token_record(store)
    key = master_key(store, crypto, user_pin)
    for obj in object_entries(store):
        data, private = store.get_object_value(obj.handle)
        if decode_record(data).private:
            uid = obj.label.rsplit(b"/", 1)[-1].decode()
            store.save_object(obj.label, legacy_record(data, crypto, key, record.serial, uid),
                              private=private)
        else:
            store.save_object(obj.label, join(1, split(data)[1]), private=private)
    store.save_object(entry.label, legacy_token_record(
        record, crypto, random, key, {"so": so_pin, "user": user_pin}))
