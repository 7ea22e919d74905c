"""DSA and PKCS #3 DH through the C ABI (ctypes, the module in this process): C_GetMechanismInfo
ranges and flags, C_GenerateKey making a CKO_DOMAIN_PARAMETERS object, the s5.2 length
protocol of C_Sign with DSA (r || s), and CKM_DH_PKCS_DERIVE's parameter (the other party's
public value as raw bytes; NULL refused)."""

from __future__ import annotations

import ctypes

from tokenport.ck import CKA, CKF, CKK, CKM, CKO, CKR

from .helpers import first_slot
from .p11ctypes import CK_MECHANISM_INFO, CK_ULONG, P11, template, ulong_bytes
from .test_calls_crypto import FALSE, TRUE, mechanism

FFDHE2048_P = bytes.fromhex(
    "ffffffffffffffffadf85458a2bb4a9aafdc5620273d3cf1d8b9c583ce2d3695a9e13641146433fbcc939dce24"
    "9b3ef97d2fe363630c75d8f681b202aec4617ad3df1ed5d5fd65612433f51f5f066ed0856365553ded1af3b557"
    "135e7f57c935984f0c70e0e68b77e2a689daf3efe8721df158a136ade73530acca4f483a797abc0ab182b324fb"
    "61d108a94bb2c8e3fbb96adab760d7f4681d4f42a3de394df4ae56ede76372bb190b07a7c8ee0a6d709e02fce1"
    "cdf7e2ecc03404cd28342f619172fe9ce98583ff8e4f1232eef28183c3fe3b1b4c6fad733bb5fcbc2ec22005c5"
    "8ef1837d1683b2c6f34a26c1b2effa886b423861285c97ffffffffffffffff")


def _info(lib: P11, mech: int) -> tuple[int, int, int]:
    info = CK_MECHANISM_INFO()
    assert lib.C_GetMechanismInfo(first_slot(lib), mech, ctypes.byref(info)) == 0
    return int(info.ulMinKeySize), int(info.ulMaxKeySize), int(info.flags)


def test_mechanism_info(session: int, lib: P11) -> None:
    sign = int(CKF.SIGN | CKF.VERIFY | CKF.MESSAGE_SIGN | CKF.MESSAGE_VERIFY)  # v3.0: messages too
    assert _info(lib, CKM.DSA_PARAMETER_GEN) == (2048, 3072, CKF.GENERATE)
    assert _info(lib, CKM.DSA_KEY_PAIR_GEN) == (2048, 3072, CKF.GENERATE_KEY_PAIR)
    for mech in (CKM.DSA, CKM.DSA_SHA1, CKM.DSA_SHA224, CKM.DSA_SHA256, CKM.DSA_SHA384, CKM.DSA_SHA512):
        assert _info(lib, mech) == (1024, 3072, sign)
    assert _info(lib, CKM.DH_PKCS_PARAMETER_GEN) == (1024, 2048, CKF.GENERATE)
    assert _info(lib, CKM.DH_PKCS_KEY_PAIR_GEN) == (1024, 8192, CKF.GENERATE_KEY_PAIR)
    assert _info(lib, CKM.DH_PKCS_DERIVE) == (1024, 8192, CKF.DERIVE)


def _attribute(lib: P11, session: int, handle: int, attr: int) -> bytes:
    attrs = template((attr, None, None))
    assert lib.C_GetAttributeValue(session, handle, attrs, 1) == 0
    buffer = ctypes.create_string_buffer(attrs[0].ulValueLen)
    attrs = template((attr, buffer.raw, None))
    assert lib.C_GetAttributeValue(session, handle, attrs, 1) == 0
    return ctypes.string_at(attrs[0].pValue, attrs[0].ulValueLen)


