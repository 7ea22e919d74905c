"""The crypto port: the primitives the mechanisms and the storage format need.

A platform fills this in with one backend (``tokenport.backends.crypto_pyca`` on a host).
The port is narrow on purpose: hashes, MACs, AES modes, key wrap, EC / Ed25519 / RSA
operations on opaque key objects, X.509 field extraction, PKCS #8 conversion and the
AES-256-GCM + PBKDF2 pair used to seal private objects at rest. Everything PKCS #11-specific
(parameter checks, lengths, padding rules, attribute encodings) lives in
``tokenport.mechanisms``, not here.

Rules for a backend:

* it raises tokenport.errors only: the crypto library's exceptions are translated here,
  once (invalid signature -> SignatureInvalid, bad AEAD tag -> EncryptedDataInvalid, failed
  key unwrap -> WrappedKeyInvalid, malformed key material -> AttributeValueInvalid ...);
* key objects are opaque (``object``): a mechanism gets one from a ``*_from_*`` / generate
  call, keeps it in ``KeyView.cached`` and hands it back; it never looks inside;
* it never draws randomness from the token's DRBG unless the primitive cannot avoid it; the
  places where the underlying library generates randomness internally are listed in the
  backend's module docstring;
* no secret ever appears in an exception message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

HashName = Literal["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]
"""Hash functions of the port (names as in hashlib)."""

CurveName = Literal["P-256", "P-384", "P-521"]
"""Short-Weierstrass NIST curves of the port (FIPS 186-4 D.1.2)."""

KeyKind = Literal["rsa", "ec", "ed25519"]
"""The asymmetric key families the port knows."""

DIGEST_SIZES: dict[HashName, int] = {
    "md5": 16,
    "sha1": 20,
    "sha224": 28,
    "sha256": 32,
    "sha384": 48,
    "sha512": 64,
}
"""Output length in bytes of each hash of the port."""


class HashContext(Protocol):
    """A running hash or MAC computation."""

    def update(self, data: bytes) -> None: ...

    def finalize(self) -> bytes:
        """The digest / MAC; the context is unusable afterwards."""
        ...


class StreamCipher(Protocol):
    """A running block-cipher mode (ECB, CBC without padding, CTR).

    ``update`` may hold back a partial block (ECB, CBC); ``finalize`` returns what is left
    and raises DataLenRange if a partial block remains (the mechanism checks lengths first,
    so this is a safety net).
    """

    def update(self, data: bytes) -> bytes: ...

    def finalize(self) -> bytes: ...


class AeadEncryptor(Protocol):
    """A running AES-GCM encryption whose tag is produced at the end."""

    def update(self, data: bytes) -> bytes: ...

    def finalize(self) -> tuple[bytes, bytes]:
        """(last ciphertext bytes, full 16-byte tag)."""
        ...


@dataclass(frozen=True)
class RsaPrivateNumbers:
    """The integers of an RSA private key in CRT form (PKCS #1 RSAPrivateKey)."""

    n: int
    e: int
    d: int
    p: int
    q: int
    dp: int
    dq: int
    qinv: int

    def __repr__(self) -> str:
        return f"RsaPrivateNumbers(<{self.n.bit_length()}-bit, secret>)"


@dataclass(frozen=True)
class DecodedPrivateKey:
    """A private key read from PKCS #8: its family, the opaque key and, for EC, the curve."""

    kind: KeyKind
    key: object
    curve: CurveName | None = None

    def __repr__(self) -> str:
        return f"DecodedPrivateKey(kind={self.kind!r}, curve={self.curve!r})"


@dataclass(frozen=True)
class X509Fields:
    """The certificate fields PKCS #11 copies into attributes (v2.40 s4.6.3, s4.8).

    ``subject`` / ``issuer``: DER Name (CKA_SUBJECT, CKA_ISSUER); ``serial_number``: the DER
    INTEGER encoding of the serial, tag and length included (CKA_SERIAL_NUMBER);
    ``public_key_info``: the DER SubjectPublicKeyInfo (CKA_PUBLIC_KEY_INFO); ``not_before`` /
    ``not_after``: CK_DATE values b"YYYYMMDD" (CKA_START_DATE / CKA_END_DATE).
    """

    subject: bytes
    issuer: bytes
    serial_number: bytes
    public_key_info: bytes
    not_before: bytes
    not_after: bytes


@dataclass(frozen=True)
class CertificateSummary:
    """What provisioning shows and checks of an X.509 certificate.

    ``subject`` / ``issuer``: RFC 4514 strings; ``not_before`` / ``not_after``: timezone-aware
    UTC datetimes; ``public_key_info``: the DER SubjectPublicKeyInfo, re-encoded by the backend
    (so it compares equal to ``public_key_info`` of the same key); ``is_ca``: the
    basicConstraints cA flag (False when the extension is absent).
    """

    subject: str
    issuer: str
    serial_number: int
    not_before: datetime
    not_after: datetime
    public_key_info: bytes
    is_ca: bool


@dataclass(frozen=True)
class RequestSummary:
    """A PKCS #10 certification request whose self-signature verified."""

    subject: str
    public_key_info: bytes


@runtime_checkable
class CryptoBackend(Protocol):
    """The crypto primitives of the token (one instance per Module)."""

    # -- hashes and MACs ------------------------------------------------------------------
    def hash_new(self, alg: HashName) -> HashContext: ...

    def hmac_new(self, alg: HashName, key: bytes) -> HashContext: ...

    def cmac_aes_new(self, key: bytes) -> HashContext:
        """AES-CMAC (NIST SP 800-38B); 16/24/32-byte key, 16-byte MAC."""
        ...

    # -- AES ------------------------------------------------------------------------------
    def aes_ecb(self, key: bytes, encrypt: bool) -> StreamCipher: ...

    def aes_cbc(self, key: bytes, iv: bytes, encrypt: bool) -> StreamCipher:
        """CBC without padding; ``iv`` is 16 bytes."""
        ...

    def aes_ctr(self, key: bytes, counter_block: bytes) -> StreamCipher:
        """CTR with a full 128-bit big-endian counter starting at ``counter_block``."""
        ...

    def aes_gcm_encryptor(self, key: bytes, iv: bytes, aad: bytes) -> AeadEncryptor:
        """Streaming AES-GCM encryption; ``iv`` is 8..128 bytes."""
        ...

    def aes_gcm_decrypt_detached(
        self, key: bytes, iv: bytes, ciphertext: bytes, aad: bytes, tag: bytes
    ) -> bytes:
        """AES-GCM decryption with a separate tag of 4..16 bytes (a truncated tag is compared
        with the leading bytes of the full one). Raises EncryptedDataInvalid on a bad tag;
        no plaintext is released unless the tag verifies."""
        ...

    def aes_gcm_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """One-shot AES-GCM: ciphertext followed by the 16-byte tag."""
        ...

    def aes_gcm_decrypt(
        self, key: bytes, nonce: bytes, ciphertext_and_tag: bytes, aad: bytes
    ) -> bytes:
        """Inverse of aes_gcm_encrypt; raises EncryptedDataInvalid on a bad tag or length."""
        ...

    def aes_key_wrap(self, kek: bytes, key: bytes) -> bytes:
        """RFC 3394 with the default IV; ``key`` is a multiple of 8 bytes, at least 16."""
        ...

    def aes_key_unwrap(self, kek: bytes, wrapped: bytes) -> bytes:
        """Inverse of aes_key_wrap; raises WrappedKeyInvalid on an integrity failure."""
        ...

    def aes_key_wrap_pad(self, kek: bytes, key: bytes) -> bytes:
        """RFC 5649 (key wrap with padding) with the default alternative IV."""
        ...

    def aes_key_unwrap_pad(self, kek: bytes, wrapped: bytes) -> bytes:
        """Inverse of aes_key_wrap_pad; raises WrappedKeyInvalid on an integrity failure."""
        ...

    # -- key derivation -------------------------------------------------------------------
    def pbkdf2_sha256(self, secret: bytes, salt: bytes, iterations: int, length: int) -> bytes:
        """PBKDF2-HMAC-SHA256 (RFC 8018 s5.2)."""
        ...

    def x963_kdf(self, alg: HashName, secret: bytes, shared_info: bytes, length: int) -> bytes:
        """ANSI X9.63 KDF (SEC 1 v2 s3.6.1)."""
        ...

    # -- elliptic curves (ECDSA, ECDH) ----------------------------------------------------
    def ec_private_from_scalar(self, curve: CurveName, d: int) -> object:
        """The private key with scalar ``d`` (1 <= d < n, else AttributeValueInvalid)."""
        ...

    def ec_public_from_point(self, curve: CurveName, point: bytes) -> object:
        """A public key from a SEC 1 encoded point; AttributeValueInvalid if not on the curve."""
        ...

    def ec_private_scalar(self, key: object) -> int: ...

    def ec_public_point(self, key: object) -> bytes:
        """The uncompressed SEC 1 point (0x04 || X || Y) of a public or private key."""
        ...

    def ecdsa_sign_hash(self, key: object, hash_value: bytes) -> tuple[int, int]:
        """ECDSA (FIPS 186-4 s6.4) over a caller-supplied hash value of any length: the
        integer e is the leftmost min(N, 8*len) bits, N the bit length of the order.
        Returns (r, s). DataLenRange if the backend cannot represent ``hash_value``."""
        ...

    def ecdsa_verify_hash(self, key: object, r: int, s: int, hash_value: bytes) -> None:
        """Raises SignatureInvalid unless (r, s) is valid for ``hash_value``."""
        ...

    def ecdh(self, private_key: object, peer_public_key: object) -> bytes:
        """The ECDH shared secret Z (the x coordinate, SEC 1 s3.3.1), field-size bytes."""
        ...

    # -- Ed25519 ----------------------------------------------------------------------------
    def ed25519_private_from_seed(self, seed: bytes) -> object:
        """The Ed25519 private key with this 32-byte seed (RFC 8032 s5.1.5)."""
        ...

    def ed25519_public_from_bytes(self, public: bytes) -> object: ...

    def ed25519_seed(self, key: object) -> bytes: ...

    def ed25519_public_bytes(self, key: object) -> bytes:
        """The 32-byte encoded public key of a public or private key."""
        ...

    def ed25519_sign(self, key: object, message: bytes) -> bytes:
        """Pure Ed25519 (RFC 8032 s5.1.6): a 64-byte signature."""
        ...

    def ed25519_verify(self, key: object, signature: bytes, message: bytes) -> None:
        """Raises SignatureInvalid unless the signature is valid."""
        ...

    # -- RSA --------------------------------------------------------------------------------
    def rsa_generate(self, bits: int, public_exponent: int) -> object:
        """A fresh RSA key; AttributeValueInvalid for an exponent the backend refuses."""
        ...

    def rsa_private_from_numbers(
        self, numbers: RsaPrivateNumbers, *, validate: bool = True
    ) -> object:
        """AttributeValueInvalid if the numbers do not form a consistent key. ``validate``
        False skips the full (slow: tens of ms) consistency check, for keys the token
        already checked when they were created or unwrapped."""
        ...

    def rsa_recover_primes(self, n: int, e: int, d: int) -> tuple[int, int]:
        """(p, q) from the modulus and both exponents; AttributeValueInvalid if impossible."""
        ...

    def rsa_public_from_numbers(self, n: int, e: int) -> object: ...

    def rsa_private_numbers(self, key: object) -> RsaPrivateNumbers: ...

    def rsa_public_numbers(self, key: object) -> tuple[int, int]:
        """(n, e) of a public or private key."""
        ...

    def rsa_sign_pkcs1v15(self, key: object, alg: HashName, digest: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 (RFC 8017 s8.2) over a precomputed digest."""
        ...

    def rsa_verify_pkcs1v15(
        self, key: object, signature: bytes, alg: HashName, digest: bytes
    ) -> None: ...

    def rsa_sign_pss(
        self, key: object, alg: HashName, digest: bytes, mgf_alg: HashName, salt_len: int
    ) -> bytes:
        """RSASSA-PSS (RFC 8017 s8.1) over a precomputed digest, MGF1 with ``mgf_alg``."""
        ...

    def rsa_verify_pss(
        self,
        key: object,
        signature: bytes,
        alg: HashName,
        digest: bytes,
        mgf_alg: HashName,
        salt_len: int,
    ) -> None: ...

    def rsa_encrypt_pkcs1v15(self, key: object, data: bytes) -> bytes: ...

    def rsa_decrypt_pkcs1v15(self, key: object, data: bytes) -> bytes:
        """RSAES-PKCS1-v1_5 decryption; see the backend for its bad-padding behaviour."""
        ...

    def rsa_encrypt_oaep(
        self, key: object, data: bytes, alg: HashName, mgf_alg: HashName, label: bytes
    ) -> bytes: ...

    def rsa_decrypt_oaep(
        self, key: object, data: bytes, alg: HashName, mgf_alg: HashName, label: bytes
    ) -> bytes:
        """RSAES-OAEP decryption; EncryptedDataInvalid on any decoding failure."""
        ...

    def rsa_public_raw(self, key: object, block: bytes) -> bytes:
        """RSAEP / RSAVP1: ``block`` (k bytes, value < n) to the k-byte result."""
        ...

    def rsa_private_raw(self, key: object, block: bytes) -> bytes:
        """RSADP / RSASP1: ``block`` (k bytes, value < n) to the k-byte result."""
        ...

    # -- encodings --------------------------------------------------------------------------
    def public_key_info(self, key: object) -> bytes:
        """The DER SubjectPublicKeyInfo of a public key or of a private key's public half."""
        ...

    def pkcs8_encode(self, key: object) -> bytes:
        """An unencrypted DER PKCS #8 PrivateKeyInfo (RFC 5208) of a private key."""
        ...

    def pkcs8_decode(self, der: bytes) -> DecodedPrivateKey:
        """Parse a DER PKCS #8 PrivateKeyInfo; WrappedKeyInvalid if it is not one we know,
        CurveNotSupported for an EC key on another curve."""
        ...

    def load_private_key(self, data: bytes, password: bytes | None = None) -> bytes:
        """A private key file (PEM or DER; PKCS #8, SEC1 or PKCS #1; encrypted PEM with
        ``password``) as DER PKCS #8; AttributeValueInvalid if it is none of these."""
        ...

    def load_public_key(self, data: bytes) -> bytes:
        """A public key file (PEM or DER SubjectPublicKeyInfo, or PEM PKCS #1) as DER SPKI."""
        ...

    def load_certificate(self, data: bytes) -> bytes:
        """An X.509 certificate file (PEM or DER) as DER."""
        ...

    def public_key_decode(self, der: bytes) -> DecodedPrivateKey:
        """Parse a DER SubjectPublicKeyInfo (``key`` then holds the public key object)."""
        ...

    def x509_fields(self, der: bytes) -> X509Fields:
        """The fields of a DER X.509 certificate; AttributeValueInvalid for anything else."""
        ...

    # -- provisioning (X.509 names, certificates, PKCS #10 requests) -----------------------
    def x509_summary(self, der: bytes) -> CertificateSummary:
        """Names, validity and key of a DER X.509 certificate; AttributeValueInvalid for
        anything else."""
        ...

    def x509_name_from_text(self, text: str) -> bytes:
        """The DER Name of an RFC 4514 string ("CN=device-1,O=Example,C=DE");
        AttributeValueInvalid if the string is malformed or names an unknown attribute."""
        ...

    def csr_summary(self, der: bytes) -> RequestSummary:
        """Check a DER PKCS #10 CertificationRequest: AttributeValueInvalid if it is
        malformed, SignatureInvalid if its self-signature does not verify."""
        ...
