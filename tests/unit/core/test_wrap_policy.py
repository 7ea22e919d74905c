"""Wrap-then-decrypt (Clulow's attack, issue 9 item 2): secret keys are not wrapping keys
unless asked, a sensitive key is never wrapped under a key that can also decrypt (nor
unwrapped under one that can encrypt), and ``[policy] allow_wrap_with_decrypt_key``
restores the permissive behaviour (PKCS #11 v2.40 s5.14 C_WrapKey / C_UnwrapKey)."""

from __future__ import annotations

import dataclasses

import pytest

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKA, CKK, CKM, CKO
from tokenport.config import Config
from tokenport.core.module import Module
from tokenport.errors import KeyFunctionNotPermitted
from tokenport.mechanisms.params import Mechanism

from .conftest import new_module

SECRET = [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.AES))]
IV = bytes(range(16))


def aes(module: Module, session: int, **flags: bool) -> int:
    template = [(CKA.VALUE_LEN, 16)] + [(getattr(CKA, k.upper()), v) for k, v in flags.items()]
    return module.generate_key(session, Mechanism(CKM.AES_KEY_GEN), template)


def attribute(module: Module, session: int, handle: int, attr: int) -> object:
    (result,) = module.get_attribute_value(session, handle, [attr])
    return result.value


def test_secret_keys_are_not_wrapping_keys_by_default(module: Module, user: int) -> None:
    key = aes(module, user)
    assert attribute(module, user, key, CKA.WRAP) is False
    assert attribute(module, user, key, CKA.UNWRAP) is False
    assert attribute(module, user, key, CKA.ENCRYPT) is True


def test_wrap_then_decrypt_is_refused(module: Module, user: int) -> None:
    """The attack: K (sensitive, extractable) wrapped under W with AES-CBC-PAD, then
    C_Decrypt with W would give K in clear."""
    wrapper = aes(module, user, wrap=True, decrypt=True)
    target = aes(module, user, extractable=True)
    mech = Mechanism(CKM.AES_CBC_PAD, IV)
    with pytest.raises(KeyFunctionNotPermitted):
        module.wrap_key(user, mech, wrapper, target)
    with pytest.raises(KeyFunctionNotPermitted):
        module.wrap_key(user, Mechanism(CKM.AES_KEY_WRAP), wrapper, target)


def test_unwrap_under_a_key_that_encrypts_is_refused(module: Module, user: int) -> None:
    """The converse: C_Encrypt chosen bytes under W, C_UnwrapKey them as a "sensitive" key
    whose value the caller knows. A non-sensitive result hides nothing and is allowed."""
    wrapper = aes(module, user, unwrap=True, encrypt=True)
    module.encrypt_init(user, Mechanism(CKM.AES_CBC_PAD, IV), wrapper)
    blob = module.encrypt(user, bytes(16))
    mech = Mechanism(CKM.AES_CBC_PAD, IV)
    with pytest.raises(KeyFunctionNotPermitted):
        module.unwrap_key(user, mech, wrapper, blob, SECRET)
    with pytest.raises(KeyFunctionNotPermitted):
        module.unwrap_key(user, mech, wrapper, blob, SECRET + [(CKA.SENSITIVE, True)])
    plain = module.unwrap_key(
        user, mech, wrapper, blob, SECRET + [(CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True)]
    )
    assert attribute(module, user, plain, CKA.VALUE) == bytes(16)


def test_separate_wrapping_keys_wrap_sensitive_keys(module: Module, user: int) -> None:
    wrapper = aes(module, user, wrap=True, unwrap=True, encrypt=False, decrypt=False)
    target = aes(module, user, extractable=True)
    wrapped = module.wrap_key(user, Mechanism(CKM.AES_KEY_WRAP), wrapper, target)
    copy = module.unwrap_key(user, Mechanism(CKM.AES_KEY_WRAP), wrapper, wrapped, SECRET)
    module.encrypt_init(user, Mechanism(CKM.AES_ECB), target)
    expected = module.encrypt(user, bytes(16))
    module.encrypt_init(user, Mechanism(CKM.AES_ECB), copy)
    assert module.encrypt(user, bytes(16)) == expected


def test_non_sensitive_keys_wrap_under_any_wrapping_key(module: Module, user: int) -> None:
    """Ordinary (non-sensitive) keys: the value is readable anyway, so nothing changes."""
    wrapper = aes(module, user, wrap=True, decrypt=True)
    target = aes(module, user, extractable=True, sensitive=False)
    wrapped = module.wrap_key(user, Mechanism(CKM.AES_CBC_PAD, IV), wrapper, target)
    module.decrypt_init(user, Mechanism(CKM.AES_CBC_PAD, IV), wrapper)
    assert module.decrypt(user, wrapped) == attribute(module, user, target, CKA.VALUE)


