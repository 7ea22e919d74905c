"""Mechanism parameters as Python values (PKCS #11 v2.40 Current Mechanisms, per mechanism).

The C ABI decodes CK_MECHANISM.pParameter into one of these according to PARAM_KINDS; the
Python API builds them directly. Mechanisms absent from PARAM_KINDS take no parameter
(NONE) unless they are listed as taking raw bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tokenport.ck import CKM


@dataclass(frozen=True)
class GcmParams:
    """CK_GCM_PARAMS (s2.13): IV, additional authenticated data and tag length in bits.

    The C structure's ulIvBits is not kept: the ABI checks it against ulIvLen and refuses a
    contradiction, so the IV length here is always len(iv).
    """

    iv: bytes
    aad: bytes = b""
    tag_bits: int = 128


@dataclass(frozen=True)
class CtrParams:
    """CK_AES_CTR_PARAMS: number of counter bits and the 16-byte initial counter block."""

    counter_bits: int
    counter_block: bytes


@dataclass(frozen=True)
class PssParams:
    """CK_RSA_PKCS_PSS_PARAMS: hash mechanism (CKM_SHA*), MGF (CKG_MGF1_*) and salt length."""

    hash_alg: int
    mgf: int
    salt_len: int


@dataclass(frozen=True)
class OaepParams:
    """CK_RSA_PKCS_OAEP_PARAMS: hash mechanism, MGF, source (CKZ_DATA_SPECIFIED) and label."""

    hash_alg: int
    mgf: int
    source: int = 1
    source_data: bytes = b""


@dataclass(frozen=True)
class Ecdh1DeriveParams:
    """CK_ECDH1_DERIVE_PARAMS: KDF (CKD_*), shared data, and the peer's public value."""

    kdf: int
    shared_data: bytes
    public_data: bytes


@dataclass(frozen=True)
class EddsaParams:
    """CK_EDDSA_PARAMS (3.0 s2.3.14): pre-hash flag and context data.

    Its mere presence selects Ed25519ctx (prehash False) or Ed25519ph (prehash True), even
    with an empty context; pure Ed25519 is the mechanism without a parameter (None).
    """

    prehash: bool
    context: bytes = b""


@dataclass(frozen=True)
class CcmParams:
    """CK_CCM_PARAMS (v3.0 Current Mechanisms, AES-CCM): the message length (ulDataLen, which
    CCM needs before it starts), nonce, additional data and MAC length in bytes."""

    data_len: int
    nonce: bytes
    aad: bytes = b""
    mac_len: int = 16


@dataclass(frozen=True)
class ChaChaPolyParams:
    """CK_SALSA20_CHACHA20_POLY1305_PARAMS (v3.0 Current Mechanisms): nonce and additional
    data."""

    nonce: bytes
    aad: bytes = b""


Params = (
    None | bytes | GcmParams | CtrParams | PssParams | OaepParams | Ecdh1DeriveParams
    | EddsaParams | CcmParams | ChaChaPolyParams
)
"""Any decoded mechanism parameter."""


@dataclass(frozen=True)
class Mechanism:
    """CK_MECHANISM: a mechanism type with its decoded parameter."""

    type: int
    param: Params = None


class ParamKind(Enum):
    """The C structure behind pParameter, which tells the ABI how to decode it."""

    NONE = "none"          # no parameter expected: NULL gives None, anything else raw bytes
                           # (the mechanism rejects it with CKR_MECHANISM_PARAM_INVALID)
    BYTES = "bytes"        # raw bytes (an IV for CBC, optional bytes elsewhere)
    GCM = "gcm"            # CK_GCM_PARAMS (with or without the ulIvBits field)
    CTR = "ctr"            # CK_AES_CTR_PARAMS
    PSS = "pss"            # CK_RSA_PKCS_PSS_PARAMS
    OAEP = "oaep"          # CK_RSA_PKCS_OAEP_PARAMS
    ECDH1 = "ecdh1"        # CK_ECDH1_DERIVE_PARAMS
    EDDSA = "eddsa"        # optional CK_EDDSA_PARAMS (NULL with length 0: no parameter)
    CCM = "ccm"            # CK_CCM_PARAMS
    CHACHA_POLY = "chacha_poly"  # CK_SALSA20_CHACHA20_POLY1305_PARAMS


PARAM_KINDS: dict[int, ParamKind] = {
    CKM.AES_CBC: ParamKind.BYTES,
    CKM.AES_CBC_PAD: ParamKind.BYTES,
    CKM.AES_KEY_WRAP: ParamKind.BYTES,
    CKM.AES_KEY_WRAP_PAD: ParamKind.BYTES,
    CKM.AES_GCM: ParamKind.GCM,
    CKM.AES_CTR: ParamKind.CTR,
    CKM.RSA_PKCS_PSS: ParamKind.PSS,
    CKM.SHA1_RSA_PKCS_PSS: ParamKind.PSS,
    CKM.SHA224_RSA_PKCS_PSS: ParamKind.PSS,
    CKM.SHA256_RSA_PKCS_PSS: ParamKind.PSS,
    CKM.SHA384_RSA_PKCS_PSS: ParamKind.PSS,
    CKM.SHA512_RSA_PKCS_PSS: ParamKind.PSS,
    CKM.RSA_PKCS_OAEP: ParamKind.OAEP,
    CKM.ECDH1_DERIVE: ParamKind.ECDH1,
    CKM.EDDSA: ParamKind.EDDSA,
    CKM.AES_CCM: ParamKind.CCM,
    CKM.CHACHA20_POLY1305: ParamKind.CHACHA_POLY,
}


def param_kind(mechanism_type: int) -> ParamKind:
    """How the parameter of ``mechanism_type`` is encoded in C."""
    return PARAM_KINDS.get(mechanism_type, ParamKind.NONE)
