"""A deterministic, in-memory twin of the crypto port, for unit tests. NOT CRYPTOGRAPHY.

``FakeCrypto`` implements every family of ``tokenport.ports.crypto`` with the standard
library only, so that the Cryptoki core (sessions, objects, operation state, the PKCS #11
v2.40 s5.2 length protocol, access rules) can be tested without pyca/cryptography and with
outputs that are the same on every run. It keeps the *contracts* of the port: the same
lengths (a P-256 signature is 64 bytes, an RSA signature k bytes, a GCM tag 16 bytes, an
RFC 3394 wrap 8 bytes longer than its input), the same errors for the same mistakes
(SignatureInvalid for a changed message or another key, EncryptedDataInvalid for a bad tag,
WrappedKeyInvalid for a damaged wrap, KeyTypeInconsistent for a handle of the wrong family,
AttributeValueInvalid for a point "not on the curve" ...), and it round-trips (decrypt
undoes encrypt, verify accepts what sign made, PKCS #8 decode undoes encode).

None of it protects anything: "AES" is an XOR with a SHA-256 key stream, "signatures" are
HMACs keyed by the *public* key (anyone can forge them), "EC" keys live in a toy
Diffie-Hellman group, "RSA" moduli are products of two consecutive odd numbers and the
"private" operation is a modular addition, PBKDF2 runs one HMAC whatever the iteration
count, and the key encodings are not DER. Never configure it for a real token: it is
deliberately not registered as a crypto plug-in.

Only the digests, HMAC, the X9.63 KDF, HKDF and ``pbkdf2_hmac`` (the CKM_PKCS5_PBKD2
primitive, not the record sealing's ``pbkdf2_sha256``) are the real algorithms (hashlib /
hmac), since the standard library has them; their test vectors therefore hold.

``FakeRandom`` is a matching deterministic random source (the entropy port's RandomSource)
for ``Module(random=...)``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
from dataclasses import dataclass, field

from tokenport import errors
from tokenport.backends.crypto import fake_octet
from tokenport.backends.crypto.fake_aead import FakeAead
from tokenport.backends.crypto.fake_codec import RunningHash, int_bytes, pack, unpack
from tokenport.backends.crypto.fake_des import FakeDes
from tokenport.backends.crypto.fake_dsadh import FakeDsaDh
from tokenport.backends.crypto.fake_pq import FakePq
from tokenport.mechanisms import curves
from tokenport.mechanisms.rsa import DIGEST_INFO_PREFIXES, emsa_pkcs1_v15
from tokenport.ports.crypto import (
    AnyKeyHandle,
    CryptoBackend,
    CurveName,
    DecodedPrivateKey,
    DecodedPublicKey,
    EcKeyHandle,
    EcPrivateDecoded,
    EcPrivateKeyHandle,
    EcPublicDecoded,
    EcPublicKeyHandle,
    Ed25519KeyHandle,
    Ed25519PrivateDecoded,
    Ed25519PrivateKeyHandle,
    Ed25519PublicDecoded,
    Ed25519PublicKeyHandle,
    HashName,
    PrivateKeyHandle,
    RsaKeyHandle,
    RsaPrivateDecoded,
    RsaPrivateKeyHandle,
    RsaPrivateNumbers,
    RsaPublicDecoded,
    RsaPublicKeyHandle,
)

_BLOCK = 16
_AES_KEY_SIZES = frozenset({16, 24, 32})
_HASHES: frozenset[str] = frozenset({"md5", "sha1", "sha224", "sha256", "sha384", "sha512",
                                     "sha512_224", "sha512_256", "sha3_224", "sha3_256",
                                     "sha3_384", "sha3_512"})
_CURVES: dict[str, curves.Curve] = {c.name: c for c in curves.CURVES}
_DH_PRIME = (1 << 255) - 19
"""The toy group behind the fake EC keys: x = 2^d mod p, so ECDH agrees on both sides."""
_SMALL_DH_PRIMES = {"P-192": (1 << 192) - (1 << 64) - 1, "P-224": (1 << 224) - (1 << 96) + 1}
"""Curves whose coordinates are shorter than 2^255 - 19: their own field prime instead."""
_DH_GENERATOR = 2


def _expand(key: bytes, label: bytes, length: int) -> bytes:
    """``length`` bytes of HMAC-SHA256 in counter mode (the fake's one building block)."""
    out = bytearray()
    for counter in itertools.count():
        if len(out) >= length:
            break
        out += hmac.new(key, label + counter.to_bytes(8, "big"), hashlib.sha256).digest()
    return bytes(out[:length])


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream[: len(data)], "big")).to_bytes(
        len(data), "big"
    )


