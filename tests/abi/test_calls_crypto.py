"""Cryptographic functions through the C ABI (s5.8-5.15): the s5.2 output-length protocol,
mechanism parameter decoding, C_GetAttributeValue's per-attribute rules."""

from __future__ import annotations

import ctypes
import hashlib

from tokenport.ck import CKA, CKK, CKM, CKO, CKR

from .helpers import UNAVAILABLE
from .p11ctypes import (
    CK_AES_CTR_PARAMS,
    CK_GCM_PARAMS,
    CK_GCM_PARAMS_NO_IVBITS,
    CK_MECHANISM,
    CK_ULONG,
    P11,
    template,
    ulong_bytes,
)

BAD = int(CKR.ARGUMENTS_BAD)
TRUE = b"\x01"
FALSE = b"\x00"


def mechanism(
    kind: int, param: ctypes.Structure | bytes | None = None, length: int | None = None
) -> CK_MECHANISM:
    mech = CK_MECHANISM()
    mech.mechanism = kind
    if param is not None:
        buffer = ctypes.create_string_buffer(bytes(param), len(bytes(param)))
        mech._buffer = buffer  # type: ignore[attr-defined]  # keep alive
        mech.pParameter = ctypes.cast(buffer, ctypes.c_void_p)
        mech.ulParameterLen = len(bytes(param)) if length is None else length
    return mech


def aes_key(lib: P11, session: int, sensitive: bool = False) -> int:
    key = CK_ULONG()
    attrs = template(
        (int(CKA.CLASS), ulong_bytes(int(CKO.SECRET_KEY)), None),
        (int(CKA.KEY_TYPE), ulong_bytes(int(CKK.AES)), None),
        (int(CKA.VALUE_LEN), ulong_bytes(16), None),
        (int(CKA.ENCRYPT), TRUE, None),
        (int(CKA.DECRYPT), TRUE, None),
        (int(CKA.SENSITIVE), TRUE if sensitive else FALSE, None),
        (int(CKA.EXTRACTABLE), TRUE, None),
        (int(CKA.LABEL), b"abi-aes", None),
    )
    mech = mechanism(int(CKM.AES_KEY_GEN))
    rv = lib.C_GenerateKey(session, ctypes.byref(mech), attrs, 8, ctypes.byref(key))
    assert rv == 0, hex(rv)
    return int(key.value)


def digest_init(lib: P11, session: int) -> None:
    mech = mechanism(int(CKM.SHA256))
    assert lib.C_DigestInit(session, ctypes.byref(mech)) == 0


def test_output_length_protocol_on_digest(session: int, lib: P11) -> None:
    data = b"the quick brown fox"
    expected = hashlib.sha256(data).digest()
    digest_init(lib, session)
    length = CK_ULONG(0)
    assert lib.C_Digest(session, data, len(data), None, ctypes.byref(length)) == 0
    assert length.value == 32
    short = ctypes.create_string_buffer(10)
    length = CK_ULONG(10)
    rv = lib.C_Digest(session, data, len(data), short, ctypes.byref(length))
    assert rv == CKR.BUFFER_TOO_SMALL and length.value == 32
    out = ctypes.create_string_buffer(64)
    length = CK_ULONG(64)
    assert lib.C_Digest(session, data, len(data), out, ctypes.byref(length)) == 0
    assert out.raw[: length.value] == expected
    # the operation has ended: a new call has nothing to answer
    assert lib.C_Digest(session, data, len(data), out, ctypes.byref(length)) == (
        CKR.OPERATION_NOT_INITIALIZED
    )


def test_a_length_query_keeps_the_operation_active(session: int, lib: P11) -> None:
    """s5.2: after a length query the operation stays active, whatever unrelated calls the
    application makes on the session meanwhile (pkcs11-tool reads attributes there)."""
    digest_init(lib, session)
    length = CK_ULONG(0)
    assert lib.C_Digest(session, b"abc", 3, None, ctypes.byref(length)) == 0
    assert lib.C_GenerateRandom(session, ctypes.create_string_buffer(4), 4) == 0
    info = ctypes.create_string_buffer(64)
    assert lib.C_GetSessionInfo(session, info) == 0
    assert lib.C_DigestInit(session, ctypes.byref(mechanism(int(CKM.SHA256)))) == (
        CKR.OPERATION_ACTIVE
    )
    out = ctypes.create_string_buffer(32)
    length = CK_ULONG(32)
    assert lib.C_Digest(session, b"abc", 3, out, ctypes.byref(length)) == 0
    assert out.raw == hashlib.sha256(b"abc").digest()
    # collected: the operation is over
    assert lib.C_Digest(session, b"abc", 3, out, ctypes.byref(length)) == (
        CKR.OPERATION_NOT_INITIALIZED
    )


