"""The post-quantum family of the crypto port on pyca/cryptography (>= 48: ML-DSA and ML-KEM
on OpenSSL >= 3.5, AWS-LC or BoringSSL): FIPS 204 ML-DSA-44/65/87 and FIPS 203
ML-KEM-768/1024, the primitives of PKCS #11 v3.2 s6.66-6.67.

What pyca cannot do, and what the port therefore does not offer:

* ML-KEM-512: pyca has no class for it (ParameterSetNotSupported);
* private keys in the expanded FIPS forms (ML-DSA sk, ML-KEM dk): pyca loads and exports
  private keys from and to their seeds only;
* deterministic ML-DSA signing (FIPS 204 s3.4 rnd = 0^256): pyca signs hedged only.

Randomness: hedged ML-DSA signatures and ML-KEM encapsulation take their random bytes from
OpenSSL's CSPRNG inside pyca (there is no way to pass them in); key seeds come from the
token's DRBG through the mechanisms.

Exceptions are translated here; messages are fixed strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cryptography import exceptions as pyca_exceptions
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem

from tokenport import errors
from tokenport.ports.crypto.pq import (
    MlDsaPrivateKeyHandle,
    MlDsaPublicKeyHandle,
    MlDsaSet,
    MlKemPrivateKeyHandle,
    MlKemPublicKeyHandle,
    MlKemSet,
)

_MLDSA: dict[str, tuple[Callable[[bytes], Any], Callable[[bytes], Any]]] = {
    "ML-DSA-44": (mldsa.MLDSA44PrivateKey.from_seed_bytes, mldsa.MLDSA44PublicKey.from_public_bytes),
    "ML-DSA-65": (mldsa.MLDSA65PrivateKey.from_seed_bytes, mldsa.MLDSA65PublicKey.from_public_bytes),
    "ML-DSA-87": (mldsa.MLDSA87PrivateKey.from_seed_bytes, mldsa.MLDSA87PublicKey.from_public_bytes),
}
_MLKEM: dict[str, tuple[Callable[[bytes], Any], Callable[[bytes], Any]]] = {
    "ML-KEM-768": (mlkem.MLKEM768PrivateKey.from_seed_bytes,
                   mlkem.MLKEM768PublicKey.from_public_bytes),
    "ML-KEM-1024": (mlkem.MLKEM1024PrivateKey.from_seed_bytes,
                    mlkem.MLKEM1024PublicKey.from_public_bytes),
}
_MLDSA_PRIVATE = (mldsa.MLDSA44PrivateKey, mldsa.MLDSA65PrivateKey, mldsa.MLDSA87PrivateKey)
_MLDSA_PUBLIC = (mldsa.MLDSA44PublicKey, mldsa.MLDSA65PublicKey, mldsa.MLDSA87PublicKey)
_MLKEM_PRIVATE = (mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey)
_MLKEM_PUBLIC = (mlkem.MLKEM768PublicKey, mlkem.MLKEM1024PublicKey)


@contextmanager
def _translate(message: str) -> Iterator[None]:
    """pyca exceptions -> tokenport.errors (malformed input: AttributeValueInvalid)."""
    try:
        yield
    except errors.PKCS11Error:
        raise
    except pyca_exceptions.InvalidSignature:
        raise errors.SignatureInvalid("signature does not verify") from None
    except pyca_exceptions.UnsupportedAlgorithm:
        raise errors.FunctionFailed("ML-DSA / ML-KEM not available in the crypto library") from None
    except (ValueError, TypeError):
        raise errors.AttributeValueInvalid(message) from None


def _loaders(table: dict[str, tuple[Callable[[bytes], Any], Callable[[bytes], Any]]],
             parameter_set: str) -> tuple[Callable[[bytes], Any], Callable[[bytes], Any]]:
    found = table.get(parameter_set)
    if found is None:
        raise errors.ParameterSetNotSupported(f"{parameter_set} is not supported by the crypto library")
    return found


def _dsa_private(key: object) -> Any:
    if isinstance(key, _MLDSA_PRIVATE):
        return key
    raise errors.KeyTypeInconsistent("expected an ML-DSA private key object")


def _dsa_public(key: object) -> Any:
    if isinstance(key, _MLDSA_PRIVATE):
        return key.public_key()
    if isinstance(key, _MLDSA_PUBLIC):
        return key
    raise errors.KeyTypeInconsistent("expected an ML-DSA key object")


def _kem_private(key: object) -> Any:
    if isinstance(key, _MLKEM_PRIVATE):
        return key
    raise errors.KeyTypeInconsistent("expected an ML-KEM private key object")


def _kem_public(key: object) -> Any:
    if isinstance(key, _MLKEM_PRIVATE):
        return key.public_key()
    if isinstance(key, _MLKEM_PUBLIC):
        return key
    raise errors.KeyTypeInconsistent("expected an ML-KEM key object")


class PycaPq:
    """PqPort on pyca/cryptography (mixed into ``PycaCrypto``)."""

    def mldsa_private_from_seed(self, parameter_set: MlDsaSet, seed: bytes) -> MlDsaPrivateKeyHandle:
        private, _ = _loaders(_MLDSA, parameter_set)
        if len(seed) != 32:
            raise errors.AttributeValueInvalid("an ML-DSA seed is 32 bytes")
        with _translate("ML-DSA seed rejected"):
            return MlDsaPrivateKeyHandle(private(seed))

    def mldsa_public_from_bytes(self, parameter_set: MlDsaSet, public: bytes) -> MlDsaPublicKeyHandle:
        _, load = _loaders(_MLDSA, parameter_set)
        with _translate("not an ML-DSA public key of this parameter set"):
            return MlDsaPublicKeyHandle(load(public))

    def mldsa_public_bytes(self, key: MlDsaPrivateKeyHandle | MlDsaPublicKeyHandle) -> bytes:
        return bytes(_dsa_public(key).public_bytes_raw())

    def mldsa_sign(self, key: MlDsaPrivateKeyHandle, message: bytes, context: bytes) -> bytes:
        private = _dsa_private(key)
        with _translate("ML-DSA context string rejected"):
            return bytes(private.sign(message, context or None))

    def mldsa_verify(self, key: MlDsaPublicKeyHandle, signature: bytes, message: bytes,
                     context: bytes) -> None:
        public = _dsa_public(key)
        try:
            public.verify(signature, message, context or None)
        except pyca_exceptions.InvalidSignature:
            raise errors.SignatureInvalid("signature does not verify") from None
        except (ValueError, TypeError):
            raise errors.SignatureInvalid("signature does not verify") from None

    def mlkem_private_from_seed(self, parameter_set: MlKemSet, seed: bytes) -> MlKemPrivateKeyHandle:
        private, _ = _loaders(_MLKEM, parameter_set)
        if len(seed) != 64:
            raise errors.AttributeValueInvalid("an ML-KEM seed (d || z) is 64 bytes")
        with _translate("ML-KEM seed rejected"):
            return MlKemPrivateKeyHandle(private(seed))

    def mlkem_public_from_bytes(self, parameter_set: MlKemSet, public: bytes) -> MlKemPublicKeyHandle:
        _, load = _loaders(_MLKEM, parameter_set)
        with _translate("not an ML-KEM encapsulation key of this parameter set"):
            return MlKemPublicKeyHandle(load(public))

    def mlkem_public_bytes(self, key: MlKemPrivateKeyHandle | MlKemPublicKeyHandle) -> bytes:
        return bytes(_kem_public(key).public_bytes_raw())

    def mlkem_encapsulate(self, key: MlKemPublicKeyHandle) -> tuple[bytes, bytes]:
        public = _kem_public(key)
        with _translate("ML-KEM encapsulation failed"):
            secret, ciphertext = public.encapsulate()
        return bytes(secret), bytes(ciphertext)

    def mlkem_decapsulate(self, key: MlKemPrivateKeyHandle, ciphertext: bytes) -> bytes:
        private = _kem_private(key)
        try:
            return bytes(private.decapsulate(ciphertext))
        except (ValueError, TypeError):
            raise errors.EncryptedDataLenRange("ML-KEM ciphertext has the wrong length") from None
