"""ML-DSA and ML-KEM keys through the core API (PKCS #11 v3.2 s6.66-6.67, s5.18
C_EncapsulateKey / C_DecapsulateKey): generation, import, attribute rules, KEM round trips
(pyca on both sides), and the same calls on the fake crypto port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKK, CKM, CKO, CKP_ML_DSA, CKP_ML_KEM, CKR
from tokenport.core.module import Module
from tokenport.errors import (
    AttributeReadOnly,
    AttributeValueInvalid,
    EncryptedDataLenRange,
    KeyFunctionNotPermitted,
    KeyHandleInvalid,
    KeyTypeInconsistent,
    MechanismInvalid,
    ParameterSetNotSupported,
    SignatureInvalid,
    TemplateIncomplete,
    TemplateInconsistent,
)
from tokenport.mechanisms.params import Mechanism, SignAdditionalContext

from ..mechanisms.test_pqc import DSA_FILES, KEM_FILES, read_rsp
from .test_core_on_fake_crypto import fake_module

Template = list[tuple[int, Any]]


def generate(module: Module, session: int, mechanism: int, parameter_set: int,
             private_extra: Template | None = None) -> tuple[int, int]:
    return module.generate_key_pair(
        session, Mechanism(mechanism), [(CKA.PARAMETER_SET, parameter_set), (CKA.TOKEN, False)],
        [(CKA.TOKEN, False), *(private_extra or [])],
    )


def value(module: Module, session: int, handle: int, attr: int) -> AttrValue | None:
    (result,) = module.get_attribute_value(session, handle, [attr])
    return result.value if result.error == CKR.OK else None


def error(module: Module, session: int, handle: int, attr: int) -> int:
    (result,) = module.get_attribute_value(session, handle, [attr])
    return result.error


def test_generated_mldsa_key_pair_attributes(module: Module, user: int) -> None:
    pub, priv = generate(module, user, CKM.ML_DSA_KEY_PAIR_GEN, CKP_ML_DSA.ML_DSA_65)
    assert value(module, user, pub, CKA.KEY_TYPE) == CKK.ML_DSA
    assert value(module, user, priv, CKA.PARAMETER_SET) == CKP_ML_DSA.ML_DSA_65
    assert value(module, user, priv, CKA.LOCAL) is True
    assert value(module, user, priv, CKA.KEY_GEN_MECHANISM) == CKM.ML_DSA_KEY_PAIR_GEN
    public = value(module, user, pub, CKA.VALUE)
    assert isinstance(public, bytes) and len(public) == 1952
    # v3.2 table 13 footnote 7: the seed of a sensitive private key is never revealed;
    # the token keeps no expanded CKA_VALUE (pyca cannot produce it).
    assert error(module, user, priv, CKA.SEED) == CKR.ATTRIBUTE_SENSITIVE
    assert error(module, user, priv, CKA.VALUE) == CKR.ATTRIBUTE_TYPE_INVALID
    module.sign_init(user, Mechanism(CKM.ML_DSA, SignAdditionalContext(context=b"ctx")), priv)
    signature = module.sign(user, b"document")
    assert len(signature) == 3309
    mldsa.MLDSA65PublicKey.from_public_bytes(public).verify(signature, b"document", b"ctx")
    module.verify_init(user, Mechanism(CKM.ML_DSA, SignAdditionalContext(context=b"ctx")), pub)
    module.verify(user, b"document", signature)
    module.verify_init(user, Mechanism(CKM.ML_DSA), pub)
    with pytest.raises(SignatureInvalid):
        module.verify(user, b"document", signature)


def test_extractable_seed_is_readable_and_rebuilds_the_key(module: Module, user: int) -> None:
    pub, priv = generate(module, user, CKM.ML_DSA_KEY_PAIR_GEN, CKP_ML_DSA.ML_DSA_44,
                         [(CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True)])
    seed = value(module, user, priv, CKA.SEED)
    assert isinstance(seed, bytes)
    rebuilt = mldsa.MLDSA44PrivateKey.from_seed_bytes(seed)
    assert rebuilt.public_key().public_bytes_raw() == value(module, user, pub, CKA.VALUE)


def test_import_keys_from_known_answers(module: Module, user: int) -> None:
    """C_CreateObject: public keys from CKA_VALUE, private keys from CKA_SEED (with or
    without the expanded CKA_VALUE); CKA_VALUE alone is refused (TEMPLATE_INCOMPLETE)."""
    case = read_rsp(DSA_FILES[CKP_ML_DSA.ML_DSA_44])[1]
    common: Template = [(CKA.KEY_TYPE, int(CKK.ML_DSA)),
                        (CKA.PARAMETER_SET, int(CKP_ML_DSA.ML_DSA_44))]
    pub = module.create_object(user, [(CKA.CLASS, int(CKO.PUBLIC_KEY)), *common,
                                      (CKA.VALUE, case["pk"])])
    module.verify_init(user, Mechanism(CKM.ML_DSA, SignAdditionalContext(context=case["ctx"])), pub)
    module.verify(user, case["msg"], case["sm"][:2420])
    private_class: Template = [(CKA.CLASS, int(CKO.PRIVATE_KEY)), *common]
    priv = module.create_object(user, [*private_class, (CKA.SEED, case["xi"]),
                                       (CKA.VALUE, case["sk"])])
    assert value(module, user, priv, CKA.LOCAL) is False
    module.sign_init(user, Mechanism(CKM.ML_DSA), priv)
    signature = module.sign(user, b"x")
    module.verify_init(user, Mechanism(CKM.ML_DSA), pub)
    module.verify(user, b"x", signature)
    with pytest.raises(TemplateIncomplete):
        module.create_object(user, [*private_class, (CKA.VALUE, case["sk"])])
    with pytest.raises(AttributeValueInvalid):
        module.create_object(user, [*private_class, (CKA.SEED, case["xi"]),
                                    (CKA.VALUE, case["sk"][:-1])])
    with pytest.raises(TemplateIncomplete):
        module.create_object(user, [(CKA.CLASS, int(CKO.PUBLIC_KEY)), *common])
    with pytest.raises(AttributeValueInvalid):
        module.create_object(user, [(CKA.CLASS, int(CKO.PUBLIC_KEY)), *common,
                                    (CKA.VALUE, case["pk"][:-1])])


def test_parameter_set_is_required(module: Module, user: int) -> None:
    with pytest.raises(TemplateIncomplete):
        module.generate_key_pair(user, Mechanism(CKM.ML_DSA_KEY_PAIR_GEN), [], [])
    with pytest.raises(ParameterSetNotSupported) as raised:
        generate(module, user, CKM.ML_KEM_KEY_PAIR_GEN, CKP_ML_KEM.ML_KEM_512)
    assert raised.value.rv == CKR.PARAMETER_SET_NOT_SUPPORTED == 0x209


# -- ML-KEM through C_EncapsulateKey / C_DecapsulateKey ----------------------------------------


SECRET: Template = [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.GENERIC_SECRET)),
                    (CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True), (CKA.TOKEN, False)]


@pytest.mark.parametrize(("parameter_set", "ciphertext_bytes"),
                         [(CKP_ML_KEM.ML_KEM_768, 1088), (CKP_ML_KEM.ML_KEM_1024, 1568)])
def test_encapsulate_decapsulate_round_trip(module: Module, user: int, parameter_set: int,
                                            ciphertext_bytes: int) -> None:
    pub, priv = generate(module, user, CKM.ML_KEM_KEY_PAIR_GEN, parameter_set,
                         [(CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True)])
    assert value(module, user, pub, CKA.ENCAPSULATE) is True
    assert value(module, user, priv, CKA.DECAPSULATE) is True
    kem = Mechanism(CKM.ML_KEM)
    assert module.ciphertext_length(user, kem, pub) == ciphertext_bytes
    sent, ciphertext = module.encapsulate_key(user, kem, pub, SECRET)
    assert len(ciphertext) == ciphertext_bytes
    received = module.decapsulate_key(user, kem, priv, SECRET, ciphertext)
    secret = value(module, user, sent, CKA.VALUE)
    assert isinstance(secret, bytes) and len(secret) == 32
    assert value(module, user, received, CKA.VALUE) == secret
    assert value(module, user, sent, CKA.VALUE_LEN) == 32
    assert value(module, user, sent, CKA.CLASS) == CKO.SECRET_KEY
    assert value(module, user, sent, CKA.KEY_TYPE) == CKK.GENERIC_SECRET
    for handle in (sent, received):
        assert value(module, user, handle, CKA.LOCAL) is False
    assert value(module, user, sent, CKA.ALWAYS_SENSITIVE) is False
    seed = value(module, user, priv, CKA.SEED)
    assert isinstance(seed, bytes)
    theirs: Any = (mlkem.MLKEM768PrivateKey if parameter_set == CKP_ML_KEM.ML_KEM_768
                   else mlkem.MLKEM1024PrivateKey).from_seed_bytes(seed)
    assert theirs.decapsulate(ciphertext) == secret
    their_secret, their_ciphertext = theirs.public_key().encapsulate()
    mine = module.decapsulate_key(user, kem, priv, SECRET, their_ciphertext)
    assert value(module, user, mine, CKA.VALUE) == their_secret


def test_known_answer_decapsulation(module: Module, user: int) -> None:
    case = read_rsp(KEM_FILES[CKP_ML_KEM.ML_KEM_1024])[2]
    priv = module.create_object(user, [
        (CKA.CLASS, int(CKO.PRIVATE_KEY)), (CKA.KEY_TYPE, int(CKK.ML_KEM)),
        (CKA.PARAMETER_SET, int(CKP_ML_KEM.ML_KEM_1024)), (CKA.SEED, case["d"] + case["z"]),
        (CKA.VALUE, case["sk"]),
    ])
    aes: Template = [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.AES)),
                     (CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True)]
    key = module.decapsulate_key(user, Mechanism(CKM.ML_KEM), priv, aes, case["ct"])
    assert value(module, user, key, CKA.VALUE) == case["ss"]
    assert value(module, user, key, CKA.KEY_TYPE) == CKK.AES
    pub = module.create_object(user, [
        (CKA.CLASS, int(CKO.PUBLIC_KEY)), (CKA.KEY_TYPE, int(CKK.ML_KEM)),
        (CKA.PARAMETER_SET, int(CKP_ML_KEM.ML_KEM_1024)), (CKA.VALUE, case["pk"]),
    ])
    sent, ciphertext = module.encapsulate_key(user, Mechanism(CKM.ML_KEM), pub, aes)
    received = module.decapsulate_key(user, Mechanism(CKM.ML_KEM), priv, aes, ciphertext)
    assert value(module, user, sent, CKA.VALUE) == value(module, user, received, CKA.VALUE)


def test_kem_key_and_template_checks(module: Module, user: int) -> None:
    kem = Mechanism(CKM.ML_KEM)
    pub, priv = generate(module, user, CKM.ML_KEM_KEY_PAIR_GEN, CKP_ML_KEM.ML_KEM_768)
    dsa_pub, dsa_priv = generate(module, user, CKM.ML_DSA_KEY_PAIR_GEN, CKP_ML_DSA.ML_DSA_44)
    with pytest.raises(KeyTypeInconsistent):
        module.encapsulate_key(user, kem, dsa_pub, SECRET)
    with pytest.raises(KeyTypeInconsistent):
        module.decapsulate_key(user, kem, dsa_priv, SECRET, bytes(1088))
    with pytest.raises(KeyTypeInconsistent):  # the private half cannot encapsulate
        module.encapsulate_key(user, kem, priv, SECRET)
    with pytest.raises(KeyHandleInvalid):
        module.encapsulate_key(user, kem, 0xDEAD, SECRET)
    with pytest.raises(MechanismInvalid):
        module.encapsulate_key(user, Mechanism(CKM.ML_DSA), pub, SECRET)
    with pytest.raises(EncryptedDataLenRange) as raised:
        module.decapsulate_key(user, kem, priv, SECRET, bytes(1087))
    assert raised.value.rv == CKR.ENCRYPTED_DATA_LEN_RANGE
    with pytest.raises(TemplateInconsistent):
        module.encapsulate_key(user, kem, pub, [*SECRET, (CKA.VALUE_LEN, 16)])
    with pytest.raises(AttributeReadOnly):  # the token supplies CKA_VALUE (as for C_DeriveKey)
        module.encapsulate_key(user, kem, pub, [*SECRET, (CKA.VALUE, bytes(32))])
    module.set_attribute_value(user, pub, [(CKA.ENCAPSULATE, False)])
    with pytest.raises(KeyFunctionNotPermitted):
        module.encapsulate_key(user, kem, pub, SECRET)
    with pytest.raises(KeyFunctionNotPermitted):
        module.ciphertext_length(user, kem, pub)
    module.set_attribute_value(user, priv, [(CKA.DECAPSULATE, False)])
    with pytest.raises(KeyFunctionNotPermitted):
        module.decapsulate_key(user, kem, priv, SECRET, bytes(1088))


def test_decapsulated_key_inherits_sensitivity(module: Module, user: int) -> None:
    """C_DecapsulateKey follows C_DeriveKey's rules: the new key is ALWAYS_SENSITIVE /
    NEVER_EXTRACTABLE only if the private key is."""
    kem = Mechanism(CKM.ML_KEM)
    pub, priv = generate(module, user, CKM.ML_KEM_KEY_PAIR_GEN, CKP_ML_KEM.ML_KEM_768)
    _, ciphertext = module.encapsulate_key(user, kem, pub, SECRET)
    sensitive: Template = [(CKA.CLASS, int(CKO.SECRET_KEY)), (CKA.KEY_TYPE, int(CKK.AES))]
    key = module.decapsulate_key(user, kem, priv, sensitive, ciphertext)
    assert value(module, user, key, CKA.ALWAYS_SENSITIVE) is True
    assert value(module, user, key, CKA.NEVER_EXTRACTABLE) is True
    assert error(module, user, key, CKA.VALUE) == CKR.ATTRIBUTE_SENSITIVE


def test_kem_on_the_fake_crypto_port(tmp_path: Path) -> None:
    module, session = fake_module(tmp_path)
    try:
        pub, priv = generate(module, session, CKM.ML_KEM_KEY_PAIR_GEN, CKP_ML_KEM.ML_KEM_1024)
        sent, ciphertext = module.encapsulate_key(session, Mechanism(CKM.ML_KEM), pub, SECRET)
        assert len(ciphertext) == 1568
        received = module.decapsulate_key(session, Mechanism(CKM.ML_KEM), priv, SECRET, ciphertext)
        assert value(module, session, sent, CKA.VALUE) == value(module, session, received, CKA.VALUE)
        pub, priv = generate(module, session, CKM.ML_DSA_KEY_PAIR_GEN, CKP_ML_DSA.ML_DSA_44)
        module.sign_init(session, Mechanism(CKM.ML_DSA), priv)
        signature = module.sign(session, b"m")
        assert len(signature) == 2420
        module.verify_init(session, Mechanism(CKM.ML_DSA), pub)
        module.verify(session, b"m", signature)
    finally:
        module.finalize()


def test_always_authenticate_key_cannot_decapsulate(module: Module, user: int) -> None:
    """C_DecapsulateKey is one call, like C_UnwrapKey: no context-specific login can precede
    it, so a CKA_ALWAYS_AUTHENTICATE private key refuses it."""
    kem = Mechanism(CKM.ML_KEM)
    pub, priv = generate(module, user, CKM.ML_KEM_KEY_PAIR_GEN, CKP_ML_KEM.ML_KEM_768,
                         [(CKA.ALWAYS_AUTHENTICATE, True)])
    _, ciphertext = module.encapsulate_key(user, kem, pub, SECRET)
    with pytest.raises(KeyFunctionNotPermitted, match="ALWAYS_AUTHENTICATE"):
        module.decapsulate_key(user, kem, priv, SECRET, ciphertext)