def test_multi_part_digest_final_uses_the_protocol(session: int, lib: P11) -> None:
    digest_init(lib, session)
    assert lib.C_DigestUpdate(session, b"ab", 2) == 0
    assert lib.C_DigestUpdate(session, None, 0) == 0
    assert lib.C_DigestUpdate(session, b"c", 1) == 0
    length = CK_ULONG(0)
    assert lib.C_DigestFinal(session, None, ctypes.byref(length)) == 0 and length.value == 32
    out = ctypes.create_string_buffer(32)
    assert lib.C_DigestFinal(session, out, ctypes.byref(length)) == 0
    assert out.raw == hashlib.sha256(b"abc").digest()


def test_data_and_length_pointers(session: int, lib: P11) -> None:
    digest_init(lib, session)
    out = ctypes.create_string_buffer(32)
    length = CK_ULONG(32)
    assert lib.C_Digest(session, None, 5, out, ctypes.byref(length)) == BAD
    assert lib.C_Digest(session, b"abc", 3, out, None) == BAD
    assert lib.C_DigestInit(session, None) == BAD


def test_generate_random(session: int, lib: P11) -> None:
    out = ctypes.create_string_buffer(48)
    assert lib.C_GenerateRandom(session, out, 48) == 0
    assert out.raw != b"\x00" * 48
    assert lib.C_GenerateRandom(session, None, 16) == BAD
    assert lib.C_GenerateRandom(session, None, 0) == 0


def _gcm_encrypt(lib: P11, session: int, key: int, mech: CK_MECHANISM, data: bytes) -> bytes:
    assert lib.C_EncryptInit(session, ctypes.byref(mech), key) == 0
    length = CK_ULONG(0)
    assert lib.C_Encrypt(session, data, len(data), None, ctypes.byref(length)) == 0
    out = ctypes.create_string_buffer(length.value)
    assert lib.C_Encrypt(session, data, len(data), out, ctypes.byref(length)) == 0
    return out.raw[: length.value]


def test_gcm_parameters_in_both_layouts(session: int, lib: P11) -> None:
    key = aes_key(lib, session)
    iv = ctypes.create_string_buffer(b"0123456789ab", 12)
    aad = ctypes.create_string_buffer(b"header", 6)
    with_bits = CK_GCM_PARAMS(
        ctypes.cast(iv, ctypes.c_void_p), 12, 96, ctypes.cast(aad, ctypes.c_void_p), 6, 128
    )
    without_bits = CK_GCM_PARAMS_NO_IVBITS(
        ctypes.cast(iv, ctypes.c_void_p), 12, ctypes.cast(aad, ctypes.c_void_p), 6, 128
    )
    first = _gcm_encrypt(lib, session, key, mechanism(int(CKM.AES_GCM), with_bits), b"secret")
    second = _gcm_encrypt(lib, session, key, mechanism(int(CKM.AES_GCM), without_bits), b"secret")
    assert first == second and len(first) == 6 + 16


def test_wrong_mechanism_parameters(session: int, lib: P11) -> None:
    key = aes_key(lib, session)
    iv = ctypes.create_string_buffer(12)
    gcm = CK_GCM_PARAMS(ctypes.cast(iv, ctypes.c_void_p), 12, 96, None, 0, 128)
    invalid = int(CKR.MECHANISM_PARAM_INVALID)
    short = mechanism(int(CKM.AES_GCM), gcm, length=ctypes.sizeof(gcm) - 4)
    assert lib.C_EncryptInit(session, ctypes.byref(short), key) == invalid
    null_iv = CK_GCM_PARAMS(None, 12, 96, None, 0, 128)
    assert lib.C_EncryptInit(session, ctypes.byref(mechanism(int(CKM.AES_GCM), null_iv)), key) == (
        invalid
    )
    missing = mechanism(int(CKM.AES_GCM))
    assert lib.C_EncryptInit(session, ctypes.byref(missing), key) == invalid
    ctr = CK_AES_CTR_PARAMS(128, (ctypes.c_ubyte * 16)())
    long_ctr = mechanism(int(CKM.AES_CTR), bytes(ctr) + b"\x00" * 8)
    assert lib.C_EncryptInit(session, ctypes.byref(long_ctr), key) == invalid
    pss = mechanism(int(CKM.SHA256_RSA_PKCS_PSS))
    assert lib.C_SignInit(session, ctypes.byref(pss), key) == invalid
    # a parameterless mechanism given a parameter: the mechanism decides
    ecb = mechanism(int(CKM.AES_ECB), b"\x00" * 16)
    assert lib.C_EncryptInit(session, ctypes.byref(ecb), key) == invalid
    # the session is still usable: a correct init succeeds
    good = mechanism(int(CKM.AES_CTR), bytes(ctr))
    assert lib.C_EncryptInit(session, ctypes.byref(good), key) == 0


