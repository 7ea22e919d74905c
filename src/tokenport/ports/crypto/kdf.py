"""KDF family of the crypto port: HKDF (RFC 5869) for CKM_HKDF_DERIVE / CKM_HKDF_DATA and
PBKDF2 with any HMAC (RFC 8018 s5.2) for CKM_PKCS5_PBKD2 (PKCS #11 v3.0; 3.2 s6.62 and
s6.37)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from tokenport.ports.crypto.types import HashName


@runtime_checkable
class KdfPort(Protocol):
    """Key derivation primitives; the mechanism checks lengths and parameters first."""

    def hkdf_extract(self, alg: HashName, salt: bytes, ikm: bytes) -> bytes:
        """HKDF-Extract (RFC 5869 s2.2): PRK = HMAC-Hash(salt, IKM), digest-length bytes."""
        ...

    def hkdf_expand(self, alg: HashName, prk: bytes, info: bytes, length: int) -> bytes:
        """HKDF-Expand (RFC 5869 s2.3): ``length`` (1 .. 255 * digest length) bytes of OKM."""
        ...

    def pbkdf2_hmac(
        self, alg: HashName, password: bytes, salt: bytes, iterations: int, length: int
    ) -> bytes:
        """PBKDF2 (RFC 8018 s5.2) with HMAC-``alg`` as the PRF; iterations >= 1."""
        ...
