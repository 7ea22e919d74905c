"""Whole-store tools behind `tokenport store`: info, check, export and import.

They work on the storage port (the PAL) and the record format, below the Cryptoki core:

* export / import move every record unchanged, so a token moves between backends with
  its serial, slot, PIN records and objects; private objects stay sealed under the
  token's master key and still need the PIN;
* check reads everything and changes nothing: the backend's own verification (SQLite
  integrity check, flash CRCs, file checksums), then every record's format (a damaged
  token record, object records without their token record, a private record that is
  not authenticated on a token marked as accepting only authenticated ones), then, for
  tokens whose user PIN is given, the authentication of every private record and the GCM
  tags of its sealed attributes.

The export file is JSON Lines: a header line, one line per record (label and data in
base64, the private flag), and a trailer with the record count and a SHA-256 over the
record lines, so a truncated or edited file is refused before anything is written.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO

from tokenport.attributes.template import resolve_schema
from tokenport.errors import DeviceError, PinIncorrect, PKCS11Error
from tokenport.ports.storage import ObjectStore
from tokenport.storage_format import (
    RecordCorrupt,
    SealingCrypto,
    TokenRecord,
    decode_record,
    open_pin_record,
    unseal_value,
    verify_record,
)

EXPORT_FORMAT = "tokenport-store-export"
EXPORT_VERSION = 1


class ExportFileInvalid(DeviceError):
    """The file is not a complete tokenport store export."""


@dataclass(frozen=True)
class StoredRecord:
    """One PAL record, as exported."""

    label: bytes
    data: bytes
    private: bool


def read_records(store: ObjectStore) -> Iterator[StoredRecord]:
    """Every record of the store, in label order."""
    for entry in sorted(store.enumerate_objects(b""), key=lambda e: e.label):
        data, private = store.get_object_value(entry.handle)
        yield StoredRecord(entry.label, bytes(data), private)


def _record_line(record: StoredRecord) -> str:
    return json.dumps({
        "label": base64.b64encode(record.label).decode(),
        "data": base64.b64encode(record.data).decode(),
        "private": record.private,
    }, sort_keys=True)


def export_store(records: Iterable[StoredRecord], out: IO[str]) -> int:
    """Write ``records`` as an export file; returns how many were written."""
    digest = hashlib.sha256()
    count = 0
    out.write(json.dumps({"format": EXPORT_FORMAT, "version": EXPORT_VERSION}) + "\n")
    for record in records:
        line = _record_line(record) + "\n"
        digest.update(line.encode())
        out.write(line)
        count += 1
    out.write(json.dumps({"records": count, "sha256": digest.hexdigest()}) + "\n")
    return count


def parse_export(lines: Iterable[str]) -> list[StoredRecord]:
    """The records of an export file, after checking its header, count and checksum."""
    items = list(lines)
    try:
        header, *body, trailer = (json.loads(line) for line in items)
    except (ValueError, TypeError) as exc:
        raise ExportFileInvalid(f"not a tokenport store export: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise ExportFileInvalid("not a tokenport store export (wrong header)")
    if header.get("version") != EXPORT_VERSION:
        raise ExportFileInvalid(f"unsupported export version {header.get('version')!r}")
    digest = hashlib.sha256("".join(items[1:-1]).encode()).hexdigest()
    if not isinstance(trailer, dict) or trailer.get("records") != len(body) \
            or trailer.get("sha256") != digest:
        raise ExportFileInvalid("the export file is truncated or was modified")
    try:
        return [
            StoredRecord(base64.b64decode(r["label"], validate=True),
                         base64.b64decode(r["data"], validate=True), bool(r["private"]))
            for r in body
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ExportFileInvalid(f"malformed record in the export file: {exc}") from None


def import_records(store: ObjectStore, records: list[StoredRecord], *, replace: bool) -> int:
    """Write ``records`` into ``store``. Without ``replace``, any label already present
    refuses the whole import before anything is written."""
    if not replace:
        taken = {entry.label for entry in store.enumerate_objects(b"")}
        clashes = sorted(r.label for r in records if r.label in taken)
        if clashes:
            raise DeviceError(
                f"{len(clashes)} record(s) already exist in the target store (first: "
                f"{clashes[0]!r}); use --replace to overwrite them"
            )
    for record in records:
        store.save_object(record.label, record.data, private=record.private)
    return len(records)


ANY_TOKEN = ""
"""A key of check_store's ``pins``: the PIN of the store's only token, whatever its name."""


@dataclass
class CheckReport:
    """What `tokenport store check` found: problems (damage) and notes (information)."""

    records: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _repair_hint(serial: str) -> str:
    return (f"'tokenport token repair --serial {serial}' recovers its public objects, "
            "'tokenport token delete' removes it")


def check_store(
    store: ObjectStore, crypto: SealingCrypto, pins: Mapping[str, bytes] | None = None
) -> CheckReport:
    """Verify the store without changing it. ``pins`` maps token labels or serials (or
    ANY_TOKEN) to user PINs; for those tokens every private record's authentication and
    sealed attributes are checked as well.

    A PIN given here is checked against the stored PIN record directly, without the token's
    failure counter (this tool only reads): it is what anyone holding a copy of the store
    can do offline, which is why long PINs matter (README, security model).
    """
    report = CheckReport()
    flagged: set[bytes] = set()
    backend_check = getattr(store, "check", None)
    if callable(backend_check):
        for label, problem in backend_check():
            report.problems.append(problem)
            if label is not None:
                flagged.add(label)
    entries = store.enumerate_objects(b"")
    report.records = len(entries)
    tokens: dict[str, TokenRecord] = {}
    damaged: set[str] = set()
    objects: dict[str, list[tuple[bytes, bytes]]] = {}
    for entry in entries:
        if entry.label in flagged:
            continue
        parts = entry.label.split(b"/", 3)
        is_info = len(parts) == 3 and parts[0] == b"t" and parts[2] == b"info"
        try:
            data, _private = store.get_object_value(entry.handle)
        except PKCS11Error as exc:
            report.problems.append(f"{entry.label!r}: cannot be read: {exc}")
            if is_info:
                damaged.add(parts[1].decode("ascii", "replace"))
            continue
        if is_info:
            serial = parts[1].decode("ascii", "replace")
            try:
                record = TokenRecord.decode(data)
            except RecordCorrupt as exc:
                report.problems.append(f"{entry.label!r}: token record is damaged: {exc}; "
                                       + _repair_hint(serial))
                damaged.add(serial)
                continue
            tokens[record.serial] = record
            report.tokens[record.serial] = record.label
        elif len(parts) == 4 and parts[0] == b"t" and parts[2] == b"o":
            serial = parts[1].decode("ascii", "replace")
            objects.setdefault(serial, []).append((entry.label, data))
        else:
            report.notes.append(f"{entry.label!r}: not a tokenport record (left alone)")
    named = pins or {}
    if ANY_TOKEN in named and len(tokens) != 1:
        report.problems.append(f"a PIN was given for the only token, but the store holds "
                               f"{len(tokens)} readable token(s): name one with --token")
    for serial, items in sorted(objects.items()):
        owner = tokens.get(serial)
        if owner is None and serial not in damaged:
            report.problems.append(f"token {serial}: {len(items)} object(s) without a token "
                                   "record; " + _repair_hint(serial))
        key = _master_key(owner, crypto, named, len(tokens), report) if owner else None
        for label, data in items:
            _check_object(label, data, crypto, owner, key, report)
    for serial, token in sorted(tokens.items()):
        if serial not in objects:
            report.notes.append(f"token {serial} ({token.label!r}) holds no objects")
    return report


def _master_key(record: TokenRecord, crypto: SealingCrypto, pins: Mapping[str, bytes],
                token_count: int, report: CheckReport) -> tuple[bytes, bool] | None:
    """(master key, marked) of the token whose user PIN was given, else None."""
    pin = pins.get(record.serial) or pins.get(record.label)
    if pin is None and token_count == 1:
        pin = pins.get(ANY_TOKEN)
    if pin is None:
        return None
    if record.user_pin is None:
        report.problems.append(f"token {record.serial}: a PIN was given but no user PIN is set")
        return None
    try:
        key, marked = open_pin_record(crypto, pin, record.user_pin, record.serial, "user")
    except PinIncorrect:
        report.problems.append(f"token {record.serial}: the user PIN given is not correct "
                               "(private records not checked)")
    except PKCS11Error as exc:
        report.problems.append(f"token {record.serial}: the user PIN record is damaged: {exc}")
    else:
        return key, marked or record.authenticated_records
    return None


def _check_object(label: bytes, data: bytes, crypto: SealingCrypto, owner: TokenRecord | None,
                  key: tuple[bytes, bool] | None, report: CheckReport) -> None:
    try:
        decoded = decode_record(data)
        resolve_schema(decoded.attrs)
    except PKCS11Error as exc:
        report.problems.append(f"{label!r}: object record is damaged: {exc}")
        return
    marked = key[1] if key is not None else owner is not None and owner.authenticated_records
    if decoded.legacy and marked:
        report.problems.append(f"{label!r}: private record without authentication (version "
                               "1) on a token that accepts only authenticated records: refused")
        return
    if decoded.legacy:
        report.notes.append(f"{label!r}: private record in the old format (rewritten "
                            "authenticated at the next user login)")
    if key is None or owner is None:
        return
    uid = label.rsplit(b"/", 1)[-1].decode("ascii", "replace")
    if decoded.auth is not None:
        try:
            verify_record(crypto, key[0], owner.serial, uid, decoded.digest, decoded.auth)
        except RecordCorrupt as exc:
            report.problems.append(f"{label!r}: {exc}")
            return
    serial = None if decoded.legacy else owner.serial
    for attr, blob in decoded.sealed.items():
        try:
            unseal_value(crypto, key[0], uid, attr, blob, serial=serial)
        except PKCS11Error as exc:
            report.problems.append(f"{label!r}: sealed attribute 0x{attr:x} fails its "
                                   f"integrity check: {exc}")
