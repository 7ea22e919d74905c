"""PKCS #3 Diffie-Hellman family of the crypto port (PKCS #11 v2.40 Current Mechanisms s2.4:
CKM_DH_PKCS_PARAMETER_GEN, CKM_DH_PKCS_KEY_PAIR_GEN, CKM_DH_PKCS_DERIVE; PKCS #3 v1.4).

Domain parameters travel as plain integers (``DhParameters``); private keys are opaque
handles; the other party's public value is an integer (the mechanism checks its range).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType, Protocol, runtime_checkable

DhPrivateKeyHandle = NewType("DhPrivateKeyHandle", object)
"""A Diffie-Hellman private key as the backend represents it."""


@dataclass(frozen=True)
class DhParameters:
    """PKCS #3 domain parameters: prime p and base g."""

    p: int
    g: int


@runtime_checkable
class DhPort(Protocol):
    """PKCS #3 Diffie-Hellman parameters, keys and key agreement."""

    def dh_generate_parameters(self, prime_bits: int, generator: int) -> DhParameters:
        """New parameters: a safe prime p of ``prime_bits`` bits with ``generator`` as g
        (slow: seconds for 2048 bits); KeySizeRange for a size the backend cannot make."""
        ...

    def dh_private_from_numbers(self, params: DhParameters, x: int) -> DhPrivateKeyHandle:
        """The private key x (1 < x < p - 1) over ``params``; AttributeValueInvalid if the
        parameters (p not a prime ...) or x are not valid."""
        ...

    def dh_agree(self, key: DhPrivateKeyHandle, peer_value: int) -> bytes:
        """The shared secret peer_value^x mod p as an octet string as long as p (PKCS #3
        s8.2); MechanismParamInvalid if the backend refuses the peer's value."""
        ...

    def dh_pkcs8_encode(self, key: DhPrivateKeyHandle) -> bytes:
        """An unencrypted DER PKCS #8 PrivateKeyInfo (PKCS #3 dhKeyAgreement) of a key."""
        ...

    def dh_pkcs8_decode(self, der: bytes) -> tuple[DhParameters, int] | None:
        """(parameters, x) of a DER PKCS #8 PKCS #3 DH private key; None if ``der`` is not one."""
        ...
