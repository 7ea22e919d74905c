"""Message-based signing and verification through the real module (PKCS #11 v3.0
s5.14-5.15): each message one signature with the same key, checked outside the token."""

from __future__ import annotations

import ctypes
import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tokenport.ck import CKA, CKF, CKM, CKR

from .p11ctypes import CK_MECHANISM_INFO, CK_ULONG, P11, template
from .test_calls_crypto import TRUE, mechanism
from .test_v3_session import HMAC_KEY, hmac_key

P256 = bytes.fromhex("06082a8648ce3d030107")


def ec_pair(lib: P11, session: int) -> tuple[int, int, ec.EllipticCurvePublicKey]:
    public, private = CK_ULONG(), CK_ULONG()
    pub_t = template((int(CKA.EC_PARAMS), P256, None), (int(CKA.VERIFY), TRUE, None))
    priv_t = template((int(CKA.SIGN), TRUE, None))
    mech = mechanism(int(CKM.EC_KEY_PAIR_GEN))
    assert lib.C_GenerateKeyPair(session, ctypes.byref(mech), pub_t, 2, priv_t, 1,
                                 ctypes.byref(public), ctypes.byref(private)) == 0
    point = ctypes.create_string_buffer(80)
    attr = template((int(CKA.EC_POINT), None, 0))
    attr[0].pValue = ctypes.cast(point, ctypes.c_void_p)
    attr[0].ulValueLen = 80
    assert lib.C_GetAttributeValue(session, public.value, attr, 1) == 0
    der = point.raw[: attr[0].ulValueLen]
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), der[2:])
    return int(public.value), int(private.value), key


def _check(key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> None:
    assert len(signature) == 64
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    key.verify(utils.encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))


def _sign_message(lib: P11, session: int, data: bytes) -> bytes:
    length = CK_ULONG(0)
    assert lib.C_SignMessage(session, None, 0, data, len(data), None, ctypes.byref(length)) == 0
    assert length.value == 64
    out = ctypes.create_string_buffer(length.value)
    assert lib.C_SignMessage(session, None, 0, data, len(data), out, ctypes.byref(length)) == 0
    return out.raw[: length.value]


def test_each_message_is_one_signature_with_the_same_key(session: int, lib: P11) -> None:
    _, private, key = ec_pair(lib, session)
    mech = mechanism(int(CKM.ECDSA_SHA256))
    assert lib.C_MessageSignInit(session, ctypes.byref(mech), private) == 0
    for data in (b"first", b"second", b""):
        _check(key, data, _sign_message(lib, session, data))
    assert lib.C_MessageSignFinal(session) == 0
    assert lib.C_SignMessage(session, None, 0, b"x", 1, None, ctypes.byref(CK_ULONG())) == (
        CKR.OPERATION_NOT_INITIALIZED
    )


def test_sign_message_length_protocol(session: int, lib: P11) -> None:
    _, private, key = ec_pair(lib, session)
    mech = mechanism(int(CKM.ECDSA_SHA256))
    assert lib.C_MessageSignInit(session, ctypes.byref(mech), private) == 0
    small = ctypes.create_string_buffer(10)
    length = CK_ULONG(10)
    assert lib.C_SignMessage(session, None, 0, b"m", 1, small, ctypes.byref(length)) == (
        CKR.BUFFER_TOO_SMALL
    )
    assert length.value == 64
    out = ctypes.create_string_buffer(64)
    assert lib.C_SignMessage(session, None, 0, b"m", 1, out, ctypes.byref(length)) == 0
    _check(key, b"m", out.raw)
    # an argument error ends the message, not the operation
    assert lib.C_SignMessage(session, None, 0, None, 5, out, ctypes.byref(length)) == (
        CKR.ARGUMENTS_BAD
    )
    assert lib.C_SignMessage(session, b"p", 1, b"m", 1, out, ctypes.byref(length)) == (
        CKR.ARGUMENTS_BAD
    )
    _check(key, b"after", _sign_message(lib, session, b"after"))


def test_a_message_in_parts(session: int, lib: P11) -> None:
    _, private, key = ec_pair(lib, session)
    mech = mechanism(int(CKM.ECDSA_SHA256))
    assert lib.C_MessageSignInit(session, ctypes.byref(mech), private) == 0
    assert lib.C_SignMessageBegin(session, None, 0) == 0
    assert lib.C_SignMessageBegin(session, None, 0) == CKR.OPERATION_ACTIVE
    assert lib.C_SignMessageBegin(session, None, 0) == 0  # the failed Begin ended that message
    assert lib.C_SignMessageNext(session, None, 0, b"part one, ", 10, None, None) == 0
    assert lib.C_SignMessage(session, None, 0, b"x", 1, None, ctypes.byref(CK_ULONG())) == (
        CKR.OPERATION_ACTIVE
    )
    assert lib.C_SignMessageBegin(session, None, 0) == 0
    assert lib.C_SignMessageNext(session, None, 0, b"part one, ", 10, None, None) == 0
    length = CK_ULONG(0)
    assert lib.C_SignMessageNext(session, None, 0, b"two", 3, None, ctypes.byref(length)) == 0
    assert length.value == 64
    out = ctypes.create_string_buffer(64)
    assert lib.C_SignMessageNext(session, None, 0, b"two", 3, out, ctypes.byref(length)) == 0
    _check(key, b"part one, two", out.raw)
    assert lib.C_SignMessageNext(session, None, 0, b"x", 1, None, None) == (
        CKR.OPERATION_NOT_INITIALIZED
    )
    _check(key, b"single", _sign_message(lib, session, b"single"))


