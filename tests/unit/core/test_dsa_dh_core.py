"""DSA and PKCS #3 DH objects through the Cryptoki core (PKCS #11 v2.40 s4.13 domain
parameter objects, Current Mechanisms s2.2 and s2.5): C_GenerateKey making CKO_DOMAIN_PARAMETERS,
the template rules of C_CreateObject, generation and C_CopyObject, secret attributes,
C_DeriveKey, PKCS #8 wrapping, and parameter generation running without the state lock."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKA, CKK, CKM, CKO, CKR
from tokenport.core.module import Module
from tokenport.errors import (
    AttributeReadOnly,
    AttributeTypeInvalid,
    AttributeValueInvalid,
    DomainParamsInvalid,
    KeySizeRange,
    MechanismParamInvalid,
    SignatureInvalid,
    TemplateIncomplete,
    TemplateInconsistent,
)
from tokenport.mechanisms.common import int_bytes
from tokenport.mechanisms.params import Mechanism
from tokenport.ports.crypto import DhParameters

from ..mechanisms.test_dh import FFDHE2048_P
from ..mechanisms.test_dsa import KEYPAIR
from .records import find_record, sealed_blob
from .test_core_on_fake_crypto import fake_module

DH_DOMAIN = [(CKA.PRIME, int_bytes(FFDHE2048_P)), (CKA.BASE, b"\x02")]


def _values(module: Module, session: int, handle: int, *attrs: int) -> list[object]:
    return [r.value for r in module.get_attribute_value(session, handle, list(attrs))]


def _dsa_domain(fields: dict[str, str]) -> list[tuple[int, object]]:
    return [(CKA.PRIME, bytes.fromhex(fields["P"])), (CKA.SUBPRIME, bytes.fromhex(fields["Q"])),
            (CKA.BASE, bytes.fromhex(fields["G"]))]


def _dsa_params(module: Module, session: int) -> int:
    return module.generate_key(session, Mechanism(CKM.DSA_PARAMETER_GEN), [
        (CKA.CLASS, int(CKO.DOMAIN_PARAMETERS)), (CKA.PRIME_BITS, 2048), (CKA.LABEL, b"dsa")])


def test_dsa_parameter_generation_makes_a_domain_parameter_object(module: Module, user: int) -> None:
    handle = _dsa_params(module, user)
    cls, key_type, local, bits, sub_bits, label = _values(
        module, user, handle, CKA.CLASS, CKA.KEY_TYPE, CKA.LOCAL, CKA.PRIME_BITS, CKA.SUB_PRIME_BITS,
        CKA.LABEL)
    assert (cls, key_type, local, bits, sub_bits, label) == (
        CKO.DOMAIN_PARAMETERS, CKK.DSA, True, 2048, 256, b"dsa")
    p, q, g = _values(module, user, handle, CKA.PRIME, CKA.SUBPRIME, CKA.BASE)
    assert isinstance(p, bytes) and isinstance(q, bytes) and isinstance(g, bytes)
    assert len(p) == 256 and len(q) == 32
    (value,) = module.get_attribute_value(user, handle, [CKA.VALUE])
    assert value.error == CKR.ATTRIBUTE_TYPE_INVALID
    # the key pair made from the object's values signs and verifies
    public, private = module.generate_key_pair(
        user, Mechanism(CKM.DSA_KEY_PAIR_GEN), [(CKA.PRIME, p), (CKA.SUBPRIME, q), (CKA.BASE, g)], [])
    module.sign_init(user, Mechanism(CKM.DSA_SHA256), private)
    signature = module.sign(user, b"data")
    assert len(signature) == 64
    module.verify_init(user, Mechanism(CKM.DSA_SHA256), public)
    module.verify(user, b"data", signature)
    module.verify_init(user, Mechanism(CKM.DSA_SHA256), public)
    with pytest.raises(SignatureInvalid):
        module.verify(user, b"datA", signature)


def test_parameter_generation_template_rules(module: Module, user: int) -> None:
    gen = Mechanism(CKM.DSA_PARAMETER_GEN)
    with pytest.raises(TemplateIncomplete):
        module.generate_key(user, gen, [(CKA.CLASS, int(CKO.DOMAIN_PARAMETERS))])
    with pytest.raises(TemplateInconsistent):
        module.generate_key(user, gen, [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.PRIME_BITS, 2048)])
    with pytest.raises(TemplateInconsistent):
        module.generate_key(user, gen, [(CKA.KEY_TYPE, int(CKK.DH)), (CKA.PRIME_BITS, 2048)])
    with pytest.raises(AttributeReadOnly):
        module.generate_key(user, gen, [(CKA.PRIME_BITS, 2048), (CKA.PRIME, b"\x07")])
    with pytest.raises(AttributeReadOnly):
        module.generate_key(user, gen, [(CKA.PRIME_BITS, 2048), (CKA.LOCAL, True)])
    with pytest.raises(AttributeTypeInvalid):
        module.generate_key(user, gen, [(CKA.PRIME_BITS, 2048), (CKA.SENSITIVE, True)])
    with pytest.raises(KeySizeRange):
        module.generate_key(user, gen, [(CKA.PRIME_BITS, 1024)])
    with pytest.raises(KeySizeRange):
        module.generate_key(user, Mechanism(CKM.DH_PKCS_PARAMETER_GEN), [(CKA.PRIME_BITS, 4096)])
    # a CKO_DOMAIN_PARAMETERS template cannot use a secret key mechanism
    with pytest.raises(TemplateInconsistent):
        module.generate_key(user, Mechanism(CKM.AES_KEY_GEN), [
            (CKA.CLASS, int(CKO.DOMAIN_PARAMETERS)), (CKA.VALUE_LEN, 16)])


def test_create_domain_parameter_objects(module: Module, user: int) -> None:
    _, fields = KEYPAIR[0]  # 1024/160 is accepted for objects
    base = [(CKA.CLASS, int(CKO.DOMAIN_PARAMETERS)), (CKA.KEY_TYPE, int(CKK.DSA))]
    handle = module.create_object(user, base + _dsa_domain(fields))
    assert _values(module, user, handle, CKA.LOCAL, CKA.PRIME_BITS, CKA.SUB_PRIME_BITS, CKA.PRIVATE) == [
        False, 1024, 160, False]
    with pytest.raises(AttributeReadOnly):
        module.create_object(user, base + _dsa_domain(fields) + [(CKA.PRIME_BITS, 1024)])
    with pytest.raises(AttributeReadOnly):
        module.create_object(user, base + _dsa_domain(fields) + [(CKA.LOCAL, True)])
    with pytest.raises(TemplateIncomplete):
        module.create_object(user, base + _dsa_domain(fields)[:2])
    bad = [(CKA.PRIME, bytes.fromhex(fields["P"])), (CKA.SUBPRIME, b"\x0b"), (CKA.BASE, b"\x02")]
    with pytest.raises(DomainParamsInvalid):
        module.create_object(user, base + bad)
    with pytest.raises(AttributeValueInvalid):  # no such key type for domain parameters
        module.create_object(user, [(CKA.CLASS, int(CKO.DOMAIN_PARAMETERS)), (CKA.KEY_TYPE, int(CKK.EC))])
    dh = module.create_object(user, [(CKA.CLASS, int(CKO.DOMAIN_PARAMETERS)),
                                     (CKA.KEY_TYPE, int(CKK.DH))] + DH_DOMAIN)
    assert _values(module, user, dh, CKA.PRIME_BITS, CKA.LOCAL) == [2048, False]
    with pytest.raises(AttributeTypeInvalid):
        module.create_object(user, [(CKA.CLASS, int(CKO.DOMAIN_PARAMETERS)),
                                    (CKA.KEY_TYPE, int(CKK.DH)), (CKA.SUBPRIME, b"\x05")] + DH_DOMAIN)
    # C_CopyObject may relabel but not change the parameters
    copy = module.copy_object(user, dh, [(CKA.LABEL, b"copy")])
    assert _values(module, user, copy, CKA.PRIME, CKA.LABEL) == [DH_DOMAIN[0][1], b"copy"]
    with pytest.raises(AttributeReadOnly):
        module.copy_object(user, dh, [(CKA.BASE, b"\x05")])
    with pytest.raises(AttributeReadOnly):
        module.set_attribute_value(user, dh, [(CKA.PRIME_BITS, 1024)])


def test_dsa_key_objects(module: Module, user: int) -> None:
    _, fields = KEYPAIR[20]  # 2048/256
    domain = _dsa_domain(fields)
    private = module.create_object(user, [
        (CKA.CLASS, int(CKO.PRIVATE_KEY)), (CKA.KEY_TYPE, int(CKK.DSA)),
        (CKA.VALUE, bytes.fromhex(fields["X"]))] + domain)
    public = module.create_object(user, [
        (CKA.CLASS, int(CKO.PUBLIC_KEY)), (CKA.KEY_TYPE, int(CKK.DSA)),
        (CKA.VALUE, bytes.fromhex(fields["Y"]))] + domain)
    results = module.get_attribute_value(user, private, [CKA.VALUE, CKA.PRIME, CKA.PUBLIC_KEY_INFO, CKA.LOCAL])
    assert results[0].error == CKR.ATTRIBUTE_SENSITIVE
    assert results[1].value == domain[0][1] and results[3].value is False
    (spki,) = _values(module, user, public, CKA.PUBLIC_KEY_INFO)
    assert spki == results[2].value and isinstance(spki, bytes) and len(spki) > 256
    module.sign_init(user, Mechanism(CKM.DSA), private)
    signature = module.sign(user, bytes(32))
    module.verify_init(user, Mechanism(CKM.DSA), public)
    module.verify(user, bytes(32), signature)
    # C_CopyObject cannot weaken the copy nor change the key material
    with pytest.raises(AttributeReadOnly):
        module.copy_object(user, private, [(CKA.SENSITIVE, False)])
    with pytest.raises(AttributeReadOnly):
        module.copy_object(user, private, [(CKA.VALUE, b"\x01")])
    # creation checks
    x_too_big = [(CKA.CLASS, int(CKO.PRIVATE_KEY)), (CKA.KEY_TYPE, int(CKK.DSA)),
                 (CKA.VALUE, bytes.fromhex(fields["Q"]))] + domain
    with pytest.raises(AttributeValueInvalid):
        module.create_object(user, x_too_big)
    with pytest.raises(TemplateIncomplete):
        module.create_object(user, [(CKA.CLASS, int(CKO.PUBLIC_KEY)), (CKA.KEY_TYPE, int(CKK.DSA)),
                                    (CKA.VALUE, bytes.fromhex(fields["Y"]))] + domain[:2])
    with pytest.raises(AttributeReadOnly):
        module.create_object(user, [(CKA.CLASS, int(CKO.PRIVATE_KEY)), (CKA.KEY_TYPE, int(CKK.DH)),
                                    (CKA.VALUE, b"\x09"), (CKA.VALUE_BITS, 4)] + DH_DOMAIN)


def test_1024_bit_dsa_keys_verify_but_do_not_sign(module: Module, user: int) -> None:
    _, fields = KEYPAIR[0]
    domain = _dsa_domain(fields)
    private = module.create_object(user, [
        (CKA.CLASS, int(CKO.PRIVATE_KEY)), (CKA.KEY_TYPE, int(CKK.DSA)),
        (CKA.VALUE, bytes.fromhex(fields["X"]))] + domain)
    with pytest.raises(KeySizeRange):
        module.sign_init(user, Mechanism(CKM.DSA_SHA1), private)
    with pytest.raises(KeySizeRange):
        module.generate_key_pair(user, Mechanism(CKM.DSA_KEY_PAIR_GEN), domain, [])


def test_generated_dsa_pair_attributes_and_template_rules(module: Module, user: int) -> None:
    _, fields = KEYPAIR[10]  # 2048/224
    domain = _dsa_domain(fields)
    gen = Mechanism(CKM.DSA_KEY_PAIR_GEN)
    public, private = module.generate_key_pair(user, gen, domain + [(CKA.TOKEN, True)],
                                               [(CKA.TOKEN, True), (CKA.EXTRACTABLE, True),
                                                (CKA.SENSITIVE, False)])
    assert _values(module, user, private, CKA.LOCAL, CKA.KEY_GEN_MECHANISM, CKA.PRIME) == [
        True, CKM.DSA_KEY_PAIR_GEN, domain[0][1]]
    (x,) = _values(module, user, private, CKA.VALUE)
    (y,) = _values(module, user, public, CKA.VALUE)
    assert isinstance(x, bytes) and isinstance(y, bytes) and len(x) == 28
    p, g = int(fields["P"], 16), int(fields["G"], 16)
    assert pow(g, int.from_bytes(x, "big"), p) == int.from_bytes(y, "big")
    with pytest.raises(TemplateIncomplete):
        module.generate_key_pair(user, gen, domain[1:], [])
    with pytest.raises(AttributeReadOnly):  # the private key's parameters come from the public template
        module.generate_key_pair(user, gen, domain, domain[:1])
    with pytest.raises(AttributeReadOnly):
        module.generate_key_pair(user, gen, domain + [(CKA.VALUE, y)], [])


def test_dh_derive_between_two_token_keys(module: Module, user: int) -> None:
    gen = Mechanism(CKM.DH_PKCS_KEY_PAIR_GEN)
    public_a, private_a = module.generate_key_pair(user, gen, DH_DOMAIN, [(CKA.VALUE_BITS, 256),
                                                                        (CKA.DERIVE, True)])
    public_b, private_b = module.generate_key_pair(user, gen, DH_DOMAIN, [(CKA.DERIVE, True)])
    assert _values(module, user, private_a, CKA.VALUE_BITS, CKA.PRIME, CKA.DERIVE) == [256, DH_DOMAIN[0][1], True]
    (y_a,) = _values(module, user, public_a, CKA.VALUE)
    (y_b,) = _values(module, user, public_b, CKA.VALUE)
    assert isinstance(y_a, bytes) and isinstance(y_b, bytes)
    template = [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)),
                (CKA.VALUE_LEN, 32), (CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True)]
    key_a = module.derive_key(user, Mechanism(CKM.DH_PKCS_DERIVE, y_b), private_a, template)
    key_b = module.derive_key(user, Mechanism(CKM.DH_PKCS_DERIVE, y_a), private_b, template)
    (value_a,) = _values(module, user, key_a, CKA.VALUE)
    assert value_a == _values(module, user, key_b, CKA.VALUE)[0]
    assert isinstance(value_a, bytes) and len(value_a) == 32
    # sensitivity rules inherited from the base key (s2.5.6; s4.10 footnotes)
    assert _values(module, user, key_a, CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE) == [False, False]
    aes = module.derive_key(user, Mechanism(CKM.DH_PKCS_DERIVE, y_b), private_a, [
        (CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.AES)), (CKA.VALUE_LEN, 16)])
    assert _values(module, user, aes, CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE, CKA.LOCAL) == [
        True, True, False]
    assert module.get_attribute_value(user, aes, [CKA.VALUE])[0].error == CKR.ATTRIBUTE_SENSITIVE
    for bad in (b"\x00", b"\x01", int_bytes(FFDHE2048_P - 1), None):
        with pytest.raises(MechanismParamInvalid):
            module.derive_key(user, Mechanism(CKM.DH_PKCS_DERIVE, bad), private_a, template)


def test_dsa_and_dh_private_keys_wrap_as_pkcs8(module: Module, user: int) -> None:
    kek = module.generate_key(user, Mechanism(CKM.AES_KEY_GEN), [
        (CKA.VALUE_LEN, 32), (CKA.WRAP, True), (CKA.UNWRAP, True), (CKA.ENCRYPT, False),
        (CKA.DECRYPT, False)])
    _, fields = KEYPAIR[25]
    public, private = module.generate_key_pair(user, Mechanism(CKM.DSA_KEY_PAIR_GEN),
                                               _dsa_domain(fields), [(CKA.EXTRACTABLE, True)])
    wrap = Mechanism(CKM.AES_KEY_WRAP_PAD)
    wrapped = module.wrap_key(user, wrap, kek, private)
    copy = module.unwrap_key(user, wrap, kek, wrapped, [
        (CKA.CLASS, int(CKO.PRIVATE_KEY)), (CKA.KEY_TYPE, int(CKK.DSA)), (CKA.SIGN, True)])
    assert _values(module, user, copy, CKA.KEY_TYPE, CKA.SUBPRIME, CKA.LOCAL) == [
        CKK.DSA, bytes.fromhex(fields["Q"]), False]
    module.sign_init(user, Mechanism(CKM.DSA_SHA512), copy)
    signature = module.sign(user, b"wrapped and back")
    module.verify_init(user, Mechanism(CKM.DSA_SHA512), public)
    module.verify(user, b"wrapped and back", signature)

    dh_public, dh_private = module.generate_key_pair(user, Mechanism(CKM.DH_PKCS_KEY_PAIR_GEN),
                                                     DH_DOMAIN, [(CKA.EXTRACTABLE, True),
                                                                 (CKA.DERIVE, True)])
    dh_copy = module.unwrap_key(user, wrap, kek, module.wrap_key(user, wrap, kek, dh_private), [
        (CKA.CLASS, int(CKO.PRIVATE_KEY)), (CKA.KEY_TYPE, int(CKK.DH)), (CKA.DERIVE, True)])
    (y,) = _values(module, user, dh_public, CKA.VALUE)
    assert isinstance(y, bytes)
    template = [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)),
                (CKA.VALUE_LEN, 24), (CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True)]
    one = module.derive_key(user, Mechanism(CKM.DH_PKCS_DERIVE, y), dh_private, template)
    two = module.derive_key(user, Mechanism(CKM.DH_PKCS_DERIVE, y), dh_copy, template)
    assert _values(module, user, one, CKA.VALUE) == _values(module, user, two, CKA.VALUE)


def test_parameter_generation_holds_no_lock(module: Module, user: int) -> None:
    """C_GenerateKey with a slow parameter generation leaves other calls free to run."""
    started, release = threading.Event(), threading.Event()
    crypto = module.crypto
    original = crypto.dh_generate_parameters

    def slow(bits: int, generator: int) -> DhParameters:
        started.set()
        assert release.wait(10)
        return DhParameters(FFDHE2048_P, generator)

    crypto.dh_generate_parameters = slow  # type: ignore[method-assign]
    outcome: list[object] = []
    try:
        worker = threading.Thread(target=lambda: outcome.append(module.generate_key(
            user, Mechanism(CKM.DH_PKCS_PARAMETER_GEN), [(CKA.PRIME_BITS, 2048)])))
        worker.start()
        assert started.wait(10)
        other = module.open_session(0, 6)
        assert len(module.generate_random(other, 16)) == 16
        module.find_objects_init(other, [(CKA.CLASS, int(CKO.DOMAIN_PARAMETERS))])
        assert module.find_objects(other, 10) == []
        module.find_objects_final(other)
        release.set()
        worker.join(10)
    finally:
        release.set()
        crypto.dh_generate_parameters = original  # type: ignore[method-assign]
    (handle,) = outcome
    assert isinstance(handle, int)
    assert _values(module, user, handle, CKA.PRIME, CKA.LOCAL) == [int_bytes(FFDHE2048_P), True]


def test_dsa_and_dh_on_the_fake_crypto_port(tmp_path: Path) -> None:
    module, session = fake_module(tmp_path)
    params = module.generate_key(session, Mechanism(CKM.DSA_PARAMETER_GEN), [(CKA.PRIME_BITS, 2048)])
    domain = list(zip((CKA.PRIME, CKA.SUBPRIME, CKA.BASE),
                      _values(module, session, params, CKA.PRIME, CKA.SUBPRIME, CKA.BASE)))
    public, private = module.generate_key_pair(session, Mechanism(CKM.DSA_KEY_PAIR_GEN), domain, [])
    module.sign_init(session, Mechanism(CKM.DSA_SHA256), private)
    signature = module.sign(session, b"fake")
    module.verify_init(session, Mechanism(CKM.DSA_SHA256), public)
    module.verify(session, b"fake", signature)
    module.verify_init(session, Mechanism(CKM.DSA_SHA256), public)
    with pytest.raises(SignatureInvalid):
        module.verify(session, b"Fake", signature)
    dh_params = module.generate_key(session, Mechanism(CKM.DH_PKCS_PARAMETER_GEN), [(CKA.PRIME_BITS, 1024)])
    dh_domain = list(zip((CKA.PRIME, CKA.BASE), _values(module, session, dh_params, CKA.PRIME, CKA.BASE)))
    dh_gen = Mechanism(CKM.DH_PKCS_KEY_PAIR_GEN)
    pub_a, priv_a = module.generate_key_pair(session, dh_gen, dh_domain, [(CKA.DERIVE, True)])
    pub_b, priv_b = module.generate_key_pair(session, dh_gen, dh_domain, [(CKA.DERIVE, True)])
    template = [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)),
                (CKA.VALUE_LEN, 16), (CKA.SENSITIVE, False)]
    (y_a,), (y_b,) = _values(module, session, pub_a, CKA.VALUE), _values(module, session, pub_b, CKA.VALUE)
    assert isinstance(y_a, bytes) and isinstance(y_b, bytes)
    one = module.derive_key(session, Mechanism(CKM.DH_PKCS_DERIVE, y_b), priv_a, template)
    two = module.derive_key(session, Mechanism(CKM.DH_PKCS_DERIVE, y_a), priv_b, template)
    assert _values(module, session, one, CKA.VALUE) == _values(module, session, two, CKA.VALUE)


def test_private_values_are_sealed_at_rest(module: Module, user: int, store: MemoryObjectStore) -> None:
    _, fields = KEYPAIR[20]
    x = bytes.fromhex(fields["X"])
    module.create_object(user, [
        (CKA.CLASS, int(CKO.PRIVATE_KEY)), (CKA.KEY_TYPE, int(CKK.DSA)), (CKA.VALUE, x),
        (CKA.TOKEN, True), (CKA.LABEL, b"dsa-at-rest")] + _dsa_domain(fields))
    _, dh_private = module.generate_key_pair(user, Mechanism(CKM.DH_PKCS_KEY_PAIR_GEN), DH_DOMAIN,
                                             [(CKA.TOKEN, True), (CKA.LABEL, b"dh-at-rest"),
                                              (CKA.EXTRACTABLE, True), (CKA.SENSITIVE, False)])
    (dh_x,) = _values(module, user, dh_private, CKA.VALUE)
    assert isinstance(dh_x, bytes) and len(dh_x) > 200
    for label, secret in ((b"dsa-at-rest", x), (b"dh-at-rest", dh_x)):
        entry = find_record(store, CKO.PRIVATE_KEY, label)
        raw = store.get_object_value(entry.handle)[0]
        assert secret not in raw
        assert len(sealed_blob(store, entry, CKA.VALUE)) >= len(secret)
