"""Digest family of the crypto port: message digests (PKCS #11 v2.40 s5.10, Current
Mechanisms s2.15-2.20 for CKM_MD5 .. CKM_SHA512)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from tokenport.ports.crypto.types import HashContext, HashName


@runtime_checkable
class DigestPort(Protocol):
    """Hashes: a running context for C_DigestInit .. C_DigestFinal and hash-then-sign
    mechanisms, and a one-shot call for single-part C_Digest."""

    def hash_new(self, alg: HashName) -> HashContext:
        """A fresh hash context; MechanismInvalid for a hash the backend lacks."""
        ...

    def digest(self, alg: HashName, data: bytes) -> bytes:
        """The hash of ``data`` in one call (same result as hash_new + update + finalize)."""
        ...
