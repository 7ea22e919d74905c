"""Mechanism parameters through the compiled module: never ignored, never loosely read.

CKM_EDDSA with a CK_EDDSA_PARAMS (Ed25519ph or Ed25519ctx, PKCS #11 3.0 s2.3.14), a
CK_GCM_PARAMS whose ulIvBits contradicts ulIvLen, and parameterless mechanisms given a
parameter are refused with CKR_MECHANISM_PARAM_INVALID at the *Init call, leaving no operation
behind. Also the behaviour kept on purpose: CKM_RSA_PKCS decryption of a ciphertext with bad
padding answers CKR_OK with OpenSSL's implicit-rejection output (README, "Security model").
"""

from __future__ import annotations

import ctypes

import pytest

from tokenport.ck import CKA, CKK, CKM, CKO, CKR

from .p11ctypes import CK_GCM_PARAMS, CK_ULONG, P11, template, ulong_bytes
from .test_calls_crypto import aes_key, mechanism

INVALID = int(CKR.MECHANISM_PARAM_INVALID)
NOT_INITIALIZED = int(CKR.OPERATION_NOT_INITIALIZED)
TRUE = b"\x01"
ED25519_OID = bytes.fromhex("06032b6570")
ED25519_NAME = bytes.fromhex("130c") + b"edwards25519"


class CK_EDDSA_PARAMS(ctypes.Structure):
    """PKCS #11 3.0 CK_EDDSA_PARAMS (default packing, as in the module's header)."""

    _fields_ = [
        ("phFlag", ctypes.c_ubyte),
        ("ulContextDataLen", CK_ULONG),
        ("pContextData", ctypes.c_void_p),
    ]


def _key_pair(lib: P11, session: int, mech: int, public: list[tuple[int, bytes]],
              private: list[tuple[int, bytes]]) -> tuple[int, int]:  # fmt: skip
    pub, priv = CK_ULONG(), CK_ULONG()
    pub_t = template(*[(int(t), v, None) for t, v in public])
    priv_t = template(*[(int(t), v, None) for t, v in private])
    rv = lib.C_GenerateKeyPair(
        session, ctypes.byref(mechanism(mech)), pub_t, len(public), priv_t, len(private),
        ctypes.byref(pub), ctypes.byref(priv),
    )  # fmt: skip
    assert rv == 0, hex(rv)
    return int(pub.value), int(priv.value)


def _ed25519(lib: P11, session: int, params: bytes = ED25519_OID) -> tuple[int, int]:
    return _key_pair(
        lib, session, int(CKM.EC_EDWARDS_KEY_PAIR_GEN),
        [(CKA.EC_PARAMS, params), (CKA.VERIFY, TRUE)], [(CKA.SIGN, TRUE)],
    )  # fmt: skip


def _sign(lib: P11, session: int, key: int, mech: ctypes.Structure, data: bytes) -> bytes:
    assert lib.C_SignInit(session, ctypes.byref(mech), key) == 0
    out = ctypes.create_string_buffer(512)
    length = CK_ULONG(512)
    assert lib.C_Sign(session, data, len(data), out, ctypes.byref(length)) == 0
    return out.raw[: length.value]


def _no_operation_left(lib: P11, session: int) -> None:
    out = ctypes.create_string_buffer(64)
    length = CK_ULONG(64)
    assert lib.C_Sign(session, b"m", 1, out, ctypes.byref(length)) == NOT_INITIALIZED
    assert lib.C_Verify(session, b"m", 1, out, 64) == NOT_INITIALIZED


def _eddsa_params(prehash: bool, context: bytes | None) -> tuple[CK_EDDSA_PARAMS, object]:
    if context is None:
        return CK_EDDSA_PARAMS(int(prehash), 0, None), None
    buffer = ctypes.create_string_buffer(context, max(len(context), 1))
    return CK_EDDSA_PARAMS(int(prehash), len(context), ctypes.cast(buffer, ctypes.c_void_p)), buffer


