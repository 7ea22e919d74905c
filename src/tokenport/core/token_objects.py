"""The objects of one token: a cache of its stored objects, its session objects, and the
indexes that make C_FindObjectsInit by CKA_LABEL, CKA_ID or CKA_CLASS a dictionary lookup
instead of a scan (PKCS #11 v2.40 s5.7).

Token objects are read from the store once (lazily, on first use of the token) and then
kept in sync incrementally: the token directory hands over the store's listing (labels
and revisions) whenever the store's generation counter moved, and only records whose
revision changed are read again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping

from tokenport.attributes.kinds import AttrValue
from tokenport.attributes.template import resolve_schema
from tokenport.ck import CKA
from tokenport.errors import PKCS11Error
from tokenport.objects.model import TokenObject
from tokenport.ports.storage import ObjectStore, StoredEntry
from tokenport.storage_format import RecordCorrupt, decode_object, encode_object

log = logging.getLogger("tokenport")

INDEXED = (int(CKA.LABEL), int(CKA.ID), int(CKA.CLASS))

Sealer = Callable[[TokenObject, int, AttrValue], bytes]
WriteObserver = Callable[[], int | None]


class TokenObjects:
    """Token and session objects of one token, with label / id / class indexes."""

    def __init__(
        self,
        store: ObjectStore,
        prefix: bytes,
        seal: Sealer,
        after_write: WriteObserver,
    ) -> None:
        self._store = store
        self._prefix = prefix
        self._seal = seal
        self._after_write = after_write
        self._objects: dict[str, TokenObject] = {}
        self._index: dict[int, dict[AttrValue, set[str]]] = {a: {} for a in INDEXED}
        self._indexed_values: dict[str, tuple[AttrValue | None, ...]] = {}
        self._loaded = False
        self._listing: list[StoredEntry] | None = None

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
            cached = self._objects.get(uid)
            if cached is None or cached.revision != entry.revision:
                self._load(uid, entry)
        for uid, obj in list(self._objects.items()):
            if obj.owner_session is None and uid not in present:
                self._drop(uid)

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
        except PKCS11Error as exc:  # damaged, or destroyed by another process meanwhile
            log.error("skipping unreadable object record %r: %s", entry.label, exc)
            return
        try:
            attrs, sealed = decode_object(data)
            schema = resolve_schema(attrs)
        except (RecordCorrupt, PKCS11Error) as exc:
            log.error("skipping unreadable object record %r: %s", entry.label, exc)
            return
        finally:
            self._store.get_object_value_cleanup(data)
        if uid in self._objects:
            self._drop(uid)
        obj = TokenObject(uid=uid, schema=schema, attrs=attrs, sealed=sealed, revision=entry.revision)
        self._objects[uid] = obj
        self._add_index(obj)

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
            self._store.destroy_object(entry.handle)
            self._after_write()
        for uid, obj in list(self._objects.items()):
            if obj.owner_session is None:
                self._drop(uid)

    def drop_session_objects(self, session: int | None = None) -> None:
        """Forget the session objects of ``session`` (all sessions when None)."""
        for uid, obj in list(self._objects.items()):
            if obj.owner_session is not None and (session is None or obj.owner_session == session):
                self._drop(uid)

    def forget_secrets(self) -> None:
        for obj in self._objects.values():
            if obj.is_private:
                obj.forget_secrets()

    def _persist(self, obj: TokenObject) -> None:
        sealed = dict(obj.sealed)
        clear = dict(obj.attrs)
        if obj.is_private:
            for attr in obj.schema.secret_attributes():
                if attr in clear and attr not in sealed:
                    sealed[attr] = self._seal(obj, attr, clear[attr])
                clear.pop(attr, None)
        else:
            sealed = {}
        record = encode_object(clear, sealed)
        self._store.save_object(self._label(obj.uid), record, private=obj.is_private)
        obj.sealed = sealed
        revision = self._after_write()
        obj.revision = revision if revision is not None else -1

    def _label(self, uid: str) -> bytes:
        return self._prefix + uid.encode("ascii")

    def _drop(self, uid: str) -> None:
        self._remove_index(uid)
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
