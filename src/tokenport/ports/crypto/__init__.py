"""The crypto port: the primitives the mechanisms and the storage format need.

A platform fills this in with one backend (``tokenport.backends.crypto.pyca`` on a host;
``tokenport.backends.crypto.fake`` is a deterministic, stdlib-only twin for unit tests).
The port is a set of small protocols, one per family, each in its own module:

==================  ===========================================================================
``DigestPort``      hash contexts and one-shot digests (``digest``)
``MacPort``         HMAC and AES-CMAC (``mac``)
``CipherPort``      AES ECB / CBC / CTR, streaming AES-GCM, RFC 3394 / 5649 key wrap (``cipher``)
``DesPort``         DES / Triple-DES ECB and CBC, TDEA-CMAC (``cipher``)
``SealPort``        PBKDF2 + one-shot AES-GCM used to seal records at rest (``seal``)
``KdfPort``         HKDF and PBKDF2-HMAC for the KDF mechanisms (``kdf``)
``AeadPort``        AES-CCM and ChaCha20-Poly1305 with detached tags (``aead``)
``EcPort``          EC keys, ECDSA, ECDH and the X9.63 KDF (``ec``)
``RsaPort``         RSA keys, PKCS #1 v1.5 / PSS / OAEP, raw RSA (``rsa``)
``EdDsaPort``       Ed25519 (``eddsa``)
``Ed448Port``       Ed448, pure with an empty context (``eddsa``)
``MontgomeryPort``  X25519 and X448 key agreement (``montgomery``)
``KeyEncodingPort`` SubjectPublicKeyInfo and PKCS #8 of the key handles (``encoding``)
``PqPort``          ML-DSA (FIPS 204) and ML-KEM (FIPS 203), PKCS #11 v3.2 (``pq``)
``DsaPort``         DSA parameters, keys and signatures, their encodings (``dsa``)
``DhPort``          PKCS #3 Diffie-Hellman parameters, keys and agreement (``dh``)
==================  ===========================================================================

``CryptoBackend`` is their composition: what a Module is given. Code that needs one family
takes that family's protocol (``storage_format`` takes a ``SealPort``, a code-signature
check a ``DigestPort`` ...), so a test can hand it a smaller object.

Keys are opaque, typed handles (``EcPrivateKeyHandle``, ``RsaPublicKeyHandle``,
``Ed25519PrivateKeyHandle`` ...: ``typing.NewType`` over ``object``): a mechanism gets one
from a ``*_from_*`` / generate / decode call, keeps it in ``KeyView.cached`` and hands it
back; it never looks inside, and mypy refuses a handle of the wrong family.

X.509 certificates, PKCS #10 requests and PEM files are not the port's business: they live
on the provisioning side (``tokenport.x509``).

Everything PKCS #11-specific (parameter checks, lengths, padding rules, attribute encodings)
lives in ``tokenport.mechanisms``, not here. Rules for a backend:

* it raises tokenport.errors only: the crypto library's exceptions are translated there,
  once (invalid signature -> SignatureInvalid, bad AEAD tag -> EncryptedDataInvalid, failed
  key unwrap -> WrappedKeyInvalid, malformed key material -> AttributeValueInvalid, a handle
  of the wrong family -> KeyTypeInconsistent ...);
* it never draws randomness from the token's DRBG unless the primitive cannot avoid it; the
  places where the underlying library generates randomness internally are listed in the
  backend's module docstring;
* no secret ever appears in an exception message or a repr.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from tokenport.ports.crypto.aead import AeadPort
from tokenport.ports.crypto.cipher import CipherPort, DesPort
from tokenport.ports.crypto.dh import DhParameters, DhPort, DhPrivateKeyHandle
from tokenport.ports.crypto.digest import DigestPort
from tokenport.ports.crypto.dsa import (
    DsaKeyHandle,
    DsaParameters,
    DsaPort,
    DsaPrivateKeyHandle,
    DsaPublicKeyHandle,
)
from tokenport.ports.crypto.ec import (
    EcKeyHandle,
    EcPort,
    EcPrivateKeyHandle,
    EcPublicKeyHandle,
)
from tokenport.ports.crypto.eddsa import (
    Ed448KeyHandle,
    Ed448Port,
    Ed448PrivateKeyHandle,
    Ed448PublicKeyHandle,
    Ed25519KeyHandle,
    Ed25519PrivateKeyHandle,
    Ed25519PublicKeyHandle,
    EdDsaPort,
)
from tokenport.ports.crypto.encoding import (
    AnyKeyHandle,
    DecodedPrivateKey,
    DecodedPublicKey,
    EcPrivateDecoded,
    EcPublicDecoded,
    Ed448PrivateDecoded,
    Ed448PublicDecoded,
    Ed25519PrivateDecoded,
    Ed25519PublicDecoded,
    KeyEncodingPort,
    PrivateKeyHandle,
    PublicKeyHandle,
    RsaPrivateDecoded,
    RsaPublicDecoded,
    XdhPrivateDecoded,
    XdhPublicDecoded,
)
from tokenport.ports.crypto.kdf import KdfPort
from tokenport.ports.crypto.mac import MacPort
from tokenport.ports.crypto.montgomery import (
    MontgomeryPort,
    XdhKeyHandle,
    XdhPrivateKeyHandle,
    XdhPublicKeyHandle,
)
from tokenport.ports.crypto.pq import PqPort
from tokenport.ports.crypto.rsa import (
    RsaKeyHandle,
    RsaPort,
    RsaPrivateKeyHandle,
    RsaPrivateNumbers,
    RsaPublicKeyHandle,
)
from tokenport.ports.crypto.seal import SealPort
from tokenport.ports.crypto.types import (
    DIGEST_SIZES,
    AeadEncryptor,
    CurveName,
    HashContext,
    HashName,
    KeyKind,
    OctetCurveName,
    StreamCipher,
    XdhCurveName,
)

__all__ = [
    "DIGEST_SIZES",
    "AeadEncryptor",
    "AeadPort",
    "AnyKeyHandle",
    "CipherPort",
    "CryptoBackend",
    "CurveName",
    "DecodedPrivateKey",
    "DecodedPublicKey",
    "DesPort",
    "DhParameters",
    "DhPort",
    "DhPrivateKeyHandle",
    "DigestPort",
    "DsaKeyHandle",
    "DsaParameters",
    "DsaPort",
    "DsaPrivateKeyHandle",
    "DsaPublicKeyHandle",
    "EcKeyHandle",
    "EcPort",
    "EcPrivateDecoded",
    "EcPrivateKeyHandle",
    "EcPublicDecoded",
    "EcPublicKeyHandle",
    "Ed448KeyHandle",
    "Ed448Port",
    "Ed448PrivateDecoded",
    "Ed448PrivateKeyHandle",
    "Ed448PublicDecoded",
    "Ed448PublicKeyHandle",
    "Ed25519KeyHandle",
    "Ed25519PrivateDecoded",
    "Ed25519PrivateKeyHandle",
    "Ed25519PublicDecoded",
    "Ed25519PublicKeyHandle",
    "EdDsaPort",
    "HashContext",
    "HashName",
    "KdfPort",
    "KeyEncodingPort",
    "KeyKind",
    "MacPort",
    "MontgomeryPort",
    "OctetCurveName",
    "PqPort",
    "PrivateKeyHandle",
    "PublicKeyHandle",
    "RsaKeyHandle",
    "RsaPort",
    "RsaPrivateDecoded",
    "RsaPrivateKeyHandle",
    "RsaPrivateNumbers",
    "RsaPublicDecoded",
    "RsaPublicKeyHandle",
    "SealPort",
    "StreamCipher",
    "XdhCurveName",
    "XdhKeyHandle",
    "XdhPrivateDecoded",
    "XdhPrivateKeyHandle",
    "XdhPublicDecoded",
    "XdhPublicKeyHandle",
]


@runtime_checkable
class CryptoBackend(
    DigestPort,
    MacPort,
    CipherPort,
    DesPort,
    AeadPort,
    SealPort,
    KdfPort,
    EcPort,
    RsaPort,
    EdDsaPort,
    Ed448Port,
    MontgomeryPort,
    KeyEncodingPort,
    PqPort,
    DsaPort,
    DhPort,
    Protocol,
):
    """The whole crypto port: every family (one instance per Module)."""