def test_get_attribute_value_rules(session: int, lib: P11) -> None:
    key = aes_key(lib, session, sensitive=True)
    label_len = len(b"abi-aes")
    attrs = template(
        (int(CKA.LABEL), None, 0),  # length query
        (int(CKA.VALUE), None, 0),  # sensitive
        (0x7FFF0000, None, 0),  # not an attribute of this object
        (int(CKA.KEY_TYPE), None, 0),
    )
    rv = lib.C_GetAttributeValue(session, key, attrs, 4)
    assert rv in (CKR.ATTRIBUTE_SENSITIVE, CKR.ATTRIBUTE_TYPE_INVALID)
    assert attrs[0].ulValueLen == label_len
    assert attrs[1].ulValueLen == UNAVAILABLE
    assert attrs[2].ulValueLen == UNAVAILABLE
    assert attrs[3].ulValueLen == ctypes.sizeof(CK_ULONG)

    small = template((int(CKA.LABEL), b"\x00" * 3, None), (int(CKA.KEY_TYPE), b"\x00" * 8, None))
    assert lib.C_GetAttributeValue(session, key, small, 2) == CKR.BUFFER_TOO_SMALL
    assert small[0].ulValueLen == UNAVAILABLE
    assert small[1].ulValueLen == ctypes.sizeof(CK_ULONG)  # later entries still processed
    assert ctypes.string_at(small[1].pValue, 8) == ulong_bytes(int(CKK.AES))

    exact = template((int(CKA.LABEL), b"\x00" * 16, None), (int(CKA.SENSITIVE), b"\x00", None))
    assert lib.C_GetAttributeValue(session, key, exact, 2) == 0
    assert exact[0].ulValueLen == label_len
    assert ctypes.string_at(exact[0].pValue, label_len) == b"abi-aes"
    assert ctypes.string_at(exact[1].pValue, 1) == TRUE
    assert lib.C_GetAttributeValue(session, key, None, 0) == 0
    assert lib.C_GetAttributeValue(session, key, None, 1) == BAD


def test_encrypt_decrypt_round_trip_with_short_buffers(session: int, lib: P11) -> None:
    key = aes_key(lib, session)
    iv = b"\x11" * 16
    plain = b"sixteen byte msg" * 3
    cbc = mechanism(int(CKM.AES_CBC), iv)
    assert lib.C_EncryptInit(session, ctypes.byref(cbc), key) == 0
    length = CK_ULONG(1)
    tiny = ctypes.create_string_buffer(1)
    assert lib.C_Encrypt(session, plain, len(plain), tiny, ctypes.byref(length)) == (
        CKR.BUFFER_TOO_SMALL
    )
    cipher = ctypes.create_string_buffer(length.value)
    assert lib.C_Encrypt(session, plain, len(plain), cipher, ctypes.byref(length)) == 0
    assert lib.C_DecryptInit(session, ctypes.byref(cbc), key) == 0
    clear = ctypes.create_string_buffer(len(plain))
    out_len = CK_ULONG(len(plain))
    assert lib.C_Decrypt(session, cipher, length.value, clear, ctypes.byref(out_len)) == 0
    assert clear.raw[: out_len.value] == plain