def test_verify_messages(session: int, lib: P11) -> None:
    public, private, _ = ec_pair(lib, session)
    mech = mechanism(int(CKM.ECDSA_SHA256))
    assert lib.C_MessageSignInit(session, ctypes.byref(mech), private) == 0
    signature = _sign_message(lib, session, b"hello")
    assert lib.C_MessageVerifyInit(session, ctypes.byref(mech), public) == 0
    assert lib.C_VerifyMessage(session, None, 0, b"hello", 5, signature, 64) == 0
    assert lib.C_VerifyMessage(session, None, 0, b"hellO", 5, signature, 64) == (
        CKR.SIGNATURE_INVALID
    )
    assert lib.C_VerifyMessage(session, None, 0, b"hello", 5, signature, 63) in (
        CKR.SIGNATURE_LEN_RANGE, CKR.SIGNATURE_INVALID
    )
    assert lib.C_VerifyMessageBegin(session, None, 0) == 0
    assert lib.C_VerifyMessageNext(session, None, 0, b"he", 2, None, 0) == 0
    assert lib.C_VerifyMessageNext(session, None, 0, b"llo", 3, signature, 64) == 0
    assert lib.C_VerifyMessageBegin(session, None, 0) == 0
    assert lib.C_VerifyMessageNext(session, None, 0, b"hel", 3, signature, 64) == (
        CKR.SIGNATURE_INVALID
    )
    assert lib.C_VerifyMessage(session, None, 0, b"hello", 5, signature, 64) == 0
    assert lib.C_MessageVerifyFinal(session) == 0
    assert lib.C_MessageSignFinal(session) == 0


def test_message_and_ordinary_sign_side_by_side(session: int, lib: P11) -> None:
    key = hmac_key(lib, session)
    mech = mechanism(int(CKM.SHA256_HMAC))
    assert lib.C_MessageSignInit(session, ctypes.byref(mech), key) == 0
    assert lib.C_MessageSignInit(session, ctypes.byref(mech), key) == CKR.OPERATION_ACTIVE
    assert lib.C_SignInit(session, ctypes.byref(mech), key) == 0
    out = ctypes.create_string_buffer(32)
    length = CK_ULONG(32)
    assert lib.C_Sign(session, b"plain", 5, out, ctypes.byref(length)) == 0
    assert out.raw == hmac.new(HMAC_KEY, b"plain", hashlib.sha256).digest()
    length.value = 32
    assert lib.C_SignMessage(session, None, 0, b"msg", 3, out, ctypes.byref(length)) == 0
    assert out.raw == hmac.new(HMAC_KEY, b"msg", hashlib.sha256).digest()
    assert lib.C_SessionCancel(session, int(CKF.MESSAGE_SIGN)) == 0
    assert lib.C_SignMessage(session, None, 0, b"m", 1, out, ctypes.byref(length)) == (
        CKR.OPERATION_NOT_INITIALIZED
    )


def test_init_checks_the_key(session: int, lib: P11) -> None:
    public, _, _ = ec_pair(lib, session)
    mech = mechanism(int(CKM.ECDSA_SHA256))
    assert lib.C_MessageSignInit(session, ctypes.byref(mech), public) == CKR.KEY_TYPE_INCONSISTENT
    assert lib.C_MessageSignInit(session, ctypes.byref(mech), 0xDEAD) == CKR.KEY_HANDLE_INVALID
    sha = mechanism(int(CKM.SHA256))
    assert lib.C_MessageSignInit(session, ctypes.byref(sha), public) == CKR.MECHANISM_INVALID
    assert lib.C_MessageSignInit(session, None, public) == CKR.ARGUMENTS_BAD


def test_mechanism_info_has_the_message_flags(session: int, lib: P11) -> None:
    info = CK_MECHANISM_INFO()
    assert lib.C_GetMechanismInfo(0, int(CKM.ECDSA_SHA256), ctypes.byref(info)) == 0
    assert info.flags & int(CKF.MESSAGE_SIGN | CKF.MESSAGE_VERIFY) == 0x18
    assert lib.C_GetMechanismInfo(0, int(CKM.SHA256), ctypes.byref(info)) == 0
    assert info.flags & 0x1E == 0
