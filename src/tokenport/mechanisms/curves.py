"""Curve identification and point encodings for EC, Edwards and Montgomery keys.

CKA_EC_PARAMS (PKCS #11 v3.0 Current Mechanisms s2.3.3) is the DER encoding of an X9.62
Parameters value::

    Parameters ::= CHOICE {
      ecParameters   ECParameters,
      oId            CURVES.&id({CurveNames}),
      implicitlyCA   NULL,
      curveName      PrintableString
    }

tokenport accepts the oId choice (a named-curve OBJECT IDENTIFIER) and the curveName choice (a
PrintableString naming the curve as ANSI X9.62, SEC 2 or RFC 5639 (Brainpool) spell it, or,
for Edwards and Montgomery keys, "edwards25519" / "edwards448" / "curve25519" / "curve448",
s2.3.5 and s2.3.7). The specification says of s2.3.1: an unsupported curve fails with
CKR_CURVE_NOT_SUPPORTED, an unsupported *representation* of the domain parameters with
CKR_DOMAIN_PARAMS_INVALID; so explicit ecParameters (a SEQUENCE: tokenport does not set
CKF_EC_ECPARAMETERS) and implicitlyCA (NULL, which "must not be used in Cryptoki") give
DomainParamsInvalid, and an OID or name tokenport does not know gives CurveNotSupported.

CKA_EC_POINT is the DER OCTET STRING of the point: the X9.62 point for Weierstrass curves,
the RFC 8032 public key for Edwards curves, the RFC 7748 u-coordinate for Montgomery curves.
Raw values are accepted on input (``unwrap_point``), as SoftHSM and Kryoptic do. The curve
data below are public constants (FIPS 186-4 D.1.2, SEC 2 v2 s2, RFC 5639 s3, RFC 8410).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenport.errors import AttributeValueInvalid, CurveNotSupported, DomainParamsInvalid
from tokenport.mechanisms import der
from tokenport.ports.crypto import CurveName, OctetCurveName


@dataclass(frozen=True)
class Curve:
    """A supported short-Weierstrass curve; ``names`` are its curveName spellings."""

    name: CurveName
    oid: tuple[int, ...]
    bits: int
    order: int
    names: frozenset[bytes] = field(default=frozenset())

    @property
    def params(self) -> bytes:
        """CKA_EC_PARAMS: the DER namedCurve OBJECT IDENTIFIER."""
        return der.encode_oid(self.oid)

    @property
    def size(self) -> int:
        """Bytes of a field element, a scalar, and each half of an ECDSA signature."""
        return (self.bits + 7) // 8

    @property
    def point_size(self) -> int:
        """Bytes of an uncompressed point."""
        return 1 + 2 * self.size


P192 = Curve(
    "P-192",
    (1, 2, 840, 10045, 3, 1, 1),
    192,
    0xFFFFFFFFFFFFFFFFFFFFFFFF99DEF836146BC9B1B4D22831,
    frozenset({b"prime192v1", b"secp192r1"}),
)
P224 = Curve(
    "P-224",
    (1, 3, 132, 0, 33),
    224,
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFF16A2E0B8F03E13DD29455C5C2A3D,
    frozenset({b"secp224r1"}),
)
P256 = Curve(
    "P-256",
    (1, 2, 840, 10045, 3, 1, 7),
    256,
    0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    frozenset({b"prime256v1", b"secp256r1"}),
)
P384 = Curve(
    "P-384",
    (1, 3, 132, 0, 34),
    384,
    int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    frozenset({b"secp384r1"}),
)
P521 = Curve(
    "P-521",
    (1, 3, 132, 0, 35),
    521,
    int(
        "01FF" + "FFFFFFFF" * 7 + "FFFFFFFA51868783BF2F966B7FCC0148F709A5D0"
        "3BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
    frozenset({b"secp521r1"}),
)
SECP256K1 = Curve(
    "secp256k1",
    (1, 3, 132, 0, 10),
    256,
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
    frozenset({b"secp256k1"}),
)
BRAINPOOL_P256R1 = Curve(
    "brainpoolP256r1",
    (1, 3, 36, 3, 3, 2, 8, 1, 1, 7),
    256,
    0xA9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7,
    frozenset({b"brainpoolP256r1"}),
)
BRAINPOOL_P384R1 = Curve(
    "brainpoolP384r1",
    (1, 3, 36, 3, 3, 2, 8, 1, 1, 11),
    384,
    int(
        "8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7"
        "CF3AB6AF6B7FC3103B883202E9046565",
        16,
    ),
    frozenset({b"brainpoolP384r1"}),
)
BRAINPOOL_P512R1 = Curve(
    "brainpoolP512r1",
    (1, 3, 36, 3, 3, 2, 8, 1, 1, 13),
    512,
    int(
        "AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330870"
        "553E5C414CA92619418661197FAC10471DB1D381085DDADDB58796829CA90069",
        16,
    ),
    frozenset({b"brainpoolP512r1"}),
)
CURVES: tuple[Curve, ...] = (
    P256, P384, P521, P192, P224, SECP256K1, BRAINPOOL_P256R1, BRAINPOOL_P384R1, BRAINPOOL_P512R1,
)
"""Every Weierstrass curve tokenport offers (the first three were the original set)."""
CURVE_BY_OID: dict[tuple[int, ...], Curve] = {c.oid: c for c in CURVES}
CURVE_BY_NAME: dict[bytes, Curve] = {n: c for c in CURVES for n in c.names}
CURVE_BY_PORT_NAME: dict[str, Curve] = {c.name: c for c in CURVES}
MIN_BITS = min(c.bits for c in CURVES)
MAX_BITS = max(c.bits for c in CURVES)


@dataclass(frozen=True)
class OctetCurve:
    """An Edwards or Montgomery curve: keys are fixed-length octet strings (RFC 8032,
    RFC 7748). ``bits`` is 8 x the private key length, the key size tokenport reports."""

    name: OctetCurveName
    oids: tuple[tuple[int, ...], ...]
    names: frozenset[bytes]
    private_size: int
    public_size: int

    @property
    def params(self) -> bytes:
        """CKA_EC_PARAMS tokenport writes for keys it reads from PKCS #8 / SPKI."""
        return der.encode_oid(self.oids[0])

    @property
    def bits(self) -> int:
        return 8 * self.private_size


