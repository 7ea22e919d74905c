"""Curve identification and point encodings for EC and Edwards keys.

PKCS #11 v2.40 Current Mechanisms s2.3 (EC) and PKCS #11 3.0 s2.3.5 (Edwards): CKA_EC_PARAMS
is the DER encoding of an X9.62 Parameters value, of which tokenport accepts the namedCurve
choice (an OBJECT IDENTIFIER) and, for Edwards curves, the curveName choice (a
PrintableString). CKA_EC_POINT is the DER OCTET STRING of the point (X9.62 for NIST curves,
the 32-byte RFC 8032 encoding for Ed25519). The curve data below are public constants
(FIPS 186-4 D.1.2, RFC 8410).
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenport.errors import AttributeValueInvalid, CurveNotSupported
from tokenport.mechanisms import der
from tokenport.ports.crypto import CurveName


@dataclass(frozen=True)
class Curve:
    """A supported short-Weierstrass curve."""

    name: CurveName
    oid: tuple[int, ...]
    bits: int
    order: int

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


P256 = Curve(
    "P-256",
    (1, 2, 840, 10045, 3, 1, 7),
    256,
    0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
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
)
CURVES: tuple[Curve, ...] = (P256, P384, P521)
CURVE_BY_OID: dict[tuple[int, ...], Curve] = {c.oid: c for c in CURVES}

ED25519_OID = (1, 3, 101, 112)
"""id-Ed25519 (RFC 8410)."""
ED25519_OPENSC_OID = (1, 3, 6, 1, 4, 1, 11591, 15, 1)
"""The OID older OpenSC / GnuPG used for Ed25519 keys."""
ED25519_NAMES = frozenset({b"edwards25519"})
ED25519_PARAMS = der.encode_oid(ED25519_OID)
"""CKA_EC_PARAMS tokenport writes for Ed25519 keys it creates from PKCS #8."""
ED25519_KEY_SIZE = 32

KNOWN_UNSUPPORTED_NAMES = frozenset({b"edwards448", b"curve25519", b"curve448"})


def _identify(params: object) -> tuple[int, ...] | bytes:
    """The OID arcs or the PrintableString of a CKA_EC_PARAMS value."""
    if not isinstance(params, bytes) or not params:
        raise AttributeValueInvalid("CKA_EC_PARAMS must be a DER-encoded byte string")
    tag, start, end = der.read_tlv(params)
    if end != len(params):
        raise AttributeValueInvalid("CKA_EC_PARAMS has trailing bytes")
    if tag == der.TAG_OID:
        return der.decode_oid(params[start:end])
    if tag == der.TAG_PRINTABLE_STRING:
        return params[start:end]
    if tag in (der.TAG_SEQUENCE, 0x05):  # explicit parameters or implicitlyCA
        raise CurveNotSupported("only named curves are supported")
    raise AttributeValueInvalid("CKA_EC_PARAMS is not an X9.62 Parameters value")


def weierstrass_curve(params: object) -> Curve:
    """The NIST curve named by CKA_EC_PARAMS (CurveNotSupported for any other curve)."""
    ident = _identify(params)
    if isinstance(ident, tuple) and ident in CURVE_BY_OID:
        return CURVE_BY_OID[ident]
    raise CurveNotSupported("curve not supported for EC keys")


def is_ed25519(params: object) -> bool:
    """True if CKA_EC_PARAMS names Ed25519; False for other curves (never raises for them)."""
    ident = _identify(params)
    if isinstance(ident, tuple):
        return ident in (ED25519_OID, ED25519_OPENSC_OID)
    return ident in ED25519_NAMES


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