def test_rsa_wrap_is_refused_when_the_private_half_decrypts(module: Module, user: int) -> None:
    public, private = module.generate_key_pair(
        user, Mechanism(CKM.RSA_PKCS_KEY_PAIR_GEN),
        [(CKA.MODULUS_BITS, 2048), (CKA.WRAP, True)], [(CKA.DECRYPT, True)],
    )
    target = aes(module, user, extractable=True)
    with pytest.raises(KeyFunctionNotPermitted):
        module.wrap_key(user, Mechanism(CKM.RSA_PKCS), public, target)
    module.set_attribute_value(user, private, [(CKA.DECRYPT, False)])
    assert len(module.wrap_key(user, Mechanism(CKM.RSA_PKCS), public, target)) == 256


def test_the_policy_switch_allows_the_permissive_behaviour(
    config: Config, store: MemoryObjectStore, module: Module, user: int
) -> None:
    module.finalize()
    permissive = new_module(
        dataclasses.replace(config, allow_wrap_with_decrypt_key=True), store
    )
    from tokenport.ck import CKU

    from .conftest import RW, USER_PIN

    session = permissive.open_session(0, RW)
    permissive.login(session, CKU.USER, USER_PIN)
    wrapper = aes(permissive, session, wrap=True, unwrap=True, decrypt=True, encrypt=True)
    target = aes(permissive, session, extractable=True)
    mech = Mechanism(CKM.AES_CBC_PAD, IV)
    wrapped = permissive.wrap_key(session, mech, wrapper, target)
    permissive.decrypt_init(session, mech, wrapper)
    assert len(permissive.decrypt(session, wrapped)) == 16
    permissive.unwrap_key(session, mech, wrapper, wrapped, SECRET)
    permissive.finalize()


def test_the_policy_key_is_read_from_the_config_file(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    from tokenport.config import ConfigError, load_config

    home = Path(str(tmp_path))
    (home / "tokenport.toml").write_text("[policy]\nallow_wrap_with_decrypt_key = true\n")
    assert load_config({"TOKENPORT_HOME": str(home)}).allow_wrap_with_decrypt_key is True
    (home / "tokenport.toml").write_text("")
    assert load_config({"TOKENPORT_HOME": str(home)}).allow_wrap_with_decrypt_key is False
    (home / "tokenport.toml").write_text('[policy]\nallow_wrap_with_decrypt_key = "yes"\n')
    with pytest.raises(ConfigError, match="true or false"):
        load_config({"TOKENPORT_HOME": str(home)})
    (home / "tokenport.toml").write_text("[policy]\nwrap = true\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_config({"TOKENPORT_HOME": str(home)})


def test_a_wrapping_key_never_gains_decrypt_afterwards(module: Module, user: int) -> None:
    """Wrap under W (no CKA_DECRYPT), then give W, or a copy of W, CKA_DECRYPT: refused."""
    from tokenport.errors import AttributeReadOnly

    wrapper = aes(module, user, wrap=True, unwrap=True, encrypt=False, decrypt=False)
    target = aes(module, user, extractable=True)
    module.wrap_key(user, Mechanism(CKM.AES_KEY_WRAP), wrapper, target)
    for usage in (CKA.DECRYPT, CKA.ENCRYPT):
        with pytest.raises(AttributeReadOnly):
            module.set_attribute_value(user, wrapper, [(usage, True)])
        with pytest.raises(AttributeReadOnly):
            module.copy_object(user, wrapper, [(usage, True)])
        with pytest.raises(AttributeReadOnly):
            module.copy_object(user, wrapper, [(CKA.WRAP, False), (CKA.UNWRAP, False), (usage, True)])
    assert attribute(module, user, wrapper, CKA.DECRYPT) is False
    # giving up a capability is always fine
    module.set_attribute_value(user, wrapper, [(CKA.UNWRAP, False)])


def test_a_copy_that_only_wraps_still_shares_its_value_with_a_decrypting_key(
    module: Module, user: int
) -> None:
    """W can wrap and decrypt (python-pkcs11's default AES key); a copy W' keeps only
    CKA_WRAP. Wrapping under W' would be decrypted by W: refused, found by the value."""
    both = aes(module, user, wrap=True, unwrap=True, encrypt=True, decrypt=True)
    wrap_only = module.copy_object(
        user, both, [(CKA.ENCRYPT, False), (CKA.DECRYPT, False), (CKA.UNWRAP, False)]
    )
    target = aes(module, user, extractable=True)
    with pytest.raises(KeyFunctionNotPermitted):
        module.wrap_key(user, Mechanism(CKM.AES_KEY_WRAP), wrap_only, target)
    unwrap_only = module.copy_object(
        user, both, [(CKA.ENCRYPT, False), (CKA.DECRYPT, False), (CKA.WRAP, False)]
    )
    module.encrypt_init(user, Mechanism(CKM.AES_CBC_PAD, IV), both)
    chosen = module.encrypt(user, bytes(16))
    with pytest.raises(KeyFunctionNotPermitted):
        module.unwrap_key(user, Mechanism(CKM.AES_CBC_PAD, IV), unwrap_only, chosen, SECRET)
