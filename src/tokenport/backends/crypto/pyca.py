"""The crypto port on pyca/cryptography (PKCS #11 v2.40 mechanisms' primitives; X.509 and
PEM files are handled by ``tokenport.x509``, not here).

Every pyca exception is translated here, once, into tokenport.errors (see ``_translate``);
error messages are fixed strings, never library text or data.

Randomness. The mechanisms take the random inputs they can from the token's DRBG
(``MechanismContext.random_bytes``): AES / generic secret key values, EC private scalars,
Ed25519 and Ed448 seeds, X25519 and X448 private keys, IVs. pyca/cryptography gives no way
to inject randomness into the following, which therefore use OpenSSL's own CSPRNG:

* RSA key generation (prime search);
* ECDSA per-signature nonces (k);
* RSA blinding inside OpenSSL, RSA-PSS salts, OAEP seeds, PKCS #1 v1.5 encryption padding,
  and the implicit-rejection key of PKCS #1 v1.5 decryption;
* the blinding factor of ``rsa_private_raw`` (this module draws it from ``secrets``, the OS
  source, since it is not key material and needs no reproducibility).

PKCS #1 v1.5 decryption uses OpenSSL's implicit rejection (OpenSSL >= 3.2, the mitigation of
the Marvin / Bleichenbacher attacks): a ciphertext with bad padding decrypts to a
pseudo-random message derived from the key and the ciphertext instead of raising an error, so
no padding oracle exists. ``rsa_decrypt_pkcs1v15`` therefore raises EncryptedDataInvalid only
in the cases OpenSSL still reports.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from cryptography import exceptions as pyca_exceptions
from cryptography.hazmat.primitives import cmac, hashes, hmac, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.utils import CryptographyDeprecationWarning

from tokenport import errors
from tokenport.backends.crypto import pyca_octet
from tokenport.backends.crypto.pyca_aead import PycaAead
from tokenport.backends.crypto.pyca_des import PycaDes
from tokenport.backends.crypto.pyca_dh import PycaDh
from tokenport.backends.crypto.pyca_dsa import PycaDsa
from tokenport.backends.crypto.pyca_octet import PycaOctetCurves
from tokenport.backends.crypto.pyca_pq import PycaPq
from tokenport.ports.crypto import (
    AeadEncryptor,
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
    HashContext,
    HashName,
    PrivateKeyHandle,
    RsaKeyHandle,
    RsaPrivateDecoded,
    RsaPrivateKeyHandle,
    RsaPrivateNumbers,
    RsaPublicDecoded,
    RsaPublicKeyHandle,
    StreamCipher,
)

if TYPE_CHECKING:
    from tokenport.x509 import X509Fields

# pyca warns (to the host's stderr) about certificates it will refuse in a later release,
# e.g. a serial number that is not positive; a token that stores such a certificate says
# nothing to its host. The filter matches warnings raised from tokenport's modules only.
warnings.filterwarnings(
    "ignore", category=CryptographyDeprecationWarning, module=r"tokenport\."
)

_HASHES: dict[HashName, Callable[[], hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha512_224": hashes.SHA512_224,
    "sha512_256": hashes.SHA512_256,
    "sha3_224": hashes.SHA3_224,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}
_CURVES: dict[CurveName, Callable[[], ec.EllipticCurve]] = {
    "P-256": ec.SECP256R1,
    "P-384": ec.SECP384R1,
    "P-521": ec.SECP521R1,
    "P-192": ec.SECP192R1,
    "P-224": ec.SECP224R1,
    "secp256k1": ec.SECP256K1,
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
    "brainpoolP512r1": ec.BrainpoolP512R1,
}
_CURVE_BY_PYCA_NAME: dict[str, CurveName] = {
    "secp256r1": "P-256",
    "secp384r1": "P-384",
    "secp521r1": "P-521",
    "secp192r1": "P-192",
    "secp224r1": "P-224",
    "secp256k1": "secp256k1",
    "brainpoolP256r1": "brainpoolP256r1",
    "brainpoolP384r1": "brainpoolP384r1",
    "brainpoolP512r1": "brainpoolP512r1",
}
_PREHASH_SIZES: tuple[tuple[int, Callable[[], hashes.HashAlgorithm]], ...] = (
    (20, hashes.SHA1),
    (28, hashes.SHA224),
    (32, hashes.SHA256),
    (48, hashes.SHA384),
    (64, hashes.SHA512),
)
"""Digest lengths pyca's Prehashed accepts, with a hash of that size (ECDSA ignores which)."""

