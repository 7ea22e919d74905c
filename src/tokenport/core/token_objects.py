"""The objects of one token: a cache of its stored objects, its session objects, and the
indexes that make C_FindObjectsInit by CKA_LABEL, CKA_ID or CKA_CLASS a dictionary lookup
instead of a scan (PKCS #11 v2.40 s5.7).

Token objects are read from the store once (lazily, on first use of the token) and then
kept in sync incrementally: the token directory hands over the store's listing (labels
and revisions) whenever the store's generation counter moved, and only records whose
revision changed are read again.

Authenticity of private records (storage_format, version 2): a private record is verified
with the token's master key, which is in memory only while someone is logged in. So a
private record read without the key is kept *pending* (private objects are invisible
without a login anyway) and verified as soon as the key is there: at login for the objects
already loaded, at load time while logged in, and before any unseal. A record that fails
is dropped from the object set (its handles become invalid) with one ERROR line naming the
record; it is not read again until another write changes it. Version-1 (legacy) private
records open until the token is marked as accepting only authenticated records; the
token rewrites them in version 2 when it can (see core/token.py).

A record that vanished between the listing and the read (another process destroyed the
object) is routine and logged at DEBUG only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol

from tokenport.attributes.kinds import AttrValue
from tokenport.attributes.template import resolve_schema
from tokenport.ck import CKA
from tokenport.errors import ObjectHandleInvalid, PKCS11Error
from tokenport.logs import log
from tokenport.objects.model import TokenObject
from tokenport.ports.storage import ObjectStore, RevisionMismatch, StoredEntry
from tokenport.storage_format import DecodedObject, RecordCorrupt, decode_record, encode_object

INDEXED = (int(CKA.LABEL), int(CKA.ID), int(CKA.CLASS))

WriteObserver = Callable[[], int | None]


class RecordKeeper(Protocol):
    """What the objects of a token need from the token (core/token.py) for private records."""

    def key_available(self) -> bool:
        """The master key is in memory (someone is logged in)."""
        ...

    def authenticated_only(self) -> bool | None:
        """The token's mark: True if it refuses version-1 private records (None: not known
        until the user logs in)."""
        ...

    def seal(self, obj: TokenObject, attr: int, value: AttrValue) -> bytes:
        """A version-2 sealed value (needs the master key)."""
        ...

    def unseal(self, obj: TokenObject, attr: int) -> AttrValue:
        """The clear value of a sealed attribute (kept in ``obj.attrs`` until logout)."""
        ...

    def encode_private(
        self, uid: str, attrs: Mapping[int, AttrValue], sealed: Mapping[int, bytes]
    ) -> bytes:
        """The authenticated version-2 record of a private object (needs the master key)."""
        ...

    def verify(self, uid: str, digest: bytes, auth: bytes) -> None:
        """Check a private record's authentication; RecordCorrupt if it fails."""
        ...


