"""The whole private record is authenticated (issue 9, item 9): an attacker who can write the
store cannot flip CKA_SENSITIVE / CKA_EXTRACTABLE / CKA_PRIVATE / CKA_LABEL of a private
object, move sealed values or records between objects and tokens, or downgrade a record to
the unauthenticated version 1; old-format stores still open and are migrated."""

from __future__ import annotations

import logging
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKA, CKM, CKO, CKU
from tokenport.config import Config
from tokenport.core.module import Module
from tokenport.errors import DeviceError, ObjectHandleInvalid
from tokenport.mechanisms.params import Mechanism
from tokenport.ports.storage import StoredEntry
from tokenport.storage_format import (
    RecordCorrupt,
    decode_record,
    seal_value,
    unseal_value,
)
from tokenport.store_tools import ANY_TOKEN, check_store

from .conftest import RW, SO_PIN, USER_PIN, new_module
from .records import (
    TAG_AUTH,
    find_record,
    join,
    make_legacy,
    object_entries,
    rewrite,
    sealed_blob,
    split,
    token_record,
    user_pin_marked,
    with_entry,
)
from .test_find_and_persistence import find
from .test_operations import P256_OID


def ec_key(module: Module, session: int, label: bytes) -> tuple[int, int]:
    return module.generate_key_pair(
        session, Mechanism(CKM.EC_KEY_PAIR_GEN),
        [(CKA.EC_PARAMS, P256_OID), (CKA.LABEL, label), (CKA.TOKEN, True)],
        [(CKA.LABEL, label), (CKA.TOKEN, True), (CKA.SIGN, True)],
    )


def logged_in(config: Config, store: MemoryObjectStore) -> tuple[Module, int]:
    other = new_module(config, store)
    session = other.open_session(0, RW)
    other.login(session, CKU.USER, USER_PIN)
    return other, session


def keys_labelled(module: Module, session: int, cls: int, label: bytes) -> list[int]:
    return find(module, session, [(CKA.CLASS, int(cls)), (CKA.LABEL, label)])


def signs(module: Module, session: int, label: bytes) -> None:
    """The private key ``label`` signs, and its public key verifies the signature outside."""
    (private,) = keys_labelled(module, session, CKO.PRIVATE_KEY, label)
    (public,) = keys_labelled(module, session, CKO.PUBLIC_KEY, label)
    module.sign_init(session, Mechanism(CKM.ECDSA_SHA256), private)
    signature = module.sign(session, b"message")
    (point,) = module.get_attribute_value(session, public, [CKA.EC_POINT])
    assert isinstance(point.value, bytes)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point.value[2:])
    der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                     int.from_bytes(signature[32:], "big"))
    key.verify(der, b"message", ec.ECDSA(hashes.SHA256()))


def refused(caplog: pytest.LogCaptureFixture, entry: StoredEntry, reason: str) -> None:
    """One ERROR line names the record and the reason, and gives away no secret."""
    lines = [r for r in caplog.records if r.levelno >= logging.ERROR and repr(entry.label)
             in r.getMessage()]
    assert lines and reason in lines[0].getMessage(), caplog.text
    assert USER_PIN.decode() not in caplog.text and SO_PIN.decode() not in caplog.text


def checked(store: MemoryObjectStore, module: Module, entry: StoredEntry, reason: str) -> None:
    """`tokenport store check` with the user PIN reports the record."""
    report = check_store(store, module.crypto, {ANY_TOKEN: USER_PIN})
    assert not report.ok
    assert any(repr(entry.label) in p and reason in p for p in report.problems), report.problems


@pytest.mark.parametrize(("attr", "payload"), [
    (CKA.SENSITIVE, b"\x00"), (CKA.EXTRACTABLE, b"\x01"), (CKA.LABEL, b"K"),
])
def test_an_edited_private_key_record_does_not_open(
    config: Config, store: MemoryObjectStore, module: Module, user: int,
    caplog: pytest.LogCaptureFixture, attr: int, payload: bytes,
) -> None:
    ec_key(module, user, b"k")
    entry = find_record(store, CKO.PRIVATE_KEY, b"k")
    rewrite(store, entry, lambda data: with_entry(data, attr, payload))

    other, session = logged_in(config, store)
    assert find(other, session, [(CKA.CLASS, int(CKO.PRIVATE_KEY))]) == []
    assert len(keys_labelled(other, session, CKO.PUBLIC_KEY, b"k")) == 1  # the rest is intact
    refused(caplog, entry, "failed its authentication")
    checked(store, other, entry, "failed its authentication")
    other.finalize()


