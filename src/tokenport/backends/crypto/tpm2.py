"""The ``tpm2`` crypto port: the pyca port plus private keys held in a TPM 2.0.

Configuration (``[crypto] backend = "tpm2"``, or ``port = "tpm2"``)::

    [crypto.tpm2]
    tcti = "device:/dev/tpmrm0"   # the TCTI string of tpm2-tools (swtpm:..., tabrmd:...)
    owner_auth = ""                # the owner hierarchy's authorization (TPM2_CreatePrimary)
    auth_session = "hmac"          # "hmac": salted HMAC sessions (keys' auth never on the
                                   # bus); "password": faster, auth in clear on the bus

It is a composition, not a copy: every call goes to the pyca port (``software``) except the
private-key calls on a TPM-held key handle (``tpm2_keys.TpmKey``), which go to the TPM
(``Tpm2Keys``, offered to the mechanisms as ``hardware``, a HardwareKeyPort). Public-key
calls on a TPM-held handle (its point, its modulus, verification, encryption, its
SubjectPublicKeyInfo) run in software on the public part; calls that would reveal private
values (``ec_private_scalar``, ``rsa_private_numbers``, ``pkcs8_encode``) raise
KeyUnextractable. Hashing, MACs, symmetric ciphers, key derivation functions and every key
type the TPM does not hold (Ed25519, Ed448, X25519, X448, P-521 and the other curves,
RSA other than 2048 / 3072 bits, DSA, DH, ML-DSA, ML-KEM, secret keys) stay in software.

The TPM is opened at its first use (the first TPM key generated, imported or used): a
missing or unreachable TPM gives CKR_DEVICE_ERROR there, and software keys keep working.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from tokenport.backends.crypto.tpm2_keys import AUTH_SESSIONS, Tpm2Keys, TpmKey, refuse_export
from tokenport.backends.tpm.connection import DEFAULT_TCTI, TpmConnection
from tokenport.errors import KeyTypeInconsistent
from tokenport.ports.crypto import (
    AnyKeyHandle,
    CryptoBackend,
    EcKeyHandle,
    EcPrivateKeyHandle,
    EcPublicKeyHandle,
    HashName,
    PrivateKeyHandle,
    RsaKeyHandle,
    RsaPrivateKeyHandle,
    RsaPrivateNumbers,
)

OPTIONS = ("tcti", "owner_auth", "auth_session")


def _tpm(key: object, kind: str) -> TpmKey | None:
    if isinstance(key, TpmKey):
        if key.kind != kind:
            raise KeyTypeInconsistent(f"the TPM-held key is not an {kind.upper()} key")
        return key
    return None


class Tpm2Crypto:
    """A CryptoBackend: the software port, with TPM-held private keys routed to the TPM."""

    def __init__(self, software: CryptoBackend, keys: Tpm2Keys) -> None:
        self.software = software
        self.hardware = keys

    def __repr__(self) -> str:
        return f"<Tpm2Crypto {self.hardware!r}>"

    def close(self) -> None:
        """C_Finalize: close the TPM connection (the next use opens a new one and loads the
        primary key again), so that a resource manager's per-client limits are never reached
        by a process that initializes and finalizes many times."""
        self.hardware.close()

    def __getattr__(self, name: str) -> Any:
        """Every call this class does not define is the software port's."""
        if name.startswith("__") or name in ("software", "hardware"):
            raise AttributeError(name)
        value = getattr(self.software, name)
        setattr(self, name, value)  # later reads skip __getattr__
        return value

    # -- public halves of TPM-held keys, in software ------------------------------------------

    def _public(self, key: Any) -> Any:
        """The software public key of a TPM-held handle (cached on it); other handles as
        they are."""
        if not isinstance(key, TpmKey):
            return key
        if key.public is None:
            if key.kind == "ec":
                assert key.curve is not None
                key.public = self.software.ec_public_from_point(key.curve, key.point)
            else:
                key.public = self.software.rsa_public_from_numbers(key.n, key.e)
        return key.public

    def ec_public_point(self, key: EcKeyHandle) -> bytes:
        tpm = _tpm(key, "ec")
        return tpm.point if tpm is not None else self.software.ec_public_point(key)

    def ecdsa_verify_hash(self, key: EcKeyHandle, r: int, s: int, hash_value: bytes) -> None:
        self.software.ecdsa_verify_hash(self._public(key), r, s, hash_value)

    def rsa_public_numbers(self, key: RsaKeyHandle) -> tuple[int, int]:
        tpm = _tpm(key, "rsa")
        return (tpm.n, tpm.e) if tpm is not None else self.software.rsa_public_numbers(key)

    def rsa_verify_pkcs1v15(
        self, key: RsaKeyHandle, signature: bytes, alg: HashName, digest: bytes
    ) -> None:
        self.software.rsa_verify_pkcs1v15(self._public(key), signature, alg, digest)

    def rsa_verify_pss(
        self, key: RsaKeyHandle, signature: bytes, alg: HashName, digest: bytes,
        mgf_alg: HashName, salt_len: int,
    ) -> None:
        self.software.rsa_verify_pss(self._public(key), signature, alg, digest, mgf_alg, salt_len)

    def rsa_encrypt_pkcs1v15(self, key: RsaKeyHandle, data: bytes) -> bytes:
        return self.software.rsa_encrypt_pkcs1v15(self._public(key), data)

    def rsa_encrypt_oaep(
        self, key: RsaKeyHandle, data: bytes, alg: HashName, mgf_alg: HashName, label: bytes
    ) -> bytes:
        return self.software.rsa_encrypt_oaep(self._public(key), data, alg, mgf_alg, label)

    def rsa_public_raw(self, key: RsaKeyHandle, block: bytes) -> bytes:
        return self.software.rsa_public_raw(self._public(key), block)

    def public_key_info(self, key: AnyKeyHandle) -> bytes:
        return self.software.public_key_info(self._public(key))

    # -- private values never leave ----------------------------------------------------------

    def ec_private_scalar(self, key: EcPrivateKeyHandle) -> int:
        if isinstance(key, TpmKey):
            raise refuse_export("scalar")
        return self.software.ec_private_scalar(key)

    def rsa_private_numbers(self, key: RsaPrivateKeyHandle) -> RsaPrivateNumbers:
        if isinstance(key, TpmKey):
            raise refuse_export("numbers")
        return self.software.rsa_private_numbers(key)

    def pkcs8_encode(self, key: PrivateKeyHandle) -> bytes:
        if isinstance(key, TpmKey):
            raise refuse_export("key")
        return self.software.pkcs8_encode(key)

    # -- private-key operations: in the TPM for TPM-held keys ---------------------------------

    def ecdsa_sign_hash(self, key: EcPrivateKeyHandle, hash_value: bytes) -> tuple[int, int]:
        tpm = _tpm(key, "ec")
        if tpm is None:
            return self.software.ecdsa_sign_hash(key, hash_value)
        return self.hardware.ecdsa_sign_hash(tpm, hash_value)

    def ecdh(self, private_key: EcPrivateKeyHandle, peer_public_key: EcPublicKeyHandle) -> bytes:
        tpm = _tpm(private_key, "ec")
        if tpm is None:
            return self.software.ecdh(private_key, peer_public_key)
        return self.hardware.ecdh(tpm, self.software.ec_public_point(peer_public_key))

    def rsa_sign_pkcs1v15(self, key: RsaPrivateKeyHandle, alg: HashName, digest: bytes) -> bytes:
        tpm = _tpm(key, "rsa")
        if tpm is None:
            return self.software.rsa_sign_pkcs1v15(key, alg, digest)
        return self.hardware.rsa_sign_pkcs1v15(tpm, alg, digest)

    def rsa_sign_pss(
        self, key: RsaPrivateKeyHandle, alg: HashName, digest: bytes, mgf_alg: HashName,
        salt_len: int,
    ) -> bytes:
        tpm = _tpm(key, "rsa")
        if tpm is None:
            return self.software.rsa_sign_pss(key, alg, digest, mgf_alg, salt_len)
        return self.hardware.rsa_sign_pss(tpm, alg, digest, mgf_alg, salt_len)

    def rsa_decrypt_pkcs1v15(self, key: RsaPrivateKeyHandle, data: bytes) -> bytes:
        tpm = _tpm(key, "rsa")
        if tpm is None:
            return self.software.rsa_decrypt_pkcs1v15(key, data)
        return self.hardware.rsa_decrypt_pkcs1v15(tpm, data)

    def rsa_decrypt_oaep(
        self, key: RsaPrivateKeyHandle, data: bytes, alg: HashName, mgf_alg: HashName,
        label: bytes,
    ) -> bytes:
        tpm = _tpm(key, "rsa")
        if tpm is None:
            return self.software.rsa_decrypt_oaep(key, data, alg, mgf_alg, label)
        return self.hardware.rsa_decrypt_oaep(tpm, data, alg, mgf_alg, label)

    def rsa_private_raw(self, key: RsaPrivateKeyHandle, block: bytes) -> bytes:
        tpm = _tpm(key, "rsa")
        if tpm is None:
            return self.software.rsa_private_raw(key, block)
        return self.hardware.rsa_private_raw(tpm, block)


