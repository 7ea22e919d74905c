"""ML-DSA and ML-KEM key objects (PKCS #11 v3.2 s6.66 ML-KEM, s6.67 ML-DSA key objects).

Attributes: CKA_PARAMETER_SET (CKP_ML_DSA_* / CKP_ML_KEM_*) on both halves; CKA_VALUE of a
public key is its FIPS encoding (ML-DSA pk, FIPS 204 s7.2 pkEncode; ML-KEM encapsulation key
ek, FIPS 203 s7.1); a private key has CKA_SEED (ML-DSA xi, 32 bytes; ML-KEM d || z, 64
bytes) and/or CKA_VALUE (ML-DSA sk, ML-KEM dk: the expanded forms).

tokenport works from the seed: the crypto library (pyca/cryptography) loads private keys
from their seeds only and cannot export the expanded form. So

* keys generated on the token have CKA_SEED and no CKA_VALUE;
* C_CreateObject of a private key needs CKA_SEED (the specification lets a token refuse a
  template with only one of the two: one with only CKA_VALUE gets CKR_TEMPLATE_INCOMPLETE);
  a CKA_VALUE given beside it is kept after the checks that need no lattice arithmetic: its
  length, and the parts it shares with the public key derived from the seed (ML-DSA: rho and
  tr = H(pk, 64), FIPS 204 s7.2 skEncode; ML-KEM: ek, H(ek) = SHA3-256(ek) and z, FIPS 203
  Algorithm 16). A mismatch is CKR_ATTRIBUTE_VALUE_INVALID.

Parameter sets: ML-DSA-44/65/87, ML-KEM-768/1024; ML-KEM-512 (which pyca lacks) gives
CKR_PARAMETER_SET_NOT_SUPPORTED, an unknown value CKR_ATTRIBUTE_VALUE_INVALID.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKK, CKP_ML_DSA, CKP_ML_KEM
from tokenport.errors import (
    AttributeValueInvalid,
    KeyTypeInconsistent,
    ParameterSetNotSupported,
    PKCS11Error,
    TemplateIncomplete,
)
from tokenport.mechanisms.base import KeyView
from tokenport.mechanisms.common import Getter, get_bytes
from tokenport.ports.crypto.pq import (
    MlDsaPrivateKeyHandle,
    MlDsaPublicKeyHandle,
    MlDsaSet,
    MlKemPrivateKeyHandle,
    MlKemPublicKeyHandle,
    MlKemSet,
    PqPort,
)


@dataclass(frozen=True)
class DsaSet:
    """An ML-DSA parameter set: FIPS 204 s4 table 2 sizes in bytes."""

    name: MlDsaSet
    public: int
    private: int
    signature: int


@dataclass(frozen=True)
class KemSet:
    """An ML-KEM parameter set: FIPS 203 s8 table 3 sizes in bytes (k is the module rank)."""

    name: MlKemSet
    k: int
    public: int
    private: int
    ciphertext: int


MLDSA_SEED_BYTES = 32
MLKEM_SEED_BYTES = 64
SHARED_SECRET_BYTES = 32

ML_DSA_SETS: dict[int, DsaSet] = {
    CKP_ML_DSA.ML_DSA_44: DsaSet("ML-DSA-44", 1312, 2560, 2420),
    CKP_ML_DSA.ML_DSA_65: DsaSet("ML-DSA-65", 1952, 4032, 3309),
    CKP_ML_DSA.ML_DSA_87: DsaSet("ML-DSA-87", 2592, 4896, 4627),
}
ML_KEM_SETS: dict[int, KemSet] = {
    CKP_ML_KEM.ML_KEM_768: KemSet("ML-KEM-768", 3, 1184, 2400, 1088),
    CKP_ML_KEM.ML_KEM_1024: KemSet("ML-KEM-1024", 4, 1568, 3168, 1568),
}
UNSUPPORTED_KEM_SETS = frozenset({int(CKP_ML_KEM.ML_KEM_512)})
"""Defined by PKCS #11 v3.2 but missing from pyca/cryptography."""

