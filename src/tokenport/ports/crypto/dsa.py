"""DSA family of the crypto port (PKCS #11 v2.40 Current Mechanisms s2.2: CKM_DSA_PARAMETER_GEN,
CKM_DSA_KEY_PAIR_GEN, CKM_DSA and CKM_DSA_SHA*; FIPS 186-4 s4).

Domain parameters travel as plain integers (``DsaParameters``); keys are opaque handles, as
for the other families. The PKCS #11 rules (which (L, N) pairs are allowed for what, the
input lengths of CKM_DSA, r || s encoding) live in ``tokenport.mechanisms.dsa``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType, Protocol, runtime_checkable

DsaPrivateKeyHandle = NewType("DsaPrivateKeyHandle", object)
"""A DSA private key as the backend represents it."""

DsaPublicKeyHandle = NewType("DsaPublicKeyHandle", object)
"""A DSA public key as the backend represents it."""

DsaKeyHandle = DsaPrivateKeyHandle | DsaPublicKeyHandle
"""Either half of a DSA key pair."""


@dataclass(frozen=True)
class DsaParameters:
    """DSA domain parameters (FIPS 186-4 s4.3): prime p, subprime q, generator g."""

    p: int
    q: int
    g: int


@runtime_checkable
class DsaPort(Protocol):
    """DSA domain parameters, keys, signatures over a hash value, and their encodings."""

    def dsa_generate_parameters(self, prime_bits: int, subprime_bits: int) -> DsaParameters:
        """New domain parameters with an L-bit p and an N-bit q (FIPS 186-4 A.1, A.2);
        KeySizeRange for a pair the backend cannot make."""
        ...

    def dsa_private_from_numbers(self, params: DsaParameters, x: int) -> DsaPrivateKeyHandle:
        """The private key x (1 <= x < q) over ``params``; AttributeValueInvalid if the
        parameters or x are not valid."""
        ...

    def dsa_public_from_numbers(self, params: DsaParameters, y: int) -> DsaPublicKeyHandle:
        """The public key y over ``params``; AttributeValueInvalid if invalid."""
        ...

    def dsa_sign_hash(self, key: DsaPrivateKeyHandle, hash_value: bytes) -> tuple[int, int]:
        """(r, s) over a hash value of 20, 28, 32, 48 or 64 bytes (the leftmost N bits are
        used, FIPS 186-4 s4.6); DataLenRange for another length."""
        ...

    def dsa_verify_hash(self, key: DsaKeyHandle, r: int, s: int, hash_value: bytes) -> None:
        """Raises SignatureInvalid unless (r, s) is valid for ``hash_value``."""
        ...

    def dsa_public_key_info(self, key: DsaKeyHandle) -> bytes:
        """The DER SubjectPublicKeyInfo (RFC 3279 s2.3.2) of the key's public half."""
        ...

    def dsa_pkcs8_encode(self, key: DsaPrivateKeyHandle) -> bytes:
        """An unencrypted DER PKCS #8 PrivateKeyInfo (RFC 5208) of a DSA private key."""
        ...

    def dsa_pkcs8_decode(self, der: bytes) -> tuple[DsaParameters, int] | None:
        """(parameters, x) of a DER PKCS #8 DSA private key; None if ``der`` is not one."""
        ...