ED25519 = OctetCurve(
    "Ed25519", ((1, 3, 101, 112), (1, 3, 6, 1, 4, 1, 11591, 15, 1)),
    frozenset({b"edwards25519"}), 32, 32,
)
"""Ed25519: id-Ed25519 (RFC 8410) and the OID older OpenSC / GnuPG used."""
ED448 = OctetCurve("Ed448", ((1, 3, 101, 113),), frozenset({b"edwards448"}), 57, 57)
X25519 = OctetCurve(
    "X25519", ((1, 3, 101, 110), (1, 3, 6, 1, 4, 1, 3029, 1, 5, 1)),
    frozenset({b"curve25519"}), 32, 32,
)
"""X25519: id-X25519 (RFC 8410) and the OID GnuPG used for Curve25519."""
X448 = OctetCurve("X448", ((1, 3, 101, 111),), frozenset({b"curve448"}), 56, 56)
EDWARDS_CURVES: tuple[OctetCurve, ...] = (ED25519, ED448)
MONTGOMERY_CURVES: tuple[OctetCurve, ...] = (X25519, X448)

ED25519_OID = ED25519.oids[0]
"""id-Ed25519 (RFC 8410)."""
ED25519_OPENSC_OID = ED25519.oids[1]
"""The OID older OpenSC / GnuPG used for Ed25519 keys."""
ED25519_NAMES = ED25519.names
ED25519_PARAMS = ED25519.params
"""CKA_EC_PARAMS tokenport writes for Ed25519 keys it creates from PKCS #8."""
ED25519_KEY_SIZE = 32


MISENCODED_PARAMS: dict[bytes, bytes] = {bytes.fromhex("130b63757276653235353139"): b"curve25519"}
"""Exact CKA_EC_PARAMS byte strings known clients send that are not valid DER, and the curve
name they mean. OpenSC 0.23's pkcs11-tool (--key-type EC:curve25519) sends the PrintableString
"curve25519" with a length byte of 11 for its 10 characters. Only these exact values are
read; any other malformed value stays CKR_ATTRIBUTE_VALUE_INVALID."""