_ECDSA_PREHASHED: dict[int, ec.ECDSA] = {
    size: ec.ECDSA(utils.Prehashed(alg())) for size, alg in _PREHASH_SIZES
}
"""One immutable ECDSA-over-a-digest algorithm object per digest size (made once: building
them costs more than a P-256 signature's Python overhead)."""



@contextmanager
def _translate(value_error: type[errors.PKCS11Error], message: str) -> Iterator[None]:
    """Map pyca exceptions to tokenport.errors; ValueError/TypeError become ``value_error``."""
    try:
        yield
    except errors.PKCS11Error:
        raise
    except pyca_exceptions.InvalidSignature:
        raise errors.SignatureInvalid("signature does not verify") from None
    except pyca_exceptions.InvalidTag:
        raise errors.EncryptedDataInvalid("authentication tag does not verify") from None
    except keywrap.InvalidUnwrap:
        raise errors.WrappedKeyInvalid("key unwrap integrity check failed") from None
    except pyca_exceptions.AlreadyFinalized:
        raise errors.OperationNotInitialized("operation already finished") from None
    except pyca_exceptions.UnsupportedAlgorithm:
        raise errors.FunctionFailed("algorithm not available in the crypto library") from None
    except (ValueError, TypeError, OverflowError):
        raise value_error(message) from None


_HASHLIB: dict[str, Callable[[bytes], Any]] = {
    "md5": hashlib.md5, "sha1": hashlib.sha1, "sha224": hashlib.sha224,
    "sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512,
    "sha3_224": hashlib.sha3_224, "sha3_256": hashlib.sha3_256, "sha3_384": hashlib.sha3_384,
    "sha3_512": hashlib.sha3_512,
    "sha512_224": lambda data: hashlib.new("sha512_224", data),
    "sha512_256": lambda data: hashlib.new("sha512_256", data),
}


def _hash(alg: HashName) -> hashes.HashAlgorithm:
    try:
        return _HASHES[alg]()
    except KeyError:
        raise errors.MechanismInvalid("hash not supported") from None


def _aes(key: bytes) -> algorithms.AES:
    if len(key) not in (16, 24, 32):
        raise errors.KeySizeRange("AES keys are 16, 24 or 32 bytes")
    return algorithms.AES(key)


class _Digest:
    """A pyca hash / HMAC / CMAC context as a HashContext with translated errors."""

    def __init__(self, ctx: hashes.Hash | hmac.HMAC | cmac.CMAC) -> None:
        self._ctx = ctx

    # Hot path: a plain try (free when nothing is raised) instead of the _translate helper.
    def update(self, data: bytes) -> None:
        try:
            self._ctx.update(data)
        except pyca_exceptions.AlreadyFinalized:
            raise errors.OperationNotInitialized("operation already finished") from None
        except TypeError:
            raise errors.ArgumentsBad("hash input rejected") from None

    def finalize(self) -> bytes:
        try:
            return self._ctx.finalize()
        except pyca_exceptions.AlreadyFinalized:
            raise errors.OperationNotInitialized("operation already finished") from None


class _Stream:
    """A pyca cipher context as a StreamCipher with translated errors."""

    def __init__(self, ctx: CipherContext) -> None:
        self._ctx = ctx

    def update(self, data: bytes) -> bytes:
        with _translate(errors.DataLenRange, "cipher input rejected"):
            return self._ctx.update(data)

    def finalize(self) -> bytes:
        with _translate(errors.DataLenRange, "input is not a whole number of blocks"):
            return self._ctx.finalize()


class _GcmEncryptor:
    def __init__(self, key: bytes, iv: bytes, aad: bytes) -> None:
        with _translate(errors.MechanismParamInvalid, "GCM IV must be 8 to 128 bytes"):
            self._ctx = Cipher(_aes(key), modes.GCM(iv)).encryptor()
        if aad:
            self._ctx.authenticate_additional_data(aad)

    def update(self, data: bytes) -> bytes:
        with _translate(errors.DataLenRange, "GCM input rejected"):
            return self._ctx.update(data)

    def finalize(self) -> tuple[bytes, bytes]:
        with _translate(errors.DataLenRange, "GCM input rejected"):
            tail = self._ctx.finalize()
            return tail, self._ctx.tag


_K = TypeVar("_K")


