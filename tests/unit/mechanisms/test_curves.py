"""EC on P-192, P-224, secp256k1 and the Brainpool curves (PKCS #11 v3.0 s2.3): curve
identification (OID and curveName), key pairs, ECDSA against NIST CAVP SigVer (P-192, P-224)
and pyca's secp256k1 SigGen vectors, ECDH against RFC 7027 (Brainpool), public key checks.

Signatures made by the token are checked independently with pyca/cryptography.
"""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKD, CKF, CKK, CKM, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    CurveNotSupported,
    DomainParamsInvalid,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    SignatureInvalid,
)
from tokenport.mechanisms import curves, der
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry
from tokenport.mechanisms.keyformats import (
    complete_key_attributes,
    decode_private_key_pkcs8,
    encode_private_key_pkcs8,
)
from tokenport.mechanisms.params import Ecdh1DeriveParams
from tokenport.ports.crypto import CryptoBackend

from .helpers import FakeKey, key_pair, spec
from .vectors import records

NEW_CURVES = [curves.P192, curves.P224, curves.SECP256K1, curves.BRAINPOOL_P256R1,
              curves.BRAINPOOL_P384R1, curves.BRAINPOOL_P512R1]
HASHES: dict[str, tuple[int, hashes.HashAlgorithm]] = {
    "SHA-1": (CKM.ECDSA_SHA1, hashes.SHA1()),
    "SHA-224": (CKM.ECDSA_SHA224, hashes.SHA224()),
    "SHA-256": (CKM.ECDSA_SHA256, hashes.SHA256()),
    "SHA-384": (CKM.ECDSA_SHA384, hashes.SHA384()),
    "SHA-512": (CKM.ECDSA_SHA512, hashes.SHA512()),
}
CAVP_CURVES = {"P-192": curves.P192, "P-224": curves.P224, "K-256": curves.SECP256K1}


def pyca_curve(curve: curves.Curve) -> ec.EllipticCurve:
    return ec.get_curve_for_oid(x509.ObjectIdentifier(".".join(map(str, curve.oid))))()


def name_params(name: bytes) -> bytes:
    return der.encode_tlv(der.TAG_PRINTABLE_STRING, name)


def public_key(curve: curves.Curve, qx: str, qy: str) -> FakeKey:
    point = b"\x04" + int(qx, 16).to_bytes(curve.size, "big") + int(qy, 16).to_bytes(curve.size, "big")
    return FakeKey(CKO.PUBLIC_KEY, CKK.EC,
                   {CKA.EC_PARAMS: curve.params, CKA.EC_POINT: curves.encode_point(point)})


def private_key(curve: curves.Curve, d: str) -> FakeKey:
    return FakeKey(CKO.PRIVATE_KEY, CKK.EC, {CKA.EC_PARAMS: curve.params,
                                             CKA.VALUE: int(d, 16).to_bytes(curve.size, "big")})


def raw_signature(curve: curves.Curve, r: str, s: str) -> bytes:
    return int(r, 16).to_bytes(curve.size, "big") + int(s, 16).to_bytes(curve.size, "big")


# -- the curve table ----------------------------------------------------------------------------


