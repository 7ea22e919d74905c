"""Montgomery curves: CKM_EC_MONTGOMERY_KEY_PAIR_GEN and X25519 / X448 through CKM_ECDH1_DERIVE.

PKCS #11 v3.0 Current Mechanisms s2.3.7-2.3.8 (Montgomery public and private key objects,
CKK_EC_MONTGOMERY), s2.3.10 (key pair generation) and s2.3.15 (CKM_ECDH1_DERIVE, which takes
Montgomery keys too; the derivation itself is registered by ``ec``, which hands Montgomery
keys to ``xdh_derive``); RFC 7748.

CKA_EC_PARAMS names the curve: the OIDs id-X25519 1.3.101.110 / id-X448 1.3.101.111 (RFC
8410; PKCS #11 3.1 lists them, SoftHSM and Kryoptic write them), GnuPG's Curve25519 OID
1.3.6.1.4.1.3029.1.5.1, or the curveName PrintableString "curve25519" / "curve448" of 3.0.
CKA_VALUE is the private scalar string and CKA_EC_POINT the public u-coordinate, both in the
little-endian RFC 7748 encoding (32 bytes for X25519, 56 for X448). The specification calls
CKA_EC_POINT "public key bytes"; tokenport writes the DER OCTET STRING around them, as it does
for Edwards keys and as SoftHSM, OpenSC and Kryoptic (by default) do, and accepts the raw
bytes as well on input. The peer's public value in CK_ECDH1_DERIVE_PARAMS is likewise taken
raw (RFC 7748, the 3.0 wording) or as a DER OCTET STRING.

The shared secret is the RFC 7748 output (32 / 56 bytes). An all-zero output (a small-order
peer point, RFC 7748 s6.1) gives CKR_MECHANISM_PARAM_INVALID. With CKD_NULL and a
CKA_VALUE_LEN the secret is truncated as for EC keys (leading bytes removed); with a CKD_SHA*_KDF
the X9.63 KDF runs over it. Key sizes in CK_MECHANISM_INFO are bits of the private key: 256
(X25519) to 448 (X448). The private key comes from the token's random source.
"""

from __future__ import annotations

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    TemplateIncomplete,
)
from tokenport.mechanisms import curves, keys
from tokenport.mechanisms.base import (
    AttrMap,
    KeyView,
    MechanismContext,
    MechanismRegistry,
    MechanismSpec,
)
from tokenport.mechanisms.common import check_key, no_param
from tokenport.mechanisms.params import Ecdh1DeriveParams, Params
from tokenport.ports.crypto import XdhCurveName

MIN_BITS = curves.X25519.bits
MAX_BITS = curves.X448.bits
STANDARD = "PKCS #11 v3.0 Current Mechanisms s2.3.7, s2.3.10; RFC 7748"
_MONTGOMERY = frozenset({CKK.EC_MONTGOMERY})


def port_name(curve: curves.OctetCurve) -> XdhCurveName:
    """The crypto port's name of a Montgomery curve."""
    return "X448" if curve is curves.X448 else "X25519"


def generate_montgomery_key_pair(
    ctx: MechanismContext, param: Params, public_template: AttrMap, private_template: AttrMap
) -> tuple[dict[int, AttrValue], dict[int, AttrValue]]:
    """CKM_EC_MONTGOMERY_KEY_PAIR_GEN: an X25519 or X448 key pair."""
    no_param(param)
    params = public_template.get(CKA.EC_PARAMS)
    if params is None:
        raise TemplateIncomplete("CKA_EC_PARAMS is required in the public key template")
    curve = curves.montgomery_curve(params)
    assert isinstance(params, bytes)
    value = ctx.random_bytes(curve.private_size)
    private = ctx.crypto.xdh_private_from_bytes(port_name(curve), value)
    public = ctx.crypto.xdh_public_bytes(private)
    return (
        {CKA.EC_PARAMS: params, CKA.EC_POINT: curves.encode_point(public)},
        {CKA.EC_PARAMS: params, CKA.VALUE: value},
    )


def xdh_derive(ctx: MechanismContext, key: KeyView, param: Ecdh1DeriveParams) -> bytes:
    """The X25519 / X448 shared secret of a Montgomery private key and the peer's public
    value (CK_ECDH1_DERIVE_PARAMS.pPublicData, raw or DER OCTET STRING)."""
    check_key(key, CKO.PRIVATE_KEY, _MONTGOMERY)
    curve = key.cached("xdh.curve", lambda: keys.montgomery_curve(key.get, KeyTypeInconsistent))
    private = keys.xdh_private_key(ctx.crypto, key)
    try:
        raw = curves.unwrap_point(param.public_data, frozenset({curve.public_size}))
        peer = ctx.crypto.xdh_public_from_bytes(port_name(curve), raw)
    except AttributeValueInvalid:
        raise MechanismParamInvalid(
            f"the peer's public value is not an {curve.name} public key") from None
    return ctx.crypto.xdh_exchange(private, peer)


def register(registry: MechanismRegistry) -> None:
    """Add CKM_EC_MONTGOMERY_KEY_PAIR_GEN (key sizes in bits; derivation: see ``ec``)."""
    registry.add(
        MechanismSpec(
            CKM.EC_MONTGOMERY_KEY_PAIR_GEN,
            MIN_BITS,
            MAX_BITS,
            CKF.GENERATE_KEY_PAIR,
            generated_key_type=CKK.EC_MONTGOMERY,
            generate_key_pair=generate_montgomery_key_pair,
            standard=STANDARD,
        )
    )
