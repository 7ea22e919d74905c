"""The curves of issue 11 through the C ABI (the compiled module, driven with ctypes):
C_GetMechanismInfo ranges, X25519 / X448 through C_DeriveKey with CK_ECDH1_DERIVE_PARAMS,
Ed448 with and without CK_EDDSA_PARAMS, the CKA_EC_PARAMS error codes of s2.3.1, and the
512-bit RSA public key that verifies and does nothing else. Results are checked with
pyca/cryptography."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed448, x448, x25519

from tokenport.ck import CKA, CKD, CKF, CKK, CKM, CKO, CKR

from .helpers import first_slot
from .p11ctypes import CK_MECHANISM, CK_MECHANISM_INFO, CK_ULONG, P11, template, ulong_bytes

TRUE, FALSE = b"\x01", b"\x00"
CERT = Path(__file__).resolve().parents[1] / "vectors" / "curves" / "rsa512_selfsigned.pem"


class CK_ECDH1_DERIVE_PARAMS(ctypes.Structure):
    _fields_ = [
        ("kdf", CK_ULONG),
        ("ulSharedDataLen", CK_ULONG),
        ("pSharedData", ctypes.c_void_p),
        ("ulPublicDataLen", CK_ULONG),
        ("pPublicData", ctypes.c_void_p),
    ]


class CK_EDDSA_PARAMS(ctypes.Structure):
    _fields_ = [
        ("phFlag", ctypes.c_ubyte),
        ("ulContextDataLen", CK_ULONG),
        ("pContextData", ctypes.c_void_p),
    ]


def mechanism(kind: int, param: ctypes.Structure | None = None) -> CK_MECHANISM:
    mech = CK_MECHANISM()
    mech.mechanism = kind
    if param is not None:
        mech._param = param  # type: ignore[attr-defined]  # keep alive
        mech.pParameter = ctypes.cast(ctypes.pointer(param), ctypes.c_void_p)
        mech.ulParameterLen = ctypes.sizeof(param)
    return mech


def key_pair(lib: P11, session: int, kind: int, params: bytes, usage: int) -> tuple[int, int, int]:
    """(rv, public, private) of C_GenerateKeyPair with CKA_EC_PARAMS ``params``."""
    public, private = CK_ULONG(), CK_ULONG()
    pub_t = template((int(CKA.EC_PARAMS), params, None), (int(CKA.TOKEN), FALSE, None))
    priv_t = template((int(usage), TRUE, None), (int(CKA.TOKEN), FALSE, None))
    mech = mechanism(kind)
    rv = lib.C_GenerateKeyPair(session, ctypes.byref(mech), pub_t, 2, priv_t, 2,
                               ctypes.byref(public), ctypes.byref(private))
    return rv, int(public.value), int(private.value)


def attribute(lib: P11, session: int, handle: int, kind: int) -> bytes:
    attrs = template((kind, None, None))
    assert lib.C_GetAttributeValue(session, handle, attrs, 1) == 0
    buffer = ctypes.create_string_buffer(attrs[0].ulValueLen)
    attrs = template((kind, buffer.raw, None))
    assert lib.C_GetAttributeValue(session, handle, attrs, 1) == 0
    return ctypes.string_at(attrs[0].pValue, attrs[0].ulValueLen)


def derive(lib: P11, session: int, private: int, peer: bytes, length: int,
           kind: int = int(CKM.ECDH1_DERIVE)) -> tuple[int, bytes]:
    """(rv, CKA_VALUE) of CKM_ECDH1_DERIVE (or ``kind``) with CKD_NULL into an extractable
    secret."""
    peer_buffer = ctypes.create_string_buffer(peer, len(peer))
    param = CK_ECDH1_DERIVE_PARAMS(int(CKD.NULL), 0, None, len(peer),
                                   ctypes.cast(peer_buffer, ctypes.c_void_p))
    mech = mechanism(kind, param)
    out = template(
        (int(CKA.CLASS), ulong_bytes(int(CKO.SECRET_KEY)), None),
        (int(CKA.KEY_TYPE), ulong_bytes(int(CKK.GENERIC_SECRET)), None),
        (int(CKA.VALUE_LEN), ulong_bytes(length), None),
        (int(CKA.SENSITIVE), FALSE, None),
        (int(CKA.EXTRACTABLE), TRUE, None),
    )
    key = CK_ULONG()
    rv = lib.C_DeriveKey(session, ctypes.byref(mech), private, out, 5, ctypes.byref(key))
    return rv, attribute(lib, session, int(key.value), int(CKA.VALUE)) if rv == 0 else b""


def sign(lib: P11, session: int, key: int, mech: CK_MECHANISM, data: bytes) -> tuple[int, bytes]:
    rv = lib.C_SignInit(session, ctypes.byref(mech), key)
    if rv != 0:
        return rv, b""
    out = ctypes.create_string_buffer(512)
    length = CK_ULONG(512)
    rv = lib.C_Sign(session, data, len(data), out, ctypes.byref(length))
    return rv, out.raw[: length.value]


def test_mechanism_info(lib: P11) -> None:
    slot = first_slot(lib)
    count = CK_ULONG(0)
    assert lib.C_GetMechanismList(slot, None, ctypes.byref(count)) == 0
    listed = (CK_ULONG * count.value)()
    assert lib.C_GetMechanismList(slot, listed, ctypes.byref(count)) == 0
    assert int(CKM.EC_MONTGOMERY_KEY_PAIR_GEN) in set(listed)
    expected = {
        CKM.EC_KEY_PAIR_GEN: (192, 521, CKF.GENERATE_KEY_PAIR),
        CKM.ECDSA_SHA256: (192, 521, CKF.SIGN | CKF.VERIFY),
        CKM.ECDH1_DERIVE: (192, 521, CKF.DERIVE),
        CKM.ECDH1_COFACTOR_DERIVE: (192, 521, CKF.DERIVE),
        CKM.EDDSA: (256, 456, CKF.SIGN | CKF.VERIFY),
        CKM.EC_EDWARDS_KEY_PAIR_GEN: (256, 456, CKF.GENERATE_KEY_PAIR),
        CKM.EC_MONTGOMERY_KEY_PAIR_GEN: (256, 448, CKF.GENERATE_KEY_PAIR),
        CKM.RSA_PKCS: (1024, 16384, CKF.SIGN | CKF.VERIFY),
    }
    for mech, (low, high, flags) in expected.items():
        info = CK_MECHANISM_INFO()
        assert lib.C_GetMechanismInfo(slot, int(mech), ctypes.byref(info)) == 0
        assert (info.ulMinKeySize, info.ulMaxKeySize) == (low, high), mech.name
        assert info.flags & flags == flags, mech.name
    info = CK_MECHANISM_INFO()
    assert lib.C_GetMechanismInfo(slot, int(CKM.ECDSA), ctypes.byref(info)) == 0
    ec_flags = CKF.EC_F_P | CKF.EC_OID | CKF.EC_CURVENAME | CKF.EC_UNCOMPRESS
    assert info.flags & ec_flags == ec_flags


@pytest.mark.parametrize(("oid", "library", "public_class", "size"), [
    ("06032b656e", x25519.X25519PrivateKey, x25519.X25519PublicKey, 32),
    ("06032b656f", x448.X448PrivateKey, x448.X448PublicKey, 56),
])
def test_montgomery_derive(
    session: int, lib: P11, oid: str, library: type, public_class: type, size: int
) -> None:
    """Two token key pairs agree, and agree with a key pyca made; CKA_EC_POINT is the DER
    OCTET STRING of the u-coordinate; the peer's value is taken raw and as DER."""
    mech = int(CKM.EC_MONTGOMERY_KEY_PAIR_GEN)
    rv, a_pub, a_priv = key_pair(lib, session, mech, bytes.fromhex(oid), int(CKA.DERIVE))
    assert rv == 0, hex(rv)
    rv, b_pub, b_priv = key_pair(lib, session, mech, bytes.fromhex(oid), int(CKA.DERIVE))
    assert rv == 0, hex(rv)
    a_point, b_point = (attribute(lib, session, h, int(CKA.EC_POINT)) for h in (a_pub, b_pub))
    assert a_point[:2] == bytes([0x04, size]) and len(a_point) == size + 2
    assert attribute(lib, session, a_priv, int(CKA.KEY_TYPE)) == ulong_bytes(int(CKK.EC_MONTGOMERY))
    rv, ab = derive(lib, session, a_priv, b_point[2:], size)
    assert rv == 0, hex(rv)
    rv, ba = derive(lib, session, b_priv, a_point, size)
    assert rv == 0 and ab == ba
    peer = library.generate()
    rv, with_peer = derive(lib, session, a_priv, peer.public_key().public_bytes_raw(), size)
    assert rv == 0
    public = public_class.from_public_bytes(a_point[2:])
    assert with_peer == peer.exchange(public)
    assert derive(lib, session, a_priv, b"\x00" * size, size)[0] == CKR.MECHANISM_PARAM_INVALID
    assert derive(lib, session, a_priv, b"\x09" * (size - 1), 16)[0] == CKR.MECHANISM_PARAM_INVALID