@pytest.mark.parametrize("curve", [ED25519_OID, ED25519_NAME], ids=["rfc8410-oid", "rfc8032-name"])
@pytest.mark.parametrize(
    ("prehash", "context"),
    [
        (True, None),  # Ed25519ph
        (True, b"ctx"),  # Ed25519ph with a context
        (False, b"ctx"),  # Ed25519ctx
        (False, None),  # Ed25519ctx with an empty context: not pure Ed25519 (RFC 8032 s5.1)
        (False, b""),  # the same, with a non-NULL pointer
    ],
    ids=["ph", "ph-ctx", "ctx", "ctx-empty-null", "ctx-empty-ptr"],
)
def test_eddsa_params_naming_ed25519ph_or_ctx_are_refused(
    session: int, lib: P11, curve: bytes, prehash: bool, context: bytes | None
) -> None:
    """Before the fix these initialised pure Ed25519: the token signed Ed25519 where the
    caller asked for Ed25519ctx/ph, and such a pure signature verified under the other scheme."""
    pub, priv = _ed25519(lib, session, curve)
    message = b"message for one scheme only"
    pure = _sign(lib, session, priv, mechanism(int(CKM.EDDSA)), message)
    param, keep = _eddsa_params(prehash, context)
    mech = mechanism(int(CKM.EDDSA), param)
    assert ctypes.sizeof(param) == mech.ulParameterLen == 24
    assert lib.C_SignInit(session, ctypes.byref(mech), priv) == INVALID
    assert lib.C_VerifyInit(session, ctypes.byref(mech), pub) == INVALID
    _no_operation_left(lib, session)
    # pure Ed25519 (no parameter) still signs and verifies
    assert lib.C_VerifyInit(session, ctypes.byref(mechanism(int(CKM.EDDSA))), pub) == 0
    assert lib.C_Verify(session, message, len(message), pure, len(pure)) == 0
    del keep


def test_eddsa_null_parameter_with_a_length_is_refused(session: int, lib: P11) -> None:
    pub, priv = _ed25519(lib, session)
    mech = mechanism(int(CKM.EDDSA))
    mech.ulParameterLen = ctypes.sizeof(CK_EDDSA_PARAMS)  # pParameter stays NULL
    assert lib.C_SignInit(session, ctypes.byref(mech), priv) == INVALID
    assert lib.C_VerifyInit(session, ctypes.byref(mech), pub) == INVALID
    _no_operation_left(lib, session)


def _gcm(iv: ctypes.Array[ctypes.c_char], iv_len: int, iv_bits: int) -> ctypes.Structure:
    return mechanism(
        int(CKM.AES_GCM),
        CK_GCM_PARAMS(ctypes.cast(iv, ctypes.c_void_p), iv_len, iv_bits, None, 0, 128),
    )


def test_gcm_iv_bits_must_agree_with_iv_len(session: int, lib: P11) -> None:
    key = aes_key(lib, session)
    iv = ctypes.create_string_buffer(b"0123456789abcdef", 16)
    for iv_bits in (96, 0):  # 8 * ulIvLen, or unset
        assert lib.C_EncryptInit(session, ctypes.byref(_gcm(iv, 12, iv_bits)), key) == 0
        out = ctypes.create_string_buffer(64)
        length = CK_ULONG(64)
        assert lib.C_Encrypt(session, b"data", 4, out, ctypes.byref(length)) == 0
    for iv_len, iv_bits in ((12, 64), (12, 128), (16, 96), (12, 12)):
        mech = _gcm(iv, iv_len, iv_bits)
        assert lib.C_EncryptInit(session, ctypes.byref(mech), key) == INVALID
        assert lib.C_DecryptInit(session, ctypes.byref(mech), key) == INVALID


