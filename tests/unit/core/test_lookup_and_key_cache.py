"""Structural guarantees (not timings): indexed lookups and parsed-key caching."""

from __future__ import annotations

import pytest

from tokenport.ck import CKA, CKK, CKM, CKO
from tokenport.core.module import Module
from tokenport.core.object_calls import ObjectCalls
from tokenport.mechanisms.params import Mechanism

P256_OID = bytes.fromhex("06082a8648ce3d030107")


def test_find_by_label_id_or_class_examines_only_the_index_bucket(
    module: Module, user: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(300):
        module.create_object(user, [
            (CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)),
            (CKA.VALUE, bytes(16)), (CKA.LABEL, f"k{i}".encode()), (CKA.ID, i.to_bytes(2, "big")),
            (CKA.TOKEN, True), (CKA.PRIVATE, True),
        ])
    examined: list[object] = []
    original = ObjectCalls._matches

    def counting(self: ObjectCalls, session: object, obj: object, wanted: object) -> bool:
        examined.append(obj)
        return original(self, session, obj, wanted)  # type: ignore[arg-type]

    monkeypatch.setattr(ObjectCalls, "_matches", counting)
    for template in ([(CKA.LABEL, b"k123")], [(CKA.ID, (42).to_bytes(2, "big"))],
                     [(CKA.LABEL, b"k7"), (CKA.CLASS, int(CKO.SECRET_KEY))]):
        examined.clear()
        module.find_objects_init(user, template)
        assert len(module.find_objects(user, 10)) == 1
        module.find_objects_final(user)
        assert len(examined) == 1, "the search looked at more than the index bucket"


def test_a_key_is_parsed_once_and_again_only_after_it_changes(
    module: Module, user: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, private = module.generate_key_pair(
        user, Mechanism(CKM.EC_KEY_PAIR_GEN), [(CKA.EC_PARAMS, P256_OID)], [(CKA.TOKEN, True)]
    )
    crypto = module.crypto
    calls = []
    original = crypto.ec_private_from_scalar

    def counting(curve: str, scalar: int) -> object:
        calls.append(curve)
        return original(curve, scalar)  # type: ignore[arg-type]

    monkeypatch.setattr(crypto, "ec_private_from_scalar", counting)
    for _ in range(5):
        module.sign_init(user, Mechanism(CKM.ECDSA), private)
        assert len(module.sign(user, bytes(32))) == 64
    assert len(calls) == 1
    module.set_attribute_value(user, private, [(CKA.LABEL, b"renamed")])
    module.sign_init(user, Mechanism(CKM.ECDSA), private)
    module.sign(user, bytes(32))
    assert len(calls) == 2
