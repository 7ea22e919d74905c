"""ML-DSA and ML-KEM through the compiled module (PKCS #11 v3.2 s6.66-6.67, over the v2.40
function list): C_GetMechanismInfo, C_GenerateKeyPair, C_Sign / C_Verify with a
CK_SIGN_ADDITIONAL_CONTEXT decoded from C memory (pointer and length checks), signatures
checked by pyca, C_CreateObject of a public key and C_GetAttributeValue of CKA_VALUE /
CKA_SEED. C_EncapsulateKey / C_DecapsulateKey entry points come with the 3.2 interface."""

from __future__ import annotations

import ctypes

import pytest
from cryptography.hazmat.primitives.asymmetric import mldsa

from tokenport.ck import CKA, CKF, CKH_HEDGE, CKK, CKM, CKO, CKP_ML_DSA, CKP_ML_KEM, CKR

from .helpers import UNAVAILABLE, first_slot
from .p11ctypes import CK_MECHANISM_INFO, CK_ULONG, P11, template, ulong_bytes
from .test_calls_crypto import mechanism

TRUE = b"\x01"
FALSE = b"\x00"
PARAM_INVALID = int(CKR.MECHANISM_PARAM_INVALID)


class CK_SIGN_ADDITIONAL_CONTEXT(ctypes.Structure):
    """PKCS #11 v3.2 CK_SIGN_ADDITIONAL_CONTEXT (default packing)."""

    _fields_ = [
        ("hedgeVariant", CK_ULONG),
        ("pContext", ctypes.c_void_p),
        ("ulContextLen", CK_ULONG),
    ]


def sign_context(hedge: int, context: bytes | None,
                 length: int | None = None) -> tuple[CK_SIGN_ADDITIONAL_CONTEXT, object]:
    if context is None:
        return CK_SIGN_ADDITIONAL_CONTEXT(hedge, None, length or 0), None
    buffer = ctypes.create_string_buffer(context, max(len(context), 1))
    size = len(context) if length is None else length
    return CK_SIGN_ADDITIONAL_CONTEXT(hedge, ctypes.cast(buffer, ctypes.c_void_p), size), buffer


def mldsa_pair(lib: P11, session: int, parameter_set: int,
               private_extra: tuple[tuple[int, bytes], ...] = ()) -> tuple[int, int]:
    public = [(CKA.PARAMETER_SET, ulong_bytes(parameter_set)), (CKA.VERIFY, TRUE)]
    private = [(CKA.SIGN, TRUE), *private_extra]
    pub, priv = CK_ULONG(), CK_ULONG()
    rv = lib.C_GenerateKeyPair(
        session, ctypes.byref(mechanism(int(CKM.ML_DSA_KEY_PAIR_GEN))),
        template(*[(int(t), v, None) for t, v in public]), len(public),
        template(*[(int(t), v, None) for t, v in private]), len(private),
        ctypes.byref(pub), ctypes.byref(priv),
    )  # fmt: skip
    assert rv == 0, hex(rv)
    return int(pub.value), int(priv.value)


def read_attribute(lib: P11, session: int, handle: int, attr: int) -> tuple[int, bytes]:
    """(CK_RV, value) of one attribute: length query first, then the value."""
    entry = template((attr, None, 0))
    rv = lib.C_GetAttributeValue(session, handle, entry, 1)
    if rv != 0:
        assert entry[0].ulValueLen == UNAVAILABLE
        return rv, b""
    buffer = ctypes.create_string_buffer(entry[0].ulValueLen)
    entry[0].pValue = ctypes.cast(buffer, ctypes.c_void_p)
    assert lib.C_GetAttributeValue(session, handle, entry, 1) == 0
    return 0, buffer.raw[: entry[0].ulValueLen]


def sign(lib: P11, session: int, key: int, mech: ctypes.Structure, data: bytes) -> tuple[int, bytes]:
    rv = lib.C_SignInit(session, ctypes.byref(mech), key)
    if rv != 0:
        return rv, b""
    length = CK_ULONG(0)
    assert lib.C_Sign(session, data, len(data), None, ctypes.byref(length)) == 0
    out = ctypes.create_string_buffer(length.value)
    assert lib.C_Sign(session, data, len(data), out, ctypes.byref(length)) == 0
    return 0, out.raw[: length.value]