def test_an_argument_error_ends_the_active_operation(session: int, lib: P11) -> None:
    """s5.2: any error other than CKR_BUFFER_TOO_SMALL ends the operation, also one the
    C ABI finds before the core sees the call."""
    out = ctypes.create_string_buffer(64)
    length = CK_ULONG(64)
    digest_init(lib, session)
    assert lib.C_DigestUpdate(session, None, 5) == BAD
    assert lib.C_DigestFinal(session, out, ctypes.byref(length)) == CKR.OPERATION_NOT_INITIALIZED
    digest_init(lib, session)
    assert lib.C_Digest(session, b"abc", 3, out, None) == BAD
    assert lib.C_Digest(session, b"abc", 3, out, ctypes.byref(length)) == (
        CKR.OPERATION_NOT_INITIALIZED
    )
    # a short buffer does not end it
    digest_init(lib, session)
    length = CK_ULONG(4)
    assert lib.C_Digest(session, b"abc", 3, out, ctypes.byref(length)) == CKR.BUFFER_TOO_SMALL
    length = CK_ULONG(64)
    assert lib.C_Digest(session, b"abc", 3, out, ctypes.byref(length)) == 0
    assert out.raw[:32] == hashlib.sha256(b"abc").digest()


# -- issue 9 item 3: a kept result answers only the same input ----------------------------------


def _hmac_key(lib: P11, session: int, value: bytes) -> int:
    key = CK_ULONG()
    attrs = template(
        (int(CKA.CLASS), ulong_bytes(int(CKO.SECRET_KEY)), None),
        (int(CKA.KEY_TYPE), ulong_bytes(int(CKK.GENERIC_SECRET)), None),
        (int(CKA.VALUE), value, None),
        (int(CKA.SIGN), TRUE, None),
    )
    assert lib.C_CreateObject(session, attrs, 4, ctypes.byref(key)) == 0
    return int(key.value)


def test_a_sign_length_query_is_not_answered_for_other_data(session: int, lib: P11) -> None:
    import hmac

    secret = bytes(range(32))
    key = _hmac_key(lib, session, secret)
    mech = mechanism(int(CKM.SHA256_HMAC))
    assert lib.C_SignInit(session, ctypes.byref(mech), key) == 0
    length = CK_ULONG(0)
    assert lib.C_Sign(session, b"d1", 2, None, ctypes.byref(length)) == 0
    assert length.value == 32
    out = ctypes.create_string_buffer(32)
    assert lib.C_Sign(session, b"d2", 2, out, ctypes.byref(length)) == 0
    assert out.raw == hmac.new(secret, b"d2", hashlib.sha256).digest()


def test_a_decrypt_length_query_is_not_answered_for_other_ciphertext(
    session: int, lib: P11
) -> None:
    key = aes_key(lib, session)
    iv = bytes(16)
    ciphertexts = []
    for plain in (b"first plaintext!", b"second plaintext"):
        mech = mechanism(int(CKM.AES_CBC), iv)
        assert lib.C_EncryptInit(session, ctypes.byref(mech), key) == 0
        out = ctypes.create_string_buffer(16)
        length = CK_ULONG(16)
        assert lib.C_Encrypt(session, plain, 16, out, ctypes.byref(length)) == 0
        ciphertexts.append(out.raw)
    mech = mechanism(int(CKM.AES_CBC), iv)
    assert lib.C_DecryptInit(session, ctypes.byref(mech), key) == 0
    length = CK_ULONG(0)
    assert lib.C_Decrypt(session, ciphertexts[0], 16, None, ctypes.byref(length)) == 0
    out = ctypes.create_string_buffer(16)
    length = CK_ULONG(16)
    assert lib.C_Decrypt(session, ciphertexts[1], 16, out, ctypes.byref(length)) == 0
    assert out.raw == b"second plaintext"


def test_an_update_length_query_consumes_nothing(session: int, lib: P11) -> None:
    key = aes_key(lib, session)
    mech = mechanism(int(CKM.AES_ECB))
    assert lib.C_EncryptInit(session, ctypes.byref(mech), key) == 0
    length = CK_ULONG(0)
    assert lib.C_EncryptUpdate(session, b"A" * 32, 32, None, ctypes.byref(length)) == 0
    assert length.value == 32
    first = ctypes.create_string_buffer(32)
    assert lib.C_EncryptUpdate(session, b"B" * 16, 16, first, ctypes.byref(length)) == 0
    assert length.value == 16
    assert lib.C_EncryptFinal(session, None, ctypes.byref(length)) == 0 and length.value == 0
    assert lib.C_EncryptFinal(session, first, ctypes.byref(length)) == 0
    assert lib.C_EncryptInit(session, ctypes.byref(mech), key) == 0
    again = ctypes.create_string_buffer(16)
    length = CK_ULONG(16)
    assert lib.C_Encrypt(session, b"B" * 16, 16, again, ctypes.byref(length)) == 0
    assert first.raw[:16] == again.raw