@pytest.mark.parametrize("curve", curves.CURVES, ids=lambda c: c.name)
def test_curve_table_matches_the_library(curve: curves.Curve) -> None:
    """OID, size and group order of every curve agree with pyca/cryptography's."""
    library = pyca_curve(curve)
    assert curve.bits == library.key_size
    ec.derive_private_key(curve.order - 1, library)
    with pytest.raises(ValueError):
        ec.derive_private_key(curve.order, library).public_key()
    assert curves.weierstrass_curve(curve.params) is curve
    for name in curve.names:
        assert curves.weierstrass_curve(name_params(name)) is curve


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (name_params(b"secp192k1"), CurveNotSupported),
        (name_params(b"P-256"), CurveNotSupported),  # a NIST name, not an X9.62 / SEC 2 one
        (bytes.fromhex("06052b8104001f"), CurveNotSupported),  # secp192k1 OID
        (der.encode_tlv(der.TAG_SEQUENCE, der.encode_integer(1)), DomainParamsInvalid),
        (b"\x05\x00", DomainParamsInvalid),  # implicitlyCA "must not be used" (s2.3.3)
        (b"\x04\x02ab", AttributeValueInvalid),
    ],
)
def test_curve_identification_errors(params: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        curves.weierstrass_curve(params)


def test_mechanism_info(registry: MechanismRegistry) -> None:
    for mechanism in (CKM.EC_KEY_PAIR_GEN, CKM.ECDSA, CKM.ECDSA_SHA256, CKM.ECDH1_DERIVE):
        s = spec(registry, mechanism)
        assert (s.min_key_size, s.max_key_size) == (192, 521)
        assert s.flags & CKF.EC_OID and s.flags & CKF.EC_CURVENAME and s.flags & CKF.EC_F_P
        assert s.standard.startswith("PKCS #11 v3.0")


# -- key pairs and ECDSA ------------------------------------------------------------------------


@pytest.mark.parametrize("by_name", [False, True])
@pytest.mark.parametrize("curve", NEW_CURVES, ids=lambda c: c.name)
def test_generate_sign_verify(
    registry: MechanismRegistry, ctx: MechanismContext, curve: curves.Curve, by_name: bool
) -> None:
    params = name_params(min(curve.names)) if by_name else curve.params
    pub, priv = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: params})
    assert pub.attrs[CKA.EC_PARAMS] == params == priv.attrs[CKA.EC_PARAMS]
    point = der.decode_single(pub.attrs[CKA.EC_POINT], der.TAG_OCTET_STRING)  # type: ignore[arg-type]
    assert len(point) == curve.point_size and point[0] == 4
    d = priv.attrs[CKA.VALUE]
    assert isinstance(d, bytes) and len(d) == curve.size
    library = pyca_curve(curve)
    expected = ec.derive_private_key(int.from_bytes(d, "big"), library).public_key()
    assert expected == ec.EllipticCurvePublicKey.from_encoded_point(library, point)
    s = spec(registry, CKM.ECDSA_SHA256)
    assert s.sign is not None and s.verify is not None
    signature = s.sign(ctx, priv, None).once(b"message")
    assert len(signature) == 2 * curve.size
    r, sv = int.from_bytes(signature[: curve.size], "big"), int.from_bytes(signature[curve.size :], "big")
    expected.verify(utils.encode_dss_signature(r, sv), b"message", ec.ECDSA(hashes.SHA256()))
    s.verify(ctx, pub, None).once(b"message", signature)
    with pytest.raises(SignatureInvalid):
        s.verify(ctx, pub, None).once(b"messagE", signature)


SIGVER = records("curves/ecdsa_sigver_p192_p224.rsp", "Msg")


@pytest.mark.parametrize("vector", SIGVER, ids=lambda v: f"{v['section']}-{v['Result'][:1]}")
def test_cavp_sigver_p192_p224(
    registry: MechanismRegistry, ctx: MechanismContext, vector: dict[str, str]
) -> None:
    """NIST CAVP ECDSA SigVer: P results verify, F results raise."""
    curve_name, hash_name = vector["section"].split(",")
    curve = CAVP_CURVES[curve_name]
    mechanism, _ = HASHES[hash_name]
    s = spec(registry, mechanism)
    assert s.verify is not None
    signature = raw_signature(curve, vector["R"], vector["S"])
    message = bytes.fromhex(vector["Msg"])
    if vector["Result"].startswith("P"):
        s.verify(ctx, public_key(curve, vector["Qx"], vector["Qy"]), None).once(message, signature)
    else:
        with pytest.raises((SignatureInvalid, AttributeValueInvalid)):
            key = public_key(curve, vector["Qx"], vector["Qy"])
            s.verify(ctx, key, None).once(message, signature)


def test_sigver_vectors_hold_both_outcomes() -> None:
    results = {v["Result"][:1] for v in SIGVER}
    sections = {v["section"].split(",")[0] for v in SIGVER}
    assert results == {"P", "F"} and sections == {"P-192", "P-224"} and len(SIGVER) == 60


SIGGEN = records("curves/ecdsa_siggen_p192_p224.txt", "Msg")