class _KeyKind(Generic[_K]):
    """A check that a key handle holds a pyca key of one kind (an ABC such as
    ``ec.EllipticCurvePrivateKey``). The concrete class pyca hands out is learnt from the
    first key seen, so the hot path is ``type(key) is`` instead of the ABC machinery of
    isinstance on every signature."""

    __slots__ = ("_abc", "_concrete", "_what")

    def __init__(self, abc: type, what: str) -> None:  # type[_K] refuses an ABC
        self._abc = abc
        self._concrete: type | None = None
        self._what = what

    def of(self, key: object) -> _K:
        if type(key) is self._concrete:
            return key  # type: ignore[return-value]
        if isinstance(key, self._abc):
            self._concrete = type(key)
            return key  # type: ignore[return-value]
        raise errors.KeyTypeInconsistent(f"expected an {self._what} key object")


_EC_PRIVATE: _KeyKind[ec.EllipticCurvePrivateKey] = _KeyKind(ec.EllipticCurvePrivateKey,
                                                              "EC private")
_EC_PUBLIC: _KeyKind[ec.EllipticCurvePublicKey] = _KeyKind(ec.EllipticCurvePublicKey, "EC")
_RSA_PRIVATE: _KeyKind[rsa.RSAPrivateKey] = _KeyKind(rsa.RSAPrivateKey, "RSA private")
_RSA_PUBLIC: _KeyKind[rsa.RSAPublicKey] = _KeyKind(rsa.RSAPublicKey, "RSA")


def _ec_private(key: object) -> ec.EllipticCurvePrivateKey:
    return _EC_PRIVATE.of(key)


def _ec_public(key: object) -> ec.EllipticCurvePublicKey:
    """The public key of an EC key handle (a private key gives its public half)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.public_key()
    return _EC_PUBLIC.of(key)


def _ed_private(key: object) -> ed25519.Ed25519PrivateKey:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise errors.KeyTypeInconsistent("expected an Ed25519 private key object")


def _ed_public(key: object) -> ed25519.Ed25519PublicKey:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.public_key()
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise errors.KeyTypeInconsistent("expected an Ed25519 key object")


_PKCS1V15 = padding.PKCS1v15()
_PREHASHED: dict[str, utils.Prehashed] = {}
"""One immutable Prehashed object per hash, made at first use."""


def _prehashed(alg: HashName) -> utils.Prehashed:
    found = _PREHASHED.get(alg)
    if found is None:
        found = _PREHASHED[alg] = utils.Prehashed(_hash(alg))
    return found


def _rsa_private(key: object) -> rsa.RSAPrivateKey:
    return _RSA_PRIVATE.of(key)


def _rsa_public(key: object) -> rsa.RSAPublicKey:
    """The public key of an RSA key handle (a private key gives its public half)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.public_key()
    return _RSA_PUBLIC.of(key)


_ID_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")
"""DER of id-ecPublicKey (RFC 5480), the algorithm of EC keys in PKCS #8 and SPKI."""

_Loaded = TypeVar("_Loaded")


def _load_keeping_curve_errors(load: Callable[[], _Loaded], der_bytes: bytes) -> _Loaded:
    """``load()``, where an EC key on a curve the library lacks is CurveNotSupported and a key
    algorithm it lacks a ValueError (the caller's "not a key we know"), not FunctionFailed:
    the library says UnsupportedAlgorithm for both; the algorithm identifier near the start
    of both encodings tells them apart."""
    try:
        return load()
    except pyca_exceptions.UnsupportedAlgorithm:
        if _ID_EC_PUBLIC_KEY in der_bytes[:40]:
            raise errors.CurveNotSupported("curve of the key not supported") from None
        raise ValueError("key algorithm not supported") from None


