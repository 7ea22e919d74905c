"""DES key objects through every door of the core (PKCS #11 v2.40 s5.7, s5.14; Current
Mechanisms s2.18, Historical Mechanisms (DES)): C_CreateObject, C_GenerateKey, C_UnwrapKey,
C_DeriveKey and C_CopyObject apply the same length, parity and CKA_VALUE_LEN rules;
derivation by encryption / concatenation keeps the base key's protection (s2.17, the
miscellaneous simple key derivations)."""

from __future__ import annotations

import pytest

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKK, CKM, CKO
from tokenport.core.module import Module
from tokenport.errors import (
    AttributeReadOnly,
    AttributeValueInvalid,
    DataLenRange,
    KeyFunctionNotPermitted,
    TemplateIncomplete,
    TemplateInconsistent,
)
from tokenport.mechanisms.des import has_odd_parity, is_weak, set_odd_parity
from tokenport.mechanisms.params import KeyHandleParam, Mechanism

ODD = bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123")
EVEN = bytes(b ^ 1 for b in ODD)  # the same key with every parity bit wrong
LENGTHS: dict[int, int] = {CKK.DES: 8, CKK.DES2: 16, CKK.DES3: 24}
Template = list[tuple[int, AttrValue]]


def _secret(key_type: int, *extra: tuple[int, AttrValue]) -> Template:
    return [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(key_type)), *extra]


def _value(module: Module, session: int, handle: int) -> bytes:
    (value,) = module.get_attribute_value(session, handle, [CKA.VALUE])
    assert isinstance(value.value, bytes)
    return value.value


def _readable() -> tuple[tuple[int, AttrValue], ...]:
    return ((CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True))


def _ecb(module: Module, session: int, key: int, mechanism: int = CKM.DES3_ECB) -> bytes:
    module.encrypt_init(session, Mechanism(mechanism), key)
    return module.encrypt(session, bytes(range(16)))


@pytest.mark.parametrize("key_type", [CKK.DES, CKK.DES2, CKK.DES3])
def test_create(module: Module, user: int, key_type: int) -> None:
    length = LENGTHS[key_type]
    odd = module.create_object(user, _secret(key_type, (CKA.VALUE, ODD[:length]), *_readable()))
    even = module.create_object(user, _secret(key_type, (CKA.VALUE, EVEN[:length]), *_readable()))
    # the token sets the parity bits; the cipher ignores them
    assert _value(module, user, odd) == _value(module, user, even) == ODD[:length]
    (value_len,) = module.get_attribute_value(user, odd, [CKA.VALUE_LEN])
    assert value_len.value == length
    mechanism = CKM.DES_ECB if key_type == CKK.DES else CKM.DES3_ECB
    assert _ecb(module, user, odd, mechanism) == _ecb(module, user, even, mechanism)
    for bad in (b"", ODD[: length - 1], ODD[:length] + b"\x01"):
        with pytest.raises(AttributeValueInvalid):
            module.create_object(user, _secret(key_type, (CKA.VALUE, bad)))
    with pytest.raises(TemplateIncomplete):
        module.create_object(user, _secret(key_type))
    with pytest.raises(AttributeReadOnly):  # CKA_VALUE_LEN is the token's, as for AES
        module.create_object(user, _secret(key_type, (CKA.VALUE, ODD[:length]),
                                           (CKA.VALUE_LEN, length)))


@pytest.mark.parametrize(
    ("mechanism", "key_type"),
    [(CKM.DES_KEY_GEN, CKK.DES), (CKM.DES2_KEY_GEN, CKK.DES2), (CKM.DES3_KEY_GEN, CKK.DES3)],
)
def test_generate(module: Module, user: int, mechanism: int, key_type: int) -> None:
    length = LENGTHS[key_type]
    key = module.generate_key(user, Mechanism(mechanism), list(_readable()))
    value = _value(module, user, key)
    assert len(value) == length and has_odd_parity(value) and not is_weak(value)
    attrs = module.get_attribute_value(user, key, [CKA.KEY_TYPE, CKA.VALUE_LEN, CKA.LOCAL,
                                                   CKA.KEY_GEN_MECHANISM])
    assert [a.value for a in attrs] == [key_type, length, True, mechanism]
    # a template may name CKA_VALUE_LEN with the fixed length only
    module.generate_key(user, Mechanism(mechanism), [(CKA.VALUE_LEN, length)])
    with pytest.raises(TemplateInconsistent):
        module.generate_key(user, Mechanism(mechanism), [(CKA.VALUE_LEN, 32)])
    with pytest.raises(TemplateInconsistent):  # another key type than the mechanism makes
        module.generate_key(user, Mechanism(mechanism), [(CKA.KEY_TYPE, int(CKK.AES))])


