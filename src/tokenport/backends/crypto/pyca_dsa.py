"""The DSA family of the crypto port on pyca/cryptography (PKCS #11 v2.40 Current Mechanisms
s2.2; FIPS 186-4). Mixed into ``PycaCrypto``.

Randomness: the private value x is drawn by the mechanism from the token's DRBG; domain
parameter generation (the prime search of FIPS 186-4 A.1) and the per-signature nonce k are
generated inside OpenSSL with its own CSPRNG (pyca gives no way to supply them).
"""

from __future__ import annotations

from cryptography import exceptions as pyca_exceptions
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, utils

from tokenport import errors
from tokenport.ports.crypto.dsa import (
    DsaKeyHandle,
    DsaParameters,
    DsaPrivateKeyHandle,
    DsaPublicKeyHandle,
)

_PREHASHED: dict[int, utils.Prehashed] = {
    20: utils.Prehashed(hashes.SHA1()),
    28: utils.Prehashed(hashes.SHA224()),
    32: utils.Prehashed(hashes.SHA256()),
    48: utils.Prehashed(hashes.SHA384()),
    64: utils.Prehashed(hashes.SHA512()),
}
"""Digest length -> a Prehashed of a hash of that size (DSA ignores which hash it was)."""


def _numbers(params: DsaParameters) -> dsa.DSAParameterNumbers:
    return dsa.DSAParameterNumbers(params.p, params.q, params.g)


def _private(key: object) -> dsa.DSAPrivateKey:
    if isinstance(key, dsa.DSAPrivateKey):
        return key
    raise errors.KeyTypeInconsistent("expected a DSA private key object")


def _public(key: object) -> dsa.DSAPublicKey:
    if isinstance(key, dsa.DSAPrivateKey):
        return key.public_key()
    if isinstance(key, dsa.DSAPublicKey):
        return key
    raise errors.KeyTypeInconsistent("expected a DSA key object")


def _prehashed(hash_value: bytes) -> utils.Prehashed:
    found = _PREHASHED.get(len(hash_value))
    if found is None:
        raise errors.DataLenRange("DSA input must be 20, 28, 32, 48 or 64 bytes")
    return found


class PycaDsa:
    """DsaPort on pyca/cryptography (key handles are pyca DSA key objects)."""

    def dsa_generate_parameters(self, prime_bits: int, subprime_bits: int) -> DsaParameters:
        # pyca chooses N from L (1024 -> 160, 2048 and 3072 -> 256); 2048/224 is not offered.
        if (prime_bits, subprime_bits) not in ((1024, 160), (2048, 256), (3072, 256)):
            raise errors.KeySizeRange("the crypto library cannot make this (L, N) pair")
        try:
            numbers = dsa.generate_parameters(prime_bits).parameter_numbers()
        except ValueError:
            raise errors.KeySizeRange("DSA prime size not supported") from None
        return DsaParameters(numbers.p, numbers.q, numbers.g)

    def dsa_private_from_numbers(self, params: DsaParameters, x: int) -> DsaPrivateKeyHandle:
        if not 0 < x < params.q:
            raise errors.AttributeValueInvalid("DSA private value out of range")
        y = pow(params.g, x, params.p)
        public = dsa.DSAPublicNumbers(y, _numbers(params))
        try:
            return DsaPrivateKeyHandle(dsa.DSAPrivateNumbers(x, public).private_key())
        except (ValueError, TypeError, pyca_exceptions.UnsupportedAlgorithm):
            raise errors.AttributeValueInvalid("DSA key material is not valid") from None

    def dsa_public_from_numbers(self, params: DsaParameters, y: int) -> DsaPublicKeyHandle:
        if not 1 < y < params.p - 1:
            raise errors.AttributeValueInvalid("DSA public value out of range")
        try:
            return DsaPublicKeyHandle(dsa.DSAPublicNumbers(y, _numbers(params)).public_key())
        except (ValueError, TypeError, pyca_exceptions.UnsupportedAlgorithm):
            raise errors.AttributeValueInvalid("DSA key material is not valid") from None

    def dsa_sign_hash(self, key: DsaPrivateKeyHandle, hash_value: bytes) -> tuple[int, int]:
        algorithm = _prehashed(hash_value)
        try:
            der = _private(key).sign(hash_value, algorithm)
        except ValueError:
            raise errors.FunctionFailed("DSA signing failed") from None
        return utils.decode_dss_signature(der)

    def dsa_verify_hash(self, key: DsaKeyHandle, r: int, s: int, hash_value: bytes) -> None:
        algorithm = _prehashed(hash_value)
        public = _public(key)
        q = public.parameters().parameter_numbers().q
        if not (0 < r < q and 0 < s < q):
            raise errors.SignatureInvalid("signature does not verify")
        try:
            public.verify(utils.encode_dss_signature(r, s), hash_value, algorithm)
        except (pyca_exceptions.InvalidSignature, ValueError):
            raise errors.SignatureInvalid("signature does not verify") from None

    def dsa_public_key_info(self, key: DsaKeyHandle) -> bytes:
        return _public(key).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def dsa_pkcs8_encode(self, key: DsaPrivateKeyHandle) -> bytes:
        return _private(key).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def dsa_pkcs8_decode(self, der: bytes) -> tuple[DsaParameters, int] | None:
        try:
            key = serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError, pyca_exceptions.UnsupportedAlgorithm):
            return None
        if not isinstance(key, dsa.DSAPrivateKey):
            return None
        numbers = key.private_numbers()
        pn = numbers.public_numbers.parameter_numbers
        return DsaParameters(pn.p, pn.q, pn.g), numbers.x
