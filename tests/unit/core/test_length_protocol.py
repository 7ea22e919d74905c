"""The s5.2 length protocol answers for the data it was given (issue 9 item 3): a result
kept after a length query is handed out only for the same call with the same input; other
input is computed afresh, and an update's length query consumes nothing."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tokenport.ck import CKA, CKK, CKM, CKO
from tokenport.core.module import Module
from tokenport.core.operation import OpKind, Step
from tokenport.errors import OperationActive, OperationNotInitialized
from tokenport.mechanisms.params import GcmParams, Mechanism

KEY = bytes(range(32))
IV = bytes(16)


def hmac_key(module: Module, session: int) -> int:
    return module.create_object(session, [
        (CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)),
        (CKA.VALUE, KEY), (CKA.SIGN, True),
    ])


def aes_key(module: Module, session: int) -> int:
    return module.create_object(session, [
        (CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.AES)), (CKA.VALUE, KEY),
        (CKA.ENCRYPT, True), (CKA.DECRYPT, True),
    ])


def mac(data: bytes) -> bytes:
    return hmac.new(KEY, data, hashlib.sha256).digest()


def test_a_kept_signature_is_not_handed_out_for_other_data(module: Module, user: int) -> None:
    key = hmac_key(module, user)
    module.sign_init(user, Mechanism(CKM.SHA256_HMAC), key)
    assert module.produce(user, OpKind.SIGN, Step.ONCE, b"first", None).length == 32
    produced = module.produce(user, OpKind.SIGN, Step.ONCE, b"second", 32)
    assert produced.output == mac(b"second")
    # a too-small buffer keeps the result for the same input only
    module.sign_init(user, Mechanism(CKM.SHA256_HMAC), key)
    assert module.produce(user, OpKind.SIGN, Step.ONCE, b"first", 4).output is None
    assert module.produce(user, OpKind.SIGN, Step.ONCE, b"first", 32).output == mac(b"first")
    with pytest.raises(OperationNotInitialized):
        module.produce(user, OpKind.SIGN, Step.ONCE, b"first", 32)


def test_a_kept_plaintext_is_not_handed_out_for_other_ciphertext(
    module: Module, user: int
) -> None:
    key = aes_key(module, user)
    mech = Mechanism(CKM.AES_CBC_PAD, IV)
    module.encrypt_init(user, mech, key)
    one = module.encrypt(user, b"plaintext one")
    module.encrypt_init(user, mech, key)
    two = module.encrypt(user, b"the second plaintext")
    module.decrypt_init(user, mech, key)
    assert module.produce(user, OpKind.DECRYPT, Step.ONCE, one, None).length == 13
    assert module.produce(user, OpKind.DECRYPT, Step.ONCE, two, 64).output == (
        b"the second plaintext"
    )


def test_gcm_length_query_then_other_data_encrypts_the_other_data(
    module: Module, user: int
) -> None:
    key = aes_key(module, user)
    mech = Mechanism(CKM.AES_GCM, GcmParams(iv=bytes(12), aad=b"", tag_bits=128))
    module.encrypt_init(user, mech, key)
    assert module.produce(user, OpKind.ENCRYPT, Step.ONCE, b"short", None).length == 21
    sealed = module.produce(user, OpKind.ENCRYPT, Step.ONCE, b"a longer message", 64).output
    assert sealed is not None and len(sealed) == 32
    module.decrypt_init(user, mech, key)
    assert module.decrypt(user, sealed) == b"a longer message"


def test_an_update_length_query_consumes_nothing(module: Module, user: int) -> None:
    key = aes_key(module, user)
    mech = Mechanism(CKM.AES_CBC, IV)
    module.encrypt_init(user, mech, key)
    expected = module.encrypt(user, b"B" * 32)
    module.encrypt_init(user, mech, key)
    assert module.produce(user, OpKind.ENCRYPT, Step.UPDATE, b"A" * 32, None).length == 32
    assert module.produce(user, OpKind.ENCRYPT, Step.UPDATE, b"A" * 32, 16).output is None
    assert module.produce(user, OpKind.ENCRYPT, Step.UPDATE, b"B" * 32, 32).output == expected
    assert module.encrypt_final(user) == b""


def test_update_lengths_are_exact(module: Module, user: int) -> None:
    key = aes_key(module, user)
    for mechanism, parts in [
        (Mechanism(CKM.AES_CBC_PAD, IV), [5, 11, 1, 16, 33]),
        (Mechanism(CKM.AES_ECB), [3, 13, 16, 32]),
    ]:
        for kind in (OpKind.ENCRYPT, OpKind.DECRYPT):
            if kind is OpKind.ENCRYPT:
                module.encrypt_init(user, mechanism, key)
            else:
                module.decrypt_init(user, mechanism, key)
            for size in parts:
                asked = module.produce(user, kind, Step.UPDATE, bytes(size), None).length
                produced = module.produce(user, kind, Step.UPDATE, bytes(size), 1 << 20)
                assert produced.output is not None and len(produced.output) == asked
            module.end_operation(user, kind.value)


def test_another_step_after_a_length_query_starts_from_the_init_state(
    module: Module, user: int
) -> None:
    key = hmac_key(module, user)
    module.sign_init(user, Mechanism(CKM.SHA256_HMAC), key)
    assert module.produce(user, OpKind.SIGN, Step.ONCE, b"dropped", None).length == 32
    module.sign_update(user, b"kept")
    assert module.sign_final(user) == mac(b"kept")


def test_a_pending_final_result_must_be_collected(module: Module, user: int) -> None:
    key = aes_key(module, user)
    module.encrypt_init(user, Mechanism(CKM.AES_CBC_PAD, IV), key)
    module.encrypt_update(user, b"part")
    assert module.produce(user, OpKind.ENCRYPT, Step.FINAL, b"", None).length == 16
    with pytest.raises(OperationActive):
        module.encrypt_update(user, b"more")
    with pytest.raises(OperationNotInitialized):
        module.encrypt_final(user)