def test_ed448_with_and_without_params(session: int, lib: P11) -> None:
    rv, pub, priv = key_pair(lib, session, int(CKM.EC_EDWARDS_KEY_PAIR_GEN),
                             b"\x13\x0aedwards448", int(CKA.SIGN))
    assert rv == 0, hex(rv)
    point = attribute(lib, session, pub, int(CKA.EC_POINT))
    assert point[:2] == b"\x04\x39"
    public = ed448.Ed448PublicKey.from_public_bytes(point[2:])
    rv, plain = sign(lib, session, priv, mechanism(int(CKM.EDDSA)), b"abc")
    assert rv == 0 and len(plain) == 114
    public.verify(plain, b"abc")
    rv, with_params = sign(lib, session, priv,
                           mechanism(int(CKM.EDDSA), CK_EDDSA_PARAMS(0, 0, None)), b"abc")
    assert rv == 0 and with_params == plain  # Ed448 with an empty context: the same scheme
    foo = ctypes.create_string_buffer(b"foo", 3)
    for param in (CK_EDDSA_PARAMS(1, 0, None),
                  CK_EDDSA_PARAMS(0, 3, ctypes.cast(foo, ctypes.c_void_p))):
        assert sign(lib, session, priv, mechanism(int(CKM.EDDSA), param), b"abc")[0] == (
            CKR.MECHANISM_PARAM_INVALID)
    mech = mechanism(int(CKM.EDDSA))
    assert lib.C_VerifyInit(session, ctypes.byref(mech), pub) == 0
    assert lib.C_Verify(session, b"abc", 3, plain, len(plain)) == 0
    assert lib.C_VerifyInit(session, ctypes.byref(mech), pub) == 0
    assert lib.C_Verify(session, b"abd", 3, plain, len(plain)) == CKR.SIGNATURE_INVALID


