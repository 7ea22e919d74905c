"""Message-based AEAD and the single-part CCM / ChaCha20-Poly1305 mechanisms through the real
module (PKCS #11 v3.0 base s5.13; Current Mechanisms AES-GCM/CCM, ChaCha20-Poly1305), against
the NIST CAVP and RFC 8439 vectors of tests/vectors/aead."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from tokenport.ck import CKA, CKF, CKK, CKM, CKO, CKR, CKGen

from .p11ctypes import CK_MECHANISM_INFO, CK_ULONG, P11, template, ulong_bytes
from .test_calls_crypto import TRUE, mechanism

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "aead"
END = int(CKF.END_OF_MESSAGE)


class CK_GCM_MESSAGE_PARAMS(ctypes.Structure):
    _fields_ = [("pIv", ctypes.c_void_p), ("ulIvLen", CK_ULONG), ("ulIvFixedBits", CK_ULONG),
                ("ivGenerator", CK_ULONG), ("pTag", ctypes.c_void_p), ("ulTagBits", CK_ULONG)]


class CK_CCM_MESSAGE_PARAMS(ctypes.Structure):
    _fields_ = [("ulDataLen", CK_ULONG), ("pNonce", ctypes.c_void_p), ("ulNonceLen", CK_ULONG),
                ("ulNonceFixedBits", CK_ULONG), ("nonceGenerator", CK_ULONG),
                ("pMAC", ctypes.c_void_p), ("ulMACLen", CK_ULONG)]


class CK_CHACHA_MSG_PARAMS(ctypes.Structure):
    _fields_ = [("pNonce", ctypes.c_void_p), ("ulNonceLen", CK_ULONG), ("pTag", ctypes.c_void_p)]


class CK_CCM_PARAMS(ctypes.Structure):
    _fields_ = [("ulDataLen", CK_ULONG), ("pNonce", ctypes.c_void_p), ("ulNonceLen", CK_ULONG),
                ("pAAD", ctypes.c_void_p), ("ulAADLen", CK_ULONG), ("ulMACLen", CK_ULONG)]


class CK_CHACHA_PARAMS(ctypes.Structure):
    _fields_ = [("pNonce", ctypes.c_void_p), ("ulNonceLen", CK_ULONG), ("pAAD", ctypes.c_void_p),
                ("ulAADLen", CK_ULONG)]


def _blocks(name: str) -> list[dict[str, str]]:
    """The vectors of a file: ``key = value`` lines after each Count; [..] headers, and Key /
    Nonce lines that come before a Count (CCMVS), apply to the vectors that follow."""
    out: list[dict[str, str]] = []
    sticky: dict[str, str] = {}
    current: dict[str, str] | None = None
    for raw in (VECTORS / name).read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            key, _, value = line.strip("[]").partition("=")
            sticky[key.strip().upper()] = value.strip()
        elif "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            key, value = key.strip().upper(), value.strip()
            if key == "COUNT":
                current = {**sticky, key: value}
                out.append(current)
            elif current is None or (key in ("KEY", "NONCE") and key in current):
                sticky[key] = value
                current = None
            else:
                current[key] = value
    return out


def _hex(value: str) -> bytes:
    if value.startswith('"'):
        return value.strip('"').encode()
    return bytes.fromhex(value)


def secret_key(lib: P11, session: int, key_type: int, value: bytes) -> int:
    key = CK_ULONG()
    attrs = template(
        (int(CKA.CLASS), ulong_bytes(int(CKO.SECRET_KEY)), None),
        (int(CKA.KEY_TYPE), ulong_bytes(key_type), None),
        (int(CKA.VALUE), value, None),
        (int(CKA.ENCRYPT), TRUE, None),
        (int(CKA.DECRYPT), TRUE, None),
    )
    assert lib.C_CreateObject(session, attrs, 5, ctypes.byref(key)) == 0
    return int(key.value)


def _buf(data: bytes) -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(data, max(len(data), 1))


def _init(lib: P11, session: int, kind: int, key: int, decrypt: bool = False) -> None:
    mech = mechanism(kind)
    init = lib.C_MessageDecryptInit if decrypt else lib.C_MessageEncryptInit
    assert init(session, ctypes.byref(mech), key) == 0


def _encrypt(lib: P11, session: int, params: ctypes.Structure, aad: bytes, data: bytes) -> bytes:
    out = ctypes.create_string_buffer(max(len(data), 1))
    length = CK_ULONG(len(data))
    rv = lib.C_EncryptMessage(session, ctypes.byref(params), ctypes.sizeof(params), aad,
                              len(aad), data, len(data), out, ctypes.byref(length))
    assert rv == 0, hex(rv)
    return out.raw[: length.value]


def _decrypt(lib: P11, session: int, params: ctypes.Structure, aad: bytes,
             data: bytes) -> tuple[int, bytes]:
    out = ctypes.create_string_buffer(max(len(data), 1))
    length = CK_ULONG(len(data))
    rv = lib.C_DecryptMessage(session, ctypes.byref(params), ctypes.sizeof(params), aad,
                              len(aad), data, len(data), out, ctypes.byref(length))
    return int(rv), out.raw[: length.value]


def _gcm_params(iv: ctypes.Array[ctypes.c_char], iv_len: int, tag: ctypes.Array[ctypes.c_char],
                generator: int = CKGen.NO_GENERATE, fixed: int = 0,
                tag_bits: int = 128) -> CK_GCM_MESSAGE_PARAMS:
    return CK_GCM_MESSAGE_PARAMS(ctypes.cast(iv, ctypes.c_void_p), iv_len, fixed, generator,
                                 ctypes.cast(tag, ctypes.c_void_p), tag_bits)


@pytest.mark.parametrize("vector", _blocks("gcm.rsp"), ids=lambda v: "count" + v["COUNT"])
def test_gcm_messages_match_nist_vectors(session: int, lib: P11, vector: dict[str, str]) -> None:
    key = secret_key(lib, session, int(CKK.AES), _hex(vector["KEY"]))
    iv, pt, aad = _hex(vector["IV"]), _hex(vector["PT"]), _hex(vector["AAD"])
    ct, tag = _hex(vector["CT"]), _hex(vector["TAG"])
    _init(lib, session, int(CKM.AES_GCM), key)
    tag_out = ctypes.create_string_buffer(16)
    params = _gcm_params(_buf(iv), len(iv), tag_out)
    params._keep = (iv,)  # type: ignore[attr-defined]
    iv_buf = _buf(iv)
    params.pIv = ctypes.cast(iv_buf, ctypes.c_void_p)
    assert _encrypt(lib, session, params, aad, pt) == ct
    assert tag_out.raw == tag
    _init(lib, session, int(CKM.AES_GCM), key, decrypt=True)
    tag_in = _buf(tag)
    dparams = _gcm_params(iv_buf, len(iv), tag_in)
    assert _decrypt(lib, session, dparams, aad, ct) == (0, pt)
    bad = _buf(bytes([tag[0] ^ 1]) + tag[1:])
    dparams.pTag = ctypes.cast(bad, ctypes.c_void_p)
    assert _decrypt(lib, session, dparams, aad, ct)[0] == CKR.AEAD_DECRYPT_FAILED
    dparams.pTag = ctypes.cast(tag_in, ctypes.c_void_p)
    assert _decrypt(lib, session, dparams, aad, ct) == (0, pt)  # the operation stayed active


@pytest.mark.parametrize("vector", _blocks("ccm.rsp"), ids=lambda v: "count" + v["COUNT"])
def test_ccm_messages_and_single_part_match_nist_vectors(
    session: int, lib: P11, vector: dict[str, str]
) -> None:
    key = secret_key(lib, session, int(CKK.AES), _hex(vector["KEY"]))
    nonce, pt, aad = _hex(vector["NONCE"]), _hex(vector["PAYLOAD"]), _hex(vector["ADATA"])
    tlen = int(vector["TLEN"])
    sealed = _hex(vector["CT"])
    ct, tag = sealed[:-tlen], sealed[-tlen:]
    nonce_buf, mac = _buf(nonce), ctypes.create_string_buffer(tlen)
    params = CK_CCM_MESSAGE_PARAMS(len(pt), ctypes.cast(nonce_buf, ctypes.c_void_p), len(nonce),
                                   0, CKGen.NO_GENERATE, ctypes.cast(mac, ctypes.c_void_p), tlen)
    _init(lib, session, int(CKM.AES_CCM), key)
    assert _encrypt(lib, session, params, aad, pt) == ct
    assert mac.raw == tag
    _init(lib, session, int(CKM.AES_CCM), key, decrypt=True)
    mac_in = _buf(tag)
    params.pMAC = ctypes.cast(mac_in, ctypes.c_void_p)
    assert _decrypt(lib, session, params, aad, ct) == (0, pt)
    # single-part CKM_AES_CCM with CK_CCM_PARAMS: ciphertext || MAC
    aad_buf = _buf(aad)
    single = CK_CCM_PARAMS(len(pt), ctypes.cast(nonce_buf, ctypes.c_void_p), len(nonce),
                           ctypes.cast(aad_buf, ctypes.c_void_p), len(aad), tlen)
    mech = mechanism(int(CKM.AES_CCM), bytes(single))
    assert lib.C_EncryptInit(session, ctypes.byref(mech), key) == 0
    out = ctypes.create_string_buffer(len(sealed))
    length = CK_ULONG(len(sealed))
    assert lib.C_Encrypt(session, pt, len(pt), out, ctypes.byref(length)) == 0
    assert out.raw[: length.value] == sealed
    assert lib.C_DecryptInit(session, ctypes.byref(mech), key) == 0
    length.value = len(sealed)
    assert lib.C_Decrypt(session, sealed, len(sealed), out, ctypes.byref(length)) == 0
    assert out.raw[: length.value] == pt
    assert lib.C_DecryptInit(session, ctypes.byref(mech), key) == 0
    broken = sealed[:-1] + bytes([sealed[-1] ^ 1])
    length.value = len(sealed)
    assert lib.C_Decrypt(session, broken, len(broken), out, ctypes.byref(length)) == (
        CKR.ENCRYPTED_DATA_INVALID
    )


def test_chacha20_poly1305_rfc8439(session: int, lib: P11) -> None:
    (vector,) = _blocks("chacha20poly1305.txt")
    key = secret_key(lib, session, int(CKK.CHACHA20), _hex(vector["KEY"]))
    nonce, pt, aad = _hex(vector["NONCE"]), _hex(vector["IN"]), _hex(vector["AD"])
    ct, tag = _hex(vector["CT"]), _hex(vector["TAG"])
    nonce_buf, tag_out = _buf(nonce), ctypes.create_string_buffer(16)
    params = CK_CHACHA_MSG_PARAMS(ctypes.cast(nonce_buf, ctypes.c_void_p), 12,
                                  ctypes.cast(tag_out, ctypes.c_void_p))
    _init(lib, session, int(CKM.CHACHA20_POLY1305), key)
    assert _encrypt(lib, session, params, aad, pt) == ct
    assert tag_out.raw == tag
    _init(lib, session, int(CKM.CHACHA20_POLY1305), key, decrypt=True)
    assert _decrypt(lib, session, params, aad, ct) == (0, pt)
    # single-part with CK_SALSA20_CHACHA20_POLY1305_PARAMS
    aad_buf = _buf(aad)
    single = CK_CHACHA_PARAMS(ctypes.cast(nonce_buf, ctypes.c_void_p), 12,
                              ctypes.cast(aad_buf, ctypes.c_void_p), len(aad))
    mech = mechanism(int(CKM.CHACHA20_POLY1305), bytes(single))
    assert lib.C_EncryptInit(session, ctypes.byref(mech), key) == 0
    out = ctypes.create_string_buffer(len(ct) + 16)
    length = CK_ULONG(len(ct) + 16)
    assert lib.C_Encrypt(session, pt, len(pt), out, ctypes.byref(length)) == 0
    assert out.raw[: length.value] == ct + tag
    short = CK_CHACHA_PARAMS(ctypes.cast(nonce_buf, ctypes.c_void_p), 8,
                             ctypes.cast(aad_buf, ctypes.c_void_p), len(aad))
    mech = mechanism(int(CKM.CHACHA20_POLY1305), bytes(short))
    assert lib.C_EncryptInit(session, ctypes.byref(mech), key) == CKR.MECHANISM_PARAM_INVALID


def test_generated_key_and_mechanism_info(session: int, lib: P11) -> None:
    key = CK_ULONG()
    attrs = template((int(CKA.ENCRYPT), TRUE, None), (int(CKA.DECRYPT), TRUE, None))
    gen = mechanism(int(CKM.CHACHA20_KEY_GEN))
    assert lib.C_GenerateKey(session, ctypes.byref(gen), attrs, 2, ctypes.byref(key)) == 0
    info = CK_MECHANISM_INFO()
    assert lib.C_GetMechanismInfo(0, int(CKM.CHACHA20_POLY1305), ctypes.byref(info)) == 0
    assert (info.ulMinKeySize, info.ulMaxKeySize) == (256, 256)
    assert info.flags == int(CKF.ENCRYPT | CKF.DECRYPT | CKF.MESSAGE_ENCRYPT | CKF.MESSAGE_DECRYPT)
    assert lib.C_GetMechanismInfo(0, int(CKM.AES_CCM), ctypes.byref(info)) == 0
    assert (info.ulMinKeySize, info.ulMaxKeySize) == (16, 32)
    assert lib.C_GetMechanismInfo(0, int(CKM.AES_CBC), ctypes.byref(info)) == 0
    assert not info.flags & int(CKF.MESSAGE_ENCRYPT)
    mech = mechanism(int(CKM.AES_CBC))
    aes = secret_key(lib, session, int(CKK.AES), b"k" * 16)
    assert lib.C_MessageEncryptInit(session, ctypes.byref(mech), aes) == CKR.MECHANISM_INVALID


AES_KEY = bytes(range(16))


def test_counter_ivs_increment_and_wrap(session: int, lib: P11) -> None:
    key = secret_key(lib, session, int(CKK.AES), AES_KEY)
    _init(lib, session, int(CKM.AES_GCM), key)
    iv, tag = _buf(b"\xaa" * 12), ctypes.create_string_buffer(16)
    params = _gcm_params(iv, 12, tag, CKGen.GENERATE_COUNTER, fixed=64)
    used = []
    for _ in range(3):
        ciphertext = _encrypt(lib, session, params, b"aad", b"message")
        used.append((iv.raw[:12], tag.raw, ciphertext))
    assert [u[0] for u in used] == [b"\xaa" * 8 + n.to_bytes(4, "big") for n in range(3)]
    # each decrypts with the IV written back
    _init(lib, session, int(CKM.AES_GCM), key, decrypt=True)
    for used_iv, used_tag, ciphertext in used:
        iv_in, tag_in = _buf(used_iv), _buf(used_tag)
        dparams = _gcm_params(iv_in, 12, tag_in)
        assert _decrypt(lib, session, dparams, b"aad", ciphertext) == (0, b"message")
    # 94 fixed bits leave 2: four IVs, then the operation refuses (never a repeat)
    assert lib.C_MessageEncryptFinal(session) == 0
    _init(lib, session, int(CKM.AES_GCM), key)
    params = _gcm_params(iv, 12, tag, CKGen.GENERATE_COUNTER, fixed=94)
    seen = set()
    for _ in range(4):
        _encrypt(lib, session, params, b"", b"x")
        seen.add(iv.raw[:12])
    assert len(seen) == 4
    out, length = ctypes.create_string_buffer(1), CK_ULONG(1)
    assert lib.C_EncryptMessage(session, ctypes.byref(params), ctypes.sizeof(params), b"", 0,
                                b"x", 1, out, ctypes.byref(length)) == CKR.FUNCTION_FAILED


def test_random_ivs_differ_and_keep_the_fixed_part(session: int, lib: P11) -> None:
    key = secret_key(lib, session, int(CKK.AES), AES_KEY)
    _init(lib, session, int(CKM.AES_GCM), key)
    iv, tag = _buf(b"\x5a" * 12), ctypes.create_string_buffer(16)
    params = _gcm_params(iv, 12, tag, CKGen.GENERATE_RANDOM, fixed=16)
    ivs = set()
    for _ in range(8):
        _encrypt(lib, session, params, b"", b"m")
        assert iv.raw[:2] == b"\x5a\x5a"
        ivs.add(iv.raw[:12])
    assert len(ivs) == 8
    params = _gcm_params(iv, 12, tag, CKGen.GENERATE_RANDOM, fixed=64)  # only 32 random bits
    out, length = ctypes.create_string_buffer(1), CK_ULONG(1)
    assert lib.C_EncryptMessage(session, ctypes.byref(params), ctypes.sizeof(params), b"", 0,
                                b"m", 1, out, ctypes.byref(length)) == CKR.MECHANISM_PARAM_INVALID
    # CCM nonces are generated the same way
    assert lib.C_MessageEncryptFinal(session) == 0
    _init(lib, session, int(CKM.AES_CCM), key)
    nonce, mac = _buf(b"\x01" * 12), ctypes.create_string_buffer(8)
    cparams = CK_CCM_MESSAGE_PARAMS(3, ctypes.cast(nonce, ctypes.c_void_p), 12, 88,
                                    CKGen.GENERATE_COUNTER, ctypes.cast(mac, ctypes.c_void_p), 8)
    _encrypt(lib, session, cparams, b"", b"abc")
    first = nonce.raw[:12]
    _encrypt(lib, session, cparams, b"", b"abc")
    assert first[:11] == nonce.raw[:11] == b"\x01" * 11 and (first[11], nonce.raw[11]) == (0, 1)


def test_message_in_parts_and_length_protocol(session: int, lib: P11) -> None:
    key = secret_key(lib, session, int(CKK.AES), AES_KEY)
    _init(lib, session, int(CKM.AES_GCM), key)
    iv, tag = _buf(b"\x10" * 12), ctypes.create_string_buffer(16)
    params = _gcm_params(iv, 12, tag)
    size = ctypes.sizeof(params)
    length = CK_ULONG(0)
    assert lib.C_EncryptMessage(session, ctypes.byref(params), size, b"a", 1, b"hello", 5, None,
                                ctypes.byref(length)) == 0
    assert length.value == 5 and tag.raw == b"\x00" * 16  # a length query encrypts nothing
    whole = _encrypt(lib, session, params, b"a", b"hello world")
    whole_tag = tag.raw
    assert lib.C_EncryptMessageBegin(session, ctypes.byref(params), size, b"a", 1) == 0
    out = ctypes.create_string_buffer(32)
    length = CK_ULONG(32)
    assert lib.C_EncryptMessageNext(session, ctypes.byref(params), size, b"hello ", 6, out,
                                    ctypes.byref(length), 0) == 0
    assert length.value == 0
    length = CK_ULONG(2)
    assert lib.C_EncryptMessageNext(session, ctypes.byref(params), size, b"world", 5, out,
                                    ctypes.byref(length), END) == CKR.BUFFER_TOO_SMALL
    assert length.value == 11
    assert lib.C_EncryptMessageNext(session, ctypes.byref(params), size, b"world", 5, out,
                                    ctypes.byref(length), END) == 0
    assert out.raw[:11] == whole and tag.raw == whole_tag
    # decryption in parts; the tag comes with the last part
    _init(lib, session, int(CKM.AES_GCM), key, decrypt=True)
    assert lib.C_DecryptMessageBegin(session, ctypes.byref(params), size, b"a", 1) == 0
    length = CK_ULONG(32)
    assert lib.C_DecryptMessageNext(session, ctypes.byref(params), size, whole[:4], 4, out,
                                    ctypes.byref(length), 0) == 0
    length = CK_ULONG(32)
    assert lib.C_DecryptMessageNext(session, ctypes.byref(params), size, whole[4:], 7, out,
                                    ctypes.byref(length), END) == 0
    assert out.raw[: length.value] == b"hello world"
    assert lib.C_DecryptMessageNext(session, ctypes.byref(params), size, b"x", 1, out,
                                    ctypes.byref(length), 0x2) == CKR.ARGUMENTS_BAD
    assert lib.C_SessionCancel(session, int(CKF.MESSAGE_DECRYPT | CKF.MESSAGE_ENCRYPT)) == 0
    assert lib.C_DecryptMessageBegin(session, ctypes.byref(params), size, b"a", 1) == (
        CKR.OPERATION_NOT_INITIALIZED
    )


def test_bad_message_parameters(session: int, lib: P11) -> None:
    key = secret_key(lib, session, int(CKK.AES), AES_KEY)
    _init(lib, session, int(CKM.AES_GCM), key)
    iv, tag = _buf(b"\x10" * 12), ctypes.create_string_buffer(16)
    params = _gcm_params(iv, 12, tag)
    out, length = ctypes.create_string_buffer(4), CK_ULONG(4)
    enc = lib.C_EncryptMessage
    assert enc(session, None, 0, b"", 0, b"m", 1, out, ctypes.byref(length)) == (
        CKR.MECHANISM_PARAM_INVALID
    )
    assert enc(session, ctypes.byref(params), 8, b"", 0, b"m", 1, out, ctypes.byref(length)) == (
        CKR.MECHANISM_PARAM_INVALID
    )
    params.pTag = None
    assert enc(session, ctypes.byref(params), ctypes.sizeof(params), b"", 0, b"m", 1, out,
               ctypes.byref(length)) == CKR.MECHANISM_PARAM_INVALID
    params.pTag = ctypes.cast(tag, ctypes.c_void_p)
    params.ulTagBits = 100
    assert enc(session, ctypes.byref(params), ctypes.sizeof(params), b"", 0, b"m", 1, out,
               ctypes.byref(length)) == CKR.MECHANISM_PARAM_INVALID
    params.ulTagBits = 128
    assert enc(session, ctypes.byref(params), ctypes.sizeof(params), None, 3, b"m", 1, out,
               ctypes.byref(length)) == CKR.ARGUMENTS_BAD
    assert enc(session, ctypes.byref(params), ctypes.sizeof(params), b"", 0, b"m", 1, out,
               None) == CKR.ARGUMENTS_BAD
    assert len(_encrypt(lib, session, params, b"", b"ok")) == 2  # still active


def test_last_part_parameter_must_match_begin(session: int, lib: P11) -> None:
    """The IV used is written to the last part's parameter: its IV and tag buffers must be as
    long as Begin's (never a write beyond a shorter buffer)."""
    key = secret_key(lib, session, int(CKK.AES), AES_KEY)
    _init(lib, session, int(CKM.AES_GCM), key)
    iv, tag = _buf(b"\x10" * 12), ctypes.create_string_buffer(16)
    begin = _gcm_params(iv, 12, tag, CKGen.GENERATE_COUNTER, fixed=32)
    short_iv = _buf(b"\x10" * 8)
    last = _gcm_params(short_iv, 8, tag, CKGen.GENERATE_COUNTER, fixed=32)
    size = ctypes.sizeof(begin)
    assert lib.C_EncryptMessageBegin(session, ctypes.byref(begin), size, b"", 0) == 0
    out, length = ctypes.create_string_buffer(8), CK_ULONG(8)
    assert lib.C_EncryptMessageNext(session, ctypes.byref(last), size, b"abc", 3, out,
                                    ctypes.byref(length), END) == CKR.MECHANISM_PARAM_INVALID
    assert short_iv.raw[:8] == b"\x10" * 8
    # the failed part ended that message only; a new one works
    assert lib.C_EncryptMessageBegin(session, ctypes.byref(begin), size, b"", 0) == 0
    length = CK_ULONG(8)
    assert lib.C_EncryptMessageNext(session, ctypes.byref(begin), size, b"abc", 3, out,
                                    ctypes.byref(length), END) == 0
    assert length.value == 3 and iv.raw[:4] == b"\x10" * 4 and iv.raw[4:12] == bytes(8)