@pytest.mark.parametrize("vector", SIGGEN, ids=lambda v: v["section"])
def test_cavp_siggen_p192_p224(
    registry: MechanismRegistry, ctx: MechanismContext, crypto: CryptoBackend,
    vector: dict[str, str],
) -> None:
    """NIST CAVP ECDSA SigGen: the private key d imports and gives Q; the published (R, S)
    (made with a nonce k the token cannot be given) verifies; the token's own signature
    verifies with pyca."""
    curve_name, hash_name = vector["section"].split(",")
    curve = CAVP_CURVES[curve_name]
    mechanism, algorithm = HASHES[hash_name]
    s = spec(registry, mechanism)
    assert s.sign is not None and s.verify is not None
    public, private = public_key(curve, vector["Qx"], vector["Qy"]), private_key(curve, vector["d"])
    info = complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.EC, private.attrs)
    assert info == complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.EC, public.attrs)
    message = bytes.fromhex(vector["Msg"])
    s.verify(ctx, public, None).once(message, raw_signature(curve, vector["R"], vector["S"]))
    mine = s.sign(ctx, private, None).once(message)
    size = curve.size
    library = ec.EllipticCurvePublicNumbers(
        int(vector["Qx"], 16), int(vector["Qy"], 16), pyca_curve(curve)).public_key()
    library.verify(utils.encode_dss_signature(int.from_bytes(mine[:size], "big"),
                                              int.from_bytes(mine[size:], "big")),
                   message, ec.ECDSA(algorithm))


SECP256K1_SIGGEN = records("curves/ecdsa_secp256k1_siggen.txt", "Msg")


@pytest.mark.parametrize("vector", SECP256K1_SIGGEN, ids=lambda v: v["section"])
def test_secp256k1_siggen(
    registry: MechanismRegistry, ctx: MechanismContext, crypto: CryptoBackend,
    vector: dict[str, str],
) -> None:
    """The published (d, Q, R, S): d gives Q, (R, S) verifies, and the token's own signature
    over Msg verifies with pyca (ECDSA is randomized: R, S differ)."""
    curve = curves.SECP256K1
    mechanism, algorithm = HASHES[vector["section"].split(",")[1]]
    s = spec(registry, mechanism)
    assert s.sign is not None and s.verify is not None
    public = public_key(curve, vector["Qx"], vector["Qy"])
    private = private_key(curve, vector["d"])
    derived = complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.EC, private.attrs)
    assert derived[CKA.PUBLIC_KEY_INFO] == complete_key_attributes(
        crypto, CKO.PUBLIC_KEY, CKK.EC, public.attrs)[CKA.PUBLIC_KEY_INFO]
    message = bytes.fromhex(vector["Msg"])
    s.verify(ctx, public, None).once(message, raw_signature(curve, vector["R"], vector["S"]))
    mine = s.sign(ctx, private, None).once(message)
    pyca_public = ec.EllipticCurvePublicNumbers(
        int(vector["Qx"], 16), int(vector["Qy"], 16), ec.SECP256K1()).public_key()
    pyca_public.verify(
        utils.encode_dss_signature(int.from_bytes(mine[:32], "big"), int.from_bytes(mine[32:], "big")),
        message, ec.ECDSA(algorithm))


def test_raw_ecdsa_on_p192_truncates_long_hashes(
    registry: MechanismRegistry, ctx: MechanismContext
) -> None:
    """CKM_ECDSA over a SHA-256 value on a 192-bit curve uses its leftmost 192 bits."""
    pub, priv = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: curves.P192.params})
    s = spec(registry, CKM.ECDSA)
    assert s.sign is not None and s.verify is not None
    digest = bytes(range(32))
    signature = s.sign(ctx, priv, None).once(digest)
    assert len(signature) == 48
    s.verify(ctx, pub, None).once(digest[:24], signature)  # the same integer e


# -- import checks --------------------------------------------------------------------------------


@pytest.mark.parametrize("curve", NEW_CURVES, ids=lambda c: c.name)
def test_import_checks_the_point_is_on_the_curve(
    crypto: CryptoBackend, registry: MechanismRegistry, ctx: MechanismContext, curve: curves.Curve
) -> None:
    pub, _ = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: curve.params})
    good = der.decode_single(pub.attrs[CKA.EC_POINT], der.TAG_OCTET_STRING)  # type: ignore[arg-type]
    raw: dict[int, AttrValue] = {CKA.EC_PARAMS: curve.params, CKA.EC_POINT: good}
    added = complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.EC, raw)
    assert added[CKA.EC_POINT] == curves.encode_point(good)  # stored as DER
    bad = good[:-1] + bytes([good[-1] ^ 1])
    with pytest.raises(AttributeValueInvalid):
        complete_key_attributes(crypto, CKO.PUBLIC_KEY, CKK.EC,
                                {CKA.EC_PARAMS: curve.params, CKA.EC_POINT: bad})
    with pytest.raises(AttributeValueInvalid):
        complete_key_attributes(crypto, CKO.PRIVATE_KEY, CKK.EC,
                                {CKA.EC_PARAMS: curve.params,
                                 CKA.VALUE: curve.order.to_bytes(curve.size, "big")})


