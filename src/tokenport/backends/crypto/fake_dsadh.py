"""The DSA and PKCS #3 Diffie-Hellman families of the fake crypto port. NOT CRYPTOGRAPHY.

Mixed into ``FakeCrypto`` (see its module docstring): "generated" domain parameters are
deterministic numbers of the right sizes with q dividing p - 1 but no primes; "DSA
signatures" are HMACs keyed by the public value y (anyone can forge them), reduced into
[1, q-1] so that they keep the r || s shape; DH agreement is the real modular exponentiation,
so both sides agree. The key encodings are length-prefixed fakes, not DER.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from tokenport import errors
from tokenport.backends.crypto.fake_codec import int_bytes, pack, unpack
from tokenport.ports.crypto.dh import DhParameters, DhPrivateKeyHandle
from tokenport.ports.crypto.dsa import (
    DsaKeyHandle,
    DsaParameters,
    DsaPrivateKeyHandle,
    DsaPublicKeyHandle,
)

_DSA_INPUT_LENGTHS = frozenset({20, 28, 32, 48, 64})


def _number(label: bytes, bits: int) -> int:
    """A deterministic odd number of exactly ``bits`` bits."""
    stream = b""
    counter = 0
    while len(stream) * 8 < bits:
        stream += hashlib.sha256(label + counter.to_bytes(4, "big")).digest()
        counter += 1
    value = int.from_bytes(stream, "big") >> (len(stream) * 8 - bits)
    return value | (1 << (bits - 1)) | 1


@dataclass(frozen=True, eq=False)
class _DsaKey:
    params: DsaParameters
    y: int
    x: int | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"FakeDsaKey({'private' if self.x is not None else 'public'})"


@dataclass(frozen=True, eq=False)
class _DhKey:
    params: DhParameters
    x: int = field(repr=False)

    def __repr__(self) -> str:
        return "FakeDhKey(private)"


def _dsa(key: object, *, private: bool) -> _DsaKey:
    if not isinstance(key, _DsaKey) or (private and key.x is None):
        raise errors.KeyTypeInconsistent(f"expected a DSA {'private ' if private else ''}key")
    return key


def _dh(key: object) -> _DhKey:
    if not isinstance(key, _DhKey):
        raise errors.KeyTypeInconsistent("expected a DH private key")
    return key


class FakeDsaDh:
    """DsaPort and DhPort of the fake crypto port."""

    # -- DSA -------------------------------------------------------------------------------------
    def dsa_generate_parameters(self, prime_bits: int, subprime_bits: int) -> DsaParameters:
        if (prime_bits, subprime_bits) not in ((1024, 160), (2048, 224), (2048, 256), (3072, 256)):
            raise errors.KeySizeRange("not a FIPS 186-4 (L, N) pair")
        q = _number(b"fake dsa q", subprime_bits)
        k = ((1 << (prime_bits - 1)) // q + 2) & ~1  # even, and q * k > 2^(L-1)
        p = q * k + 1
        return DsaParameters(p, q, pow(3, k, p))

    @staticmethod
    def _dsa_check(params: DsaParameters) -> None:
        if not (1 < params.g < params.p and params.q > 1 and (params.p - 1) % params.q == 0):
            raise errors.AttributeValueInvalid("DSA domain parameters are not valid")

    def dsa_private_from_numbers(self, params: DsaParameters, x: int) -> DsaPrivateKeyHandle:
        self._dsa_check(params)
        if not 0 < x < params.q:
            raise errors.AttributeValueInvalid("DSA private value out of range")
        return DsaPrivateKeyHandle(_DsaKey(params, pow(params.g, x, params.p), x))

    def dsa_public_from_numbers(self, params: DsaParameters, y: int) -> DsaPublicKeyHandle:
        self._dsa_check(params)
        if not 1 < y < params.p - 1:
            raise errors.AttributeValueInvalid("DSA public value out of range")
        return DsaPublicKeyHandle(_DsaKey(params, y))

    @staticmethod
    def _dsa_mac(key: _DsaKey, hash_value: bytes) -> tuple[int, int]:
        if len(hash_value) not in _DSA_INPUT_LENGTHS:
            raise errors.DataLenRange("DSA input must be 20, 28, 32, 48 or 64 bytes")
        q = key.params.q
        tag = hmac.new(int_bytes(key.y), hash_value, hashlib.sha512).digest()
        return (int.from_bytes(tag[:32], "big") % (q - 1) + 1,
                int.from_bytes(tag[32:], "big") % (q - 1) + 1)

    def dsa_sign_hash(self, key: DsaPrivateKeyHandle, hash_value: bytes) -> tuple[int, int]:
        return self._dsa_mac(_dsa(key, private=True), hash_value)

    def dsa_verify_hash(self, key: DsaKeyHandle, r: int, s: int, hash_value: bytes) -> None:
        expected = self._dsa_mac(_dsa(key, private=False), hash_value)
        if not hmac.compare_digest(int_bytes(r) + b"/" + int_bytes(s),
                                   int_bytes(expected[0]) + b"/" + int_bytes(expected[1])):
            raise errors.SignatureInvalid("signature does not verify")

    def dsa_public_key_info(self, key: DsaKeyHandle) -> bytes:
        k = _dsa(key, private=False)
        return pack(b"fake-spki-dsa", int_bytes(k.params.p), int_bytes(k.params.q), int_bytes(k.params.g),
                     int_bytes(k.y))

    def dsa_pkcs8_encode(self, key: DsaPrivateKeyHandle) -> bytes:
        k = _dsa(key, private=True)
        assert k.x is not None
        return pack(b"fake-pkcs8-dsa", int_bytes(k.params.p), int_bytes(k.params.q), int_bytes(k.params.g),
                     int_bytes(k.x))

    def dsa_pkcs8_decode(self, der: bytes) -> tuple[DsaParameters, int] | None:
        parts = unpack(der, 5)
        if parts is None or parts[0] != b"fake-pkcs8-dsa":
            return None
        p, q, g, x = (int.from_bytes(v, "big") for v in parts[1:])
        return DsaParameters(p, q, g), x

    # -- DH --------------------------------------------------------------------------------------
    def dh_generate_parameters(self, prime_bits: int, generator: int) -> DhParameters:
        if prime_bits < 512 or generator < 2:
            raise errors.KeySizeRange("DH prime size or generator not supported")
        return DhParameters(_number(b"fake dh p", prime_bits), generator)

    def dh_private_from_numbers(self, params: DhParameters, x: int) -> DhPrivateKeyHandle:
        if not (1 < params.g < params.p - 1 and 1 < x < params.p - 1):
            raise errors.AttributeValueInvalid("DH key material is not valid")
        return DhPrivateKeyHandle(_DhKey(params, x))

    def dh_agree(self, key: DhPrivateKeyHandle, peer_value: int) -> bytes:
        k = _dh(key)
        p = k.params.p
        if not 1 < peer_value < p - 1:
            raise errors.MechanismParamInvalid("the other party's public value is refused")
        return pow(peer_value, k.x, p).to_bytes((p.bit_length() + 7) // 8, "big")

    def dh_pkcs8_encode(self, key: DhPrivateKeyHandle) -> bytes:
        k = _dh(key)
        return pack(b"fake-pkcs8-dh", int_bytes(k.params.p), int_bytes(k.params.g), int_bytes(k.x))

    def dh_pkcs8_decode(self, der: bytes) -> tuple[DhParameters, int] | None:
        parts = unpack(der, 4)
        if parts is None or parts[0] != b"fake-pkcs8-dh":
            return None
        p, g, x = (int.from_bytes(v, "big") for v in parts[1:])
        return DhParameters(p, g), x
