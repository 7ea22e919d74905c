"""Edwards curves: CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA for Ed25519.

PKCS #11 3.0 Current Mechanisms s2.3 (Edwards Elliptic curve key pair generation;
CKA_EC_PARAMS from the public template: the OID 1.3.101.112, OpenSC's older 1.3.6.1.4.1.11591.15.1, or the PrintableString
"edwards25519"; CKA_EC_POINT is the DER OCTET STRING of the 32-byte public key, CKA_VALUE the
32-byte private key) and CKM_EDDSA (RFC 8032 pure Ed25519). Key sizes in
CK_MECHANISM_INFO are in bits (256 for Ed25519).

The parameter chooses the RFC 8032 scheme (PKCS #11 3.0 Current Mechanisms s2.3.14, table
"Mapping to RFC 8032 Signature Schemes"): Ed25519 (pure) is the mechanism *without* a
parameter; a CK_EDDSA_PARAMS with phFlag FALSE selects Ed25519ctx and with phFlag TRUE
Ed25519ph, the context data being optional in both. So a CK_EDDSA_PARAMS with phFlag FALSE
and no context data is Ed25519ctx with an empty context, which is not pure Ed25519: RFC 8032
s5.1 prefixes dom2(0, "") to every hash of Ed25519ctx (and pkcs11-provider and the Rust
cryptoki crate send exactly that structure for Ed25519ctx). Ed25519ph and Ed25519ctx are not
offered (the crypto library has no interface for them), so *any* CK_EDDSA_PARAMS raises
MechanismParamInvalid at C_SignInit / C_VerifyInit rather than producing or accepting a pure
Ed25519 signature in place of the scheme asked for. The same holds for keys whose
CKA_EC_PARAMS is the RFC 8410 OID, for which the specification says the curve implies pure
mode: a parameter that names another scheme is refused, never ignored. Ed448 is not offered
(CurveNotSupported).

Pure EdDSA reads the message twice, so multi-part signing and verification buffer the whole
message until final(). The private key (seed) comes from the token's random source.
"""

from __future__ import annotations

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
from tokenport.ports.crypto import Ed25519PrivateKeyHandle, Ed25519PublicKeyHandle, EdDsaPort

KEY_BITS = 256
SIGNATURE_BYTES = 64
_EDWARDS = frozenset({CKK.EC_EDWARDS})


def generate_ed25519_key_pair(
    ctx: MechanismContext, param: Params, public_template: AttrMap, private_template: AttrMap
) -> tuple[dict[int, AttrValue], dict[int, AttrValue]]:
    """CKM_EC_EDWARDS_KEY_PAIR_GEN for Ed25519."""
    no_param(param)
    params = public_template.get(CKA.EC_PARAMS)
    if params is None:
        raise TemplateIncomplete("CKA_EC_PARAMS is required in the public key template")
    curves.require_ed25519(params)
    assert isinstance(params, bytes)
    seed = ctx.random_bytes(curves.ED25519_KEY_SIZE)
    private = ctx.crypto.ed25519_private_from_seed(seed)
    public = ctx.crypto.ed25519_public_bytes(private)
    return (
        {CKA.EC_PARAMS: params, CKA.EC_POINT: curves.encode_point(public)},
        {CKA.EC_PARAMS: params, CKA.VALUE: seed},
    )


def _check_param(param: Params) -> None:
    """Only pure Ed25519, i.e. no parameter (see the module docstring for the spec table)."""
    if param is None:
        return
    if not isinstance(param, EddsaParams):
        raise MechanismParamInvalid("CKM_EDDSA takes an optional CK_EDDSA_PARAMS")
    raise MechanismParamInvalid(
        "CK_EDDSA_PARAMS selects Ed25519ph or Ed25519ctx, which are not supported"
    )


class EddsaSign:
    """Pure Ed25519 signing; multi-part input is buffered."""

    def __init__(self, crypto: EdDsaPort, private: Ed25519PrivateKeyHandle) -> None:
        self._crypto = crypto
        self._private = private
        self._message = bytearray()

    def update(self, data: bytes) -> None:
        self._message += data

    def final(self) -> bytes:
        return self._crypto.ed25519_sign(self._private, bytes(self._message))

    def once(self, data: bytes) -> bytes:
        return self._crypto.ed25519_sign(self._private, data)


class EddsaVerify:
    """Pure Ed25519 verification; multi-part input is buffered."""

    def __init__(self, crypto: EdDsaPort, public: Ed25519PublicKeyHandle) -> None:
        self._crypto = crypto
        self._public = public
        self._message = bytearray()

    def update(self, data: bytes) -> None:
        self._message += data

    def final(self, signature: bytes) -> None:
        self.once(bytes(self._message), signature)

    def once(self, data: bytes, signature: bytes) -> None:
        if len(signature) != SIGNATURE_BYTES:
            raise SignatureLenRange("an Ed25519 signature is 64 bytes")
        self._crypto.ed25519_verify(self._public, signature, data)


def eddsa_sign(ctx: MechanismContext, key: KeyView, param: Params) -> EddsaSign:
    _check_param(param)
    check_key(key, CKO.PRIVATE_KEY, _EDWARDS)
    return EddsaSign(ctx.crypto, keys.ed25519_private_key(ctx.crypto, key))


def eddsa_verify(ctx: MechanismContext, key: KeyView, param: Params) -> EddsaVerify:
    _check_param(param)
    check_key(key, CKO.PUBLIC_KEY, _EDWARDS)
    return EddsaVerify(ctx.crypto, keys.ed25519_public_key(ctx.crypto, key))


def register(registry: MechanismRegistry) -> None:
    """Add the Ed25519 mechanisms (key size in bits)."""
    registry.add(
        MechanismSpec(
            CKM.EC_EDWARDS_KEY_PAIR_GEN,
            KEY_BITS,
            KEY_BITS,
            CKF.GENERATE_KEY_PAIR,
            generated_key_type=CKK.EC_EDWARDS,
            generate_key_pair=generate_ed25519_key_pair,
        )
    )
    registry.add(
        MechanismSpec(
            CKM.EDDSA,
            KEY_BITS,
            KEY_BITS,
            CKF.SIGN | CKF.VERIFY,
            key_types=_EDWARDS,
            sign=eddsa_sign,
            verify=eddsa_verify,
        )
    )