def _identify(params: object) -> tuple[int, ...] | bytes:
    """The OID arcs or the PrintableString of a CKA_EC_PARAMS value."""
    if not isinstance(params, bytes) or not params:
        raise AttributeValueInvalid("CKA_EC_PARAMS must be a DER-encoded byte string")
    if params in MISENCODED_PARAMS:
        return MISENCODED_PARAMS[params]
    tag, start, end = der.read_tlv(params)
    if end != len(params):
        raise AttributeValueInvalid("CKA_EC_PARAMS has trailing bytes")
    if tag == der.TAG_OID:
        return der.decode_oid(params[start:end])
    if tag == der.TAG_PRINTABLE_STRING:
        return params[start:end]
    if tag in (der.TAG_SEQUENCE, 0x05):  # explicit ecParameters or implicitlyCA
        raise DomainParamsInvalid("only named curves (OID or curve name) are supported")
    raise AttributeValueInvalid("CKA_EC_PARAMS is not an X9.62 Parameters value")


def weierstrass_curve(params: object) -> Curve:
    """The EC curve named by CKA_EC_PARAMS (CurveNotSupported for any other curve)."""
    ident = _identify(params)
    found = CURVE_BY_OID.get(ident) if isinstance(ident, tuple) else CURVE_BY_NAME.get(ident)
    if found is None:
        raise CurveNotSupported("curve not supported for EC keys")
    return found


def _octet_curve(params: object, choices: tuple[OctetCurve, ...]) -> OctetCurve | None:
    ident = _identify(params)
    for curve in choices:
        known = curve.oids if isinstance(ident, tuple) else curve.names
        if ident in known:
            return curve
    return None


def edwards_curve(params: object) -> OctetCurve:
    """Ed25519 or Ed448, as named by CKA_EC_PARAMS (CurveNotSupported otherwise)."""
    found = _octet_curve(params, EDWARDS_CURVES)
    if found is None:
        raise CurveNotSupported("only Ed25519 and Ed448 are supported for Edwards keys")
    return found


def montgomery_curve(params: object) -> OctetCurve:
    """X25519 or X448, as named by CKA_EC_PARAMS (CurveNotSupported otherwise)."""
    found = _octet_curve(params, MONTGOMERY_CURVES)
    if found is None:
        raise CurveNotSupported("only X25519 and X448 are supported for Montgomery keys")
    return found


def is_ed25519(params: object) -> bool:
    """True if CKA_EC_PARAMS names Ed25519; False for other curves (never raises for them)."""
    return _octet_curve(params, (ED25519,)) is not None


def require_ed25519(params: object) -> None:
    """Check that CKA_EC_PARAMS names Ed25519 (CurveNotSupported otherwise)."""
    if not is_ed25519(params):
        raise CurveNotSupported("only Ed25519 is supported for Edwards keys")


def unwrap_point(value: bytes, raw_lengths: frozenset[int]) -> bytes:
    """The point inside a CKA_EC_POINT value given as DER OCTET STRING or raw.

    ``raw_lengths`` are the lengths a raw point may have on this curve; the two forms are
    told apart by length, so a raw point whose second byte happens to look like a DER
    length is not misread.
    """
    if value[:1] == bytes([der.TAG_OCTET_STRING]) and len(value) not in raw_lengths:
        try:
            inner = der.decode_single(value, der.TAG_OCTET_STRING)
        except der.DerError:
            inner = b""
        if len(inner) in raw_lengths:
            return inner
    if len(value) in raw_lengths:
        return value
    raise AttributeValueInvalid("CKA_EC_POINT has the wrong length for the curve")


def weierstrass_point_lengths(curve: Curve) -> frozenset[int]:
    """Lengths of uncompressed and compressed SEC 1 points on ``curve``."""
    return frozenset({curve.point_size, 1 + curve.size})


def encode_point(point: bytes) -> bytes:
    """CKA_EC_POINT: the DER OCTET STRING around a point encoding."""
    return der.encode_octet_string(point)
