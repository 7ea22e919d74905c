"""The post-quantum family of the fake crypto port (``tokenport.backends.crypto.fake``).
NOT CRYPTOGRAPHY.

It keeps the contracts of ``tokenport.ports.crypto.pq`` (FIPS 204 / FIPS 203 lengths: public
keys, signatures of 2420/3309/4627 bytes, ciphertexts, 32-byte shared secrets; the same
errors; ML-KEM-512 missing as in pyca) with SHAKE-256 stand-ins: a "public key" is SHAKE-256
of the seed, a "signature" SHAKE-256 of the public key, context and message (anyone can
forge it), an "encapsulation" a counter-made ciphertext whose secret is SHAKE-256 of the
public key and the ciphertext. Deterministic: the same calls give the same bytes on every run.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from tokenport import errors
from tokenport.ports.crypto.pq import (
    MlDsaPrivateKeyHandle,
    MlDsaPublicKeyHandle,
    MlDsaSet,
    MlKemPrivateKeyHandle,
    MlKemPublicKeyHandle,
    MlKemSet,
)

DSA_SIZES: dict[str, tuple[int, int]] = {
    "ML-DSA-44": (1312, 2420),
    "ML-DSA-65": (1952, 3309),
    "ML-DSA-87": (2592, 4627),
}
"""Parameter set -> (public key bytes, signature bytes), FIPS 204 s4 table 2."""
KEM_SIZES: dict[str, tuple[int, int]] = {
    "ML-KEM-768": (1184, 1088),
    "ML-KEM-1024": (1568, 1568),
}
"""Parameter set -> (encapsulation key bytes, ciphertext bytes), FIPS 203 s8 table 3."""


def _shake(length: int, *parts: bytes) -> bytes:
    h = hashlib.shake_256()
    for part in parts:
        h.update(len(part).to_bytes(4, "big") + part)
    return h.digest(length)


@dataclass(frozen=True, repr=False)
class _PqKey:
    family: str
    parameter_set: str
    public: bytes
    seed: bytes | None = None

    def __repr__(self) -> str:
        return f"_PqKey({self.parameter_set}, {'private' if self.seed else 'public'})"


def _key(key: object, family: str, *, private: bool) -> _PqKey:
    if isinstance(key, _PqKey) and key.family == family and (key.seed is not None or not private):
        return key
    raise errors.KeyTypeInconsistent(f"expected an {family} {'private ' if private else ''}key object")


def _sizes(table: dict[str, tuple[int, int]], parameter_set: str) -> tuple[int, int]:
    found = table.get(parameter_set)
    if found is None:
        raise errors.ParameterSetNotSupported(f"{parameter_set} is not supported")
    return found


class FakePq:
    """PqPort stand-ins (mixed into ``FakeCrypto``)."""

    _pq_calls = 0

    def mldsa_private_from_seed(self, parameter_set: MlDsaSet, seed: bytes) -> MlDsaPrivateKeyHandle:
        pk_len, _ = _sizes(DSA_SIZES, parameter_set)
        if len(seed) != 32:
            raise errors.AttributeValueInvalid("an ML-DSA seed is 32 bytes")
        public = _shake(pk_len, b"fake ML-DSA pk", parameter_set.encode(), seed)
        return MlDsaPrivateKeyHandle(_PqKey("ML-DSA", parameter_set, public, seed))

    def mldsa_public_from_bytes(self, parameter_set: MlDsaSet, public: bytes) -> MlDsaPublicKeyHandle:
        pk_len, _ = _sizes(DSA_SIZES, parameter_set)
        if len(public) != pk_len:
            raise errors.AttributeValueInvalid("not an ML-DSA public key of this parameter set")
        return MlDsaPublicKeyHandle(_PqKey("ML-DSA", parameter_set, public))

    def mldsa_public_bytes(self, key: MlDsaPrivateKeyHandle | MlDsaPublicKeyHandle) -> bytes:
        return _key(key, "ML-DSA", private=False).public

    def _mldsa(self, key: _PqKey, message: bytes, context: bytes) -> bytes:
        if len(context) > 255:
            raise errors.AttributeValueInvalid("ML-DSA context string rejected")
        _, sig_len = DSA_SIZES[key.parameter_set]
        return _shake(sig_len, b"fake ML-DSA sig", key.public, context, message)

    def mldsa_sign(self, key: MlDsaPrivateKeyHandle, message: bytes, context: bytes) -> bytes:
        return self._mldsa(_key(key, "ML-DSA", private=True), message, context)

    def mldsa_verify(self, key: MlDsaPublicKeyHandle, signature: bytes, message: bytes,
                     context: bytes) -> None:
        public = _key(key, "ML-DSA", private=False)
        if len(context) > 255 or not hmac.compare_digest(
            self._mldsa(public, message, context), signature
        ):
            raise errors.SignatureInvalid("signature does not verify")

    def mlkem_private_from_seed(self, parameter_set: MlKemSet, seed: bytes) -> MlKemPrivateKeyHandle:
        pk_len, _ = _sizes(KEM_SIZES, parameter_set)
        if len(seed) != 64:
            raise errors.AttributeValueInvalid("an ML-KEM seed (d || z) is 64 bytes")
        public = _shake(pk_len, b"fake ML-KEM ek", parameter_set.encode(), seed)
        return MlKemPrivateKeyHandle(_PqKey("ML-KEM", parameter_set, public, seed))

    def mlkem_public_from_bytes(self, parameter_set: MlKemSet, public: bytes) -> MlKemPublicKeyHandle:
        pk_len, _ = _sizes(KEM_SIZES, parameter_set)
        if len(public) != pk_len:
            raise errors.AttributeValueInvalid("not an ML-KEM encapsulation key of this parameter set")
        return MlKemPublicKeyHandle(_PqKey("ML-KEM", parameter_set, public))

    def mlkem_public_bytes(self, key: MlKemPrivateKeyHandle | MlKemPublicKeyHandle) -> bytes:
        return _key(key, "ML-KEM", private=False).public

    def mlkem_encapsulate(self, key: MlKemPublicKeyHandle) -> tuple[bytes, bytes]:
        public = _key(key, "ML-KEM", private=False)
        self._pq_calls += 1
        _, ct_len = KEM_SIZES[public.parameter_set]
        ciphertext = _shake(ct_len, b"fake ML-KEM ct", public.public,
                            self._pq_calls.to_bytes(8, "big"))
        return _shake(32, b"fake ML-KEM ss", public.public, ciphertext), ciphertext

    def mlkem_decapsulate(self, key: MlKemPrivateKeyHandle, ciphertext: bytes) -> bytes:
        private = _key(key, "ML-KEM", private=True)
        _, ct_len = KEM_SIZES[private.parameter_set]
        if len(ciphertext) != ct_len:
            raise errors.EncryptedDataLenRange("ML-KEM ciphertext has the wrong length")
        return _shake(32, b"fake ML-KEM ss", private.public, ciphertext)
