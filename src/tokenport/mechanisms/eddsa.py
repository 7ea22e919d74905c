"""Edwards curves: CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA for Ed25519 and Ed448.

PKCS #11 3.0 Current Mechanisms s2.3.5-2.3.6 (Edwards keys) and s2.3.14 (CKM_EDDSA).
CKA_EC_PARAMS from the public template names the curve: for Ed25519 the OID 1.3.101.112,
OpenSC's older 1.3.6.1.4.1.11591.15.1 or the PrintableString "edwards25519"; for Ed448 the
OID 1.3.101.113 or the PrintableString "edwards448". CKA_EC_POINT is the DER OCTET STRING of
the RFC 8032 public key (32 bytes for Ed25519, 57 for Ed448; raw values are accepted on
input), CKA_VALUE the private key (32 or 57 bytes). Key sizes in CK_MECHANISM_INFO are in bits
of the private key: 256 (Ed25519) to 456 (Ed448).

The parameter chooses the RFC 8032 scheme (s2.3.14, table "Mapping to RFC 8032 Signature
Schemes"):

=========== ================= ======== ============ ===========================================
scheme      CK_EDDSA_PARAMS   phFlag   context      tokenport
=========== ================= ======== ============ ===========================================
Ed25519     not required      --       --           no parameter: yes
Ed25519ctx  required          FALSE    optional     MechanismParamInvalid (not in pyca)
Ed25519ph   required          TRUE     optional     MechanismParamInvalid (not in pyca)
Ed448       required          FALSE    optional     empty context: yes; a context string:
                                                    MechanismParamInvalid (not in pyca)
Ed448ph     required          TRUE     optional     MechanismParamInvalid (not in pyca)
=========== ================= ======== ============ ===========================================

For Ed25519 a CK_EDDSA_PARAMS with phFlag FALSE and no context data is Ed25519ctx with an
empty context, which is not pure Ed25519 (RFC 8032 s5.1 prefixes dom2(0, "") to every hash
of Ed25519ctx), so *any* parameter is refused for Ed25519 keys rather than producing or
accepting a pure Ed25519 signature in place of the scheme asked for. For Ed448 the scheme
always carries a context (RFC 8032 s5.2: dom4(0, context)), and Ed448 with an empty context
is exactly what pyca/cryptography computes; so Ed448 keys take CK_EDDSA_PARAMS {FALSE, empty}
(what pkcs11-provider sends) or no parameter at all (what pkcs11-tool and python-pkcs11
send, and what SoftHSM and Kryoptic accept as Ed448). pyca/cryptography (up to 48 at least)
signs Ed448 and Ed25519 without context or pre-hash only: ``Ed448PrivateKey.sign(data)``.

Pure EdDSA reads the message twice, so multi-part signing and verification buffer the whole
message until final(). The private key (seed) comes from the token's random source.
"""

from __future__ import annotations

from collections.abc import Callable

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO
from tokenport.errors import MechanismParamInvalid, SignatureLenRange, TemplateIncomplete
from tokenport.mechanisms import curves, keys
from tokenport.mechanisms.base import (
    AttrMap,
    KeyView,
    MechanismContext,
    MechanismRegistry,
    MechanismSpec,
)
from tokenport.mechanisms.common import check_key, no_param
from tokenport.mechanisms.params import EddsaParams, Params

KEY_BITS = 256
"""Ed25519 (the smallest Edwards key, in bits)."""
MAX_KEY_BITS = curves.ED448.bits
"""Ed448: 57-byte keys, 456 bits."""
SIGNATURE_BYTES = 64
SIGNATURE_SIZES = {"Ed25519": 64, "Ed448": 114}
STANDARD = "PKCS #11 v3.0 Current Mechanisms s2.3.5, s2.3.14; RFC 8032"
_EDWARDS = frozenset({CKK.EC_EDWARDS})


def generate_edwards_key_pair(
    ctx: MechanismContext, param: Params, public_template: AttrMap, private_template: AttrMap
) -> tuple[dict[int, AttrValue], dict[int, AttrValue]]:
    """CKM_EC_EDWARDS_KEY_PAIR_GEN for Ed25519 and Ed448."""
    no_param(param)
    params = public_template.get(CKA.EC_PARAMS)
    if params is None:
        raise TemplateIncomplete("CKA_EC_PARAMS is required in the public key template")
    curve = curves.edwards_curve(params)
    assert isinstance(params, bytes)
    seed = ctx.random_bytes(curve.private_size)
    if curve is curves.ED448:
        public = ctx.crypto.ed448_public_bytes(ctx.crypto.ed448_private_from_seed(seed))
    else:
        public = ctx.crypto.ed25519_public_bytes(ctx.crypto.ed25519_private_from_seed(seed))
    return (
        {CKA.EC_PARAMS: params, CKA.EC_POINT: curves.encode_point(public)},
        {CKA.EC_PARAMS: params, CKA.VALUE: seed},
    )