def tpm2_crypto(tcti: str = DEFAULT_TCTI, owner_auth: bytes = b"",
                software: CryptoBackend | None = None, *,
                auth_session: str = "hmac") -> CryptoBackend:
    """A ``tpm2`` port on ``tcti`` (the TPM is reached at the first key operation)."""
    if software is None:
        from tokenport.backends.crypto.pyca import PycaCrypto

        software = cast("CryptoBackend", PycaCrypto())
    keys = Tpm2Keys(TpmConnection(tcti), owner_auth, auth_session=auth_session)
    return cast("CryptoBackend", Tpm2Crypto(software, keys))


def from_config(options: Mapping[str, Any]) -> CryptoBackend:
    """The ``tpm2`` crypto port from its ``[crypto.tpm2]`` table (ValueError, one line, for
    an unknown key or a bad value)."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} (allowed: {', '.join(OPTIONS)})")
    tcti = options.get("tcti", DEFAULT_TCTI)
    owner_auth = options.get("owner_auth", "")
    if not isinstance(owner_auth, str):
        raise TypeError("owner_auth must be a string")
    auth_session = options.get("auth_session", "hmac")
    if auth_session not in AUTH_SESSIONS:
        raise ValueError(f"auth_session must be one of {', '.join(map(repr, AUTH_SESSIONS))}")
    try:
        import tpm2_pytss  # noqa: F401
    except ImportError:
        raise ValueError(
            "the tpm2 port needs tpm2-pytss (pip install 'tokenport[tpm2]')") from None
    return tpm2_crypto(tcti, owner_auth.encode("utf-8"), auth_session=auth_session)