PQ_KEY_TYPES = frozenset({int(CKK.ML_DSA), int(CKK.ML_KEM)})


def _parameter_set(get: Getter, missing: type[PKCS11Error]) -> int:
    value = get(CKA.PARAMETER_SET)
    if value is None:
        raise missing("CKA_PARAMETER_SET is required")
    if not isinstance(value, int) or isinstance(value, bool):
        raise AttributeValueInvalid("CKA_PARAMETER_SET must be a CK_ULONG")
    return value


def dsa_set(get: Getter, missing: type[PKCS11Error]) -> DsaSet:
    """The ML-DSA parameter set named by CKA_PARAMETER_SET."""
    found = ML_DSA_SETS.get(_parameter_set(get, missing))
    if found is None:
        raise AttributeValueInvalid("CKA_PARAMETER_SET is not an ML-DSA parameter set")
    return found


def kem_set(get: Getter, missing: type[PKCS11Error]) -> KemSet:
    """The ML-KEM parameter set named by CKA_PARAMETER_SET (ML-KEM-512: not supported)."""
    value = _parameter_set(get, missing)
    found = ML_KEM_SETS.get(value)
    if found is None:
        if value in UNSUPPORTED_KEM_SETS:
            raise ParameterSetNotSupported(
                "ML-KEM-512 is not supported: the crypto library (pyca/cryptography) lacks it"
            )
        raise AttributeValueInvalid("CKA_PARAMETER_SET is not an ML-KEM parameter set")
    return found


def _seed(get: Getter, missing: type[PKCS11Error], length: int) -> bytes:
    seed = get(CKA.SEED)
    if seed is None:
        if get(CKA.VALUE) is not None:
            raise TemplateIncomplete(
                "CKA_SEED is required: private keys are loaded from their seed only"
            )
        raise missing("CKA_SEED is required")
    if not isinstance(seed, bytes) or len(seed) != length:
        raise AttributeValueInvalid(f"CKA_SEED must be {length} bytes")
    return seed


# -- ML-DSA --------------------------------------------------------------------------------


def build_mldsa_public(crypto: PqPort, get: Getter, missing: type[PKCS11Error]) -> MlDsaPublicKeyHandle:
    params = dsa_set(get, missing)
    value = get_bytes(get, CKA.VALUE, missing)
    if len(value) != params.public:
        raise AttributeValueInvalid(f"an {params.name} public key is {params.public} bytes")
    return crypto.mldsa_public_from_bytes(params.name, value)


def build_mldsa_private(crypto: PqPort, get: Getter, missing: type[PKCS11Error]) -> MlDsaPrivateKeyHandle:
    params = dsa_set(get, missing)
    return crypto.mldsa_private_from_seed(params.name, _seed(get, missing, MLDSA_SEED_BYTES))


def check_mldsa_expanded(params: DsaSet, sk: bytes, public: bytes) -> None:
    """The parts of sk (FIPS 204 skEncode: rho || K || tr || s1 || s2 || t0) that follow from
    the public key: rho = pk[:32] and tr = H(pk, 64) (SHAKE-256)."""
    if len(sk) != params.private:
        raise AttributeValueInvalid(f"an {params.name} private key (sk) is {params.private} bytes")
    if sk[:32] != public[:32] or sk[64:128] != hashlib.shake_256(public).digest(64):
        raise AttributeValueInvalid("CKA_VALUE does not belong to the key of CKA_SEED")


def mldsa_private_key(crypto: PqPort, key: KeyView) -> MlDsaPrivateKeyHandle:
    return key.cached("mldsa.private", lambda: build_mldsa_private(crypto, key.get, KeyTypeInconsistent))


def mldsa_public_key(crypto: PqPort, key: KeyView) -> MlDsaPublicKeyHandle:
    return key.cached("mldsa.public", lambda: build_mldsa_public(crypto, key.get, KeyTypeInconsistent))