def _kek(module: Module, session: int) -> int:
    return module.create_object(session, _secret(
        CKK.DES3, (CKA.VALUE, ODD), (CKA.WRAP, True), (CKA.UNWRAP, True), (CKA.ENCRYPT, False),
        (CKA.DECRYPT, False)))


def test_unwrap(module: Module, user: int) -> None:
    kek = _kek(module, user)
    mech = Mechanism(CKM.DES3_CBC_PAD, b"\x07" * 8)
    target = module.create_object(user, _secret(CKK.DES2, (CKA.VALUE, EVEN[:16]), *_readable()))
    wrapped = module.wrap_key(user, mech, kek, target)
    assert len(wrapped) == 24
    copy = module.unwrap_key(user, mech, kek, wrapped, _secret(CKK.DES2, *_readable()))
    assert _value(module, user, copy) == ODD[:16]
    # a value with wrong parity bits from elsewhere: stored with the parity set
    value = bytes.fromhex("88aacceeff00224466880022446688aaccee00ff22446688")
    assert not has_odd_parity(value)
    foreign = module.create_object(user, _secret(CKK.GENERIC_SECRET, (CKA.VALUE, value),
                                                 (CKA.EXTRACTABLE, True)))
    fixed = module.unwrap_key(user, mech, kek, module.wrap_key(user, mech, kek, foreign),
                              _secret(CKK.DES3, *_readable()))
    assert _value(module, user, fixed) == set_odd_parity(value)
    short = module.create_object(user, _secret(CKK.GENERIC_SECRET, (CKA.VALUE, ODD[:8]),
                                               *_readable()))
    wrapped_short = module.wrap_key(user, mech, kek, short)
    with pytest.raises(AttributeValueInvalid):  # 8 bytes are no DES3 key
        module.unwrap_key(user, mech, kek, wrapped_short, _secret(CKK.DES3))
    with pytest.raises(TemplateInconsistent):
        module.unwrap_key(user, mech, kek, wrapped_short, _secret(CKK.DES3, (CKA.VALUE_LEN, 24)))
    with pytest.raises(TemplateInconsistent):
        module.unwrap_key(user, mech, kek, wrapped, _secret(CKK.DES2, (CKA.VALUE_LEN, 24)))


def test_derive_des_keys(module: Module, user: int) -> None:
    base = module.create_object(user, _secret(CKK.DES3, (CKA.VALUE, ODD), (CKA.DERIVE, True),
                                              *_readable()))
    data = bytes(range(32))
    mech = Mechanism(CKM.DES3_ECB_ENCRYPT_DATA, data)
    module.encrypt_init(user, Mechanism(CKM.DES3_ECB), base)
    ciphertext = module.encrypt(user, data)
    # the key type's fixed length when no CKA_VALUE_LEN: the leading bytes, parity set
    derived = module.derive_key(user, mech, base, _secret(CKK.DES3, *_readable()))
    assert _value(module, user, derived) == set_odd_parity(ciphertext[:24])
    des = module.derive_key(user, mech, base, _secret(CKK.DES, *_readable()))
    assert _value(module, user, des) == set_odd_parity(ciphertext[:8])
    generic = module.derive_key(user, mech, base, _secret(CKK.GENERIC_SECRET, *_readable()))
    assert _value(module, user, generic) == ciphertext
    aes = module.derive_key(user, mech, base, _secret(CKK.AES, (CKA.VALUE_LEN, 16), *_readable()))
    assert _value(module, user, aes) == ciphertext[:16]
    with pytest.raises(TemplateInconsistent):
        module.derive_key(user, mech, base, _secret(CKK.DES3, (CKA.VALUE_LEN, 16)))
    with pytest.raises(DataLenRange):  # 8 bytes of data cannot make a DES2 key (s2.17)
        module.derive_key(user, Mechanism(CKM.DES3_ECB_ENCRYPT_DATA, data[:8]), base,
                          _secret(CKK.DES2))


