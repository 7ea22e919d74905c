"""DES and Triple-DES on pyca/cryptography's ``decrepit`` TripleDES (the crypto port's
``DesPort``; PKCS #11 v2.40 Current Mechanisms s2.18-2.19 and Historical Mechanisms (DES),
NIST SP 800-67, SP 800-38B).

pyca has no single DES; DES with key K is TDEA with K1 = K2 = K3 = K (EDE collapses to one
encryption), and two-key TDEA is K1 K2 K1. The keys are expanded to 24 bytes here so that
pyca never sees its deprecated 8- and 16-byte forms. Errors are translated with the pyca
backend's ``_translate`` (fixed messages, never key bytes).
"""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from tokenport import errors
from tokenport.ports.crypto import HashContext, StreamCipher

DES_BLOCK = 8


def _tdea(key: bytes) -> TripleDES:
    """The 24-byte TDEA key of a DES (8), two-key (16) or three-key (24) key."""
    if len(key) == 8:
        return TripleDES(key * 3)
    if len(key) == 16:
        return TripleDES(key + key[:8])
    if len(key) == 24:
        return TripleDES(key)
    raise errors.KeySizeRange("DES keys are 8, 16 or 24 bytes")


class PycaDes:
    """The DesPort half of PycaCrypto (mixed into it by backends.crypto.pyca)."""

    def des_ecb(self, key: bytes, encrypt: bool) -> StreamCipher:
        from tokenport.backends.crypto.pyca import _Stream

        cipher = Cipher(_tdea(key), modes.ECB())
        return _Stream(cipher.encryptor() if encrypt else cipher.decryptor())

    def des_cbc(self, key: bytes, iv: bytes, encrypt: bool) -> StreamCipher:
        from tokenport.backends.crypto.pyca import _Stream, _translate

        algorithm = _tdea(key)
        with _translate(errors.MechanismParamInvalid, "DES-CBC IV must be 8 bytes"):
            cipher = Cipher(algorithm, modes.CBC(iv))
        return _Stream(cipher.encryptor() if encrypt else cipher.decryptor())

    def cmac_des3_new(self, key: bytes) -> HashContext:
        from tokenport.backends.crypto.pyca import _Digest

        if len(key) not in (16, 24):
            raise errors.KeySizeRange("DES3-CMAC keys are 16 or 24 bytes")
        return _Digest(cmac.CMAC(_tdea(key)))