def mldsa_key_set(key: KeyView) -> DsaSet:
    return key.cached("mldsa.set", lambda: dsa_set(key.get, KeyTypeInconsistent))


# -- ML-KEM --------------------------------------------------------------------------------


def build_mlkem_public(crypto: PqPort, get: Getter, missing: type[PKCS11Error]) -> MlKemPublicKeyHandle:
    params = kem_set(get, missing)
    value = get_bytes(get, CKA.VALUE, missing)
    if len(value) != params.public:
        raise AttributeValueInvalid(f"an {params.name} encapsulation key is {params.public} bytes")
    return crypto.mlkem_public_from_bytes(params.name, value)


def build_mlkem_private(crypto: PqPort, get: Getter, missing: type[PKCS11Error]) -> MlKemPrivateKeyHandle:
    params = kem_set(get, missing)
    return crypto.mlkem_private_from_seed(params.name, _seed(get, missing, MLKEM_SEED_BYTES))


def check_mlkem_expanded(params: KemSet, dk: bytes, public: bytes, seed: bytes) -> None:
    """The parts of dk (FIPS 203 Algorithm 16: dk_pke || ek || H(ek) || z) that follow from
    the seed: ek, H(ek) = SHA3-256(ek) and z = seed[32:]."""
    if len(dk) != params.private:
        raise AttributeValueInvalid(f"an {params.name} decapsulation key is {params.private} bytes")
    start = 384 * params.k
    tail = public + hashlib.sha3_256(public).digest() + seed[32:]
    if dk[start:] != tail:
        raise AttributeValueInvalid("CKA_VALUE does not belong to the key of CKA_SEED")


def mlkem_private_key(crypto: PqPort, key: KeyView) -> MlKemPrivateKeyHandle:
    return key.cached("mlkem.private", lambda: build_mlkem_private(crypto, key.get, KeyTypeInconsistent))


def mlkem_public_key(crypto: PqPort, key: KeyView) -> MlKemPublicKeyHandle:
    return key.cached("mlkem.public", lambda: build_mlkem_public(crypto, key.get, KeyTypeInconsistent))


def mlkem_key_set(key: KeyView) -> KemSet:
    return key.cached("mlkem.set", lambda: kem_set(key.get, KeyTypeInconsistent))


# -- C_CreateObject (tokenport.mechanisms.keyformats) ---------------------------------------


def complete_pq_key(crypto: object, object_class: int, key_type: int,
                    attrs: Mapping[int, AttrValue]) -> dict[int, AttrValue]:
    """Validate the material of a new ML-DSA / ML-KEM key (C_CreateObject, and keys the token
    generates); nothing is added to the key."""
    from tokenport.ck import CKO

    if not isinstance(crypto, PqPort):
        raise KeyTypeInconsistent("the crypto port has no ML-DSA / ML-KEM")
    get = attrs.get
    if object_class == CKO.PUBLIC_KEY:
        if key_type == CKK.ML_DSA:
            build_mldsa_public(crypto, get, TemplateIncomplete)
        else:
            build_mlkem_public(crypto, get, TemplateIncomplete)
        return {}
    expanded = attrs.get(CKA.VALUE)
    if key_type == CKK.ML_DSA:
        dsa = dsa_set(get, TemplateIncomplete)
        private = build_mldsa_private(crypto, get, TemplateIncomplete)
        if isinstance(expanded, bytes):
            check_mldsa_expanded(dsa, expanded, crypto.mldsa_public_bytes(private))
        return {}
    kem = kem_set(get, TemplateIncomplete)
    kem_private = build_mlkem_private(crypto, get, TemplateIncomplete)
    if isinstance(expanded, bytes):
        seed = attrs.get(CKA.SEED)
        assert isinstance(seed, bytes)
        check_mlkem_expanded(kem, expanded, crypto.mlkem_public_bytes(kem_private), seed)
    return {}