@pytest.mark.parametrize("curve", NEW_CURVES, ids=lambda c: c.name)
def test_pkcs8_round_trip(crypto: CryptoBackend, curve: curves.Curve) -> None:
    priv = FakeKey(CKO.PRIVATE_KEY, CKK.EC,
                   {CKA.EC_PARAMS: curve.params, CKA.VALUE: (7).to_bytes(curve.size, "big")})
    key_type, attrs = decode_private_key_pkcs8(crypto, encode_private_key_pkcs8(crypto, priv))
    assert key_type == CKK.EC and attrs == priv.attrs


# -- ECDH -----------------------------------------------------------------------------------------

BRAINPOOL = {c.name: c for c in NEW_CURVES}


@pytest.mark.parametrize("vector", records("curves/ecdh_brainpool_rfc7027.txt", "curve"),
                         ids=lambda v: v["curve"])
def test_rfc7027_brainpool_ecdh(
    registry: MechanismRegistry, ctx: MechanismContext, vector: dict[str, str]
) -> None:
    curve = BRAINPOOL[vector["curve"]]
    s = spec(registry, CKM.ECDH1_DERIVE)
    assert s.derive is not None
    z = int(vector["x_Z"], 16).to_bytes(curve.size, "big")
    for mine, theirs in (("dA", "qB"), ("dB", "qA")):
        peer = public_key(curve, vector[f"x_{theirs}"], vector[f"y_{theirs}"]).attrs[CKA.EC_POINT]
        assert isinstance(peer, bytes)
        param = Ecdh1DeriveParams(CKD.NULL, b"", peer)
        assert s.derive(ctx, private_key(curve, vector[mine]), param, None) == z
    wrong = public_key(curve, vector["x_qB"], vector["y_qA"]).attrs[CKA.EC_POINT]
    assert isinstance(wrong, bytes)
    with pytest.raises(MechanismParamInvalid):
        s.derive(ctx, private_key(curve, vector["dA"]), Ecdh1DeriveParams(CKD.NULL, b"", wrong),
                 None)


def test_ecdh_on_p224_between_generated_keys(
    registry: MechanismRegistry, ctx: MechanismContext
) -> None:
    template = {CKA.EC_PARAMS: name_params(b"secp224r1")}
    a_pub, a_priv = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, template)
    b_pub, b_priv = key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, template)
    s = spec(registry, CKM.ECDH1_DERIVE)
    assert s.derive is not None
    a_point, b_point = a_pub.attrs[CKA.EC_POINT], b_pub.attrs[CKA.EC_POINT]
    assert isinstance(a_point, bytes) and isinstance(b_point, bytes)
    ab = s.derive(ctx, a_priv, Ecdh1DeriveParams(CKD.SHA256_KDF, b"info", b_point), 32)
    ba = s.derive(ctx, b_priv, Ecdh1DeriveParams(CKD.SHA256_KDF, b"info", a_point), 32)
    assert ab == ba and len(ab) == 32


def test_cofactor_derive_equals_ecdh_on_cofactor_one_curves(
    registry: MechanismRegistry, ctx: MechanismContext
) -> None:
    """CKM_ECDH1_COFACTOR_DERIVE (s2.3.16): h = 1 on every curve offered, so it gives the
    CKM_ECDH1_DERIVE result (RFC 7027 brainpoolP256r1 vector); Montgomery keys are refused."""
    (vector, *_) = records("curves/ecdh_brainpool_rfc7027.txt", "curve")
    curve = curves.BRAINPOOL_P256R1
    peer = public_key(curve, vector["x_qB"], vector["y_qB"]).attrs[CKA.EC_POINT]
    assert isinstance(peer, bytes)
    s = spec(registry, CKM.ECDH1_COFACTOR_DERIVE)
    assert s.derive is not None and (s.min_key_size, s.max_key_size) == (192, 521)
    z = s.derive(ctx, private_key(curve, vector["dA"]), Ecdh1DeriveParams(CKD.NULL, b"", peer), None)
    assert z == int(vector["x_Z"], 16).to_bytes(32, "big")
    montgomery = FakeKey(CKO.PRIVATE_KEY, CKK.EC_MONTGOMERY,
                         {CKA.EC_PARAMS: curves.X25519.params, CKA.VALUE: b"\x05" * 32})
    with pytest.raises(KeyTypeInconsistent):
        s.derive(ctx, montgomery, Ecdh1DeriveParams(CKD.NULL, b"", b"\x09" * 32), None)