def test_a_private_record_turned_public_is_no_public_object(
    config: Config, store: MemoryObjectStore, module: Module, user: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ec_key(module, user, b"k")
    entry = find_record(store, CKO.PRIVATE_KEY, b"k")
    rewrite(store, entry, lambda data: with_entry(data, CKA.PRIVATE, b"\x00"))

    other = new_module(config, store)
    public = other.open_session(0, RW)
    assert find(other, public, [(CKA.LABEL, b"k")]) == find(
        other, public, [(CKA.CLASS, int(CKO.PUBLIC_KEY))])  # only the public key, no login
    refused(caplog, entry, "CKA_PRIVATE is not TRUE")
    other.login(public, CKU.USER, USER_PIN)
    assert find(other, public, [(CKA.CLASS, int(CKO.PRIVATE_KEY))]) == []
    report = check_store(store, other.crypto)  # seen without any PIN
    assert any(repr(entry.label) in p and "CKA_PRIVATE" in p for p in report.problems)
    other.finalize()


def test_a_record_edited_before_login_is_dropped_at_login(
    config: Config, store: MemoryObjectStore, module: Module, user: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ec_key(module, user, b"k")
    entry = find_record(store, CKO.PRIVATE_KEY, b"k")
    rewrite(store, entry, lambda data: with_entry(data, CKA.SENSITIVE, b"\x00"))
    other = new_module(config, store)
    session = other.open_session(0, RW)
    assert len(find(other, session, [])) == 1  # loaded without the key: the public key
    assert "authentication" not in caplog.text  # nothing can be verified yet
    other.login(session, CKU.USER, USER_PIN)  # the key is here: verified now
    refused(caplog, entry, "failed its authentication")
    assert find(other, session, [(CKA.CLASS, int(CKO.PRIVATE_KEY))]) == []
    other.finalize()


def test_a_record_edited_while_in_use_loses_its_handle(
    config: Config, store: MemoryObjectStore, module: Module, user: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ec_key(module, user, b"k")
    (private,) = keys_labelled(module, user, CKO.PRIVATE_KEY, b"k")
    signs(module, user, b"k")
    entry = find_record(store, CKO.PRIVATE_KEY, b"k")
    rewrite(store, entry, lambda data: with_entry(data, CKA.EXTRACTABLE, b"\x01"))
    with pytest.raises(ObjectHandleInvalid):
        module.get_attribute_value(user, private, [CKA.EXTRACTABLE])
    refused(caplog, entry, "failed its authentication")


def test_a_sealed_value_moved_to_another_key_is_refused(
    config: Config, store: MemoryObjectStore, module: Module, user: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ec_key(module, user, b"a")
    ec_key(module, user, b"b")
    source, target = (find_record(store, CKO.PRIVATE_KEY, x) for x in (b"a", b"b"))
    blob = sealed_blob(store, source, CKA.VALUE)
    rewrite(store, target, lambda data: with_entry(data, CKA.VALUE, blob))

    other, session = logged_in(config, store)
    assert keys_labelled(other, session, CKO.PRIVATE_KEY, b"b") == []
    refused(caplog, target, "failed its authentication")
    signs(other, session, b"a")
    other.finalize()


def test_a_record_copied_to_another_object_or_token_is_refused(
    config: Config, store: MemoryObjectStore, module: Module, user: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ec_key(module, user, b"a")
    module.init_token(1, SO_PIN, b"second".ljust(32))
    so = module.open_session(1, RW)
    module.login(so, CKU.SO, SO_PIN)
    module.init_pin(so, USER_PIN)
    module.close_session(so)
    entry = find_record(store, CKO.PRIVATE_KEY, b"a")
    data, private = store.get_object_value(entry.handle)
    serial = entry.label.split(b"/")[1]
    _entry, second = token_record(store, module.get_token_info(1).serial_number)
    moved = entry.label.replace(serial, second.serial.encode())
    copied = entry.label[:-4] + b"beef"
    store.save_object(moved, data, private=private)
    store.save_object(copied, data, private=private)

    other, session = logged_in(config, store)
    assert len(keys_labelled(other, session, CKO.PRIVATE_KEY, b"a")) == 1  # the original only
    refused(caplog, StoredEntry(copied, 0, 0), "failed its authentication")
    signs(other, session, b"a")
    second_session = other.open_session(1, RW)
    other.login(second_session, CKU.USER, USER_PIN)
    assert find(other, second_session, []) == []
    refused(caplog, StoredEntry(moved, 0, 0), "failed its authentication")
    other.finalize()


@pytest.mark.parametrize("kind", ["public key", "data"])  # CKO_DATA: edit CKA_APPLICATION
def test_private_objects_without_secrets_are_authenticated_too(
    config: Config, store: MemoryObjectStore, module: Module, user: int,
    caplog: pytest.LogCaptureFixture, kind: str,
) -> None:
    if kind == "public key":
        module.generate_key_pair(
            user, Mechanism(CKM.EC_KEY_PAIR_GEN),
            [(CKA.EC_PARAMS, P256_OID), (CKA.LABEL, b"p"), (CKA.TOKEN, True),
             (CKA.PRIVATE, True), (CKA.VERIFY, True)],
            [(CKA.LABEL, b"p-private"), (CKA.TOKEN, True)],
        )
        cls, attr, payload = CKO.PUBLIC_KEY, CKA.VERIFY, b"\x00"
    else:
        module.create_object(user, [(CKA.CLASS, int(CKO.DATA)), (CKA.LABEL, b"p"),
                                    (CKA.TOKEN, True), (CKA.PRIVATE, True),
                                    (CKA.APPLICATION, b"app")])
        cls, attr, payload = CKO.DATA, CKA.APPLICATION, b"evil"
    entry = find_record(store, cls, b"p")
    decoded = decode_record(store.get_object_value(entry.handle)[0])
    assert decoded.auth is not None  # authenticated, with no secret attribute to carry it
    assert decoded.sealed == ({} if kind == "public key" else {CKA.VALUE: decoded.sealed[CKA.VALUE]})

    other, session = logged_in(config, store)
    assert len(keys_labelled(other, session, cls, b"p")) == 1
    other.finalize()
    rewrite(store, entry, lambda data: with_entry(data, attr, payload))
    other, session = logged_in(config, store)
    assert keys_labelled(other, session, cls, b"p") == []
    refused(caplog, entry, "failed its authentication")
    checked(store, other, entry, "failed its authentication")
    other.finalize()


def _downgrade(data: bytes) -> bytes:
    """The record rewritten as version 1: the authentication entry stripped."""
    _version, entries = split(data)
    return join(1, [e for e in entries if e[1] != TAG_AUTH])


@pytest.mark.parametrize("strip_mark", [False, True])
def test_a_record_downgraded_to_version_1_is_refused(
    config: Config, store: MemoryObjectStore, module: Module, user: int,
    caplog: pytest.LogCaptureFixture, strip_mark: bool,
) -> None:
    ec_key(module, user, b"k")
    module.generate_key_pair(
        user, Mechanism(CKM.EC_KEY_PAIR_GEN),
        [(CKA.EC_PARAMS, P256_OID), (CKA.LABEL, b"p"), (CKA.TOKEN, True), (CKA.PRIVATE, True)],
        [(CKA.LABEL, b"p-private"), (CKA.TOKEN, True)],
    )
    key = find_record(store, CKO.PRIVATE_KEY, b"k")
    public = find_record(store, CKO.PUBLIC_KEY, b"p")  # private, no sealed value
    rewrite(store, key, lambda data: _downgrade(with_entry(data, CKA.SENSITIVE, b"\x00")))
    rewrite(store, public, lambda data: _downgrade(with_entry(data, CKA.LABEL, b"P")))
    if strip_mark:  # the clear copy of the mark is no protection; the PIN record's is
        info, record = token_record(store)
        record.authenticated_records = False
        store.save_object(info.label, record.encode())

    other, session = logged_in(config, store)
    assert find(other, session, [(CKA.CLASS, int(CKO.PRIVATE_KEY)), (CKA.LABEL, b"k")]) == []
    assert find(other, session, [(CKA.LABEL, b"P")]) == []
    for entry in (key, public):
        refused(caplog, entry, "accepts only authenticated records")
        checked(store, other, entry, "accepts only authenticated records")
    other.finalize()


def test_the_format_version_is_authenticated() -> None:
    """A version-2 record relabelled version 1 with its authentication entry is corrupt, and
    a version-2 sealed value never opens as a version-1 one (another AAD)."""
    from tokenport.backends.crypto.pyca import PycaCrypto
    from tokenport.storage_format import encode_private_object

    crypto, key = PycaCrypto(), os.urandom(32)
    sealed = {int(CKA.VALUE): seal_value(crypto, key, os.urandom, "u1", CKA.VALUE, b"s" * 32,
                                         serial="S")}
    record = encode_private_object(crypto, key, os.urandom, "S", "u1",
                                   {CKA.CLASS: 3, CKA.PRIVATE: True}, sealed)
    with pytest.raises(RecordCorrupt, match="authentication entry"):
        decode_record(record[:3] + b"\x01" + record[4:])
    version, entries = split(record)
    with pytest.raises(RecordCorrupt, match="private record without its authentication"):
        decode_record(join(version, [e for e in entries if e[1] != TAG_AUTH]))
    blob = sealed[CKA.VALUE]
    assert unseal_value(crypto, key, "u1", CKA.VALUE, blob, serial="S") == b"s" * 32
    for uid, serial in (("u1", None), ("u2", "S"), ("u1", "T")):
        with pytest.raises(RecordCorrupt):
            unseal_value(crypto, key, uid, CKA.VALUE, blob, serial=serial)


# -- records of the old format ----------------------------------------------------------------

def _versions(store: MemoryObjectStore) -> dict[bytes, tuple[int, bool]]:
    result = {}
    for entry in object_entries(store):
        decoded = decode_record(store.get_object_value(entry.handle)[0])
        result[entry.label] = (decoded.version, decoded.auth is not None)
    return result


def test_an_old_format_token_opens_signs_and_is_migrated_at_login(
    config: Config, store: MemoryObjectStore, module: Module, user: int,
) -> None:
    ec_key(module, user, b"k")
    module.finalize()
    make_legacy(store, module.crypto, os.urandom, SO_PIN, USER_PIN)
    assert {v for v, _ in _versions(store).values()} == {1}
    assert not user_pin_marked(store, module.crypto, USER_PIN)
    assert not token_record(store)[1].authenticated_records

    other, session = logged_in(config, store)
    signs(other, session, b"k")
    versions = _versions(store)
    private = find_record(store, CKO.PRIVATE_KEY, b"k").label
    public = find_record(store, CKO.PUBLIC_KEY, b"k").label
    assert versions[private] == (2, True)  # rewritten authenticated at login
    assert versions[public] == (1, False)  # public records wait for their next write
    assert user_pin_marked(store, other.crypto, USER_PIN)
    assert token_record(store)[1].authenticated_records
    other.finalize()
    other, session = logged_in(config, store)
    signs(other, session, b"k")
    (handle,) = keys_labelled(other, session, CKO.PUBLIC_KEY, b"k")
    other.set_attribute_value(session, handle, [(CKA.LABEL, b"k")])
    assert _versions(store)[public] == (2, False)  # a write writes version 2
    other.finalize()
    assert check_store(store, other.crypto, {ANY_TOKEN: USER_PIN}).ok


class RefusingStore(MemoryObjectStore):
    """A store that cannot write object records for now (a full or failing device)."""

    refuse = False

    def save_object(self, label: bytes, data: bytes, *, private: bool = False,
                    expected_revision: int | None = None) -> int:
        if self.refuse and b"/o/" in label:
            raise DeviceError("simulated write failure")
        return super().save_object(label, data, private=private,
                                   expected_revision=expected_revision)


def test_an_old_format_record_opens_when_it_cannot_be_migrated(
    config: Config, caplog: pytest.LogCaptureFixture,
) -> None:
    store = RefusingStore()
    module = new_module(config, store)
    module.init_token(0, SO_PIN, b"old".ljust(32))
    session = module.open_session(0, RW)
    module.login(session, CKU.SO, SO_PIN)
    module.init_pin(session, USER_PIN)
    module.logout(session)
    module.login(session, CKU.USER, USER_PIN)
    ec_key(module, session, b"k")
    module.finalize()
    make_legacy(store, module.crypto, os.urandom, SO_PIN, USER_PIN)
    store.refuse = True

    other, session = logged_in(config, store)
    signs(other, session, b"k")  # it opens and signs, in the old format
    assert "not rewrite object record" in caplog.text
    assert _versions(store)[find_record(store, CKO.PRIVATE_KEY, b"k").label] == (1, False)
    assert not user_pin_marked(store, other.crypto, USER_PIN)  # not marked: it would be lost
    store.refuse = False
    (handle,) = keys_labelled(other, session, CKO.PRIVATE_KEY, b"k")
    other.set_attribute_value(session, handle, [(CKA.LABEL, b"k2")])  # the next write migrates
    assert _versions(store)[find_record(store, CKO.PRIVATE_KEY, b"k2").label] == (2, True)
    other.finalize()
    other, session = logged_in(config, store)  # nothing old remains: the login marks it
    assert user_pin_marked(store, other.crypto, USER_PIN)
    (handle,) = keys_labelled(other, session, CKO.PRIVATE_KEY, b"k2")
    other.finalize()


def test_an_old_format_record_with_a_bad_sealed_value_is_dropped(
    config: Config, store: MemoryObjectStore, module: Module, user: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ec_key(module, user, b"k")
    module.finalize()
    make_legacy(store, module.crypto, os.urandom, SO_PIN, USER_PIN)
    entry = find_record(store, CKO.PRIVATE_KEY, b"k")
    blob = sealed_blob(store, entry, CKA.VALUE)
    rewrite(store, entry, lambda data: with_entry(data, CKA.VALUE, blob[:-1] + bytes(
        [blob[-1] ^ 1])))
    other, session = logged_in(config, store)
    assert keys_labelled(other, session, CKO.PRIVATE_KEY, b"k") == []
    refused(caplog, entry, "integrity check")
    other.finalize()