@pytest.mark.parametrize(("kind", "sizes", "flags"), [
    (CKM.ML_DSA_KEY_PAIR_GEN, (1312, 2592), CKF.GENERATE_KEY_PAIR),
    (CKM.ML_DSA, (1312, 2592), CKF.SIGN | CKF.VERIFY | CKF.MESSAGE_SIGN | CKF.MESSAGE_VERIFY),
    (CKM.ML_KEM_KEY_PAIR_GEN, (1184, 1568), CKF.GENERATE_KEY_PAIR),
    (CKM.ML_KEM, (1184, 1568), CKF.ENCAPSULATE | CKF.DECAPSULATE),
])
def test_mechanism_info(lib: P11, kind: int, sizes: tuple[int, int], flags: int) -> None:
    slot = first_slot(lib)
    count = CK_ULONG()
    assert lib.C_GetMechanismList(slot, None, ctypes.byref(count)) == 0
    listed = (CK_ULONG * count.value)()
    assert lib.C_GetMechanismList(slot, listed, ctypes.byref(count)) == 0
    assert int(kind) in list(listed)
    info = CK_MECHANISM_INFO()
    assert lib.C_GetMechanismInfo(slot, int(kind), ctypes.byref(info)) == 0
    assert (info.ulMinKeySize, info.ulMaxKeySize, info.flags) == (*sizes, int(flags))


@pytest.mark.parametrize(("parameter_set", "signature_bytes", "pyca"), [
    (CKP_ML_DSA.ML_DSA_44, 2420, mldsa.MLDSA44PublicKey),
    (CKP_ML_DSA.ML_DSA_65, 3309, mldsa.MLDSA65PublicKey),
    (CKP_ML_DSA.ML_DSA_87, 4627, mldsa.MLDSA87PublicKey),
])
def test_sign_with_context_verified_by_pyca(lib: P11, session: int, parameter_set: int,
                                            signature_bytes: int, pyca: type) -> None:
    pub, priv = mldsa_pair(lib, session, parameter_set)
    rv, public = read_attribute(lib, session, pub, int(CKA.VALUE))
    assert rv == 0
    param, keep = sign_context(int(CKH_HEDGE.HEDGE_REQUIRED), b"tokenport context")
    rv, signature = sign(lib, session, priv, mechanism(int(CKM.ML_DSA), param), b"data")
    assert rv == 0 and len(signature) == signature_bytes
    pyca.from_public_bytes(public).verify(signature, b"data", b"tokenport context")  # type: ignore[attr-defined]
    verify = mechanism(int(CKM.ML_DSA), param)
    assert lib.C_VerifyInit(session, ctypes.byref(verify), pub) == 0
    assert lib.C_Verify(session, b"data", 4, signature, len(signature)) == 0
    assert lib.C_VerifyInit(session, ctypes.byref(mechanism(int(CKM.ML_DSA))), pub) == 0
    assert lib.C_Verify(session, b"data", 4, signature, len(signature)) == CKR.SIGNATURE_INVALID
    del keep


def test_no_parameter_and_multi_part_sign(lib: P11, session: int) -> None:
    pub, priv = mldsa_pair(lib, session, CKP_ML_DSA.ML_DSA_44)
    _, public = read_attribute(lib, session, pub, int(CKA.VALUE))
    assert lib.C_SignInit(session, ctypes.byref(mechanism(int(CKM.ML_DSA))), priv) == 0
    assert lib.C_SignUpdate(session, b"da", 2) == 0
    assert lib.C_SignUpdate(session, b"ta", 2) == 0
    out = ctypes.create_string_buffer(2420)
    length = CK_ULONG(2420)
    assert lib.C_SignFinal(session, out, ctypes.byref(length)) == 0
    mldsa.MLDSA44PublicKey.from_public_bytes(public).verify(out.raw[: length.value], b"data")
    assert lib.C_VerifyInit(session, ctypes.byref(mechanism(int(CKM.ML_DSA))), pub) == 0
    assert lib.C_VerifyUpdate(session, b"data", 4) == CKR.FUNCTION_NOT_SUPPORTED


