"""No path makes a protected object weaker (issue 9, items 1 and 14): the one-way
attributes hold through C_CopyObject and C_SetAttributeValue alike, attributes only the
token sets are refused in every template, and a refused attempt writes nothing to the
store (PKCS #11 v2.40 s4.4-4.10 tables 10, 26, 32, 35; s5.7)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKA, CKK, CKM, CKO, CKU
from tokenport.config import Config
from tokenport.core.module import Module
from tokenport.errors import AttributeReadOnly, ObjectHandleInvalid
from tokenport.mechanisms.params import Ecdh1DeriveParams, Mechanism

from .conftest import RO, RW, USER_PIN, new_module

P256_OID = bytes.fromhex("06082a8648ce3d030107")
SCALAR = bytes.fromhex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721")


def raw_store(store: MemoryObjectStore) -> bytes:
    return b"".join(
        store.get_object_value(entry.handle)[0] for entry in store.enumerate_objects(b"")
    )


def ec_private_key(module: Module, session: int, **extra: object) -> int:
    """A token EC private key with a known scalar: private, sensitive, non-extractable."""
    template: list[tuple[int, object]] = [
        (CKA.CLASS, int(CKO.PRIVATE_KEY)), (CKA.KEY_TYPE, int(CKK.EC)),
        (CKA.EC_PARAMS, P256_OID), (CKA.VALUE, SCALAR), (CKA.TOKEN, True),
        (CKA.LABEL, b"device key"), (CKA.SIGN, True),
    ]
    template += [(getattr(CKA, k.upper()), v) for k, v in extra.items()]
    return module.create_object(session, template)


def attribute(module: Module, session: int, handle: int, attr: int) -> object:
    (result,) = module.get_attribute_value(session, handle, [attr])
    return result.value


def test_a_private_key_cannot_be_copied_to_a_public_object(
    config: Config, store: MemoryObjectStore, module: Module, user: int
) -> None:
    """The review's attack: copy with {CKA_PRIVATE: FALSE, CKA_TOKEN: TRUE}; then a new
    process without login would find the copy and sign with it."""
    key = ec_private_key(module, user)
    before = {e.label for e in store.enumerate_objects(b"")}
    with pytest.raises(AttributeReadOnly):
        module.copy_object(user, key, [(CKA.PRIVATE, False), (CKA.TOKEN, True)])
    assert {e.label for e in store.enumerate_objects(b"")} == before
    assert SCALAR not in raw_store(store)

    other = new_module(config, store)
    public = other.open_session(0, RO)
    other.find_objects_init(public, [(CKA.CLASS, int(CKO.PRIVATE_KEY))])
    assert other.find_objects(public, 10) == []
    other.finalize()


@pytest.mark.parametrize("path", ["set", "copy"])
@pytest.mark.parametrize(
    ("attr", "start", "weaker"),
    [
        (CKA.SENSITIVE, True, False),
        (CKA.EXTRACTABLE, False, True),
        (CKA.WRAP_WITH_TRUSTED, True, False),
        (CKA.ALWAYS_AUTHENTICATE, True, False),
        (CKA.DESTROYABLE, False, True),
    ],
)
def test_one_way_attributes_never_weaken(
    store: MemoryObjectStore, module: Module, user: int, path: str, attr: int, start: bool,
    weaker: bool,
) -> None:
    key = ec_private_key(module, user, **{CKA(attr).name.lower(): start})
    before = raw_store(store)
    with pytest.raises(AttributeReadOnly):
        if path == "set":
            module.set_attribute_value(user, key, [(attr, weaker)])
        else:
            module.copy_object(user, key, [(attr, weaker)])
    assert attribute(module, user, key, attr) is start
    assert raw_store(store) == before
    assert SCALAR not in raw_store(store)


def test_a_private_copy_may_be_made_and_stays_sealed(
    store: MemoryObjectStore, module: Module, user: int
) -> None:
    key = ec_private_key(module, user)
    copy = module.copy_object(user, key, [(CKA.LABEL, b"copy"), (CKA.PRIVATE, True)])
    assert attribute(module, user, copy, CKA.PRIVATE) is True
    assert SCALAR not in raw_store(store)
    # stronger copies are fine too
    stronger = module.copy_object(user, key, [(CKA.SIGN, False), (CKA.MODIFIABLE, False)])
    assert attribute(module, user, stronger, CKA.SIGN) is False


@pytest.mark.parametrize("path", ["set", "copy"])
@pytest.mark.parametrize(
    "attr",
    [CKA.LOCAL, CKA.KEY_GEN_MECHANISM, CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE,
     CKA.UNIQUE_ID],
)
def test_token_set_attributes_are_refused_even_unchanged(
    module: Module, user: int, path: str, attr: int
) -> None:
    """CKA_LOCAL and friends are facts the token records; a template may not name them,
    not even with their current value (item 14)."""
    key = module.generate_key(user, Mechanism(CKM.AES_KEY_GEN), [(CKA.VALUE_LEN, 16)])
    current = attribute(module, user, key, attr)
    other = not current if isinstance(current, bool) else (0 if isinstance(current, int) else b"x")
    for value in (current, other):
        with pytest.raises(AttributeReadOnly):
            if path == "set":
                module.set_attribute_value(user, key, [(attr, value)])
            else:
                module.copy_object(user, key, [(attr, value)])
    assert attribute(module, user, key, attr) == current


@pytest.mark.parametrize(
    "attr", [CKA.LOCAL, CKA.KEY_GEN_MECHANISM, CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE]
)
def test_token_set_attributes_are_refused_at_creation(
    module: Module, user: int, attr: int
) -> None:
    value: object = CKM.AES_KEY_GEN if attr == CKA.KEY_GEN_MECHANISM else True
    secret = [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.AES))]
    with pytest.raises(AttributeReadOnly):
        module.create_object(user, secret + [(CKA.VALUE, bytes(16)), (attr, value)])
    with pytest.raises(AttributeReadOnly):
        module.generate_key(user, Mechanism(CKM.AES_KEY_GEN), [(CKA.VALUE_LEN, 16), (attr, value)])
    wrapper = module.generate_key(
        user, Mechanism(CKM.AES_KEY_GEN),
        [(CKA.VALUE_LEN, 16), (CKA.WRAP, True), (CKA.UNWRAP, True), (CKA.ENCRYPT, False),
         (CKA.DECRYPT, False)],
    )
    target = module.generate_key(
        user, Mechanism(CKM.AES_KEY_GEN),
        [(CKA.VALUE_LEN, 16), (CKA.EXTRACTABLE, True), (CKA.SENSITIVE, False)],
    )
    wrapped = module.wrap_key(user, Mechanism(CKM.AES_KEY_WRAP), wrapper, target)
    with pytest.raises(AttributeReadOnly):
        module.unwrap_key(user, Mechanism(CKM.AES_KEY_WRAP), wrapper, wrapped, secret + [(attr, value)])
    _, alice = module.generate_key_pair(
        user, Mechanism(CKM.EC_KEY_PAIR_GEN), [(CKA.EC_PARAMS, P256_OID)], [(CKA.DERIVE, True)]
    )
    bob, _ = module.generate_key_pair(
        user, Mechanism(CKM.EC_KEY_PAIR_GEN), [(CKA.EC_PARAMS, P256_OID)], [(CKA.DERIVE, True)]
    )
    point = attribute(module, user, bob, CKA.EC_POINT)
    assert isinstance(point, bytes)
    with pytest.raises(AttributeReadOnly):
        module.derive_key(
            user, Mechanism(CKM.ECDH1_DERIVE, Ecdh1DeriveParams(1, b"", point)), alice,
            [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)),
             (CKA.VALUE_LEN, 32), (attr, value)],
        )


@pytest.mark.parametrize("path", ["set", "copy"])
def test_allowed_mechanisms_only_narrow(module: Module, user: int, path: str) -> None:
    change: Callable[[list[tuple[int, object]]], int | None]
    key = ec_private_key(
        module, user, allowed_mechanisms=(int(CKM.ECDSA), int(CKM.ECDSA_SHA256))
    )
    if path == "set":
        def change(template: list[tuple[int, object]]) -> int | None:
            module.set_attribute_value(user, key, template)
            return None
    else:
        def change(template: list[tuple[int, object]]) -> int | None:
            return module.copy_object(user, key, template)
    for wider in [(), (int(CKM.ECDSA), int(CKM.ECDSA_SHA256), int(CKM.ECDH1_DERIVE))]:
        with pytest.raises(AttributeReadOnly):
            change([(CKA.ALLOWED_MECHANISMS, wider)])
    narrowed = change([(CKA.ALLOWED_MECHANISMS, (int(CKM.ECDSA_SHA256),))])
    target = key if narrowed is None else narrowed
    assert attribute(module, user, target, CKA.ALLOWED_MECHANISMS) == (int(CKM.ECDSA_SHA256),)


def test_a_non_modifiable_object_copies_only_stronger(module: Module, user: int) -> None:
    key = ec_private_key(module, user, modifiable=False, decrypt=False, derive=False)
    for weaker in [(CKA.DECRYPT, True), (CKA.DERIVE, True), (CKA.LABEL, b"renamed"),
                   (CKA.MODIFIABLE, True)]:
        with pytest.raises(AttributeReadOnly):
            module.copy_object(user, key, [weaker])
    copy = module.copy_object(user, key, [(CKA.SIGN, False), (CKA.TOKEN, False)])
    assert attribute(module, user, copy, CKA.SIGN) is False
    assert attribute(module, user, copy, CKA.MODIFIABLE) is False


def test_a_refused_copy_of_a_public_session_object_is_harmless(module: Module, slot: int) -> None:
    """The rule is about protection, not about copies as such: public objects copy freely."""
    session = module.open_session(slot, RW)
    data = module.create_object(session, [(CKA.CLASS, int(CKO.DATA)), (CKA.VALUE, b"v")])
    copy = module.copy_object(session, data, [(CKA.LABEL, b"c")])
    assert attribute(module, session, copy, CKA.VALUE) == b"v"
    module.login(session, CKU.USER, USER_PIN)
    private = module.copy_object(session, data, [(CKA.PRIVATE, True)])
    module.logout(session)
    with pytest.raises(ObjectHandleInvalid):
        module.get_attribute_value(session, private, [CKA.VALUE])
