"""CKA_ALWAYS_AUTHENTICATE is enforced (issue 9 item 13; PKCS #11 v2.40 s4.9 table 32 and
s5.6 C_Login with CKU_CONTEXT_SPECIFIC): each sign or decrypt operation with such a key
produces output only after a context-specific login of its own."""

from __future__ import annotations

import pytest

from tokenport.ck import CKA, CKF, CKK, CKM, CKO, CKU
from tokenport.core.module import Module
from tokenport.errors import (
    KeyFunctionNotPermitted,
    OperationNotInitialized,
    PinIncorrect,
    UserNotLoggedIn,
)
from tokenport.mechanisms.params import Ecdh1DeriveParams, Mechanism

from .conftest import USER_PIN

P256_OID = bytes.fromhex("06082a8648ce3d030107")


def key_pair(module: Module, session: int, always: bool = True) -> tuple[int, int]:
    return module.generate_key_pair(
        session, Mechanism(CKM.EC_KEY_PAIR_GEN), [(CKA.EC_PARAMS, P256_OID)],
        [(CKA.ALWAYS_AUTHENTICATE, always), (CKA.DERIVE, True)],
    )


def test_sign_needs_a_context_specific_login(module: Module, user: int) -> None:
    public, private = key_pair(module, user)
    module.sign_init(user, Mechanism(CKM.ECDSA_SHA256), private)
    with pytest.raises(UserNotLoggedIn):
        module.sign(user, b"message")
    # the failure ended the operation
    with pytest.raises(OperationNotInitialized):
        module.sign(user, b"message")

    module.sign_init(user, Mechanism(CKM.ECDSA_SHA256), private)
    module.login(user, CKU.CONTEXT_SPECIFIC, USER_PIN)
    signature = module.sign(user, b"message")
    module.verify_init(user, Mechanism(CKM.ECDSA_SHA256), public)
    module.verify(user, b"message", signature)

    # every new operation needs its own login
    module.sign_init(user, Mechanism(CKM.ECDSA_SHA256), private)
    with pytest.raises(UserNotLoggedIn):
        module.sign(user, b"again")


def test_multi_part_sign_also_waits_for_the_login(module: Module, user: int) -> None:
    _, private = key_pair(module, user)
    module.sign_init(user, Mechanism(CKM.ECDSA_SHA256), private)
    with pytest.raises(UserNotLoggedIn):
        module.sign_update(user, b"part")
    module.sign_init(user, Mechanism(CKM.ECDSA_SHA256), private)
    module.login(user, CKU.CONTEXT_SPECIFIC, USER_PIN)
    module.sign_update(user, b"part")
    assert len(module.sign_final(user)) == 64


def test_decrypt_needs_a_context_specific_login(module: Module, user: int) -> None:
    public, private = module.generate_key_pair(
        user, Mechanism(CKM.RSA_PKCS_KEY_PAIR_GEN), [(CKA.MODULUS_BITS, 2048)],
        [(CKA.ALWAYS_AUTHENTICATE, True)],
    )
    module.encrypt_init(user, Mechanism(CKM.RSA_PKCS), public)
    cipher = module.encrypt(user, b"secret")
    module.decrypt_init(user, Mechanism(CKM.RSA_PKCS), private)
    with pytest.raises(UserNotLoggedIn):
        module.decrypt(user, cipher)
    module.decrypt_init(user, Mechanism(CKM.RSA_PKCS), private)
    module.login(user, CKU.CONTEXT_SPECIFIC, USER_PIN)
    assert module.decrypt(user, cipher) == b"secret"


def test_context_specific_login_without_an_operation(module: Module, user: int) -> None:
    _, plain = key_pair(module, user, always=False)
    with pytest.raises(OperationNotInitialized):
        module.login(user, CKU.CONTEXT_SPECIFIC, USER_PIN)
    # an operation with an ordinary key waits for nothing either
    module.sign_init(user, Mechanism(CKM.ECDSA_SHA256), plain)
    with pytest.raises(OperationNotInitialized):
        module.login(user, CKU.CONTEXT_SPECIFIC, USER_PIN)
    assert len(module.sign(user, b"m")) == 64


def test_a_wrong_context_pin_is_counted_and_authorises_nothing(module: Module, user: int) -> None:
    _, private = key_pair(module, user)
    module.sign_init(user, Mechanism(CKM.ECDSA_SHA256), private)
    with pytest.raises(PinIncorrect):
        module.login(user, CKU.CONTEXT_SPECIFIC, b"wrong-pin")
    assert module.get_token_info(0).flags & CKF.USER_PIN_COUNT_LOW
    with pytest.raises(UserNotLoggedIn):
        module.sign(user, b"m")


def test_such_keys_neither_derive_nor_unwrap(module: Module, user: int) -> None:
    """C_DeriveKey and C_UnwrapKey are decryptions in one call, with no place for a
    context-specific login: refused for a CKA_ALWAYS_AUTHENTICATE key."""
    _, private = key_pair(module, user)
    peer, _ = key_pair(module, user, always=False)
    (point,) = module.get_attribute_value(user, peer, [CKA.EC_POINT])
    assert isinstance(point.value, bytes)
    with pytest.raises(KeyFunctionNotPermitted):
        module.derive_key(
            user, Mechanism(CKM.ECDH1_DERIVE, Ecdh1DeriveParams(1, b"", point.value)), private,
            [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)),
             (CKA.VALUE_LEN, 32)],
        )
    _, rsa = module.generate_key_pair(
        user, Mechanism(CKM.RSA_PKCS_KEY_PAIR_GEN), [(CKA.MODULUS_BITS, 2048)],
        [(CKA.ALWAYS_AUTHENTICATE, True), (CKA.UNWRAP, True)],
    )
    with pytest.raises(KeyFunctionNotPermitted):
        module.unwrap_key(
            user, Mechanism(CKM.RSA_PKCS), rsa, bytes(256),
            [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET))],
        )