def _aes_key(key: bytes) -> bytes:
    if len(key) not in _AES_KEY_SIZES:
        raise errors.KeySizeRange("AES keys are 16, 24 or 32 bytes")
    return key


def _hash_name(alg: str) -> str:
    if alg not in _HASHES:
        raise errors.MechanismInvalid("hash not supported")
    return alg


# -- running computations ------------------------------------------------------------------------


class _Stream:
    """An XOR key stream by 16-byte block index; ECB / CBC release whole blocks only."""

    def __init__(self, key: bytes, nonce: bytes, *, whole_blocks: bool, start: int = 0) -> None:
        self._key = key
        self._nonce = nonce
        self._whole = whole_blocks
        self._block = start
        self._offset = 0
        self._pending = b""
        self._buffer = b""

    def _stream(self, length: int) -> bytes:
        out = bytearray()
        while len(out) < length:
            if not self._pending:
                counter = (self._block % (1 << 128)).to_bytes(16, "big")
                self._pending = _expand(self._key, b"fake-aes" + self._nonce + counter, _BLOCK)
                self._block += 1
            take = min(length - len(out), len(self._pending))
            out += self._pending[:take]
            self._pending = self._pending[take:]
        return bytes(out)

    def update(self, data: bytes) -> bytes:
        if not self._whole:
            return _xor(data, self._stream(len(data)))
        self._buffer += data
        cut = len(self._buffer) // _BLOCK * _BLOCK
        ready, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return _xor(ready, self._stream(len(ready)))

    def finalize(self) -> bytes:
        if self._buffer:
            raise errors.DataLenRange("input is not a whole number of blocks")
        return b""


def _gcm_tag(key: bytes, iv: bytes, aad: bytes) -> hmac.HMAC:
    return hmac.new(key, b"fake-gcm" + pack(iv, aad), hashlib.sha256)


class _GcmEncryptor:
    def __init__(self, key: bytes, iv: bytes, aad: bytes) -> None:
        if not 8 <= len(iv) <= 128:
            raise errors.MechanismParamInvalid("GCM IV must be 8 to 128 bytes")
        self._stream = _Stream(_aes_key(key), b"gcm" + iv, whole_blocks=False)
        self._mac = _gcm_tag(key, iv, aad)

    def update(self, data: bytes) -> bytes:
        out = self._stream.update(data)
        self._mac.update(out)
        return out

    def finalize(self) -> tuple[bytes, bytes]:
        return b"", self._mac.digest()[:16]


# -- key objects -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _EcKey:
    curve: CurveName
    point: bytes
    d: int | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"FakeEcKey({self.curve}, {'private' if self.d is not None else 'public'})"


@dataclass(frozen=True, eq=False)
class _EdKey:
    public: bytes
    seed: bytes | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"FakeEd25519Key({'private' if self.seed is not None else 'public'})"


@dataclass(frozen=True, eq=False)
class _RsaKey:
    n: int
    e: int
    numbers: RsaPrivateNumbers | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        kind = "private" if self.numbers is not None else "public"
        return f"FakeRsaKey({self.n.bit_length()}-bit, {kind})"


def _ec(key: object, *, private: bool) -> _EcKey:
    if not isinstance(key, _EcKey) or (private and key.d is None):
        raise errors.KeyTypeInconsistent(f"expected an EC {'private ' if private else ''}key")
    return key


def _ed(key: object, *, private: bool) -> _EdKey:
    if not isinstance(key, _EdKey) or (private and key.seed is None):
        raise errors.KeyTypeInconsistent("expected an Ed25519 key")
    return key


def _rsa(key: object) -> _RsaKey:
    if not isinstance(key, _RsaKey):
        raise errors.KeyTypeInconsistent("expected an RSA key")
    return key


def _rsa_private(key: object) -> RsaPrivateNumbers:
    numbers = _rsa(key).numbers
    if numbers is None:
        raise errors.KeyTypeInconsistent("expected an RSA private key")
    return numbers


def _curve(name: str) -> curves.Curve:
    try:
        return _CURVES[name]
    except KeyError:
        raise errors.CurveNotSupported("curve not supported") from None


def _ec_y(curve: CurveName, x: bytes) -> bytes:
    return _expand(x, b"fake-ec-y" + curve.encode(), _curve(curve).size)


def _dh_prime(curve: CurveName) -> int:
    return _SMALL_DH_PRIMES.get(curve, _DH_PRIME)