@pytest.mark.parametrize(("hedge", "context", "length", "struct_length"), [
    (int(CKH_HEDGE.DETERMINISTIC_REQUIRED), b"", None, None),  # pyca signs hedged only
    (7, b"", None, None),  # unknown hedgeVariant
    (int(CKH_HEDGE.HEDGE_PREFERRED), b"c" * 256, None, None),  # context over 255 bytes
    (int(CKH_HEDGE.HEDGE_PREFERRED), None, 5, None),  # NULL pContext with a length
    (int(CKH_HEDGE.HEDGE_PREFERRED), b"ctx", None, -1),  # ulParameterLen one byte short
])
def test_bad_sign_contexts(lib: P11, session: int, hedge: int, context: bytes | None,
                           length: int | None, struct_length: int | None) -> None:
    _, priv = mldsa_pair(lib, session, CKP_ML_DSA.ML_DSA_44)
    param, keep = sign_context(hedge, context, length)
    size = ctypes.sizeof(param) + (struct_length or 0)
    rv, _ = sign(lib, session, priv, mechanism(int(CKM.ML_DSA), param, size), b"m")
    assert rv == PARAM_INVALID
    out = ctypes.create_string_buffer(8)
    out_len = CK_ULONG(8)
    assert lib.C_Sign(session, b"m", 1, out, ctypes.byref(out_len)) == CKR.OPERATION_NOT_INITIALIZED
    del keep


def test_null_parameter_with_length_is_refused(lib: P11, session: int) -> None:
    _, priv = mldsa_pair(lib, session, CKP_ML_DSA.ML_DSA_44)
    mech = mechanism(int(CKM.ML_DSA))
    mech.ulParameterLen = ctypes.sizeof(CK_SIGN_ADDITIONAL_CONTEXT)
    assert lib.C_SignInit(session, ctypes.byref(mech), priv) == PARAM_INVALID


def test_seed_readable_only_when_not_sensitive(lib: P11, session: int) -> None:
    pub, priv = mldsa_pair(lib, session, CKP_ML_DSA.ML_DSA_65)
    assert read_attribute(lib, session, priv, int(CKA.SEED))[0] == CKR.ATTRIBUTE_SENSITIVE
    assert read_attribute(lib, session, priv, int(CKA.PARAMETER_SET)) == (
        0, ulong_bytes(int(CKP_ML_DSA.ML_DSA_65)))
    _, open_priv = mldsa_pair(lib, session, CKP_ML_DSA.ML_DSA_65,
                              ((CKA.SENSITIVE, FALSE), (CKA.EXTRACTABLE, TRUE)))
    rv, seed = read_attribute(lib, session, open_priv, int(CKA.SEED))
    assert rv == 0 and len(seed) == 32
    assert read_attribute(lib, session, pub, int(CKA.VALUE))[1] != b""


def test_create_public_key_and_verify(lib: P11, session: int) -> None:
    theirs = mldsa.MLDSA87PrivateKey.generate()
    public = theirs.public_key().public_bytes_raw()
    attrs = [
        (int(CKA.CLASS), ulong_bytes(int(CKO.PUBLIC_KEY)), None),
        (int(CKA.KEY_TYPE), ulong_bytes(int(CKK.ML_DSA)), None),
        (int(CKA.PARAMETER_SET), ulong_bytes(int(CKP_ML_DSA.ML_DSA_87)), None),
        (int(CKA.VALUE), public, None),
    ]
    handle = CK_ULONG()
    assert lib.C_CreateObject(session, template(*attrs), len(attrs), ctypes.byref(handle)) == 0
    assert read_attribute(lib, session, handle.value, int(CKA.VALUE)) == (0, public)
    signature = theirs.sign(b"payload")
    assert lib.C_VerifyInit(session, ctypes.byref(mechanism(int(CKM.ML_DSA))), handle.value) == 0
    assert lib.C_Verify(session, b"payload", 7, signature, len(signature)) == 0
    assert lib.C_VerifyInit(session, ctypes.byref(mechanism(int(CKM.ML_DSA))), handle.value) == 0
    assert lib.C_Verify(session, b"payload", 7, signature, len(signature) - 1) == CKR.SIGNATURE_LEN_RANGE


def test_mlkem_512_key_generation_is_refused(lib: P11, session: int) -> None:
    public = template((int(CKA.PARAMETER_SET), ulong_bytes(int(CKP_ML_KEM.ML_KEM_512)), None))
    pub, priv = CK_ULONG(), CK_ULONG()
    rv = lib.C_GenerateKeyPair(
        session, ctypes.byref(mechanism(int(CKM.ML_KEM_KEY_PAIR_GEN))), public, 1,
        template((int(CKA.DECAPSULATE), TRUE, None)), 1, ctypes.byref(pub), ctypes.byref(priv),
    )  # fmt: skip
    assert rv == CKR.PARAMETER_SET_NOT_SUPPORTED
