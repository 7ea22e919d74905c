"""Message digesting: CKM_MD5, CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512.

PKCS #11 v2.40 Current Mechanisms s2.20-2.24 (SHA-1, SHA-224, SHA-256, SHA-384, SHA-512) and
the v2.40 Historical Mechanisms document (MD5): single- and multi-part C_Digest, no parameter,
no key. The tables here also name the hash of the CKM_SHA* values used as PSS/OAEP parameters
and of the CKG_MGF1_* mask generation functions (s2.1.7, s2.1.9), for the other families.
"""

from __future__ import annotations

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
}
"""Digest mechanism -> hash."""

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
}
"""CKG_MGF1_* -> hash."""


def param_hash(mechanism: int) -> HashName:
    """The hash named by a CKM_SHA* value inside a mechanism parameter."""
    try:
        return PARAM_HASHES[mechanism]
    except KeyError:
        raise MechanismParamInvalid("unsupported hash in mechanism parameter") from None


def mgf_hash(mgf: int) -> HashName:
    """The hash of a CKG_MGF1_* value."""
    try:
        return MGF1_HASHES[mgf]
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

        registry.add(MechanismSpec(mechanism, 0, 0, CKF.DIGEST, digest=digest))