def test_parameterless_mechanisms_refuse_a_parameter(session: int, lib: P11) -> None:
    key = aes_key(lib, session)
    stray = b"\x00" * 4
    assert lib.C_DigestInit(session, ctypes.byref(mechanism(int(CKM.SHA256), stray))) == INVALID
    cmac = mechanism(int(CKM.AES_CMAC), stray)
    sign_key = CK_ULONG()
    attrs = template(
        (int(CKA.CLASS), ulong_bytes(int(CKO.SECRET_KEY)), None),
        (int(CKA.KEY_TYPE), ulong_bytes(int(CKK.AES)), None),
        (int(CKA.VALUE_LEN), ulong_bytes(16), None),
        (int(CKA.SIGN), TRUE, None),
    )
    keygen = mechanism(int(CKM.AES_KEY_GEN), stray)
    assert lib.C_GenerateKey(session, ctypes.byref(keygen), attrs, 4, ctypes.byref(sign_key)) == (
        INVALID
    )
    assert lib.C_GenerateKey(
        session, ctypes.byref(mechanism(int(CKM.AES_KEY_GEN))), attrs, 4, ctypes.byref(sign_key)
    ) == 0
    assert lib.C_SignInit(session, ctypes.byref(cmac), sign_key.value) == INVALID
    pub, priv = CK_ULONG(), CK_ULONG()
    pub_t = template((int(CKA.EC_PARAMS), ED25519_OID, None))
    gen = mechanism(int(CKM.EC_EDWARDS_KEY_PAIR_GEN), stray)
    assert lib.C_GenerateKeyPair(
        session, ctypes.byref(gen), pub_t, 1, None, 0, ctypes.byref(pub), ctypes.byref(priv)
    ) == INVALID
    assert lib.C_EncryptInit(session, ctypes.byref(mechanism(int(CKM.AES_ECB), stray)), key) == (
        INVALID
    )


def _attribute(lib: P11, session: int, handle: int, attr: int) -> bytes:
    query = template((attr, None, 0))
    assert lib.C_GetAttributeValue(session, handle, query, 1) == 0
    value = template((attr, b"\x00" * query[0].ulValueLen, None))
    assert lib.C_GetAttributeValue(session, handle, value, 1) == 0
    return ctypes.string_at(value[0].pValue, value[0].ulValueLen)


def _decrypt(lib: P11, session: int, key: int, ciphertext: bytes) -> bytes:
    assert lib.C_DecryptInit(session, ctypes.byref(mechanism(int(CKM.RSA_PKCS))), key) == 0
    out = ctypes.create_string_buffer(len(ciphertext))
    length = CK_ULONG(len(ciphertext))
    rv = lib.C_Decrypt(session, ciphertext, len(ciphertext), out, ctypes.byref(length))
    assert rv == 0, hex(rv)
    return out.raw[: length.value]


def test_rsa_pkcs_decryption_of_bad_padding_answers_ok_deterministically(
    session: int, lib: P11
) -> None:
    """Kept on purpose: no CKR_ENCRYPTED_DATA_INVALID for bad PKCS #1 v1.5 padding (that
    would be a padding oracle); the output is OpenSSL's implicit rejection: deterministic
    for a ciphertext, of a plausible length (at most k - 11 bytes)."""
    pub, priv = _key_pair(
        lib, session, int(CKM.RSA_PKCS_KEY_PAIR_GEN),
        [(CKA.MODULUS_BITS, ulong_bytes(2048)), (CKA.ENCRYPT, TRUE)], [(CKA.DECRYPT, TRUE)],
    )  # fmt: skip
    n = int.from_bytes(_attribute(lib, session, pub, int(CKA.MODULUS)), "big")
    e = int.from_bytes(_attribute(lib, session, pub, int(CKA.PUBLIC_EXPONENT)), "big")
    k = (n.bit_length() + 7) // 8
    good_block = b"\x00\x02" + b"\x5a" * (k - 3 - 6) + b"\x00" + b"secret"
    good = pow(int.from_bytes(good_block, "big"), e, n).to_bytes(k, "big")
    assert _decrypt(lib, session, priv, good) == b"secret"
    seen = set()
    for bad_block in (
        b"\x00\x02" + b"\x5a" * (k - 2),  # no zero byte after the padding string
        b"\x00\x01" + b"\xff" * (k - 3 - 6) + b"\x00" + b"secret",  # block type 1
    ):
        bad = pow(int.from_bytes(bad_block, "big"), e, n).to_bytes(k, "big")
        first = _decrypt(lib, session, priv, bad)
        assert _decrypt(lib, session, priv, bad) == first
        assert len(first) <= k - 11 and first != b"secret"
        seen.add(first)
    assert len(seen) == 2