def test_copy(module: Module, user: int) -> None:
    key = module.create_object(user, _secret(CKK.DES3, (CKA.VALUE, EVEN), *_readable()))
    copy = module.copy_object(user, key, [(CKA.LABEL, b"copy")])
    assert _value(module, user, copy) == ODD
    assert _ecb(module, user, copy) == _ecb(module, user, key)
    with pytest.raises(AttributeReadOnly):  # no way round the parity rule by copying
        module.copy_object(user, key, [(CKA.VALUE, EVEN)])
    module.copy_object(user, key, [(CKA.VALUE_LEN, 24)])  # unchanged: allowed
    with pytest.raises(AttributeReadOnly):
        module.copy_object(user, key, [(CKA.VALUE_LEN, 16)])


# -- protection of derived keys (s2.17, miscellaneous simple key derivations) -------------------


def _attrs(module: Module, session: int, key: int, *types: int) -> list[AttrValue | None]:
    return [a.value for a in module.get_attribute_value(session, key, list(types))]


def test_derived_key_never_weaker_than_its_bases(module: Module, user: int) -> None:
    strong = module.generate_key(user, Mechanism(CKM.AES_KEY_GEN),
                                 [(CKA.VALUE_LEN, 16), (CKA.DERIVE, True)])
    weak = module.create_object(user, _secret(CKK.GENERIC_SECRET, (CKA.VALUE, b"w" * 16),
                                              (CKA.DERIVE, True), *_readable()))
    by_data = Mechanism(CKM.CONCATENATE_BASE_AND_DATA, b"")
    generic = _secret(CKK.GENERIC_SECRET)
    with pytest.raises(TemplateInconsistent):  # would reveal the base key as CKA_VALUE
        module.derive_key(user, by_data, strong, [*generic, (CKA.SENSITIVE, False)])
    with pytest.raises(TemplateInconsistent):
        module.derive_key(user, by_data, strong, [*generic, (CKA.EXTRACTABLE, True)])
    with pytest.raises(TemplateInconsistent):
        module.derive_key(user, Mechanism(CKM.AES_ECB_ENCRYPT_DATA, bytes(16)), strong,
                          [*generic, (CKA.SENSITIVE, False)])
    derived = module.derive_key(user, by_data, strong, generic)
    assert _attrs(module, user, derived, CKA.SENSITIVE, CKA.EXTRACTABLE, CKA.ALWAYS_SENSITIVE,
                  CKA.NEVER_EXTRACTABLE, CKA.LOCAL) == [True, False, True, True, False]
    # two bases: the weaker one's history counts, the stronger one's protection too
    both = module.derive_key(user, Mechanism(CKM.CONCATENATE_BASE_AND_KEY, KeyHandleParam(weak)),
                             strong, generic)
    assert _attrs(module, user, both, CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE) == [False, False]
    with pytest.raises(TemplateInconsistent):
        module.derive_key(user, Mechanism(CKM.CONCATENATE_BASE_AND_KEY, KeyHandleParam(strong)),
                          weak, [*generic, (CKA.SENSITIVE, False)])
    free = module.derive_key(user, Mechanism(CKM.CONCATENATE_DATA_AND_BASE, b"d"), weak,
                             [*generic, *_readable()])
    assert _value(module, user, free) == b"d" + b"w" * 16


def test_concatenate_base_and_key(module: Module, user: int) -> None:
    first = module.create_object(user, _secret(CKK.GENERIC_SECRET, (CKA.VALUE, b"a" * 8),
                                               (CKA.DERIVE, True), *_readable()))
    second = module.create_object(user, _secret(CKK.DES, (CKA.VALUE, ODD[:8]),
                                                (CKA.DERIVE, True), *_readable()))
    mech = Mechanism(CKM.CONCATENATE_BASE_AND_KEY, KeyHandleParam(second))
    joined = module.derive_key(user, mech, first, _secret(CKK.GENERIC_SECRET, *_readable()))
    assert _value(module, user, joined) == b"a" * 8 + ODD[:8]
    des2 = module.derive_key(user, mech, first, _secret(CKK.DES2, *_readable()))
    assert _value(module, user, des2) == set_odd_parity(b"a" * 8) + ODD[:8]
    no_derive = module.create_object(user, _secret(CKK.GENERIC_SECRET, (CKA.VALUE, b"n" * 8)))
    with pytest.raises(KeyFunctionNotPermitted):  # the second key must allow derivation too
        module.derive_key(user, Mechanism(CKM.CONCATENATE_BASE_AND_KEY, KeyHandleParam(no_derive)),
                          first, _secret(CKK.GENERIC_SECRET))