@pytest.mark.parametrize(("params", "rv"), [
    (bytes.fromhex("06052b8104000a"), CKR.OK),  # secp256k1
    (b"\x13\x0fbrainpoolP256r1", CKR.OK),
    (b"\x13\x0aprime192v1", CKR.OK),
    (bytes.fromhex("06052b8104001f"), CKR.CURVE_NOT_SUPPORTED),  # secp192k1
    (b"\x13\x09secp192k1", CKR.CURVE_NOT_SUPPORTED),
    (bytes.fromhex("3003020101"), CKR.DOMAIN_PARAMS_INVALID),  # explicit ecParameters
    (b"\x05\x00", CKR.DOMAIN_PARAMS_INVALID),  # implicitlyCA
])
def test_ec_params_codes(session: int, lib: P11, params: bytes, rv: int) -> None:
    got, _, _ = key_pair(lib, session, int(CKM.EC_KEY_PAIR_GEN), params, int(CKA.SIGN))
    assert got == rv, hex(got)


def test_rsa_512_public_key_verifies_only(session: int, lib: P11) -> None:
    cert = x509.load_pem_x509_certificate(CERT.read_bytes())
    numbers = cert.public_key().public_numbers()  # type: ignore[union-attr]
    modulus = numbers.n.to_bytes(64, "big")
    attrs = template(
        (int(CKA.CLASS), ulong_bytes(int(CKO.PUBLIC_KEY)), None),
        (int(CKA.KEY_TYPE), ulong_bytes(int(CKK.RSA)), None),
        (int(CKA.MODULUS), modulus, None),
        (int(CKA.PUBLIC_EXPONENT), numbers.e.to_bytes(3, "big"), None),
    )
    key = CK_ULONG()
    assert lib.C_CreateObject(session, attrs, 4, ctypes.byref(key)) == 0
    assert attribute(lib, session, int(key.value), int(CKA.MODULUS_BITS)) == ulong_bytes(512)
    mech = mechanism(int(CKM.SHA256_RSA_PKCS))
    tbs, signature = cert.tbs_certificate_bytes, cert.signature
    assert lib.C_VerifyInit(session, ctypes.byref(mech), key) == 0
    assert lib.C_Verify(session, tbs, len(tbs), signature, len(signature)) == 0
    assert lib.C_VerifyInit(session, ctypes.byref(mech), key) == 0
    assert lib.C_Verify(session, tbs + b"x", len(tbs) + 1, signature, len(signature)) == (
        CKR.SIGNATURE_INVALID)
    encrypt = mechanism(int(CKM.RSA_PKCS))
    assert lib.C_EncryptInit(session, ctypes.byref(encrypt), key) == CKR.KEY_SIZE_RANGE