def test_domain_parameters_key_pair_and_sign_length_protocol(session: int, lib: P11) -> None:
    params = CK_ULONG()
    mech = mechanism(int(CKM.DSA_PARAMETER_GEN))
    attrs = template((int(CKA.CLASS), ulong_bytes(int(CKO.DOMAIN_PARAMETERS)), None),
                     (int(CKA.PRIME_BITS), ulong_bytes(2048), None))
    assert lib.C_GenerateKey(session, ctypes.byref(mech), attrs, 2, ctypes.byref(params)) == 0
    assert _attribute(lib, session, params.value, CKA.CLASS) == ulong_bytes(int(CKO.DOMAIN_PARAMETERS))
    assert _attribute(lib, session, params.value, CKA.KEY_TYPE) == ulong_bytes(int(CKK.DSA))
    assert _attribute(lib, session, params.value, CKA.LOCAL) == TRUE
    domain = [(int(a), _attribute(lib, session, params.value, a), None)
              for a in (CKA.PRIME, CKA.SUBPRIME, CKA.BASE)]
    public, private = CK_ULONG(), CK_ULONG()
    gen = mechanism(int(CKM.DSA_KEY_PAIR_GEN))
    rv = lib.C_GenerateKeyPair(session, ctypes.byref(gen), template(*domain), 3,
                               template((int(CKA.SIGN), TRUE, None)), 1,
                               ctypes.byref(public), ctypes.byref(private))
    assert rv == 0, hex(rv)
    sign = mechanism(int(CKM.DSA))
    assert lib.C_SignInit(session, ctypes.byref(sign), private) == 0
    digest = bytes(range(32))
    length = CK_ULONG(0)
    assert lib.C_Sign(session, digest, 32, None, ctypes.byref(length)) == 0
    assert length.value == 64
    short = ctypes.create_string_buffer(63)
    length = CK_ULONG(63)
    assert lib.C_Sign(session, digest, 32, short, ctypes.byref(length)) == CKR.BUFFER_TOO_SMALL
    assert length.value == 64
    out = ctypes.create_string_buffer(64)
    length = CK_ULONG(64)
    assert lib.C_Sign(session, digest, 32, out, ctypes.byref(length)) == 0
    assert lib.C_VerifyInit(session, ctypes.byref(sign), public) == 0
    assert lib.C_Verify(session, digest, 32, out.raw, 64) == 0
    assert lib.C_VerifyInit(session, ctypes.byref(sign), public) == 0
    assert lib.C_Verify(session, digest, 32, out.raw, 63) == CKR.SIGNATURE_LEN_RANGE
    assert lib.C_SignInit(session, ctypes.byref(sign), private) == 0
    assert lib.C_Sign(session, digest[:31], 31, out, ctypes.byref(length)) == CKR.DATA_LEN_RANGE


def test_dh_derive_parameter_is_the_public_value(session: int, lib: P11) -> None:
    domain = template((int(CKA.PRIME), FFDHE2048_P, None), (int(CKA.BASE), b"\x02", None))
    pairs = []
    for _ in range(2):
        public, private = CK_ULONG(), CK_ULONG()
        gen = mechanism(int(CKM.DH_PKCS_KEY_PAIR_GEN))
        rv = lib.C_GenerateKeyPair(session, ctypes.byref(gen), domain, 2,
                                   template((int(CKA.DERIVE), TRUE, None)), 1,
                                   ctypes.byref(public), ctypes.byref(private))
        assert rv == 0, hex(rv)
        pairs.append((int(public.value), int(private.value)))
    values = [_attribute(lib, session, public, CKA.VALUE) for public, _ in pairs]
    out = template((int(CKA.CLASS), ulong_bytes(int(CKO.SECRET_KEY)), None),
                   (int(CKA.KEY_TYPE), ulong_bytes(int(CKK.GENERIC_SECRET)), None),
                   (int(CKA.VALUE_LEN), ulong_bytes(20), None),
                   (int(CKA.SENSITIVE), FALSE, None), (int(CKA.EXTRACTABLE), TRUE, None))
    secrets = []
    for (_, private), peer in zip(pairs, reversed(values)):
        derived = CK_ULONG()
        mech = mechanism(int(CKM.DH_PKCS_DERIVE), peer)
        assert lib.C_DeriveKey(session, ctypes.byref(mech), private, out, 5, ctypes.byref(derived)) == 0
        secrets.append(_attribute(lib, session, derived.value, CKA.VALUE))
    assert len(secrets[0]) == 20 and secrets[0] == secrets[1]
    derived = CK_ULONG()
    for mech in (mechanism(int(CKM.DH_PKCS_DERIVE)), mechanism(int(CKM.DH_PKCS_DERIVE), b"\x01"),
                 mechanism(int(CKM.DH_PKCS_DERIVE), b"\x02", 0)):
        rv = lib.C_DeriveKey(session, ctypes.byref(mech), pairs[0][1], out, 5, ctypes.byref(derived))
        assert rv == CKR.MECHANISM_PARAM_INVALID, hex(rv)
