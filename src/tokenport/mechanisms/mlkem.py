"""ML-KEM: CKM_ML_KEM_KEY_PAIR_GEN and CKM_ML_KEM (PKCS #11 v3.2 s6.66; FIPS 203).

Key pair generation takes CKA_PARAMETER_SET (CKP_ML_KEM_768 or CKP_ML_KEM_1024) from the
public template; CKP_ML_KEM_512 gives CKR_PARAMETER_SET_NOT_SUPPORTED (pyca/cryptography has
no ML-KEM-512). The 64-byte seed d || z comes from the token's random source and is the
private key's CKA_SEED; the public key's CKA_VALUE is the encapsulation key ek.

CKM_ML_KEM has no parameter. C_EncapsulateKey (ML-KEM.Encaps, FIPS 203 Algorithm 20) with a
public key gives a ciphertext (1088 bytes for ML-KEM-768, 1568 for ML-KEM-1024) and a new
secret key whose CKA_VALUE is the 32-byte shared secret; C_DecapsulateKey
(ML-KEM.Decaps, Algorithm 21) with the private key and the ciphertext makes the same secret
key. A ciphertext of the wrong length gives CKR_ENCRYPTED_DATA_LEN_RANGE; a damaged one of
the right length decapsulates to an unrelated secret (FIPS 203 implicit rejection), never to
an error. Key sizes in CK_MECHANISM_INFO are public key lengths in bytes (1184 .. 1568).
"""

from __future__ import annotations

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO
from tokenport.errors import EncryptedDataLenRange, TemplateIncomplete
from tokenport.mechanisms import pqkeys
from tokenport.mechanisms.base import (
    AttrMap,
    KeyView,
    MechanismContext,
    MechanismRegistry,
    MechanismSpec,
)
from tokenport.mechanisms.common import check_key, no_param
from tokenport.mechanisms.params import Params

STANDARD = "PKCS #11 v3.2 s6.66; FIPS 203"
MIN_KEY_BYTES = min(s.public for s in pqkeys.ML_KEM_SETS.values())
MAX_KEY_BYTES = max(s.public for s in pqkeys.ML_KEM_SETS.values())
_ML_KEM = frozenset({CKK.ML_KEM})


def generate_mlkem_key_pair(
    ctx: MechanismContext, param: Params, public_template: AttrMap, private_template: AttrMap
) -> tuple[dict[int, AttrValue], dict[int, AttrValue]]:
    """CKM_ML_KEM_KEY_PAIR_GEN (FIPS 203 Algorithm 19 with d || z from the token's DRBG)."""
    no_param(param)
    params = pqkeys.kem_set(public_template.get, TemplateIncomplete)
    parameter_set = public_template[CKA.PARAMETER_SET]
    seed = ctx.random_bytes(pqkeys.MLKEM_SEED_BYTES)
    private = ctx.crypto.mlkem_private_from_seed(params.name, seed)
    public = ctx.crypto.mlkem_public_bytes(private)
    return (
        {CKA.PARAMETER_SET: parameter_set, CKA.VALUE: public},
        {CKA.PARAMETER_SET: parameter_set, CKA.SEED: seed},
    )


def ciphertext_length(ctx: MechanismContext, key: KeyView, param: Params) -> int:
    """The ciphertext length of an encapsulation with this public key."""
    no_param(param)
    check_key(key, CKO.PUBLIC_KEY, _ML_KEM)
    return pqkeys.mlkem_key_set(key).ciphertext


def encapsulate(ctx: MechanismContext, key: KeyView, param: Params) -> tuple[bytes, bytes]:
    """ML-KEM.Encaps: (shared secret, ciphertext)."""
    no_param(param)
    check_key(key, CKO.PUBLIC_KEY, _ML_KEM)
    return ctx.crypto.mlkem_encapsulate(pqkeys.mlkem_public_key(ctx.crypto, key))


def decapsulate(ctx: MechanismContext, key: KeyView, param: Params, ciphertext: bytes) -> bytes:
    """ML-KEM.Decaps: the shared secret of ``ciphertext``."""
    no_param(param)
    check_key(key, CKO.PRIVATE_KEY, _ML_KEM)
    params = pqkeys.mlkem_key_set(key)
    if len(ciphertext) != params.ciphertext:
        raise EncryptedDataLenRange(f"an {params.name} ciphertext is {params.ciphertext} bytes")
    return ctx.crypto.mlkem_decapsulate(pqkeys.mlkem_private_key(ctx.crypto, key), ciphertext)


def register(registry: MechanismRegistry) -> None:
    """Add the ML-KEM mechanisms (key sizes: public key bytes)."""
    registry.add(
        MechanismSpec(
            CKM.ML_KEM_KEY_PAIR_GEN,
            MIN_KEY_BYTES,
            MAX_KEY_BYTES,
            CKF.GENERATE_KEY_PAIR,
            generated_key_type=CKK.ML_KEM,
            generate_key_pair=generate_mlkem_key_pair,
            standard=STANDARD,
        )
    )
    registry.add(
        MechanismSpec(
            CKM.ML_KEM,
            MIN_KEY_BYTES,
            MAX_KEY_BYTES,
            CKF.ENCAPSULATE | CKF.DECAPSULATE,
            key_types=_ML_KEM,
            encapsulate=encapsulate,
            decapsulate=decapsulate,
            ciphertext_length=ciphertext_length,
            standard=STANDARD,
        )
    )