def test_ecdh_and_cofactor_ecdh_on_secp256k1(session: int, lib: P11) -> None:
    params = bytes.fromhex("06052b8104000a")
    rv, a_pub, a_priv = key_pair(lib, session, int(CKM.EC_KEY_PAIR_GEN), params, int(CKA.DERIVE))
    assert rv == 0
    rv, b_pub, b_priv = key_pair(lib, session, int(CKM.EC_KEY_PAIR_GEN), params, int(CKA.DERIVE))
    assert rv == 0
    a_point, b_point = (attribute(lib, session, h, int(CKA.EC_POINT)) for h in (a_pub, b_pub))
    rv, ab = derive(lib, session, a_priv, b_point, 32)
    assert rv == 0 and len(ab) == 32
    rv, ba = derive(lib, session, b_priv, a_point, 32, int(CKM.ECDH1_COFACTOR_DERIVE))
    assert rv == 0 and ba == ab


def test_imported_x448_key_derives_the_rfc7748_value(session: int, lib: P11) -> None:
    """C_CreateObject of an X448 private key (RFC 7748 s5.2, first X448 vector) named by
    curveName, then C_DeriveKey with the vector's u-coordinate: the vector's output."""
    scalar = bytes.fromhex(
        "3d262fddf9ec8e88495266fea19a34d28882acef045104d0d1aae121700a779c"
        "984c24f8cdd78fbff44943eba368f54b29259a4f1c600ad3")
    u = bytes.fromhex(
        "06fce640fa3487bfda5f6cf2d5263f8aad88334cbd07437f020f08f9814dc031"
        "ddbdc38c19c6da2583fa5429db94ada18aa7a7fb4ef8a086")
    expected = bytes.fromhex(
        "ce3e4ff95a60dc6697da1db1d85e6afbdf79b50a2412d7546d5f239fe14fbaad"
        "eb445fc66a01b0779d98223961111e21766282f73dd96b6f")
    attrs = template(
        (int(CKA.CLASS), ulong_bytes(int(CKO.PRIVATE_KEY)), None),
        (int(CKA.KEY_TYPE), ulong_bytes(int(CKK.EC_MONTGOMERY)), None),
        (int(CKA.EC_PARAMS), b"\x13\x08curve448", None),
        (int(CKA.VALUE), scalar, None),
        (int(CKA.DERIVE), TRUE, None),
    )
    key = CK_ULONG()
    assert lib.C_CreateObject(session, attrs, 5, ctypes.byref(key)) == 0
    rv, value = derive(lib, session, int(key.value), u, 56)
    assert rv == 0 and value == expected
    short = template(
        (int(CKA.CLASS), ulong_bytes(int(CKO.PRIVATE_KEY)), None),
        (int(CKA.KEY_TYPE), ulong_bytes(int(CKK.EC_MONTGOMERY)), None),
        (int(CKA.EC_PARAMS), b"\x13\x08curve448", None),
        (int(CKA.VALUE), scalar[:32], None),
    )
    assert lib.C_CreateObject(session, short, 4, ctypes.byref(key)) == CKR.ATTRIBUTE_VALUE_INVALID