class TokenObjects:
    """Token and session objects of one token, with label / id / class indexes."""

    def __init__(
        self,
        store: ObjectStore,
        prefix: bytes,
        keeper: RecordKeeper,
        after_write: WriteObserver,
    ) -> None:
        self._store = store
        self._prefix = prefix
        self._keeper = keeper
        self._after_write = after_write
        self._objects: dict[str, TokenObject] = {}
        self._index: dict[int, dict[AttrValue, set[str]]] = {a: {} for a in INDEXED}
        self._indexed_values: dict[str, tuple[AttrValue | None, ...]] = {}
        self._loaded = False
        self._listing: list[StoredEntry] | None = None
        self._pending: dict[str, tuple[bytes, bytes]] = {}  # uid -> (digest, auth), unverified
        self._legacy: set[str] = set()  # private objects read from version-1 records
        self._rejected: dict[str, int] = {}  # uid -> revision of a record found damaged

    # -- synchronisation with the store ------------------------------------------------

    def sync(self, listing: list[StoredEntry]) -> None:
        """Adopt the store's current listing of this token's records (cheap if unchanged)."""
        if not self._loaded:
            self._listing = listing
            return
        present: set[str] = set()
        for entry in listing:
            uid = entry.label[len(self._prefix):].decode("ascii", "replace")
            present.add(uid)
            if self._rejected.get(uid) == entry.revision:
                continue  # known damaged, unchanged since: reported once
            cached = self._objects.get(uid)
            if cached is None or cached.revision != entry.revision:
                self._load(uid, entry)
        for uid, obj in list(self._objects.items()):
            if obj.owner_session is None and uid not in present:
                self._drop(uid)
        for uid in [uid for uid in self._rejected if uid not in present]:
            del self._rejected[uid]

    def ensure_loaded(self) -> None:
        if self._loaded:
            return
        listing = self._listing
        if listing is None:
            listing = self._store.enumerate_objects(self._prefix)
        self._loaded = True
        self._listing = None
        self.sync(listing)

    def _load(self, uid: str, entry: StoredEntry) -> None:
        try:
            data, _private = self._store.get_object_value(entry.handle)
        except ObjectHandleInvalid:  # destroyed by another process since the listing
            log.debug("object record %r vanished before it was read", entry.label)
            self._drop(uid)
            return
        except PKCS11Error as exc:  # the backend found it damaged
            self._reject(uid, entry.label, entry.revision, str(exc))
            return
        try:
            decoded = decode_record(data)
            schema = resolve_schema(decoded.attrs)
            if decoded.private:
                self._admit(uid, decoded)
        except (RecordCorrupt, PKCS11Error) as exc:
            self._reject(uid, entry.label, entry.revision, str(exc))
            return
        finally:
            self._store.get_object_value_cleanup(data)
        self._drop(uid)
        obj = TokenObject(uid=uid, schema=schema, attrs=decoded.attrs, sealed=decoded.sealed,
                          revision=entry.revision)
        self._objects[uid] = obj
        self._add_index(obj)
        if decoded.legacy:
            self._legacy.add(uid)
        elif decoded.auth is not None and not self._keeper.key_available():
            self._pending[uid] = (decoded.digest, decoded.auth)

    def _admit(self, uid: str, decoded: DecodedObject) -> None:
        """May this private record join the object set? (Verified now if the key is here.)"""
        if decoded.legacy:
            if self._keeper.authenticated_only():
                raise RecordCorrupt("private record without authentication (version 1) on a "
                                    "token that accepts only authenticated records")
            return
        if decoded.auth is not None and self._keeper.key_available():
            self._keeper.verify(uid, decoded.digest, decoded.auth)

    def _reject(self, uid: str, label: bytes, revision: int, reason: str) -> None:
        """Drop a damaged record's object, saying so once per revision (no secret in it)."""
        self._drop(uid)
        if self._rejected.get(uid) != revision:
            log.error("skipping unreadable object record %r: %s", label, reason)
        self._rejected[uid] = revision

    # -- authenticity once the master key is here --------------------------------------

    def key_arrived(self) -> None:
        """A login brought the master key: verify every pending private record, and refuse
        version-1 private records if the token accepts only authenticated ones."""
        for uid, (digest, auth) in list(self._pending.items()):
            obj = self._objects.get(uid)
            try:
                self._keeper.verify(uid, digest, auth)
            except RecordCorrupt as exc:
                self._reject(uid, self._label(uid), obj.revision if obj else -1, str(exc))
        self._pending.clear()
        if self._keeper.authenticated_only():
            for uid in list(self._legacy):
                obj = self._objects.get(uid)
                self._reject(uid, self._label(uid), obj.revision if obj else -1,
                             "private record without authentication (version 1) on a token "
                             "that accepts only authenticated records")

    def require_authentic(self, obj: TokenObject) -> None:
        """Before an unseal or a write: verify ``obj`` if it is still pending (RecordCorrupt
        after dropping it if it fails)."""
        pending = self._pending.pop(obj.uid, None)
        if pending is None:
            return
        try:
            self._keeper.verify(obj.uid, *pending)
        except RecordCorrupt as exc:
            self._reject(obj.uid, self._label(obj.uid), obj.revision, str(exc))
            raise

    def is_legacy(self, uid: str) -> bool:
        """Was this private object read from a version-1 record (not yet rewritten)?"""
        return uid in self._legacy

    def migrate_legacy(self) -> int:
        """Rewrite every version-1 private record in version 2 (the user is logged in);
        returns how many remain (another process wrote one meanwhile, or a write failed).

        Each rewrite is a compare-and-swap on the revision read, so a concurrent change by
        another process is never overwritten. A legacy record whose sealed values fail their
        integrity check is dropped (damaged), not rewritten.
        """
        self.ensure_loaded()
        for uid in sorted(self._legacy):
            obj = self._objects.get(uid)
            if obj is None:
                self._legacy.discard(uid)
                continue
            try:
                self._persist(obj, expected_revision=obj.revision)
            except RecordCorrupt as exc:
                self._reject(uid, self._label(uid), obj.revision, str(exc))
            except RevisionMismatch:
                log.debug("object record %r changed while being migrated", self._label(uid))
            except PKCS11Error as exc:
                log.warning("could not rewrite object record %r in the authenticated format: "
                            "%s", self._label(uid), exc)
        return len(self._legacy)

    # -- queries -----------------------------------------------------------------------

    def get(self, uid: str) -> TokenObject | None:
        self.ensure_loaded()
        return self._objects.get(uid)

    def __iter__(self) -> Iterator[TokenObject]:
        self.ensure_loaded()
        return iter(list(self._objects.values()))

    def __len__(self) -> int:
        self.ensure_loaded()
        return len(self._objects)

    def candidates(self, template: Mapping[int, AttrValue]) -> Iterable[TokenObject]:
        """Objects that may match ``template``: the smallest index bucket, or all objects."""
        self.ensure_loaded()
        buckets = [
            self._index[attr].get(template[attr], set()) for attr in INDEXED if attr in template
        ]
        if not buckets:
            return list(self._objects.values())
        smallest = min(buckets, key=len)
        return [self._objects[uid] for uid in smallest]

    # -- changes -----------------------------------------------------------------------

    def add(self, obj: TokenObject) -> None:
        """Add a new object; token objects are written to the store first."""
        self.ensure_loaded()
        if obj.is_token:
            self._persist(obj)
        self._objects[obj.uid] = obj
        self._add_index(obj)

    def update(self, obj: TokenObject, changed: Iterable[int]) -> None:
        """Persist a modified object (and re-index it)."""
        for attr in changed:
            obj.sealed.pop(attr, None)
        obj.cache.clear()
        if obj.is_token:
            self._persist(obj)
        self.update_index(obj)

    def update_index(self, obj: TokenObject) -> None:
        """Re-index ``obj`` after its label, id or class changed in memory."""
        self._remove_index(obj.uid)
        self._add_index(obj)

    def remove(self, obj: TokenObject) -> None:
        """Destroy an object (durably, for token objects)."""
        if obj.is_token:
            handle = self._store.find_object(self._label(obj.uid))
            if handle is not None:
                self._store.destroy_object(handle)
                self._after_write()
        self._drop(obj.uid)

    def remove_all_stored(self) -> None:
        """Destroy every token object (C_InitToken on an initialized token)."""
        for entry in self._store.enumerate_objects(self._prefix):
            try:
                self._store.destroy_object(entry.handle)
            except ObjectHandleInvalid:
                continue  # destroyed by another process meanwhile
            self._after_write()
        for uid, obj in list(self._objects.items()):
            if obj.owner_session is None:
                self._drop(uid)
        self._rejected.clear()
        if not self._loaded:
            self._listing = []  # the listing kept for the first load named what is gone

    def drop_session_objects(self, session: int | None = None) -> None:
        """Forget the session objects of ``session`` (all sessions when None)."""
        for uid, obj in list(self._objects.items()):
            if obj.owner_session is not None and (session is None or obj.owner_session == session):
                self._drop(uid)

    def forget_secrets(self) -> None:
        for obj in self._objects.values():
            if obj.is_private:
                obj.forget_secrets()

    def _persist(self, obj: TokenObject, expected_revision: int | None = None) -> None:
        """Write a token object: a private one sealed and authenticated (version 2), which
        needs the master key; a version-1 record's sealed values are re-sealed on the way."""
        if obj.is_private:
            self.require_authentic(obj)
            legacy = obj.uid in self._legacy
            if legacy:
                for attr in obj.sealed:
                    if attr not in obj.attrs:
                        self._keeper.unseal(obj, attr)
            sealed = {} if legacy else dict(obj.sealed)
            clear = dict(obj.attrs)
            for attr in obj.schema.secret_attributes() | set(obj.sealed):
                if attr in clear and attr not in sealed:
                    sealed[attr] = self._keeper.seal(obj, attr, clear[attr])
                clear.pop(attr, None)
            record = self._keeper.encode_private(obj.uid, clear, sealed)
        else:
            sealed = {}
            record = encode_object(obj.attrs, sealed)
        self._store.save_object(self._label(obj.uid), record, private=obj.is_private,
                                expected_revision=expected_revision)
        obj.sealed = sealed
        self._legacy.discard(obj.uid)
        revision = self._after_write()
        obj.revision = revision if revision is not None else -1

    def _label(self, uid: str) -> bytes:
        return self._prefix + uid.encode("ascii")

    def _drop(self, uid: str) -> None:
        self._remove_index(uid)
        self._pending.pop(uid, None)
        self._legacy.discard(uid)
        obj = self._objects.pop(uid, None)
        if obj is not None:
            obj.cache.clear()

    def _add_index(self, obj: TokenObject) -> None:
        values = tuple(obj.attrs.get(attr) for attr in INDEXED)
        self._indexed_values[obj.uid] = values
        for attr, value in zip(INDEXED, values, strict=True):
            if value is not None:
                self._index[attr].setdefault(value, set()).add(obj.uid)

    def _remove_index(self, uid: str) -> None:
        values = self._indexed_values.pop(uid, None)
        if values is None:
            return
        for attr, value in zip(INDEXED, values, strict=True):
            if value is None:
                continue
            bucket = self._index[attr].get(value)
            if bucket is not None:
                bucket.discard(uid)
                if not bucket:
                    del self._index[attr][value]
