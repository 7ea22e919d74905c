"""The PKCS #3 Diffie-Hellman family of the crypto port on pyca/cryptography (PKCS #11 v2.40
Current Mechanisms s2.4; PKCS #3 v1.4). Mixed into ``PycaCrypto``.

Randomness: the private value x is drawn by the mechanism from the token's DRBG; parameter
generation (the safe-prime search) runs inside OpenSSL with its own CSPRNG.

Loading a private key runs OpenSSL's parameter check (primality of p: tens of milliseconds
for 2048 bits); mechanisms cache the loaded key per object.
"""

from __future__ import annotations

from cryptography import exceptions as pyca_exceptions
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dh

from tokenport import errors
from tokenport.ports.crypto.dh import DhParameters, DhPrivateKeyHandle


def _numbers(params: DhParameters) -> dh.DHParameterNumbers:
    return dh.DHParameterNumbers(params.p, params.g)


def _private(key: object) -> dh.DHPrivateKey:
    if isinstance(key, dh.DHPrivateKey):
        return key
    raise errors.KeyTypeInconsistent("expected a DH private key object")


class PycaDh:
    """DhPort on pyca/cryptography (key handles are pyca DH private key objects)."""

    def dh_generate_parameters(self, prime_bits: int, generator: int) -> DhParameters:
        try:
            numbers = dh.generate_parameters(generator, prime_bits).parameter_numbers()
        except ValueError:
            raise errors.KeySizeRange("DH prime size or generator not supported") from None
        return DhParameters(numbers.p, numbers.g)

    def dh_private_from_numbers(self, params: DhParameters, x: int) -> DhPrivateKeyHandle:
        if not 1 < x < params.p - 1:
            raise errors.AttributeValueInvalid("DH private value out of range")
        y = pow(params.g, x, params.p)
        try:
            public = dh.DHPublicNumbers(y, _numbers(params))
            return DhPrivateKeyHandle(dh.DHPrivateNumbers(x, public).private_key())
        except (ValueError, TypeError, pyca_exceptions.UnsupportedAlgorithm):
            raise errors.AttributeValueInvalid("DH key material is not valid") from None

    def dh_agree(self, key: DhPrivateKeyHandle, peer_value: int) -> bytes:
        private = _private(key)
        try:
            peer = dh.DHPublicNumbers(peer_value, private.parameters().parameter_numbers())
            return private.exchange(peer.public_key())
        except (ValueError, TypeError):
            raise errors.MechanismParamInvalid("the other party's public value is refused") from None

    def dh_pkcs8_encode(self, key: DhPrivateKeyHandle) -> bytes:
        return _private(key).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def dh_pkcs8_decode(self, der: bytes) -> tuple[DhParameters, int] | None:
        try:
            key = serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError, pyca_exceptions.UnsupportedAlgorithm):
            return None
        if not isinstance(key, dh.DHPrivateKey):
            return None
        numbers = key.private_numbers()
        pn = numbers.public_numbers.parameter_numbers
        if pn.q is not None and pn.q != (pn.p - 1) // 2:
            return None  # X9.42 parameters with a small subgroup: not a PKCS #3 key
        # OpenSSL writes a safe-prime group it knows (RFC 7919 ffdhe2048 ...) with the X9.42
        # OID and q = (p - 1) / 2; as a PKCS #3 key it is the same (p, g).
        return DhParameters(pn.p, pn.g), numbers.x