generate_ed25519_key_pair = generate_edwards_key_pair
"""The former name (Ed25519 was the only Edwards curve)."""


def _check_param(param: Params, curve: curves.OctetCurve) -> None:
    """Pure Ed25519 (no parameter) or Ed448 with an empty context (see the module table)."""
    if param is None:
        return
    if not isinstance(param, EddsaParams):
        raise MechanismParamInvalid("CKM_EDDSA takes an optional CK_EDDSA_PARAMS")
    if curve is curves.ED25519:
        raise MechanismParamInvalid(
            "CK_EDDSA_PARAMS selects Ed25519ph or Ed25519ctx, which are not supported"
        )
    if param.prehash:
        raise MechanismParamInvalid("Ed448ph is not supported")
    if param.context:
        raise MechanismParamInvalid("Ed448 with a context string is not supported")


class EddsaSign:
    """Pure EdDSA signing; multi-part input is buffered."""

    def __init__(self, sign: Callable[[bytes], bytes]) -> None:
        self._sign = sign
        self._message = bytearray()

    def update(self, data: bytes) -> None:
        self._message += data

    def final(self) -> bytes:
        return self._sign(bytes(self._message))

    def once(self, data: bytes) -> bytes:
        return self._sign(data)


class EddsaVerify:
    """Pure EdDSA verification; multi-part input is buffered."""

    def __init__(self, verify: Callable[[bytes, bytes], None], signature_bytes: int) -> None:
        self._verify = verify
        self._size = signature_bytes
        self._message = bytearray()

    def update(self, data: bytes) -> None:
        self._message += data

    def final(self, signature: bytes) -> None:
        self.once(bytes(self._message), signature)

    def once(self, data: bytes, signature: bytes) -> None:
        if len(signature) != self._size:
            raise SignatureLenRange(f"an EdDSA signature on this curve is {self._size} bytes")
        self._verify(signature, data)


def eddsa_sign(ctx: MechanismContext, key: KeyView, param: Params) -> EddsaSign:
    if param is not None and not isinstance(param, EddsaParams):
        raise MechanismParamInvalid("CKM_EDDSA takes an optional CK_EDDSA_PARAMS")
    check_key(key, CKO.PRIVATE_KEY, _EDWARDS)
    curve = keys.edwards_key_curve(key)
    _check_param(param, curve)
    crypto = ctx.crypto
    if curve is curves.ED448:
        ed448 = keys.ed448_private_key(crypto, key)
        return EddsaSign(lambda data: crypto.ed448_sign(ed448, data))
    ed25519 = keys.ed25519_private_key(crypto, key)
    return EddsaSign(lambda data: crypto.ed25519_sign(ed25519, data))


def eddsa_verify(ctx: MechanismContext, key: KeyView, param: Params) -> EddsaVerify:
    if param is not None and not isinstance(param, EddsaParams):
        raise MechanismParamInvalid("CKM_EDDSA takes an optional CK_EDDSA_PARAMS")
    check_key(key, CKO.PUBLIC_KEY, _EDWARDS)
    curve = keys.edwards_key_curve(key)
    _check_param(param, curve)
    crypto = ctx.crypto
    size = SIGNATURE_SIZES[curve.name]
    if curve is curves.ED448:
        ed448 = keys.ed448_public_key(crypto, key)
        return EddsaVerify(lambda sig, data: crypto.ed448_verify(ed448, sig, data), size)
    ed25519 = keys.ed25519_public_key(crypto, key)
    return EddsaVerify(lambda sig, data: crypto.ed25519_verify(ed25519, sig, data), size)


def register(registry: MechanismRegistry) -> None:
    """Add the Edwards mechanisms (key sizes in bits)."""
    registry.add(
        MechanismSpec(
            CKM.EC_EDWARDS_KEY_PAIR_GEN,
            KEY_BITS,
            MAX_KEY_BITS,
            CKF.GENERATE_KEY_PAIR,
            generated_key_type=CKK.EC_EDWARDS,
            generate_key_pair=generate_edwards_key_pair,
            standard=STANDARD,
        )
    )
    registry.add(
        MechanismSpec(
            CKM.EDDSA,
            KEY_BITS,
            MAX_KEY_BITS,
            CKF.SIGN | CKF.VERIFY,
            key_types=_EDWARDS,
            sign=eddsa_sign,
            verify=eddsa_verify,
            standard=STANDARD,
        )
    )
