"""The slot list: every initialized token in the store, each in its own slot, plus one free
slot with an uninitialized token (PKCS #11 v2.40 s5.5, as SoftHSM does).

Slot IDs are stored in the token record, so they stay stable across restarts; the free
slot takes the lowest ID no token uses. Tokens live in one store under labels
``t/<serial>/info`` and ``t/<serial>/o/<uid>``. The directory notices what other processes
did through the store's generation counter: only when it moved does it list the store
again, and then it reads only the records whose revision changed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from tokenport.core.token import (
    Token,
    TokenSettings,
    info_label,
    new_token_record,
    objects_prefix,
)
from tokenport.errors import DeviceError, PKCS11Error, SlotIdInvalid
from tokenport.ports.entropy import RandomSource
from tokenport.ports.storage import ObjectStore, StoredEntry
from tokenport.storage_format import SealingCrypto, TokenRecord

log = logging.getLogger("tokenport")

ROOT = b"t/"


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
                record = self._read_record(entry)
                if record is None:
                    continue
                if token is None:
                    token = Token(
                        self._store, self._crypto, self._random_for, self._settings, record,
                        self.after_write,
                    )
                    self._tokens[serial] = token
                else:
                    token.record = record
                token.record_revision = entry.revision
            token.objects.sync(objects.get(serial, []))
        for serial in list(self._tokens):
            if serial not in infos:
                removed = self._tokens.pop(serial)
                self.on_token_removed(removed)

    def _read_record(self, entry: StoredEntry) -> TokenRecord | None:
        try:
            data, _ = self._store.get_object_value(entry.handle)
            return TokenRecord.decode(data)
        except PKCS11Error as exc:  # RecordCorrupt included; also destroyed meanwhile
            log.error("skipping unreadable token record %r: %s", entry.label, exc)
            return None

    # -- slots ---------------------------------------------------------------------------

    def tokens(self) -> list[Token]:
        """Initialized tokens in slot order (duplicate slot IDs: the first serial wins)."""
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
        """The initialized token of ``slot_id``; None for the free slot; SlotIdInvalid else."""
        for token in self.tokens():
            if token.slot_id == slot_id:
                return token
        if slot_id == self.free_slot_id():
            return None
        raise SlotIdInvalid(f"no slot {slot_id}")

    def token_by_serial(self, serial: str) -> Token | None:
        return self._tokens.get(serial)

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
        """Remove a token and all its objects from the store (tokenport extension)."""
        try:
            for entry in self._store.enumerate_objects(objects_prefix(token.serial)):
                self._store.destroy_object(entry.handle)
                self.after_write()
            handle = self._store.find_object(info_label(token.serial))
            if handle is not None:
                self._store.destroy_object(handle)
                self.after_write()
        except PKCS11Error:
            raise
        except OSError as exc:
            raise DeviceError(str(exc)) from exc
        self._tokens.pop(token.serial, None)
        self.on_token_removed(token)
