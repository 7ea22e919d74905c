"""ML-DSA: CKM_ML_DSA_KEY_PAIR_GEN and CKM_ML_DSA (PKCS #11 v3.2 s6.67; FIPS 204).

Key pair generation takes CKA_PARAMETER_SET (CKP_ML_DSA_44/65/87) from the public template;
the 32-byte seed xi comes from the token's random source and is stored as the private key's
CKA_SEED (see tokenport.mechanisms.pqkeys for why there is no expanded CKA_VALUE); the public
key's CKA_VALUE is the FIPS 204 pk encoding. Key sizes in CK_MECHANISM_INFO are public key
lengths in bytes (1312 .. 2592), as s6.67 says.

CKM_ML_DSA is pure ML-DSA (FIPS 204 Algorithm 2 / 3) over the message. Its optional parameter
is CK_SIGN_ADDITIONAL_CONTEXT: the context string (at most 255 bytes) and hedgeVariant.
tokenport signs hedged (the crypto library draws rnd), which satisfies CKH_HEDGE_PREFERRED
and CKH_HEDGE_REQUIRED; CKH_DETERMINISTIC_REQUIRED cannot be honoured (the library has no
deterministic mode) and gives CKR_MECHANISM_PARAM_INVALID at C_SignInit. Verification
ignores hedgeVariant, as the specification says.

Multi-part: signing is single- and multi-part (s6.67 table "ML-DSA: Key and Data Length":
C_Sign takes any input; C_SignUpdate input is buffered, up to MAX_DATA_LEN bytes, since the
message is hashed with the public key first). Verification through C_Verify is single-part
only (footnote 1: multi-part verification only through C_VerifySignatureInit, which this
module does not offer), so C_VerifyUpdate gives CKR_FUNCTION_NOT_SUPPORTED. Signatures are
2420 / 3309 / 4627 bytes; a signature of another length gives CKR_SIGNATURE_LEN_RANGE.
"""

from __future__ import annotations

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKH_HEDGE, CKK, CKM, CKO
from tokenport.errors import (
    DataLenRange,
    MechanismParamInvalid,
    SignatureLenRange,
    TemplateIncomplete,
)
from tokenport.mechanisms import pqkeys
from tokenport.mechanisms.base import (
    MAX_DATA_LEN,
    AttrMap,
    KeyView,
    MechanismContext,
    MechanismRegistry,
    MechanismSpec,
)
from tokenport.mechanisms.common import SinglePartVerify, check_key, no_param
from tokenport.mechanisms.params import Params, SignAdditionalContext
from tokenport.ports.crypto.pq import MlDsaPrivateKeyHandle, PqPort

STANDARD = "PKCS #11 v3.2 s6.67; FIPS 204"
MIN_KEY_BYTES = min(s.public for s in pqkeys.ML_DSA_SETS.values())
MAX_KEY_BYTES = max(s.public for s in pqkeys.ML_DSA_SETS.values())
MAX_CONTEXT_BYTES = 255
_ML_DSA = frozenset({CKK.ML_DSA})


def generate_mldsa_key_pair(
    ctx: MechanismContext, param: Params, public_template: AttrMap, private_template: AttrMap
) -> tuple[dict[int, AttrValue], dict[int, AttrValue]]:
    """CKM_ML_DSA_KEY_PAIR_GEN (FIPS 204 Algorithm 1 with xi from the token's DRBG)."""
    no_param(param)
    params = pqkeys.dsa_set(public_template.get, TemplateIncomplete)
    parameter_set = public_template[CKA.PARAMETER_SET]
    seed = ctx.random_bytes(pqkeys.MLDSA_SEED_BYTES)
    private = ctx.crypto.mldsa_private_from_seed(params.name, seed)
    public = ctx.crypto.mldsa_public_bytes(private)
    return (
        {CKA.PARAMETER_SET: parameter_set, CKA.VALUE: public},
        {CKA.PARAMETER_SET: parameter_set, CKA.SEED: seed},
    )


def _context(param: Params, *, signing: bool) -> bytes:
    """The context string of an optional CK_SIGN_ADDITIONAL_CONTEXT (see the docstring)."""
    if param is None:
        return b""
    if not isinstance(param, SignAdditionalContext):
        raise MechanismParamInvalid("CKM_ML_DSA takes an optional CK_SIGN_ADDITIONAL_CONTEXT")
    if len(param.context) > MAX_CONTEXT_BYTES:
        raise MechanismParamInvalid("the ML-DSA context string is at most 255 bytes")
    if signing:
        if param.hedge == CKH_HEDGE.DETERMINISTIC_REQUIRED:
            raise MechanismParamInvalid(
                "CKH_DETERMINISTIC_REQUIRED: the crypto library signs hedged only"
            )
        if param.hedge not in (CKH_HEDGE.HEDGE_PREFERRED, CKH_HEDGE.HEDGE_REQUIRED):
            raise MechanismParamInvalid("unknown hedgeVariant")
    return param.context


class MldsaSign:
    """Hedged ML-DSA signing; multi-part input is buffered (at most MAX_DATA_LEN bytes)."""

    def __init__(self, crypto: PqPort, private: MlDsaPrivateKeyHandle, context: bytes) -> None:
        self._crypto = crypto
        self._private = private
        self._context = context
        self._message = bytearray()

    def update(self, data: bytes) -> None:
        if len(self._message) + len(data) > MAX_DATA_LEN:
            raise DataLenRange("ML-DSA multi-part signing holds at most MAX_DATA_LEN bytes")
        self._message += data

    def final(self) -> bytes:
        return self.once(bytes(self._message))

    def once(self, data: bytes) -> bytes:
        return self._crypto.mldsa_sign(self._private, data, self._context)


def mldsa_sign(ctx: MechanismContext, key: KeyView, param: Params) -> MldsaSign:
    context = _context(param, signing=True)
    check_key(key, CKO.PRIVATE_KEY, _ML_DSA)
    return MldsaSign(ctx.crypto, pqkeys.mldsa_private_key(ctx.crypto, key), context)


def mldsa_verify(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartVerify:
    context = _context(param, signing=False)
    check_key(key, CKO.PUBLIC_KEY, _ML_DSA)
    params = pqkeys.mldsa_key_set(key)
    public = pqkeys.mldsa_public_key(ctx.crypto, key)
    crypto = ctx.crypto

    def verify(data: bytes, signature: bytes) -> None:
        if len(signature) != params.signature:
            raise SignatureLenRange(f"an {params.name} signature is {params.signature} bytes")
        crypto.mldsa_verify(public, signature, data, context)

    return SinglePartVerify(verify)


def register(registry: MechanismRegistry) -> None:
    """Add the ML-DSA mechanisms (key sizes: public key bytes)."""
    registry.add(
        MechanismSpec(
            CKM.ML_DSA_KEY_PAIR_GEN,
            MIN_KEY_BYTES,
            MAX_KEY_BYTES,
            CKF.GENERATE_KEY_PAIR,
            generated_key_type=CKK.ML_DSA,
            generate_key_pair=generate_mldsa_key_pair,
            standard=STANDARD,
        )
    )
    registry.add(
        MechanismSpec(
            CKM.ML_DSA,
            MIN_KEY_BYTES,
            MAX_KEY_BYTES,
            CKF.SIGN | CKF.VERIFY,
            key_types=_ML_DSA,
            sign=mldsa_sign,
            verify=mldsa_verify,
            standard=STANDARD,
        )
    )
