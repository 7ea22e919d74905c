"""TPM-held keys through the Cryptoki core (tpm2 crypto port on swtpm): generation, every
private-key mechanism, the attribute rules, import, and what survives a PIN change."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKA, CKG, CKK, CKM, CKO, CKR, CKU, CKZ
from tokenport.core.module import Module
from tokenport.errors import (
    AttributeReadOnly,
    KeyUnextractable,
    MechanismParamInvalid,
    TemplateInconsistent,
)
from tokenport.mechanisms.params import Ecdh1DeriveParams, Mechanism, OaepParams, PssParams

from .swtpm import Swtpm
from .tpm_token import (
    ED25519_PARAMS,
    P256_OID,
    P384_OID,
    P521_OID,
    USER_PIN,
    ec_pair,
    rsa_pair,
    tpm_module,
    user_session,
)

CURVES = {"P-256": (P256_OID, ec.SECP256R1(), 32), "P-384": (P384_OID, ec.SECP384R1(), 48)}


@pytest.fixture(scope="module")
def tpm_core(swtpm: Swtpm, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with tpm_module(swtpm.tcti, tmp_path_factory.mktemp("tpm-core")) as module:
        yield module


@pytest.fixture
def session(tpm_core: Module) -> int:
    handle = user_session(tpm_core)
    yield handle  # type: ignore[misc]
    tpm_core.close_session(handle)


def _value(module: Module, session: int, handle: int, attr: int) -> object:
    (result,) = module.get_attribute_value(session, handle, [attr])
    assert result.error == CKR.OK, hex(result.error)
    return result.value


def _ec_public(module: Module, session: int, public: int, curve: ec.EllipticCurve) -> ec.EllipticCurvePublicKey:
    point = _value(module, session, public, CKA.EC_POINT)
    assert isinstance(point, bytes)
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, point[2:])


def _rsa_public(module: Module, session: int, public: int) -> rsa.RSAPublicKey:
    n = _value(module, session, public, CKA.MODULUS)
    e = _value(module, session, public, CKA.PUBLIC_EXPONENT)
    assert isinstance(n, bytes) and isinstance(e, bytes)
    return rsa.RSAPublicNumbers(int.from_bytes(e, "big"), int.from_bytes(n, "big")).public_key()


def _sign(module: Module, session: int, mechanism: Mechanism, key: int, data: bytes) -> bytes:
    module.sign_init(session, mechanism, key)
    return module.sign(session, data)


def _dss(signature: bytes, size: int) -> bytes:
    return utils.encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                      int.from_bytes(signature[size:], "big"))


# -- generation and signatures --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CURVES))
def test_ec_key_generated_in_the_tpm_signs_verifiably(tpm_core: Module, session: int, name: str) -> None:
    oid, curve, size = CURVES[name]
    public, private = ec_pair(tpm_core, session, oid)
    key = _ec_public(tpm_core, session, public, curve)
    for mechanism, alg in ((CKM.ECDSA_SHA256, hashes.SHA256()), (CKM.ECDSA_SHA384, hashes.SHA384()),
                           (CKM.ECDSA_SHA512, hashes.SHA512()), (CKM.ECDSA_SHA1, hashes.SHA1())):
        signature = _sign(tpm_core, session, Mechanism(mechanism), private, b"message")
        assert len(signature) == 2 * size
        key.verify(_dss(signature, size), b"message", ec.ECDSA(alg))
    # CKM_ECDSA over caller-supplied hashes of several lengths (cut or padded for the TPM)
    for digest in (hashlib.sha1(b"x").digest(), hashlib.sha256(b"x").digest(),
                   hashlib.sha512(b"x").digest()):
        signature = _sign(tpm_core, session, Mechanism(CKM.ECDSA), private, digest)
        key.verify(_dss(signature, size), digest, ec.ECDSA(utils.Prehashed(_prehash(len(digest)))))
        tpm_core.verify_init(session, Mechanism(CKM.ECDSA), public)
        tpm_core.verify(session, digest, signature)


def _prehash(length: int) -> hashes.HashAlgorithm:
    return {20: hashes.SHA1(), 32: hashes.SHA256(), 64: hashes.SHA512()}[length]


@pytest.mark.parametrize("bits", [2048, 3072])
def test_rsa_key_generated_in_the_tpm_signs_verifiably(tpm_core: Module, session: int, bits: int) -> None:
    public, private = rsa_pair(tpm_core, session, bits)
    key = _rsa_public(tpm_core, session, public)
    assert key.key_size == bits
    for mechanism, alg in ((CKM.SHA256_RSA_PKCS, hashes.SHA256()), (CKM.SHA384_RSA_PKCS, hashes.SHA384()),
                           (CKM.SHA224_RSA_PKCS, hashes.SHA224()), (CKM.SHA1_RSA_PKCS, hashes.SHA1())):
        signature = _sign(tpm_core, session, Mechanism(mechanism), private, b"message")
        key.verify(signature, b"message", padding.PKCS1v15(), alg)
    # CKM_RSA_PKCS over a DigestInfo, and over bytes that are none (the raw operation)
    prefix = bytes.fromhex("3031300d060960864801650304020105000420")
    digest = hashlib.sha256(b"m").digest()
    signature = _sign(tpm_core, session, Mechanism(CKM.RSA_PKCS), private, prefix + digest)
    key.verify(signature, b"m", padding.PKCS1v15(), hashes.SHA256())
    tls_digest = hashlib.md5(b"m").digest() + hashlib.sha1(b"m").digest()
    signature = _sign(tpm_core, session, Mechanism(CKM.RSA_PKCS), private, tls_digest)
    tpm_core.verify_init(session, Mechanism(CKM.RSA_PKCS), public)
    tpm_core.verify(session, tls_digest, signature)
    # PSS with the TPM's salt length (the hash length here)
    pss = PssParams(CKM.SHA256, CKG.MGF1_SHA256, 32)
    signature = _sign(tpm_core, session, Mechanism(CKM.SHA256_RSA_PKCS_PSS, pss), private, b"message")
    key.verify(signature, b"message", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    signature = _sign(tpm_core, session, Mechanism(CKM.RSA_PKCS_PSS, pss), private,
                      hashlib.sha256(b"message").digest())
    key.verify(signature, b"message", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())


def test_pss_salt_the_tpm_cannot_use_is_a_parameter_error(tpm_core: Module, session: int) -> None:
    _public, private = rsa_pair(tpm_core, session)
    for params in (PssParams(CKM.SHA256, CKG.MGF1_SHA256, 20), PssParams(CKM.SHA256, CKG.MGF1_SHA1, 32)):
        with pytest.raises(MechanismParamInvalid, match="TPM-held key"):  # at C_SignInit
            tpm_core.sign_init(session, Mechanism(CKM.SHA256_RSA_PKCS_PSS, params), private)
        with pytest.raises(MechanismParamInvalid, match="TPM-held key"):
            tpm_core.sign_init(session, Mechanism(CKM.RSA_PKCS_PSS, params), private)
    # the TPM's salt length works, and verification (in software) takes any salt length
    params = PssParams(CKM.SHA256, CKG.MGF1_SHA256, 20)
    key = rsa.generate_private_key(65537, 2048)
    other = key.sign(b"m", padding.PSS(padding.MGF1(hashes.SHA256()), 20), hashes.SHA256())
    numbers = key.public_key().public_numbers()
    public = tpm_core.create_object(session, [
        (CKA.CLASS, CKO.PUBLIC_KEY), (CKA.KEY_TYPE, CKK.RSA), (CKA.MODULUS, numbers.n.to_bytes(256, "big")),
        (CKA.PUBLIC_EXPONENT, b"\x01\x00\x01")])
    tpm_core.verify_init(session, Mechanism(CKM.SHA256_RSA_PKCS_PSS, params), public)
    tpm_core.verify(session, b"m", other)


def test_oaep_and_pkcs1_decryption_in_the_tpm(tpm_core: Module, session: int) -> None:
    public, private = rsa_pair(tpm_core, session)
    key = _rsa_public(tpm_core, session, public)
    for mgf, alg, mech in ((CKG.MGF1_SHA256, hashes.SHA256(), CKM.SHA256), (CKG.MGF1_SHA1, hashes.SHA1(), CKM.SHA_1)):
        for label in (b"", b"label\x00"):
            ciphertext = key.encrypt(b"secret", padding.OAEP(padding.MGF1(alg), alg, label or None))
            params = OaepParams(mech, mgf, CKZ.DATA_SPECIFIED, label)
            tpm_core.decrypt_init(session, Mechanism(CKM.RSA_PKCS_OAEP, params), private)
            assert tpm_core.decrypt(session, ciphertext) == b"secret"
    # a label without the TPM's terminating zero byte is refused before decryption
    params = OaepParams(CKM.SHA256, CKG.MGF1_SHA256, CKZ.DATA_SPECIFIED, b"label")
    ciphertext = key.encrypt(b"secret", padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), b"label"))
    tpm_core.decrypt_init(session, Mechanism(CKM.RSA_PKCS_OAEP, params), private)
    with pytest.raises(MechanismParamInvalid):
        tpm_core.decrypt(session, ciphertext)
    # a tampered OAEP ciphertext: CKR_ENCRYPTED_DATA_INVALID, not a device error
    params = OaepParams(CKM.SHA256, CKG.MGF1_SHA256, CKZ.DATA_SPECIFIED, b"")
    bad = key.encrypt(b"secret", padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    bad = bytes([bad[0] ^ 1]) + bad[1:]
    tpm_core.decrypt_init(session, Mechanism(CKM.RSA_PKCS_OAEP, params), private)
    with pytest.raises(Exception) as failure:
        tpm_core.decrypt(session, bad)
    assert getattr(failure.value, "rv", None) == CKR.ENCRYPTED_DATA_INVALID
    ciphertext = key.encrypt(b"pkcs1 secret", padding.PKCS1v15())
    tpm_core.decrypt_init(session, Mechanism(CKM.RSA_PKCS), private)
    assert tpm_core.decrypt(session, ciphertext) == b"pkcs1 secret"


@pytest.mark.parametrize("name", sorted(CURVES))
def test_ecdh_in_the_tpm_matches_the_peer(tpm_core: Module, session: int, name: str) -> None:
    oid, curve, size = CURVES[name]
    public, private = ec_pair(tpm_core, session, oid)
    peer = ec.generate_private_key(curve)
    peer_point = peer.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint)
    params = Ecdh1DeriveParams(kdf=1, shared_data=b"", public_data=peer_point)  # CKD_NULL
    secret = tpm_core.derive_key(session, Mechanism(CKM.ECDH1_DERIVE, params), private, [
        (CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET), (CKA.SENSITIVE, False),
        (CKA.EXTRACTABLE, True),
    ])
    expected = peer.exchange(ec.ECDH(), _ec_public(tpm_core, session, public, curve))
    assert _value(tpm_core, session, secret, CKA.VALUE) == expected and len(expected) == size


# -- attributes -------------------------------------------------------------------------------


def test_tpm_key_attributes(tpm_core: Module, session: int) -> None:
    _public, private = ec_pair(tpm_core, session)
    results = tpm_core.get_attribute_value(session, private, [
        CKA.TOKENPORT_KEY_LOCATION, CKA.SENSITIVE, CKA.ALWAYS_SENSITIVE, CKA.EXTRACTABLE,
        CKA.NEVER_EXTRACTABLE, CKA.LOCAL, CKA.VALUE, CKA.TOKENPORT_TPM_BLOB, CKA.TOKENPORT_TPM_AUTH,
    ])
    assert [r.value for r in results[:6]] == [b"tpm2", True, True, False, True, True]
    # no CKA_VALUE is stored, and reading it says what it says of any sensitive key
    assert [r.error for r in results[6:]] == [CKR.ATTRIBUTE_SENSITIVE] * 3
    _public, rsa_private = rsa_pair(tpm_core, session)
    results = tpm_core.get_attribute_value(session, rsa_private, [
        CKA.PRIVATE_EXPONENT, CKA.PRIME_1, CKA.PRIME_2, CKA.COEFFICIENT, CKA.MODULUS,
        CKA.TOKENPORT_KEY_LOCATION])
    assert [r.error for r in results[:4]] == [CKR.ATTRIBUTE_SENSITIVE] * 4
    assert results[5].value == b"tpm2" and isinstance(results[4].value, bytes)
    obj = tpm_core.state.object(tpm_core.state.session(session), rsa_private)
    assert not any(obj.has(a) for a in (CKA.PRIVATE_EXPONENT, CKA.PRIME_1, CKA.PRIME_2))
    obj = tpm_core.state.object(tpm_core.state.session(session), private)
    assert not obj.has(CKA.VALUE) and obj.has(CKA.TOKENPORT_TPM_BLOB)


@pytest.mark.parametrize("attr,value", [(CKA.EXTRACTABLE, True), (CKA.SENSITIVE, False),
                                        (CKA.PRIVATE, False)])
def test_templates_a_tpm_key_cannot_honour_are_inconsistent(
    tpm_core: Module, session: int, attr: int, value: bool
) -> None:
    with pytest.raises(TemplateInconsistent):
        ec_pair(tpm_core, session, private=[(attr, value)])
    with pytest.raises(TemplateInconsistent):
        rsa_pair(tpm_core, session, private=[(attr, value)])


def test_tpm_key_cannot_be_weakened_copied_out_or_wrapped(tpm_core: Module, session: int) -> None:
    public, private = ec_pair(tpm_core, session)
    with pytest.raises(AttributeReadOnly):
        tpm_core.set_attribute_value(session, private, [(CKA.EXTRACTABLE, True)])
    with pytest.raises(AttributeReadOnly):
        tpm_core.set_attribute_value(session, private, [(CKA.SENSITIVE, False)])
    with pytest.raises(AttributeReadOnly):
        tpm_core.set_attribute_value(session, private, [(CKA.TOKENPORT_TPM_BLOB, b"\x01")])
    with pytest.raises(AttributeReadOnly):
        tpm_core.copy_object(session, private, [(CKA.EXTRACTABLE, True)])
    with pytest.raises(AttributeReadOnly):
        tpm_core.create_object(session, [
            (CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.EC), (CKA.EC_PARAMS, P256_OID),
            (CKA.VALUE, b"\x01" * 32), (CKA.TOKENPORT_TPM_BLOB, b"\x01")])
    wrapping = tpm_core.create_object(session, [
        (CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.VALUE, b"k" * 32),
        (CKA.WRAP, True), (CKA.ENCRYPT, False), (CKA.DECRYPT, False)])
    with pytest.raises(KeyUnextractable):
        tpm_core.wrap_key(session, Mechanism(CKM.AES_KEY_WRAP_PAD), wrapping, private)
    # a copy is the same TPM key (same blob and auth), still usable and still protected
    copy = tpm_core.copy_object(session, private, [(CKA.LABEL, b"copy")])
    assert _value(tpm_core, session, copy, CKA.TOKENPORT_KEY_LOCATION) == b"tpm2"
    signature = _sign(tpm_core, session, Mechanism(CKM.ECDSA_SHA256), copy, b"m")
    tpm_core.verify_init(session, Mechanism(CKM.ECDSA_SHA256), public)
    tpm_core.verify(session, b"m", signature)


@pytest.mark.parametrize("params", [P521_OID, ED25519_PARAMS])
def test_key_types_the_tpm_does_not_hold_stay_in_software(tpm_core: Module, session: int, params: bytes) -> None:
    mechanism = CKM.EC_KEY_PAIR_GEN if params != ED25519_PARAMS else CKM.EC_EDWARDS_KEY_PAIR_GEN
    _public, private = tpm_core.generate_key_pair(
        session, Mechanism(mechanism), [(CKA.EC_PARAMS, params)], [(CKA.EXTRACTABLE, True)])
    results = tpm_core.get_attribute_value(session, private, [CKA.TOKENPORT_KEY_LOCATION, CKA.VALUE])
    assert results[0].value == b"software"
    assert results[1].error == CKR.ATTRIBUTE_SENSITIVE  # present, as a software key's value is


# -- import -------------------------------------------------------------------------------------


def _ec_template(key: ec.EllipticCurvePrivateKey, oid: bytes, size: int) -> list[tuple[int, object]]:
    return [(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.EC), (CKA.EC_PARAMS, oid),
            (CKA.TOKEN, True), (CKA.VALUE, key.private_numbers().private_value.to_bytes(size, "big"))]


def _rsa_template(key: rsa.RSAPrivateKey) -> list[tuple[int, object]]:
    numbers = key.private_numbers()

    def b(value: int) -> bytes:
        return value.to_bytes((value.bit_length() + 7) // 8, "big")

    return [(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.RSA), (CKA.TOKEN, True),
            (CKA.MODULUS, b(numbers.public_numbers.n)), (CKA.PUBLIC_EXPONENT, b(numbers.public_numbers.e)),
            (CKA.PRIVATE_EXPONENT, b(numbers.d)), (CKA.PRIME_1, b(numbers.p)), (CKA.PRIME_2, b(numbers.q)),
            (CKA.EXPONENT_1, b(numbers.dmp1)), (CKA.EXPONENT_2, b(numbers.dmq1)),
            (CKA.COEFFICIENT, b(numbers.iqmp))]


@pytest.mark.parametrize("name", sorted(CURVES))
def test_imported_ec_key_moves_into_the_tpm(tpm_core: Module, session: int, name: str) -> None:
    oid, curve, size = CURVES[name]
    key = ec.generate_private_key(curve)
    handle = tpm_core.create_object(session, _ec_template(key, oid, size))  # type: ignore[arg-type]
    results = tpm_core.get_attribute_value(session, handle, [
        CKA.TOKENPORT_KEY_LOCATION, CKA.VALUE, CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE, CKA.LOCAL])
    assert results[0].value == b"tpm2" and results[1].error == CKR.ATTRIBUTE_SENSITIVE
    assert not tpm_core.state.object(tpm_core.state.session(session), handle).has(CKA.VALUE)
    assert [r.value for r in results[2:]] == [False, False, False]
    signature = _sign(tpm_core, session, Mechanism(CKM.ECDSA_SHA256), handle, b"imported")
    key.public_key().verify(_dss(signature, size), b"imported", ec.ECDSA(hashes.SHA256()))


def test_imported_rsa_key_moves_into_the_tpm(tpm_core: Module, session: int) -> None:
    key = rsa.generate_private_key(65537, 2048)
    handle = tpm_core.create_object(session, _rsa_template(key))  # type: ignore[arg-type]
    results = tpm_core.get_attribute_value(session, handle, [
        CKA.TOKENPORT_KEY_LOCATION, CKA.PRIVATE_EXPONENT, CKA.PRIME_1, CKA.ALWAYS_SENSITIVE])
    assert results[0].value == b"tpm2"
    assert [r.error for r in results[1:3]] == [CKR.ATTRIBUTE_SENSITIVE] * 2
    obj = tpm_core.state.object(tpm_core.state.session(session), handle)
    assert not any(obj.has(a) for a in (CKA.PRIVATE_EXPONENT, CKA.PRIME_1, CKA.PRIME_2,
                                        CKA.EXPONENT_1, CKA.EXPONENT_2, CKA.COEFFICIENT))
    assert results[3].value is False
    signature = _sign(tpm_core, session, Mechanism(CKM.SHA256_RSA_PKCS), handle, b"imported")
    key.public_key().verify(signature, b"imported", padding.PKCS1v15(), hashes.SHA256())


def test_import_asking_for_an_extractable_key_is_inconsistent(tpm_core: Module, session: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(TemplateInconsistent):
        tpm_core.create_object(session, [*_ec_template(key, P256_OID, 32), (CKA.EXTRACTABLE, True)])  # type: ignore[list-item]


def test_unwrapped_private_key_moves_into_the_tpm(tpm_core: Module, session: int) -> None:
    kek = b"K" * 32
    unwrapping = tpm_core.create_object(session, [
        (CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.VALUE, kek),
        (CKA.UNWRAP, True), (CKA.ENCRYPT, False), (CKA.DECRYPT, False)])
    key = ec.generate_private_key(ec.SECP384R1())
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    handle = tpm_core.unwrap_key(session, Mechanism(CKM.AES_KEY_WRAP_PAD), unwrapping,
                                 aes_key_wrap_with_padding(kek, pkcs8),
                                 [(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.TOKEN, True)])
    results = tpm_core.get_attribute_value(session, handle, [CKA.TOKENPORT_KEY_LOCATION, CKA.VALUE])
    assert results[0].value == b"tpm2" and results[1].error == CKR.ATTRIBUTE_SENSITIVE
    assert not tpm_core.state.object(tpm_core.state.session(session), handle).has(CKA.VALUE)
    signature = _sign(tpm_core, session, Mechanism(CKM.ECDSA_SHA384), handle, b"unwrapped")
    key.public_key().verify(_dss(signature, 48), b"unwrapped", ec.ECDSA(hashes.SHA384()))


# -- the token key, the store, a PIN change -------------------------------------------------------


def test_pin_change_and_a_new_process_keep_tpm_keys_usable(fresh_swtpm: Swtpm, tmp_path: Path) -> None:
    store = MemoryObjectStore()
    swtpm = fresh_swtpm
    with tpm_module(swtpm.tcti, tmp_path, store) as module:
        session = user_session(module)
        public, _private = ec_pair(module, session, label=b"kept")
        rsa_pair(module, session, label=b"kept-rsa")
        point = _value(module, session, public, CKA.EC_POINT)
        module.set_pin(session, USER_PIN, b"new-pin-2")
    # a new module (as a new process): the objects come back from the store, the TPM keys
    # are unsealed with the new PIN and loaded again under a new primary key handle
    with tpm_module(swtpm.tcti, tmp_path, store, initialize_token=False) as module:
        session = module.open_session(0, 6)
        module.login(session, CKU.USER, b"new-pin-2")
        private = _find(module, session, b"kept", CKO.PRIVATE_KEY)
        rsa_private = _find(module, session, b"kept-rsa", CKO.PRIVATE_KEY)
        rsa_public = _find(module, session, b"kept-rsa", CKO.PUBLIC_KEY)
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point[2:])  # type: ignore[index]
        signature = _sign(module, session, Mechanism(CKM.ECDSA_SHA256), private, b"after")
        key.verify(_dss(signature, 32), b"after", ec.ECDSA(hashes.SHA256()))
        signature = _sign(module, session, Mechanism(CKM.SHA256_RSA_PKCS), rsa_private, b"after")
        _rsa_public(module, session, rsa_public).verify(signature, b"after", padding.PKCS1v15(),
                                                         hashes.SHA256())


def _find(module: Module, session: int, label: bytes, object_class: int) -> int:
    module.find_objects_init(session, [(CKA.LABEL, label), (CKA.CLASS, object_class)])
    (handle,) = module.find_objects(session, 2)
    module.find_objects_final(session)
    return handle


def test_password_sessions_work_too(swtpm: Swtpm, tmp_path: Path) -> None:
    from types import MappingProxyType

    from tokenport.config import Config
    from tokenport.wiring import build_module

    from .tpm_token import RW, SO_PIN

    config = Config(store_backend="memory", store_dir=tmp_path, crypto_backend="tpm2",
                    crypto_options=MappingProxyType({"tcti": swtpm.tcti, "auth_session": "password"}))
    module = build_module(config, store=MemoryObjectStore())
    module.initialize()
    try:
        module.init_token(0, SO_PIN, b"pw".ljust(32))
        session = module.open_session(0, RW)
        module.login(session, CKU.SO, SO_PIN)
        module.init_pin(session, USER_PIN)
        module.logout(session)
        module.login(session, CKU.USER, USER_PIN)
        public, private = ec_pair(module, session)
        signature = _sign(module, session, Mechanism(CKM.ECDSA_SHA256), private, b"pw")
        _ec_public(module, session, public, ec.SECP256R1()).verify(
            _dss(signature, 32), b"pw", ec.ECDSA(hashes.SHA256()))
    finally:
        module.finalize()