def _ec_point(curve: CurveName, d: int) -> bytes:
    x = pow(_DH_GENERATOR, d, _dh_prime(curve)).to_bytes(_curve(curve).size, "big")
    return b"\x04" + x + _ec_y(curve, x)


def _ed_public(seed: bytes) -> bytes:
    return hashlib.sha512(b"fake-ed25519" + seed).digest()[:32]


def _k(n: int) -> int:
    return (n.bit_length() + 7) // 8


def _rsa_offset(n: int) -> int:
    return int.from_bytes(_expand(int_bytes(n), b"fake-rsa-trapdoor", _k(n) + 8), "big") % n


def _check_rsa(numbers: RsaPrivateNumbers) -> None:
    p, q, n = numbers.p, numbers.q, numbers.n
    ok = (
        p > 1 and q > 1 and p * q == n and numbers.e > 1
        and numbers.dp == numbers.d % (p - 1) and numbers.dq == numbers.d % (q - 1)
        and (numbers.qinv * q) % p == 1
        and (numbers.e * numbers.d) % math.lcm(p - 1, q - 1) == 1
    )
    if not ok:
        raise errors.AttributeValueInvalid("inconsistent RSA private key")


class FakeCrypto(FakePq, FakeDsaDh, FakeDes, fake_octet.FakeOctetCurves, FakeAead):
    """Every family of the crypto port, deterministic and stdlib-only. NOT CRYPTOGRAPHY
    (see the module docstring; Ed448, X25519 and X448 come from ``fake_octet``). ``seed``
    varies the RSA keys ``rsa_generate`` makes."""

    hardware = None
    """No hardware key port (``ports.crypto.hardware``)."""

    def __init__(self, seed: bytes = b"") -> None:
        self._seed = seed
        self._generated = itertools.count()

    # -- digest ------------------------------------------------------------------------------
    def hash_new(self, alg: HashName) -> RunningHash:
        return RunningHash(hashlib.new(_hash_name(alg)))

    def digest(self, alg: HashName, data: bytes) -> bytes:
        return hashlib.new(_hash_name(alg), data).digest()

    # -- MAC ------------------------------------------------------------------------------------
    def hmac_new(self, alg: HashName, key: bytes) -> RunningHash:
        return RunningHash(hmac.new(key, digestmod=_hash_name(alg)))

    def cmac_aes_new(self, key: bytes) -> RunningHash:
        return RunningHash(hmac.new(b"fake-cmac" + _aes_key(key), digestmod="sha256"), 16)

    # -- cipher ---------------------------------------------------------------------------------
    def aes_ecb(self, key: bytes, encrypt: bool) -> _Stream:
        return _Stream(_aes_key(key), b"ecb", whole_blocks=True)

    def aes_cbc(self, key: bytes, iv: bytes, encrypt: bool) -> _Stream:
        if len(iv) != _BLOCK:
            raise errors.MechanismParamInvalid("CBC IV must be 16 bytes")
        return _Stream(_aes_key(key), b"cbc" + iv, whole_blocks=True)

    def aes_ctr(self, key: bytes, counter_block: bytes) -> _Stream:
        if len(counter_block) != _BLOCK:
            raise errors.MechanismParamInvalid("CTR counter block must be 16 bytes")
        start = int.from_bytes(counter_block, "big")
        return _Stream(_aes_key(key), b"ctr", whole_blocks=False, start=start)

    def aes_gcm_encryptor(self, key: bytes, iv: bytes, aad: bytes) -> _GcmEncryptor:
        return _GcmEncryptor(key, iv, aad)

    def aes_gcm_decrypt_detached(
        self, key: bytes, iv: bytes, ciphertext: bytes, aad: bytes, tag: bytes
    ) -> bytes:
        if not 4 <= len(tag) <= 16:
            raise errors.EncryptedDataInvalid("GCM tag length out of range")
        if not 8 <= len(iv) <= 128:
            raise errors.MechanismParamInvalid("GCM IV must be 8 to 128 bytes")
        mac = _gcm_tag(_aes_key(key), iv, aad)
        mac.update(ciphertext)
        if not hmac.compare_digest(mac.digest()[: len(tag)], tag):
            raise errors.EncryptedDataInvalid("authentication tag does not verify")
        return _Stream(key, b"gcm" + iv, whole_blocks=False).update(ciphertext)

    def _wrap_stream(self, kek: bytes, icv: bytes, length: int) -> bytes:
        return _expand(_aes_key(kek), b"fake-kw" + icv, length)

    def aes_key_wrap(self, kek: bytes, key: bytes) -> bytes:
        _aes_key(kek)
        if len(key) % 8 or len(key) < 16:
            raise errors.DataLenRange("RFC 3394 input must be 8n bytes, n >= 2")
        icv = hmac.new(kek, b"fake-kw-icv" + key, hashlib.sha256).digest()[:8]
        return icv + _xor(key, self._wrap_stream(kek, icv, len(key)))

    def aes_key_unwrap(self, kek: bytes, wrapped: bytes) -> bytes:
        _aes_key(kek)
        if len(wrapped) % 8 or len(wrapped) < 24:
            raise errors.WrappedKeyLenRange("RFC 3394 wrapped key length invalid")
        icv, body = wrapped[:8], wrapped[8:]
        key = _xor(body, self._wrap_stream(kek, icv, len(body)))
        expected = hmac.new(kek, b"fake-kw-icv" + key, hashlib.sha256).digest()[:8]
        if not hmac.compare_digest(icv, expected):
            raise errors.WrappedKeyInvalid("key unwrap integrity check failed")
        return key

    def aes_key_wrap_pad(self, kek: bytes, key: bytes) -> bytes:
        _aes_key(kek)
        if not key:
            raise errors.DataLenRange("RFC 5649 input must not be empty")
        padded = key + bytes(-len(key) % 8)
        length = len(key).to_bytes(4, "big")
        icv = length + hmac.new(kek, b"fake-kwp-icv" + padded, hashlib.sha256).digest()[:4]
        return icv + _xor(padded, self._wrap_stream(kek, icv, len(padded)))

    def aes_key_unwrap_pad(self, kek: bytes, wrapped: bytes) -> bytes:
        _aes_key(kek)
        if len(wrapped) % 8 or len(wrapped) < 16:
            raise errors.WrappedKeyLenRange("RFC 5649 wrapped key length invalid")
        icv, body = wrapped[:8], wrapped[8:]
        padded = _xor(body, self._wrap_stream(kek, icv, len(body)))
        length = int.from_bytes(icv[:4], "big")
        expected = hmac.new(kek, b"fake-kwp-icv" + padded, hashlib.sha256).digest()[:4]
        if (
            not hmac.compare_digest(icv[4:], expected)
            or not len(body) - 8 < length <= len(body)
            or any(padded[length:])
        ):
            raise errors.WrappedKeyInvalid("key unwrap integrity check failed")
        return padded[:length]

    # -- seal -------------------------------------------------------------------------------------
    def pbkdf2_sha256(self, secret: bytes, salt: bytes, iterations: int, length: int) -> bytes:
        if iterations < 1 or length < 1:
            raise errors.ArgumentsBad("PBKDF2 parameters rejected")
        return _expand(secret, b"fake-pbkdf2" + pack(salt, int_bytes(iterations)), length)

    # -- KDF (the real algorithms: hmac and hashlib have them) -----------------------------------
    def hkdf_extract(self, alg: HashName, salt: bytes, ikm: bytes) -> bytes:
        return hmac.new(salt, ikm, _hash_name(alg)).digest()

    def hkdf_expand(self, alg: HashName, prk: bytes, info: bytes, length: int) -> bytes:
        size = hashlib.new(_hash_name(alg)).digest_size
        if not 1 <= length <= 255 * size:
            raise errors.TemplateInconsistent("HKDF output length out of range")
        out, block = b"", b""
        for counter in range(1, -(-length // size) + 1):
            block = hmac.new(prk, block + info + bytes([counter]), alg).digest()
            out += block
        return out[:length]

    def pbkdf2_hmac(
        self, alg: HashName, password: bytes, salt: bytes, iterations: int, length: int
    ) -> bytes:
        if iterations < 1 or length < 1:
            raise errors.MechanismParamInvalid("PBKDF2 parameters rejected")
        return hashlib.pbkdf2_hmac(_hash_name(alg), password, salt, iterations, length)

    def aes_gcm_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        if len(key) not in _AES_KEY_SIZES or not 8 <= len(nonce) <= 128:
            raise errors.ArgumentsBad("AES-GCM key or nonce rejected")
        encryptor = _GcmEncryptor(key, nonce, aad)
        body = encryptor.update(plaintext)
        return body + encryptor.finalize()[1]

    def aes_gcm_decrypt(
        self, key: bytes, nonce: bytes, ciphertext_and_tag: bytes, aad: bytes
    ) -> bytes:
        if len(ciphertext_and_tag) < 16:
            raise errors.EncryptedDataInvalid("AES-GCM input shorter than its tag")
        if len(key) not in _AES_KEY_SIZES or not 8 <= len(nonce) <= 128:
            raise errors.EncryptedDataInvalid("AES-GCM decryption failed")
        body, tag = ciphertext_and_tag[:-16], ciphertext_and_tag[-16:]
        return self.aes_gcm_decrypt_detached(key, nonce, body, aad, tag)

    # -- EC -----------------------------------------------------------------------------------------
    def ec_private_from_scalar(self, curve: CurveName, d: int) -> EcPrivateKeyHandle:
        if not 1 <= d < _curve(curve).order:
            raise errors.AttributeValueInvalid("EC private value out of range")
        return EcPrivateKeyHandle(_EcKey(curve, _ec_point(curve, d), d))

    def ec_public_from_point(self, curve: CurveName, point: bytes) -> EcPublicKeyHandle:
        size = _curve(curve).size
        x = point[1 : 1 + size]
        if len(x) == size and 0 < int.from_bytes(x, "big") < _dh_prime(curve):
            y = _ec_y(curve, x)
            if point == b"\x04" + x + y:
                return EcPublicKeyHandle(_EcKey(curve, point))
            if len(point) == 1 + size and point[0] == 2 + (y[-1] & 1):
                return EcPublicKeyHandle(_EcKey(curve, b"\x04" + x + y))
        raise errors.AttributeValueInvalid("EC point is not on the curve")

    def ec_private_scalar(self, key: EcPrivateKeyHandle) -> int:
        d = _ec(key, private=True).d
        assert d is not None
        return d

    def ec_public_point(self, key: EcKeyHandle) -> bytes:
        return _ec(key, private=False).point

    @staticmethod
    def _ecdsa(key: _EcKey, hash_value: bytes) -> tuple[int, int]:
        curve = _curve(key.curve)
        excess = 8 * len(hash_value) - curve.bits
        e = int.from_bytes(hash_value, "big") >> max(excess, 0)
        mac = _expand(key.point, b"fake-ecdsa" + int_bytes(e), 2 * (curve.size - 1))
        half = curve.size - 1
        return int.from_bytes(mac[:half], "big") + 1, int.from_bytes(mac[half:], "big") + 1

    def ecdsa_sign_hash(self, key: EcPrivateKeyHandle, hash_value: bytes) -> tuple[int, int]:
        return self._ecdsa(_ec(key, private=True), hash_value)

    def ecdsa_verify_hash(self, key: EcKeyHandle, r: int, s: int, hash_value: bytes) -> None:
        if self._ecdsa(_ec(key, private=False), hash_value) != (r, s):
            raise errors.SignatureInvalid("signature does not verify")

    def ecdh(self, private_key: EcPrivateKeyHandle, peer_public_key: EcPublicKeyHandle) -> bytes:
        private, peer = _ec(private_key, private=True), _ec(peer_public_key, private=False)
        if peer.curve != private.curve:
            raise errors.MechanismParamInvalid("peer key not on the same curve")
        size = _curve(private.curve).size
        assert private.d is not None
        peer_x = int.from_bytes(peer.point[1 : 1 + size], "big")
        shared = pow(peer_x, private.d, _dh_prime(private.curve))
        return shared.to_bytes(size, "big")

    def x963_kdf(self, alg: HashName, secret: bytes, shared_info: bytes, length: int) -> bytes:
        name = _hash_name(alg)
        if length < 1:
            raise errors.MechanismParamInvalid("X9.63 KDF parameters rejected")
        out = bytearray()
        for counter in itertools.count(1):
            if len(out) >= length:
                break
            out += hashlib.new(name, secret + counter.to_bytes(4, "big") + shared_info).digest()
        return bytes(out[:length])

    # -- EdDSA ----------------------------------------------------------------------------------------
    def ed25519_private_from_seed(self, seed: bytes) -> Ed25519PrivateKeyHandle:
        if len(seed) != 32:
            raise errors.AttributeValueInvalid("Ed25519 private key must be 32 bytes")
        return Ed25519PrivateKeyHandle(_EdKey(_ed_public(seed), seed))

    def ed25519_public_from_bytes(self, public: bytes) -> Ed25519PublicKeyHandle:
        if len(public) != 32:
            raise errors.AttributeValueInvalid("Ed25519 public key must be 32 bytes")
        return Ed25519PublicKeyHandle(_EdKey(public))

    def ed25519_seed(self, key: Ed25519PrivateKeyHandle) -> bytes:
        seed = _ed(key, private=True).seed
        assert seed is not None
        return seed

    def ed25519_public_bytes(self, key: Ed25519KeyHandle) -> bytes:
        return _ed(key, private=False).public

    def ed25519_sign(self, key: Ed25519PrivateKeyHandle, message: bytes) -> bytes:
        return hmac.new(_ed(key, private=True).public, message, hashlib.sha512).digest()

    def ed25519_verify(self, key: Ed25519KeyHandle, signature: bytes, message: bytes) -> None:
        expected = hmac.new(_ed(key, private=False).public, message, hashlib.sha512).digest()
        if not hmac.compare_digest(expected, signature):
            raise errors.SignatureInvalid("signature does not verify")

    # -- RSA ------------------------------------------------------------------------------------------
    def rsa_generate(self, bits: int, public_exponent: int) -> RsaPrivateKeyHandle:
        if public_exponent not in (3, 65537) or bits < 1024:
            raise errors.AttributeValueInvalid("RSA public exponent must be 3 or 65537")
        serial = next(self._generated)
        start = int.from_bytes(_expand(self._seed + int_bytes(serial), b"fake-rsa", 8), "big")
        p = (math.isqrt(3 << (bits - 2)) | 1) + 2 * start
        while math.gcd(public_exponent, math.lcm(p - 1, p + 1)) != 1:
            p += 2
        q = p + 2
        d = pow(public_exponent, -1, math.lcm(p - 1, q - 1))
        numbers = RsaPrivateNumbers(p * q, public_exponent, d, q, p, d % (q - 1), d % (p - 1),
                                    pow(p, -1, q))
        return RsaPrivateKeyHandle(_RsaKey(numbers.n, numbers.e, numbers))

    def rsa_private_from_numbers(
        self, numbers: RsaPrivateNumbers, *, validate: bool = True
    ) -> RsaPrivateKeyHandle:
        if validate:
            _check_rsa(numbers)
        return RsaPrivateKeyHandle(_RsaKey(numbers.n, numbers.e, numbers))

    def rsa_recover_primes(self, n: int, e: int, d: int) -> tuple[int, int]:
        """Only the fake's own moduli (two consecutive odd numbers) can be factored."""
        p = math.isqrt(n + 1) - 1
        if p < 3 or p * (p + 2) != n:
            raise errors.AttributeValueInvalid("inconsistent RSA private key")
        return p + 2, p

    def rsa_public_from_numbers(self, n: int, e: int) -> RsaPublicKeyHandle:
        if n < 3 or e < 3 or not n % 2 or not e % 2:
            raise errors.AttributeValueInvalid("invalid RSA public key")
        return RsaPublicKeyHandle(_RsaKey(n, e))

    def rsa_private_numbers(self, key: RsaPrivateKeyHandle) -> RsaPrivateNumbers:
        return _rsa_private(key)

    def rsa_public_numbers(self, key: RsaKeyHandle) -> tuple[int, int]:
        rsa = _rsa(key)
        return rsa.n, rsa.e

    def rsa_public_raw(self, key: RsaKeyHandle, block: bytes) -> bytes:
        """The fake trapdoor: m - offset(n) mod n (undoes rsa_private_raw)."""
        n = _rsa(key).n
        m = int.from_bytes(block, "big")
        if len(block) != _k(n) or m >= n:
            raise errors.DataLenRange("raw RSA input must be k bytes and less than n")
        return ((m - _rsa_offset(n)) % n).to_bytes(_k(n), "big")

    def rsa_private_raw(self, key: RsaPrivateKeyHandle, block: bytes) -> bytes:
        """The fake trapdoor: c + offset(n) mod n."""
        n = _rsa_private(key).n
        c = int.from_bytes(block, "big")
        if len(block) != _k(n) or c >= n:
            raise errors.DataLenRange("raw RSA input must be k bytes and less than n")
        return ((c + _rsa_offset(n)) % n).to_bytes(_k(n), "big")

    def rsa_sign_pkcs1v15(self, key: RsaPrivateKeyHandle, alg: HashName, digest: bytes) -> bytes:
        n = _rsa_private(key).n
        encoded = emsa_pkcs1_v15(DIGEST_INFO_PREFIXES[alg] + digest, _k(n))
        return self.rsa_private_raw(key, encoded)

    def rsa_verify_pkcs1v15(
        self, key: RsaKeyHandle, signature: bytes, alg: HashName, digest: bytes
    ) -> None:
        n = _rsa(key).n
        expected = emsa_pkcs1_v15(DIGEST_INFO_PREFIXES[alg] + digest, _k(n))
        if len(signature) != _k(n) or int.from_bytes(signature, "big") >= n:
            raise errors.SignatureInvalid("signature does not verify")
        if not hmac.compare_digest(self.rsa_public_raw(key, signature), expected):
            raise errors.SignatureInvalid("signature does not verify")

    def _pss(self, rsa: _RsaKey, alg: HashName, digest: bytes, mgf: HashName, salt: int) -> bytes:
        k = _k(rsa.n)
        if salt < 0 or salt > k - hashlib.new(_hash_name(alg)).digest_size - 2:
            raise errors.MechanismParamInvalid("PSS parameters do not fit the key")
        label = b"fake-pss" + pack(alg.encode(), _hash_name(mgf).encode(), int_bytes(salt), digest)
        return b"\x00" + _expand(int_bytes(rsa.n), label, k - 1)

    def rsa_sign_pss(
        self, key: RsaPrivateKeyHandle, alg: HashName, digest: bytes, mgf_alg: HashName,
        salt_len: int,
    ) -> bytes:
        _rsa_private(key)
        return self._pss(_rsa(key), alg, digest, mgf_alg, salt_len)

    def rsa_verify_pss(
        self,
        key: RsaKeyHandle,
        signature: bytes,
        alg: HashName,
        digest: bytes,
        mgf_alg: HashName,
        salt_len: int,
    ) -> None:
        try:
            expected = self._pss(_rsa(key), alg, digest, mgf_alg, salt_len)
        except errors.MechanismParamInvalid:
            raise errors.SignatureInvalid("signature does not verify") from None
        if not hmac.compare_digest(expected, signature):
            raise errors.SignatureInvalid("signature does not verify")

    def _encrypt(self, key: RsaKeyHandle, header: bytes, data: bytes) -> bytes:
        k = _k(_rsa(key).n)
        if len(data) > k - len(header) - 2:
            raise errors.DataLenRange("data too long for the key")
        filler = b"\x00" * (k - len(header) - 2 - len(data))
        return self.rsa_public_raw(key, b"\x00" + header + filler + b"\x01" + data)

    def _decrypt(self, key: RsaPrivateKeyHandle, header: bytes, data: bytes) -> bytes:
        n = _rsa_private(key).n
        if len(data) != _k(n) or int.from_bytes(data, "big") >= n:
            raise errors.EncryptedDataInvalid("decryption failed")
        block = self.rsa_private_raw(key, data)
        body = block[1 + len(header) :].lstrip(b"\x00")
        if block[: 1 + len(header)] != b"\x00" + header or body[:1] != b"\x01":
            raise errors.EncryptedDataInvalid("decryption failed")
        return body[1:]

    def rsa_encrypt_pkcs1v15(self, key: RsaKeyHandle, data: bytes) -> bytes:
        return self._encrypt(key, b"\x02" + b"\xff" * 8, data)

    def rsa_decrypt_pkcs1v15(self, key: RsaPrivateKeyHandle, data: bytes) -> bytes:
        return self._decrypt(key, b"\x02" + b"\xff" * 8, data)

    @staticmethod
    def _oaep(alg: HashName, mgf_alg: HashName, label: bytes) -> bytes:
        size = hashlib.new(_hash_name(alg)).digest_size
        return _expand(pack(alg.encode(), _hash_name(mgf_alg).encode(), label), b"oaep", 2 * size)

    def rsa_encrypt_oaep(
        self, key: RsaKeyHandle, data: bytes, alg: HashName, mgf_alg: HashName, label: bytes
    ) -> bytes:
        return self._encrypt(key, self._oaep(alg, mgf_alg, label), data)

    def rsa_decrypt_oaep(
        self, key: RsaPrivateKeyHandle, data: bytes, alg: HashName, mgf_alg: HashName,
        label: bytes,
    ) -> bytes:
        return self._decrypt(key, self._oaep(alg, mgf_alg, label), data)

    # -- key encodings (not DER: a length-prefixed fake) --------------------------------------------
    def public_key_info(self, key: AnyKeyHandle) -> bytes:
        if isinstance(key, _RsaKey):
            return pack(b"fake-spki-rsa", int_bytes(key.n), int_bytes(key.e))
        if isinstance(key, _EcKey):
            return pack(b"fake-spki-ec", key.curve.encode(), key.point)
        if isinstance(key, _EdKey):
            return pack(b"fake-spki-ed25519", key.public)
        octet = fake_octet.fake_public_info(key)
        if octet is not None:
            return pack(*octet)
        raise errors.KeyTypeInconsistent("expected an RSA, EC, Edwards or Montgomery key")

    def pkcs8_encode(self, key: PrivateKeyHandle) -> bytes:
        if isinstance(key, _RsaKey) and key.numbers is not None:
            nums = key.numbers
            fields = (nums.n, nums.e, nums.d, nums.p, nums.q, nums.dp, nums.dq, nums.qinv)
            return pack(b"fake-pkcs8-rsa", *map(int_bytes, fields))
        if isinstance(key, _EcKey) and key.d is not None:
            return pack(b"fake-pkcs8-ec", key.curve.encode(), int_bytes(key.d))
        if isinstance(key, _EdKey) and key.seed is not None:
            return pack(b"fake-pkcs8-ed25519", key.seed)
        octet = fake_octet.fake_private_info(key)
        if octet is not None:
            return pack(*octet)
        raise errors.KeyNotWrappable("not a private key object")

    def pkcs8_decode(self, der: bytes) -> DecodedPrivateKey:
        try:
            return self._pkcs8_decode(der)
        except errors.AttributeValueInvalid:
            raise errors.WrappedKeyInvalid("not a fake PKCS #8 private key") from None

    def _pkcs8_decode(self, der: bytes) -> DecodedPrivateKey:
        for kind, count in ((b"rsa", 9), (b"ec", 3), (b"ed25519", 2)):
            parts = unpack(der, count)
            if parts is None or parts[0] != b"fake-pkcs8-" + kind:
                continue
            if kind == b"rsa":
                n, e, d, p, q, dp, dq, qinv = (int.from_bytes(x, "big") for x in parts[1:])
                numbers = RsaPrivateNumbers(n, e, d, p, q, dp, dq, qinv)
                return RsaPrivateDecoded(self.rsa_private_from_numbers(numbers))
            if kind == b"ec":
                curve = self._curve_name(parts[1])
                private = self.ec_private_from_scalar(curve, int.from_bytes(parts[2], "big"))
                return EcPrivateDecoded(private, curve)
            return Ed25519PrivateDecoded(self.ed25519_private_from_seed(parts[1]))
        for count in (2, 3):
            parts = unpack(der, count)
            found = None if parts is None else fake_octet.fake_decode_private(self, parts)
            if found is not None:
                return found
        raise errors.WrappedKeyInvalid("not a fake PKCS #8 private key")

    def public_key_decode(self, der: bytes) -> DecodedPublicKey:
        for kind, count in ((b"rsa", 3), (b"ec", 3), (b"ed25519", 2)):
            parts = unpack(der, count)
            if parts is None or parts[0] != b"fake-spki-" + kind:
                continue
            if kind == b"rsa":
                n, e = (int.from_bytes(x, "big") for x in parts[1:])
                return RsaPublicDecoded(self.rsa_public_from_numbers(n, e))
            if kind == b"ec":
                curve = self._curve_name(parts[1])
                return EcPublicDecoded(self.ec_public_from_point(curve, parts[2]), curve)
            return Ed25519PublicDecoded(self.ed25519_public_from_bytes(parts[1]))
        for count in (2, 3):
            parts = unpack(der, count)
            found = None if parts is None else fake_octet.fake_decode_public(self, parts)
            if found is not None:
                return found
        raise errors.AttributeValueInvalid("not a fake SubjectPublicKeyInfo")

    @staticmethod
    def _curve_name(raw: bytes) -> CurveName:
        for curve in curves.CURVES:
            if curve.name.encode() == raw:
                return curve.name
        raise errors.CurveNotSupported("curve of the key not supported")


def fake_crypto(seed: bytes = b"") -> CryptoBackend:
    """A FakeCrypto typed as the whole port (so mypy checks it implements every family)."""
    return FakeCrypto(seed)


class FakeRandom:
    """A deterministic RandomSource (the entropy port): HMAC-SHA256 in counter mode over a
    seed. NOT random; for unit tests with reproducible key values only."""

    def __init__(self, seed: bytes = b"tokenport fake random") -> None:
        self._state = hashlib.sha256(seed).digest()
        self._counter = itertools.count()

    def random_bytes(self, length: int) -> bytes:
        return _expand(self._state, int_bytes(next(self._counter)), length)

    def seed(self, data: bytes) -> None:
        self._state = hashlib.sha256(self._state + data).digest()
