"""The slot list: every initialized token in the store, each in its own slot, plus one free
slot with an uninitialized token (PKCS #11 v2.40 s5.5, as SoftHSM does).

Slot IDs are stored in the token record, so they stay stable across restarts; the free
slot takes the lowest ID no token uses. Tokens live in one store under labels
``t/<serial>/info`` and ``t/<serial>/o/<uid>``. The directory notices what other processes
did through the store's generation counter: only when it moved does it list the store
again, and then it reads only the records whose revision changed.

A damaged token is reported, never taken for a free slot: a token record that exists but
cannot be read or decoded, or object records of a serial whose token record is missing
(the files backend moves a corrupt record file aside), make a DamagedToken. It keeps a
slot -- the slot ID still readable in the damaged record, else the stable choice
``DAMAGED_SLOT_BASE + CRC-32(serial) mod DAMAGED_SLOT_SPAN`` (the next ID up if taken) --
C_GetSlotInfo reports a token present, and C_GetTokenInfo, C_OpenSession and C_InitToken
raise TokenDamaged (CKR_DEVICE_ERROR). Its object records are left alone; repair_token
(``tokenport token repair``) or delete_token are the explicit ways out. A record that
vanished between the listing and the read (deleted by another process) is routine and
logged at DEBUG only.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKO
from tokenport.core.token import (
    Token,
    TokenSettings,
    info_label,
    new_token_record,
    objects_prefix,
)
from tokenport.errors import (
    DeviceError,
    ObjectHandleInvalid,
    PKCS11Error,
    SlotIdInvalid,
    TokenNotRecognized,
)
from tokenport.logs import log
from tokenport.objects.model import TokenObject
from tokenport.ports.entropy import RandomSource
from tokenport.ports.storage import ObjectStore, StoredEntry
from tokenport.storage_format import (
    PinRecord,
    RecordCorrupt,
    SealingCrypto,
    TokenRecord,
    decode_record,
    salvage_token_record,
)

ROOT = b"t/"
DAMAGED_SLOT_BASE = 1000
DAMAGED_SLOT_SPAN = 9000
RECORD_MISSING = "its token record is missing"


class TokenDamaged(DeviceError):
    """The token in this slot has a damaged record (CKR_DEVICE_ERROR).

    ``serial``, ``slot_id``, ``label`` (as far as it could be read, else None) and
    ``problem`` say which token and what is wrong, for tools that report it.
    """

    def __init__(self, serial: str, slot_id: int, label: str | None, problem: str) -> None:
        super().__init__(
            f"token {serial} in slot {slot_id} is damaged ({problem}); see "
            f"'tokenport token repair --serial {serial}' or 'tokenport token delete'"
        )
        self.serial = serial
        self.slot_id = slot_id
        self.label = label
        self.problem = problem


class DamagedToken(Token):
    """A token whose record cannot be read: present in its slot, refusing every use.

    It stands in for the Token the directory cannot build, so that the Module's calls that
    look a slot up find it and fail with TokenDamaged where a token would be used:
    C_GetTokenInfo (flags), C_OpenSession (logged_in, read before a session opens),
    C_InitToken (reinitialize), and anything that would read or change its record.
    """

    def __init__(
        self,
        store: ObjectStore,
        crypto: SealingCrypto,
        random_for: Callable[[str, str], RandomSource],
        settings: TokenSettings,
        serial: str,
        slot_id: int,
        *,
        label: str | None,
        problem: str,
        slot_salvaged: bool,
        revision: int,
        after_write: Callable[[], int | None],
    ) -> None:
        placeholder = TokenRecord(serial=serial, slot_id=slot_id, label=label or "",
                                  so_pin=PinRecord(b"", 0, b""))
        super().__init__(store, crypto, random_for, settings, placeholder, after_write)
        self.record_revision = revision
        self.salvaged_label = label
        self.problem = problem
        self.slot_salvaged = slot_salvaged

    def error(self) -> TokenDamaged:
        return TokenDamaged(self.serial, self.slot_id, self.salvaged_label, self.problem)

    def check_usable(self) -> None:
        raise self.error()

    @property
    def logged_in(self) -> int | None:
        raise self.error()

    @logged_in.setter
    def logged_in(self, role: int | None) -> None:
        """Logging out (C_Finalize) is harmless; nobody is ever logged in."""

    def flags(self) -> int:
        raise self.error()

    def verify_pin(self, role: int, pin: bytes) -> bytes:
        raise self.error()

    def login(self, role: int, pin: bytes) -> None:
        raise self.error()

    def init_user_pin(self, pin: bytes) -> None:
        raise self.error()

    def change_pin(self, role: int, old_pin: bytes, new_pin: bytes) -> None:
        raise self.error()

    def update_record(self, change: Callable[[TokenRecord], None]) -> None:
        raise self.error()

    def reinitialize(self, so_pin: bytes, label: str) -> None:
        raise self.error()

    def unseal(self, obj: TokenObject, attr: int) -> AttrValue:
        raise self.error()


@dataclass
class RepairReport:
    """What repair_token did: the objects kept (public) and those lost (private, or damaged:
    their master key went with the token record)."""

    serial: str
    slot_id: int
    label: str
    kept: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def _describe(label: bytes, attrs: dict[int, AttrValue] | None) -> str:
    if attrs is None:
        return f"{label.decode('ascii', 'replace')} (damaged record)"
    cls = attrs.get(CKA.CLASS)
    name = CKO(cls).name if isinstance(cls, int) and cls in CKO._value2member_map_ else str(cls)
    text = attrs.get(CKA.LABEL, b"")
    shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"CKO_{name} {shown!r}"


class TokenDirectory:
    """All tokens of a store, kept in step with the store's generation counter."""

    def __init__(
        self,
        store: ObjectStore,
        crypto: SealingCrypto,
        random_for: Callable[[str, str], RandomSource],
        settings: TokenSettings,
    ) -> None:
        self._store = store
        self._crypto = crypto
        self._random_for = random_for
        self._settings = settings
        self._tokens: dict[str, Token] = {}
        self._seen_generation: int | None = None
        self.on_token_removed: Callable[[Token], None] = lambda token: None

    # -- the generation protocol ----------------------------------------------------------

    def refresh(self) -> None:
        """Catch up with the store if any process changed it since the last look."""
        generation = self._store.generation()
        if generation == self._seen_generation:
            return
        listing = self._store.enumerate_objects(ROOT)
        self._apply(listing)
        self._seen_generation = generation

    def after_write(self) -> int | None:
        """Called after each own write: the write's revision if no other process wrote
        in between (then the listing need not be read again), else None."""
        generation = self._store.generation()
        if self._seen_generation is not None and generation == self._seen_generation + 1:
            self._seen_generation = generation
            return generation
        return None

    def _apply(self, listing: list[StoredEntry]) -> None:
        infos: dict[str, StoredEntry] = {}
        objects: dict[str, list[StoredEntry]] = {}
        for entry in listing:
            parts = entry.label.split(b"/", 3)
            if len(parts) < 3:
                continue
            serial = parts[1].decode("ascii", "replace")
            if len(parts) == 3 and parts[2] == b"info":
                infos[serial] = entry
            elif len(parts) == 4 and parts[2] == b"o":
                objects.setdefault(serial, []).append(entry)
        for serial, entry in infos.items():
            token = self._tokens.get(serial)
            if token is None or token.record_revision != entry.revision:
                try:
                    record = self._read_record(entry)
                except (RecordCorrupt, PKCS11Error) as exc:
                    self._damaged(serial, entry.revision, str(exc), entry)
                    continue
                if record is None:
                    continue  # vanished meanwhile: the next listing tells
                if token is None or isinstance(token, DamagedToken):
                    if token is not None:
                        self._remove(serial)
                    token = Token(
                        self._store, self._crypto, self._random_for, self._settings, record,
                        self.after_write,
                    )
                    self._tokens[serial] = token
                else:
                    token.record = record
                token.record_revision = entry.revision
            if not isinstance(token, DamagedToken):
                token.objects.sync(objects.get(serial, []))
        for serial in objects:
            if serial not in infos:
                self._damaged(serial, -1, RECORD_MISSING, None)
        for serial in list(self._tokens):
            if serial not in infos and serial not in objects:
                self._remove(serial)

    def _read_record(self, entry: StoredEntry) -> TokenRecord | None:
        """The token record, None if it vanished; raises if it exists but is unreadable."""
        try:
            data, _ = self._store.get_object_value(entry.handle)
        except ObjectHandleInvalid:
            log.debug("token record %r vanished before it was read", entry.label)
            return None
        return TokenRecord.decode(data)

    def _damaged(self, serial: str, revision: int, problem: str,
                 entry: StoredEntry | None) -> None:
        """Put (or keep) a DamagedToken for ``serial``; say so once per record revision."""
        current = self._tokens.get(serial)
        if isinstance(current, DamagedToken) and (current.record_revision == revision
                                                  or entry is None):
            current.record_revision = revision  # e.g. a corrupt record file moved aside
            return
        slot_id, label = None, None
        if entry is not None:
            try:
                data, _ = self._store.get_object_value(entry.handle)
                slot_id, label = salvage_token_record(bytes(data))
            except PKCS11Error:
                pass
        if current is not None:
            self._remove(serial)
        used = {t.slot_id for t in self._tokens.values()}
        salvaged = slot_id is not None and slot_id not in used
        if not salvaged:
            slot_id = DAMAGED_SLOT_BASE + zlib.crc32(serial.encode()) % DAMAGED_SLOT_SPAN
            while slot_id in used:
                slot_id += 1
        assert slot_id is not None
        self._tokens[serial] = DamagedToken(
            self._store, self._crypto, self._random_for, self._settings, serial, slot_id,
            label=label, problem=problem, slot_salvaged=salvaged, revision=revision,
            after_write=self.after_write,
        )
        log.error(
            "token %s is damaged (%s): it keeps slot %d and refuses use; its objects are left "
            "alone (tokenport token repair --serial %s, or tokenport token delete)",
            serial, problem, slot_id, serial,
        )

    def _remove(self, serial: str) -> None:
        """Forget a token that is gone (or damaged now): its master key leaves memory."""
        removed = self._tokens.pop(serial)
        removed.logout()
        self.on_token_removed(removed)

    # -- slots ---------------------------------------------------------------------------

    def tokens(self) -> list[Token]:
        """Tokens (damaged ones included) in slot order (duplicate slot IDs: the first
        serial wins)."""
        seen: set[int] = set()
        result = []
        for token in sorted(self._tokens.values(), key=lambda t: (t.slot_id, t.serial)):
            if token.slot_id not in seen:
                seen.add(token.slot_id)
                result.append(token)
        return result

    def free_slot_id(self) -> int:
        used = {token.slot_id for token in self._tokens.values()}
        slot = 0
        while slot in used:
            slot += 1
        return slot

    def slot_ids(self) -> list[int]:
        return sorted([t.slot_id for t in self.tokens()] + [self.free_slot_id()])

    def token_in_slot(self, slot_id: int) -> Token | None:
        """The token of ``slot_id`` (a DamagedToken if its record is damaged); None for the
        free slot; SlotIdInvalid else."""
        for token in self.tokens():
            if token.slot_id == slot_id:
                return token
        if slot_id == self.free_slot_id():
            return None
        raise SlotIdInvalid(f"no slot {slot_id}")

    def token_by_serial(self, serial: str) -> Token | None:
        return self._tokens.get(serial)

    def damaged_tokens(self) -> list[DamagedToken]:
        return [t for t in self.tokens() if isinstance(t, DamagedToken)]

    # -- token life cycle ------------------------------------------------------------------

    def create_token(self, slot_id: int, so_pin: bytes, label: str) -> Token:
        """C_InitToken on the free slot: a new token with its own serial and master key
        (drawn from the random source the config chooses for the new token)."""
        serial = secrets.token_hex(8)
        random_bytes = self._random_for(serial, label).random_bytes
        record = new_token_record(
            self._crypto, random_bytes, self._settings, serial, slot_id, label, so_pin
        )
        token = Token(
            self._store, self._crypto, self._random_for, self._settings, record, self.after_write
        )
        token.objects.sync([])
        token.create_record()
        self._tokens[serial] = token
        return token

    def delete_token(self, token: Token) -> None:
        """Remove a token (damaged or not) and all its objects from the store (tokenport
        extension)."""
        try:
            for entry in self._store.enumerate_objects(objects_prefix(token.serial)):
                self._destroy(entry.handle)
            handle = self._store.find_object(info_label(token.serial))
            if handle is not None:
                self._destroy(handle)
        except PKCS11Error:
            raise
        except OSError as exc:
            raise DeviceError(str(exc)) from exc
        token.logout()
        self._tokens.pop(token.serial, None)
        self.on_token_removed(token)

    def _destroy(self, handle: int) -> None:
        """Destroy a record; one another process destroyed meanwhile is just as gone."""
        try:
            self._store.destroy_object(handle)
        except ObjectHandleInvalid:
            return
        self.after_write()

    def repair_token(self, serial: str, so_pin: bytes, label: str | None = None, *,
                     dry_run: bool = False) -> RepairReport:
        """Give a damaged token a new record (tokenport extension): a new master key wrapped
        under ``so_pin``, no user PIN, its slot kept if it could be read (else the free
        slot), its label kept if it could be read (else ``label``, else "repaired").

        Public objects are kept. Private objects cannot be recovered -- their sealed values
        and authentication need the master key that went with the record -- and damaged
        object records cannot be read: both are destroyed and listed in the report. They
        are destroyed before the new record is written, so an interrupted repair can be
        run again. ``dry_run`` only reports what a repair would do.
        """
        self.refresh()
        token = self._tokens.get(serial)
        if not isinstance(token, DamagedToken):
            raise TokenNotRecognized(f"no damaged token with serial {serial}")
        name = label or token.salvaged_label or "repaired"
        others = {t.slot_id for t in self._tokens.values() if t is not token}
        slot_id = token.slot_id if token.slot_salvaged else min(
            s for s in range(len(others) + 1) if s not in others
        )
        report = RepairReport(serial, slot_id, name)
        for entry in self._store.enumerate_objects(objects_prefix(serial)):
            try:
                data, _ = self._store.get_object_value(entry.handle)
            except ObjectHandleInvalid:
                continue
            except PKCS11Error:
                data = b""
            try:
                decoded = decode_record(data)
            except RecordCorrupt:
                report.lost.append(_describe(entry.label, None))
            else:
                if not decoded.private:
                    report.kept.append(_describe(entry.label, decoded.attrs))
                    continue
                report.lost.append(_describe(entry.label, decoded.attrs))
            if not dry_run:
                self._destroy(entry.handle)
        if dry_run:
            return report
        random_bytes = self._random_for(serial, name).random_bytes
        record = new_token_record(
            self._crypto, random_bytes, self._settings, serial, slot_id, name, so_pin
        )
        existing = next((e for e in self._store.enumerate_objects(info_label(serial))
                         if e.label == info_label(serial)), None)
        self._store.save_object(info_label(serial), record.encode(),
                                expected_revision=existing.revision if existing else 0)
        self._seen_generation = None
        self.refresh()
        return report
