"""The hardware key port: private keys that live in a secure element (a TPM 2.0 ...).

A crypto backend that can keep keys in hardware offers this protocol as its ``hardware``
attribute (``hardware_of(crypto)`` finds it; a software backend has none). The mechanisms
use it at three places only (PKCS #11 v2.40 s5.14 key generation, s5.7 C_CreateObject and
s5.14 C_UnwrapKey of private keys, and the parsing of a private key for use):

* ``holds_ec`` / ``holds_rsa``: whether the hardware keeps keys of that curve / size; other
  keys stay software keys of the same token;
* ``generate_*`` makes a key inside the hardware and returns its *blob* (the hardware's own
  wrapped form: for a TPM, TPM2B_PUBLIC || TPM2B_PRIVATE, encrypted under the TPM's storage
  key) and the public part; ``import_*`` wraps clear key material for the hardware
  (TPM2_Import) and returns the blob;
* ``ec_key`` / ``rsa_key`` turn a stored blob into an ordinary port key handle
  (``EcPrivateKeyHandle`` / ``RsaPrivateKeyHandle``) that the backend recognises in its
  private-key calls (``ecdsa_sign_hash``, ``ecdh``, ``rsa_sign_*``, ``rsa_decrypt_*``,
  ``rsa_private_raw``) and sends to the hardware; public-key calls on it run in software.
  Making a handle does not talk to the hardware: the first private-key call does.

``auth`` is the key's authorization value (for a TPM, the object's authValue): random bytes
the token draws from its DRBG and keeps sealed under the user's PIN with the blob.
Everything raises tokenport errors (a missing or reset device: DeviceError; a refused
authorization: PinIncorrect; dictionary-attack lockout: PinLocked).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from tokenport.ports.crypto.ec import EcPrivateKeyHandle
from tokenport.ports.crypto.rsa import RsaPrivateKeyHandle, RsaPrivateNumbers
from tokenport.ports.crypto.types import CurveName, HashName

AUTH_SIZE = 32
"""Bytes of a key's authorization value (the size of a SHA-256 digest, the TPM's nameAlg)."""


@runtime_checkable
class HardwareKeyPort(Protocol):
    """Private keys generated in, imported into and used inside a secure element."""

    @property
    def location(self) -> str:
        """Where the keys live, as CKA_TOKENPORT_KEY_LOCATION says it ("tpm2")."""
        ...

    def holds_ec(self, curve: CurveName) -> bool: ...

    def holds_rsa(self, bits: int) -> bool: ...

    def generate_ec(self, curve: CurveName, auth: bytes) -> tuple[bytes, bytes]:
        """A new key pair inside the hardware: (blob, uncompressed SEC 1 public point)."""
        ...

    def generate_rsa(self, bits: int, public_exponent: int, auth: bytes) -> tuple[bytes, int, int]:
        """A new RSA key inside the hardware: (blob, n, e). AttributeValueInvalid for an
        exponent the hardware cannot use."""
        ...

    def import_ec(self, curve: CurveName, d: int, point: bytes, auth: bytes) -> bytes:
        """The blob of an existing EC private key (scalar ``d``, public ``point``)."""
        ...

    def import_rsa(self, numbers: RsaPrivateNumbers, auth: bytes) -> bytes:
        """The blob of an existing RSA private key."""
        ...

    def ec_key(self, curve: CurveName, blob: bytes, auth: bytes) -> EcPrivateKeyHandle:
        """The port handle of a stored EC key (its public point read from the blob; no
        hardware access yet). AttributeValueInvalid for a malformed blob or another curve."""
        ...

    def rsa_key(self, blob: bytes, auth: bytes) -> RsaPrivateKeyHandle:
        """The port handle of a stored RSA key (n and e read from the blob; no hardware
        access yet). AttributeValueInvalid for a malformed blob."""
        ...

    def rsa_pss_salt(self, key: RsaPrivateKeyHandle, alg: HashName, mgf_alg: HashName) -> int | None:
        """The salt length the hardware signs RSASSA-PSS with, for ``key`` and these hashes;
        None when ``key`` is not a hardware key. MechanismParamInvalid for hashes the
        hardware cannot sign PSS with. Lets C_SignInit refuse what C_Sign could not do."""
        ...

    def rsa_modulus(self, blob: bytes) -> int:
        """The modulus n a stored RSA key's blob carries."""
        ...


def hardware_of(crypto: object) -> HardwareKeyPort | None:
    """The hardware key port of a crypto backend, or None for a software-only backend."""
    port = getattr(crypto, "hardware", None)
    if port is None:  # a software port (the common case: no Protocol isinstance, ~30 us)
        return None
    return port if isinstance(port, HardwareKeyPort) else None
