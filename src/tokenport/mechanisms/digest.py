"""Message digesting: MD5, SHA-1, SHA-2 (with SHA-512/224 and SHA-512/256) and SHA-3.

PKCS #11 v2.40 Current Mechanisms s2.20-2.24 (SHA-1, SHA-224, SHA-256, SHA-384, SHA-512),
the v2.40 SHA-512/224 and SHA-512/256 mechanisms (CKM_SHA512_224, CKM_SHA512_256: "SHA-512/t"
with t = 224, 256; PKCS #11 3.2 s6.25-6.26) and the SHA-3 mechanisms of PKCS #11 v3.0
(CKM_SHA3_224 .. CKM_SHA3_512, FIPS 202; 3.2 s6.28-6.31) and the v2.40 Historical Mechanisms
document (MD5): single- and multi-part C_Digest, C_DigestKey, no parameter, no key. The
tables here also name the hash of the CKM_* values used as PSS/OAEP parameters and of the
CKG_MGF1_* mask generation functions (s2.1.7, s2.1.9; CKG_MGF1_SHA3_* from v3.0), for the
other families. CKM_SHA512_T (t as a parameter) is not offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from tokenport.ck import CKF, CKG, CKM
from tokenport.errors import MechanismParamInvalid
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry, MechanismSpec
from tokenport.mechanisms.common import LazyHash, no_param
from tokenport.mechanisms.params import Params
from tokenport.ports.crypto import DIGEST_SIZES, DigestPort, HashName

DIGEST_MECHANISMS: dict[int, HashName] = {
    CKM.MD5: "md5",
    CKM.SHA_1: "sha1",
    CKM.SHA224: "sha224",
    CKM.SHA256: "sha256",
    CKM.SHA384: "sha384",
    CKM.SHA512: "sha512",
    CKM.SHA512_224: "sha512_224",
    CKM.SHA512_256: "sha512_256",
    CKM.SHA3_224: "sha3_224",
    CKM.SHA3_256: "sha3_256",
    CKM.SHA3_384: "sha3_384",
    CKM.SHA3_512: "sha3_512",
}
"""Digest mechanism -> hash."""

HASH_STANDARDS: dict[HashName, str] = {
    "md5": "PKCS #11 v2.40 Historical Mechanisms (MD5); RFC 1321",
    "sha1": "PKCS #11 v2.40 s2.20; FIPS 180-4",
    "sha224": "PKCS #11 v2.40 s2.21; FIPS 180-4",
    "sha256": "PKCS #11 v2.40 s2.22; FIPS 180-4",
    "sha384": "PKCS #11 v2.40 s2.23; FIPS 180-4",
    "sha512": "PKCS #11 v2.40 s2.24; FIPS 180-4",
    "sha512_224": "PKCS #11 v2.40 SHA-512/224 (3.2 s6.25); FIPS 180-4",
    "sha512_256": "PKCS #11 v2.40 SHA-512/256 (3.2 s6.26); FIPS 180-4",
    "sha3_224": "PKCS #11 v3.0 SHA3-224 (3.2 s6.28); FIPS 202",
    "sha3_256": "PKCS #11 v3.0 SHA3-256 (3.2 s6.29); FIPS 202",
    "sha3_384": "PKCS #11 v3.0 SHA3-384 (3.2 s6.30); FIPS 202",
    "sha3_512": "PKCS #11 v3.0 SHA3-512 (3.2 s6.31); FIPS 202",
}
"""Where each hash's mechanisms (digest, HMAC, key generation) are defined."""

PARAM_HASHES: dict[int, HashName] = {
    m: h for m, h in DIGEST_MECHANISMS.items() if m != CKM.MD5
}
"""Hash mechanisms allowed as the hashAlg of CK_RSA_PKCS_PSS_PARAMS / _OAEP_PARAMS."""

MGF1_HASHES: dict[int, HashName] = {
    CKG.MGF1_SHA1: "sha1",
    CKG.MGF1_SHA224: "sha224",
    CKG.MGF1_SHA256: "sha256",
    CKG.MGF1_SHA384: "sha384",
    CKG.MGF1_SHA512: "sha512",
    CKG.MGF1_SHA3_224: "sha3_224",
    CKG.MGF1_SHA3_256: "sha3_256",
    CKG.MGF1_SHA3_384: "sha3_384",
    CKG.MGF1_SHA3_512: "sha3_512",
}
"""CKG_MGF1_* -> hash."""

OAEP_HASHES: dict[int, HashName] = {
    m: h for m, h in PARAM_HASHES.items() if h in ("sha1", "sha224", "sha256", "sha384", "sha512")
}
"""Hashes CK_RSA_PKCS_OAEP_PARAMS may name: pyca/cryptography does RSA-OAEP with SHA-1 and
SHA-2 only (not SHA-512/t nor SHA-3, as hash or inside MGF1); the others are refused with
CKR_MECHANISM_PARAM_INVALID instead of failing inside the crypto library."""

OAEP_MGF1_HASHES: dict[int, HashName] = {
    g: h for g, h in MGF1_HASHES.items() if h in OAEP_HASHES.values()
}
"""CKG_MGF1_* values usable with RSA-OAEP (see OAEP_HASHES)."""


def param_hash(mechanism: int, allowed: Mapping[int, HashName] = PARAM_HASHES) -> HashName:
    """The hash named by a CKM_SHA* value inside a mechanism parameter."""
    try:
        return allowed[mechanism]
    except KeyError:
        raise MechanismParamInvalid("unsupported hash in mechanism parameter") from None


def mgf_hash(mgf: int, allowed: Mapping[int, HashName] = MGF1_HASHES) -> HashName:
    """The hash of a CKG_MGF1_* value."""
    try:
        return allowed[mgf]
    except KeyError:
        raise MechanismParamInvalid("unsupported mask generation function") from None


def digest_size(alg: HashName) -> int:
    return DIGEST_SIZES[alg]


class Digest:
    """A running C_Digest operation: a single-part C_Digest is one call of the port's
    one-shot ``digest``; the running hash context is made by the first update."""

    def __init__(self, crypto: DigestPort, alg: HashName) -> None:
        self._hash = LazyHash(partial(crypto.hash_new, alg), partial(crypto.digest, alg))

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def final(self) -> bytes:
        return self._hash.finalize()

    def once(self, data: bytes) -> bytes:
        return self._hash.whole(data)


def register(registry: MechanismRegistry) -> None:
    """Add the digest mechanisms (no key: min and max key size 0)."""
    for mechanism, alg in DIGEST_MECHANISMS.items():

        def digest(ctx: MechanismContext, param: Params, alg: HashName = alg) -> Digest:
            no_param(param)
            return Digest(ctx.crypto, alg)

        registry.add(MechanismSpec(mechanism, 0, 0, CKF.DIGEST, digest=digest,
                                   standard=HASH_STANDARDS[alg]))
