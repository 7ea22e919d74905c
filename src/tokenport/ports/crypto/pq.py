"""Post-quantum family of the crypto port: ML-DSA (FIPS 204) and ML-KEM (FIPS 203), the key
types of PKCS #11 v3.2 s6.66 (ML-KEM) and s6.67 (ML-DSA).

Parameter sets are named as FIPS 204 / FIPS 203 name them ("ML-DSA-65", "ML-KEM-768"). Keys
are opaque handles as in the other families (``typing.NewType`` over ``object``); a private
key is built from its seed only (FIPS 204 xi, 32 bytes; FIPS 203 d || z, 64 bytes), since
that is the one private form the crypto library loads and exports.

Randomness: key seeds come from the token's DRBG (the mechanism draws them); hedged ML-DSA
signing and ML-KEM encapsulation draw their per-call randomness inside the crypto library.
"""

from __future__ import annotations

from typing import Literal, NewType, Protocol, runtime_checkable

MlDsaSet = Literal["ML-DSA-44", "ML-DSA-65", "ML-DSA-87"]
"""ML-DSA parameter sets (FIPS 204 s4 table 1)."""

MlKemSet = Literal["ML-KEM-512", "ML-KEM-768", "ML-KEM-1024"]
"""ML-KEM parameter sets (FIPS 203 s8 table 2). A backend may lack some (pyca/cryptography
has no ML-KEM-512): it raises ParameterSetNotSupported for them."""

MlDsaPrivateKeyHandle = NewType("MlDsaPrivateKeyHandle", object)
MlDsaPublicKeyHandle = NewType("MlDsaPublicKeyHandle", object)
MlKemPrivateKeyHandle = NewType("MlKemPrivateKeyHandle", object)
MlKemPublicKeyHandle = NewType("MlKemPublicKeyHandle", object)


@runtime_checkable
class PqPort(Protocol):
    """ML-DSA and ML-KEM keys from their seeds and FIPS encodings, signatures and KEM."""

    def mldsa_private_from_seed(self, parameter_set: MlDsaSet, seed: bytes) -> MlDsaPrivateKeyHandle:
        """ML-DSA.KeyGen_internal from the 32-byte seed xi (FIPS 204 Algorithm 6);
        AttributeValueInvalid for a seed of another length."""
        ...

    def mldsa_public_from_bytes(self, parameter_set: MlDsaSet, public: bytes) -> MlDsaPublicKeyHandle:
        """A public key from its FIPS 204 encoding (pkEncode); AttributeValueInvalid when
        malformed or of another parameter set's length."""
        ...

    def mldsa_public_bytes(self, key: MlDsaPrivateKeyHandle | MlDsaPublicKeyHandle) -> bytes:
        """The FIPS 204 public key encoding of a public or private key."""
        ...

    def mldsa_sign(self, key: MlDsaPrivateKeyHandle, message: bytes, context: bytes) -> bytes:
        """Hedged ML-DSA.Sign (FIPS 204 Algorithm 2) of ``message`` with a context string of
        at most 255 bytes."""
        ...

    def mldsa_verify(self, key: MlDsaPublicKeyHandle, signature: bytes, message: bytes,
                     context: bytes) -> None:
        """ML-DSA.Verify (FIPS 204 Algorithm 3); raises SignatureInvalid."""
        ...

    def mlkem_private_from_seed(self, parameter_set: MlKemSet, seed: bytes) -> MlKemPrivateKeyHandle:
        """ML-KEM.KeyGen_internal from the 64-byte seed d || z (FIPS 203 Algorithm 16)."""
        ...

    def mlkem_public_from_bytes(self, parameter_set: MlKemSet, public: bytes) -> MlKemPublicKeyHandle:
        """An encapsulation key ek from its FIPS 203 encoding (with the s7.2 input check)."""
        ...

    def mlkem_public_bytes(self, key: MlKemPrivateKeyHandle | MlKemPublicKeyHandle) -> bytes:
        """The encapsulation key ek of a public or private key."""
        ...

    def mlkem_encapsulate(self, key: MlKemPublicKeyHandle) -> tuple[bytes, bytes]:
        """ML-KEM.Encaps (FIPS 203 Algorithm 20): (32-byte shared secret, ciphertext)."""
        ...

    def mlkem_decapsulate(self, key: MlKemPrivateKeyHandle, ciphertext: bytes) -> bytes:
        """ML-KEM.Decaps (FIPS 203 Algorithm 21) of a ciphertext of the right length: the
        32-byte shared secret (implicit rejection: a damaged ciphertext gives a pseudo-random
        secret, never an error)."""
        ...
