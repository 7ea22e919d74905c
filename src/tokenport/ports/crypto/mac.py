"""MAC family of the crypto port: HMAC (Current Mechanisms v2.40 s2.15-2.20, the
CKM_SHA*_HMAC mechanisms) and AES-CMAC (v2.40 Current Mechanisms s2.10, CKM_AES_CMAC)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from tokenport.ports.crypto.types import HashContext, HashName


@runtime_checkable
class MacPort(Protocol):
    """Running MAC computations (the mechanism truncates or compares the result)."""

    def hmac_new(self, alg: HashName, key: bytes) -> HashContext:
        """HMAC (RFC 2104) with hash ``alg``; KeySizeRange if the backend refuses the key."""
        ...

    def cmac_aes_new(self, key: bytes) -> HashContext:
        """AES-CMAC (NIST SP 800-38B); 16/24/32-byte key, 16-byte MAC."""
        ...