class PycaCrypto(PycaPq, PycaDsa, PycaDh, PycaDes, PycaOctetCurves, PycaAead):
    """CryptoBackend on pyca/cryptography (OpenSSL): every family of the crypto port
    (Ed448, X25519 and X448 come from ``pyca_octet.PycaOctetCurves``).

    Key handles are pyca key objects (``EcPrivateKeyHandle`` wraps an
    ``EllipticCurvePrivateKey`` ...); a handle of the wrong family raises
    KeyTypeInconsistent."""

    hardware = None
    """No hardware key port: every key is a software key (``ports.crypto.hardware``)."""

    # -- hashes and MACs --------------------------------------------------------------------
    def hash_new(self, alg: HashName) -> HashContext:
        return _Digest(hashes.Hash(_hash(alg)))

    def digest(self, alg: HashName, data: bytes) -> bytes:
        # one-shot through hashlib (OpenSSL's own digests, the same as pyca's): no pyca
        # context object to build, the GIL released for long inputs
        try:
            digest: bytes = _HASHLIB[alg](data).digest()
            return digest
        except KeyError:
            raise errors.MechanismInvalid("hash not supported") from None
        except TypeError:
            raise errors.ArgumentsBad("hash input rejected") from None

    def hmac_new(self, alg: HashName, key: bytes) -> HashContext:
        with _translate(errors.KeySizeRange, "HMAC key rejected"):
            return _Digest(hmac.HMAC(key, _hash(alg)))

    def cmac_aes_new(self, key: bytes) -> HashContext:
        return _Digest(cmac.CMAC(_aes(key)))

    # -- AES ----------------------------------------------------------------------------------
    def aes_ecb(self, key: bytes, encrypt: bool) -> StreamCipher:
        cipher = Cipher(_aes(key), modes.ECB())
        return _Stream(cipher.encryptor() if encrypt else cipher.decryptor())

    def aes_cbc(self, key: bytes, iv: bytes, encrypt: bool) -> StreamCipher:
        with _translate(errors.MechanismParamInvalid, "CBC IV must be 16 bytes"):
            cipher = Cipher(_aes(key), modes.CBC(iv))
        return _Stream(cipher.encryptor() if encrypt else cipher.decryptor())

    def aes_ctr(self, key: bytes, counter_block: bytes) -> StreamCipher:
        with _translate(errors.MechanismParamInvalid, "CTR counter block must be 16 bytes"):
            cipher = Cipher(_aes(key), modes.CTR(counter_block))
        return _Stream(cipher.encryptor())

    def aes_gcm_encryptor(self, key: bytes, iv: bytes, aad: bytes) -> AeadEncryptor:
        return _GcmEncryptor(key, iv, aad)

    def aes_gcm_decrypt_detached(
        self, key: bytes, iv: bytes, ciphertext: bytes, aad: bytes, tag: bytes
    ) -> bytes:
        if not 4 <= len(tag) <= 16:
            raise errors.EncryptedDataInvalid("GCM tag length out of range")
        with _translate(errors.MechanismParamInvalid, "GCM IV must be 8 to 128 bytes"):
            mode = modes.GCM(iv, tag, min_tag_length=len(tag))
            ctx = Cipher(_aes(key), mode).decryptor()
        with _translate(errors.EncryptedDataInvalid, "GCM decryption failed"):
            if aad:
                ctx.authenticate_additional_data(aad)
            plain = ctx.update(ciphertext)
            return plain + ctx.finalize()

    def aes_gcm_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        with _translate(errors.ArgumentsBad, "AES-GCM key or nonce rejected"):
            return AESGCM(key).encrypt(nonce, plaintext, aad)

    def aes_gcm_decrypt(
        self, key: bytes, nonce: bytes, ciphertext_and_tag: bytes, aad: bytes
    ) -> bytes:
        if len(ciphertext_and_tag) < 16:
            raise errors.EncryptedDataInvalid("AES-GCM input shorter than its tag")
        with _translate(errors.EncryptedDataInvalid, "AES-GCM decryption failed"):
            return AESGCM(key).decrypt(nonce, ciphertext_and_tag, aad)

    def aes_key_wrap(self, kek: bytes, key: bytes) -> bytes:
        _aes(kek)
        with _translate(errors.DataLenRange, "RFC 3394 input must be 8n bytes, n >= 2"):
            return keywrap.aes_key_wrap(kek, key)

    def aes_key_unwrap(self, kek: bytes, wrapped: bytes) -> bytes:
        _aes(kek)
        with _translate(errors.WrappedKeyLenRange, "RFC 3394 wrapped key length invalid"):
            return keywrap.aes_key_unwrap(kek, wrapped)

    def aes_key_wrap_pad(self, kek: bytes, key: bytes) -> bytes:
        _aes(kek)
        with _translate(errors.DataLenRange, "RFC 5649 input must not be empty"):
            return keywrap.aes_key_wrap_with_padding(kek, key)

    def aes_key_unwrap_pad(self, kek: bytes, wrapped: bytes) -> bytes:
        _aes(kek)
        with _translate(errors.WrappedKeyLenRange, "RFC 5649 wrapped key length invalid"):
            return keywrap.aes_key_unwrap_with_padding(kek, wrapped)

    # -- key derivation ---------------------------------------------------------------------
    def pbkdf2_sha256(self, secret: bytes, salt: bytes, iterations: int, length: int) -> bytes:
        with _translate(errors.ArgumentsBad, "PBKDF2 parameters rejected"):
            kdf = PBKDF2HMAC(hashes.SHA256(), length, salt, iterations)
            return kdf.derive(secret)

    def x963_kdf(self, alg: HashName, secret: bytes, shared_info: bytes, length: int) -> bytes:
        with _translate(errors.MechanismParamInvalid, "X9.63 KDF parameters rejected"):
            return X963KDF(_hash(alg), length, shared_info or None).derive(secret)

    def hkdf_extract(self, alg: HashName, salt: bytes, ikm: bytes) -> bytes:
        with _translate(errors.MechanismParamInvalid, "HKDF salt rejected"):
            mac = hmac.HMAC(salt, _hash(alg))
            mac.update(ikm)
            return mac.finalize()

    def hkdf_expand(self, alg: HashName, prk: bytes, info: bytes, length: int) -> bytes:
        with _translate(errors.TemplateInconsistent, "HKDF output length out of range"):
            return HKDFExpand(_hash(alg), length, info).derive(prk)

    def pbkdf2_hmac(
        self, alg: HashName, password: bytes, salt: bytes, iterations: int, length: int
    ) -> bytes:
        with _translate(errors.MechanismParamInvalid, "PBKDF2 parameters rejected"):
            return PBKDF2HMAC(_hash(alg), length, salt, iterations).derive(password)

    # -- elliptic curves ------------------------------------------------------------------
    def _curve(self, curve: CurveName) -> ec.EllipticCurve:
        try:
            return _CURVES[curve]()
        except KeyError:
            raise errors.CurveNotSupported("curve not supported") from None

    def ec_private_from_scalar(self, curve: CurveName, d: int) -> EcPrivateKeyHandle:
        with _translate(errors.AttributeValueInvalid, "EC private value out of range"):
            return EcPrivateKeyHandle(ec.derive_private_key(d, self._curve(curve)))

    def ec_public_from_point(self, curve: CurveName, point: bytes) -> EcPublicKeyHandle:
        with _translate(errors.AttributeValueInvalid, "EC point is not on the curve"):
            return EcPublicKeyHandle(
                ec.EllipticCurvePublicKey.from_encoded_point(self._curve(curve), point)
            )

    def ec_private_scalar(self, key: EcPrivateKeyHandle) -> int:
        return _ec_private(key).private_numbers().private_value

    def ec_public_point(self, key: EcKeyHandle) -> bytes:
        return _ec_public(key).public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @staticmethod
    def _ecdsa_prehash(order_bits: int, hash_value: bytes) -> tuple[bytes, ec.ECDSA]:
        """A digest pyca accepts whose ECDSA integer equals that of ``hash_value``, with the
        ECDSA algorithm object for its size.

        ECDSA uses e = the leftmost ``order_bits`` bits of the hash (FIPS 186-4 s6.4,
        SEC 1 s4.1.3 step 5), and OpenSSL applies the same rule to whatever it is given, so
        any digest-sized string whose leftmost ``order_bits`` bits equal e works.
        """
        if 8 * len(hash_value) == order_bits and len(hash_value) in _ECDSA_PREHASHED:
            return hash_value, _ECDSA_PREHASHED[len(hash_value)]  # e is the whole hash
        excess = 8 * len(hash_value) - order_bits
        e = int.from_bytes(hash_value, "big") >> max(excess, 0)
        for size, _ in _PREHASH_SIZES:
            if 8 * size <= order_bits:
                if e < 1 << (8 * size):
                    return e.to_bytes(size, "big"), _ECDSA_PREHASHED[size]
            else:
                return (e << (8 * size - order_bits)).to_bytes(size, "big"), _ECDSA_PREHASHED[size]
        raise errors.DataLenRange("hash value too long for this curve")

    # Hot paths: a plain try (free when nothing is raised) instead of the _translate helper.
    def ecdsa_sign_hash(self, key: EcPrivateKeyHandle, hash_value: bytes) -> tuple[int, int]:
        priv = _ec_private(key)
        digest, algorithm = self._ecdsa_prehash(priv.curve.key_size, hash_value)
        try:
            signature = priv.sign(digest, algorithm)
        except (ValueError, TypeError, OverflowError, pyca_exceptions.UnsupportedAlgorithm):
            raise errors.FunctionFailed("ECDSA signing failed") from None
        r, s = utils.decode_dss_signature(signature)
        return r, s

    def ecdsa_verify_hash(self, key: EcKeyHandle, r: int, s: int, hash_value: bytes) -> None:
        pub = _ec_public(key)
        digest, algorithm = self._ecdsa_prehash(pub.curve.key_size, hash_value)
        try:
            pub.verify(utils.encode_dss_signature(r, s), digest, algorithm)
        except (pyca_exceptions.InvalidSignature, ValueError, TypeError, OverflowError):
            raise errors.SignatureInvalid("signature does not verify") from None
        except pyca_exceptions.UnsupportedAlgorithm:
            raise errors.FunctionFailed("algorithm not available in the crypto library") from None

    def ecdh(self, private_key: EcPrivateKeyHandle, peer_public_key: EcPublicKeyHandle) -> bytes:
        priv = _ec_private(private_key)
        if not isinstance(peer_public_key, ec.EllipticCurvePublicKey):
            raise errors.KeyTypeInconsistent("expected an EC public key object")
        with _translate(errors.MechanismParamInvalid, "peer key not on the same curve"):
            return priv.exchange(ec.ECDH(), peer_public_key)

    # -- Ed25519 ------------------------------------------------------------------------------
    def ed25519_private_from_seed(self, seed: bytes) -> Ed25519PrivateKeyHandle:
        with _translate(errors.AttributeValueInvalid, "Ed25519 private key must be 32 bytes"):
            return Ed25519PrivateKeyHandle(ed25519.Ed25519PrivateKey.from_private_bytes(seed))

    def ed25519_public_from_bytes(self, public: bytes) -> Ed25519PublicKeyHandle:
        with _translate(errors.AttributeValueInvalid, "Ed25519 public key must be 32 bytes"):
            return Ed25519PublicKeyHandle(ed25519.Ed25519PublicKey.from_public_bytes(public))

    def ed25519_seed(self, key: Ed25519PrivateKeyHandle) -> bytes:
        return _ed_private(key).private_bytes_raw()

    def ed25519_public_bytes(self, key: Ed25519KeyHandle) -> bytes:
        return _ed_public(key).public_bytes_raw()

    def ed25519_sign(self, key: Ed25519PrivateKeyHandle, message: bytes) -> bytes:
        return _ed_private(key).sign(message)

    def ed25519_verify(self, key: Ed25519KeyHandle, signature: bytes, message: bytes) -> None:
        with _translate(errors.SignatureInvalid, "signature does not verify"):
            _ed_public(key).verify(signature, message)

    # -- RSA ------------------------------------------------------------------------------------
    def rsa_generate(self, bits: int, public_exponent: int) -> RsaPrivateKeyHandle:
        with _translate(errors.AttributeValueInvalid, "RSA public exponent must be 3 or 65537"):
            return RsaPrivateKeyHandle(rsa.generate_private_key(public_exponent, bits))

    def rsa_private_from_numbers(
        self, numbers: RsaPrivateNumbers, *, validate: bool = True
    ) -> RsaPrivateKeyHandle:
        with _translate(errors.AttributeValueInvalid, "inconsistent RSA private key"):
            public = rsa.RSAPublicNumbers(numbers.e, numbers.n)
            return RsaPrivateKeyHandle(rsa.RSAPrivateNumbers(
                numbers.p, numbers.q, numbers.d, numbers.dp, numbers.dq, numbers.qinv, public
            ).private_key(unsafe_skip_rsa_key_validation=not validate))

    def rsa_recover_primes(self, n: int, e: int, d: int) -> tuple[int, int]:
        with _translate(errors.AttributeValueInvalid, "inconsistent RSA private key"):
            p, q = rsa.rsa_recover_prime_factors(n, e, d)
            return p, q

    def rsa_public_from_numbers(self, n: int, e: int) -> RsaPublicKeyHandle:
        with _translate(errors.AttributeValueInvalid, "invalid RSA public key"):
            return RsaPublicKeyHandle(rsa.RSAPublicNumbers(e, n).public_key())

    def rsa_private_numbers(self, key: RsaPrivateKeyHandle) -> RsaPrivateNumbers:
        nums = _rsa_private(key).private_numbers()
        pub = nums.public_numbers
        return RsaPrivateNumbers(
            pub.n, pub.e, nums.d, nums.p, nums.q, nums.dmp1, nums.dmq1, nums.iqmp
        )

    def rsa_public_numbers(self, key: RsaKeyHandle) -> tuple[int, int]:
        nums = _rsa_public(key).public_numbers()
        return nums.n, nums.e

    # Hot paths: prebuilt padding and Prehashed objects, a plain try instead of _translate.
    def rsa_sign_pkcs1v15(self, key: RsaPrivateKeyHandle, alg: HashName, digest: bytes) -> bytes:
        private = _rsa_private(key)
        try:
            return private.sign(digest, _PKCS1V15, _prehashed(alg))
        except (ValueError, TypeError, OverflowError):
            raise errors.DataLenRange("digest does not fit the key") from None
        except pyca_exceptions.UnsupportedAlgorithm:
            raise errors.FunctionFailed("algorithm not available in the crypto library") from None

    def rsa_verify_pkcs1v15(
        self, key: RsaKeyHandle, signature: bytes, alg: HashName, digest: bytes
    ) -> None:
        public = _rsa_public(key)
        try:
            public.verify(signature, digest, _PKCS1V15, _prehashed(alg))
        except (pyca_exceptions.InvalidSignature, ValueError, TypeError, OverflowError):
            raise errors.SignatureInvalid("signature does not verify") from None
        except pyca_exceptions.UnsupportedAlgorithm:
            raise errors.FunctionFailed("algorithm not available in the crypto library") from None

    @staticmethod
    def _pss(mgf_alg: HashName, salt_len: int) -> padding.PSS:
        return padding.PSS(mgf=padding.MGF1(_hash(mgf_alg)), salt_length=salt_len)

    def rsa_sign_pss(
        self, key: RsaPrivateKeyHandle, alg: HashName, digest: bytes, mgf_alg: HashName,
        salt_len: int,
    ) -> bytes:
        with _translate(errors.MechanismParamInvalid, "PSS parameters do not fit the key"):
            return _rsa_private(key).sign(
                digest, self._pss(mgf_alg, salt_len), utils.Prehashed(_hash(alg))
            )

    def rsa_verify_pss(
        self,
        key: RsaKeyHandle,
        signature: bytes,
        alg: HashName,
        digest: bytes,
        mgf_alg: HashName,
        salt_len: int,
    ) -> None:
        with _translate(errors.SignatureInvalid, "signature does not verify"):
            _rsa_public(key).verify(
                signature, digest, self._pss(mgf_alg, salt_len), utils.Prehashed(_hash(alg))
            )

    def rsa_encrypt_pkcs1v15(self, key: RsaKeyHandle, data: bytes) -> bytes:
        with _translate(errors.DataLenRange, "data too long for the key"):
            return _rsa_public(key).encrypt(data, padding.PKCS1v15())

    def rsa_decrypt_pkcs1v15(self, key: RsaPrivateKeyHandle, data: bytes) -> bytes:
        with _translate(errors.EncryptedDataInvalid, "decryption failed"):
            return _rsa_private(key).decrypt(data, padding.PKCS1v15())

    @staticmethod
    def _oaep(alg: HashName, mgf_alg: HashName, label: bytes) -> padding.OAEP:
        return padding.OAEP(
            mgf=padding.MGF1(_hash(mgf_alg)), algorithm=_hash(alg), label=label or None
        )

    def rsa_encrypt_oaep(
        self, key: RsaKeyHandle, data: bytes, alg: HashName, mgf_alg: HashName, label: bytes
    ) -> bytes:
        with _translate(errors.DataLenRange, "data too long for the key"):
            return _rsa_public(key).encrypt(data, self._oaep(alg, mgf_alg, label))

    def rsa_decrypt_oaep(
        self, key: RsaPrivateKeyHandle, data: bytes, alg: HashName, mgf_alg: HashName,
        label: bytes,
    ) -> bytes:
        with _translate(errors.EncryptedDataInvalid, "decryption failed"):
            return _rsa_private(key).decrypt(data, self._oaep(alg, mgf_alg, label))

    def rsa_public_raw(self, key: RsaKeyHandle, block: bytes) -> bytes:
        n, e = self.rsa_public_numbers(key)
        k = (n.bit_length() + 7) // 8
        m = int.from_bytes(block, "big")
        if len(block) != k or m >= n:
            raise errors.DataLenRange("raw RSA input must be k bytes and less than n")
        return pow(m, e, n).to_bytes(k, "big")

    def rsa_private_raw(self, key: RsaPrivateKeyHandle, block: bytes) -> bytes:
        nums = self.rsa_private_numbers(key)
        n = nums.n
        k = (n.bit_length() + 7) // 8
        c = int.from_bytes(block, "big")
        if len(block) != k or c >= n:
            raise errors.DataLenRange("raw RSA input must be k bytes and less than n")
        # Base blinding (RFC 8017 s5.1.2 note): the exponentiation never sees c itself.
        while True:
            r = secrets.randbelow(n - 3) + 2
            if math.gcd(r, n) == 1:
                break
        blinded = (c * pow(r, nums.e, n)) % n
        m1 = pow(blinded, nums.dp, nums.p)
        m2 = pow(blinded, nums.dq, nums.q)
        h = (nums.qinv * (m1 - m2)) % nums.p
        m = ((m2 + h * nums.q) * pow(r, -1, n)) % n
        if pow(m, nums.e, n) != c:  # fault check before releasing a result
            raise errors.FunctionFailed("RSA private operation failed its consistency check")
        return m.to_bytes(k, "big")

    # -- key encodings ----------------------------------------------------------------------
    def public_key_info(self, key: AnyKeyHandle) -> bytes:
        public: object = key
        if isinstance(
            key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey,
                  *pyca_octet.PRIVATE_TYPES)
        ):
            public = key.public_key()
        if not isinstance(
            public, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey,
                     *pyca_octet.PUBLIC_TYPES)
        ):
            raise errors.KeyTypeInconsistent("expected an RSA, EC, Edwards or Montgomery key")
        return public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def pkcs8_encode(self, key: PrivateKeyHandle) -> bytes:
        if not isinstance(
            key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey,
                  *pyca_octet.PRIVATE_TYPES)
        ):
            raise errors.KeyNotWrappable("not a private key object")
        return key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def pkcs8_decode(self, der_bytes: bytes) -> DecodedPrivateKey:
        with _translate(errors.WrappedKeyInvalid, "not a DER PKCS #8 private key"):
            key = _load_keeping_curve_errors(
                lambda: serialization.load_der_private_key(der_bytes, password=None), der_bytes)
        if isinstance(key, rsa.RSAPrivateKey):
            return RsaPrivateDecoded(RsaPrivateKeyHandle(key))
        if isinstance(key, ec.EllipticCurvePrivateKey):
            curve = _CURVE_BY_PYCA_NAME.get(key.curve.name)
            if curve is None:
                raise errors.CurveNotSupported("curve of the wrapped key not supported")
            return EcPrivateDecoded(EcPrivateKeyHandle(key), curve)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return Ed25519PrivateDecoded(Ed25519PrivateKeyHandle(key))
        octet = pyca_octet.decoded_private(key)
        if octet is not None:
            return octet
        raise errors.WrappedKeyInvalid("wrapped private key type not supported")

    def public_key_decode(self, der_bytes: bytes) -> DecodedPublicKey:
        with _translate(errors.AttributeValueInvalid, "not a DER SubjectPublicKeyInfo"):
            key = _load_keeping_curve_errors(
                lambda: serialization.load_der_public_key(der_bytes), der_bytes)
        if isinstance(key, rsa.RSAPublicKey):
            return RsaPublicDecoded(RsaPublicKeyHandle(key))
        if isinstance(key, ec.EllipticCurvePublicKey):
            curve = _CURVE_BY_PYCA_NAME.get(key.curve.name)
            if curve is None:
                raise errors.CurveNotSupported("curve of the public key not supported")
            return EcPublicDecoded(EcPublicKeyHandle(key), curve)
        if isinstance(key, ed25519.Ed25519PublicKey):
            return Ed25519PublicDecoded(Ed25519PublicKeyHandle(key))
        octet = pyca_octet.decoded_public(key)
        if octet is not None:
            return octet
        raise errors.AttributeValueInvalid("public key type not supported")

    # -- not part of the port ----------------------------------------------------------------
    def x509_fields(self, der_bytes: bytes) -> X509Fields:
        """Certificate attribute fields: not a crypto port call (kept for callers of this
        class); use ``tokenport.x509.certificate_fields``."""
        from tokenport.x509 import certificate_fields

        return certificate_fields(der_bytes)


def default_crypto() -> CryptoBackend:
    """The host's crypto backend."""
    return PycaCrypto()


def from_config(options: Mapping[str, Any]) -> CryptoBackend:
    """The ``pyca`` crypto port (no options)."""
    if options:
        raise ValueError(f"the pyca crypto port takes no options, got {', '.join(sorted(options))}")
    return PycaCrypto()
