"""Mechanism parameters as Python values (PKCS #11 v2.40 Current Mechanisms, per mechanism).

The C ABI decodes CK_MECHANISM.pParameter into one of these according to PARAM_KINDS; the
Python API builds them directly. Mechanisms absent from PARAM_KINDS take no parameter
(NONE) unless they are listed as taking raw bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from tokenport.ck import CKM, CKGen


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
class SignAdditionalContext:
    """CK_SIGN_ADDITIONAL_CONTEXT (PKCS #11 v3.2 s6.67): hedgeVariant (CKH_HEDGE_*) and the
    FIPS 204 context string (at most 255 bytes; the mechanism checks)."""

    hedge: int = 0
    context: bytes = b""


@dataclass(frozen=True)
class MacGeneralParams:
    """CK_MAC_GENERAL_PARAMS (v2.40 Current Mechanisms s2.10 / s2.19): the MAC length in bytes
    the caller wants from a *_MAC_GENERAL / *_CMAC_GENERAL mechanism."""

    mac_len: int


@dataclass(frozen=True)
class CbcEncryptDataParams:
    """CK_DES_CBC_ENCRYPT_DATA_PARAMS / CK_AES_CBC_ENCRYPT_DATA_PARAMS (v2.40 Current Mechanisms
    s2.17 "Key derivation by data encryption"): the IV (8 or 16 bytes) and the data to encrypt."""

    iv: bytes
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class KeyHandleParam:
    """The CK_OBJECT_HANDLE parameter of CKM_CONCATENATE_BASE_AND_KEY (v2.40 Current Mechanisms,
    concatenation of a base key and another key): the second key. The core resolves it into
    ``KeyValueParam`` before the mechanism runs."""

    handle: int


@dataclass(frozen=True)
class KeyValueParam:
    """The second key of CKM_CONCATENATE_BASE_AND_KEY once the core has resolved the handle
    (checked the session may use it): its CKA_VALUE (never shown in a repr)."""

    value: bytes = field(repr=False)


@dataclass(frozen=True)
class HkdfParams:
    """CK_HKDF_PARAMS (PKCS #11 v3.0; 3.2 s6.62.2): extract and/or expand, the PRF hash
    (a CKM_SHA* digest mechanism), the salt (CKF_HKDF_SALT_NULL, _DATA with ``salt``, or
    _KEY with the object handle ``salt_key``) and the expand stage's info string."""

    extract: bool
    expand: bool
    prf: int
    salt_type: int
    salt: bytes = b""
    salt_key: int = 0
    info: bytes = b""


@dataclass(frozen=True)
class Pbkdf2Params:
    """CK_PKCS5_PBKD2_PARAMS2 (PKCS #11 v3.0; 3.2 s6.37.3), also decoded from the v2.40
    CK_PKCS5_PBKD2_PARAMS whose ulPasswordLen is a pointer: salt source (CKZ_SALT_SPECIFIED)
    and salt, iteration count, PRF (CKP_PKCS5_PBKD2_*) and its extra data, and the password.
    The password is a secret: it never appears in a repr."""

    salt_source: int
    salt: bytes
    iterations: int
    prf: int
    password: bytes = field(repr=False)
    prf_data: bytes = b""


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


POLY1305_TAG_BYTES = 16
"""The tag length of ChaCha20-Poly1305 (RFC 8439), fixed."""


@dataclass(frozen=True)
class MessageParams:
    """One message's parameter, whichever of the three structures it came in.

    ``nonce``: the caller's IV / nonce buffer (its length is the IV length); ``fixed_bits``
    and ``generator``: ulIvFixedBits / ulNonceFixedBits and ivGenerator / nonceGenerator
    (0 and CKG_NO_GENERATE for ChaCha20-Poly1305); ``tag_len``: in bytes; ``tag``: the tag
    to check (decryption); ``data_len``: CK_CCM_MESSAGE_PARAMS.ulDataLen (None otherwise).
    """

    nonce: bytes
    tag_len: int
    fixed_bits: int = 0
    generator: int = CKGen.NO_GENERATE
    tag: bytes = b""
    data_len: int | None = None


Params = (
    None | bytes | GcmParams | CtrParams | PssParams | OaepParams | Ecdh1DeriveParams | EddsaParams
    | SignAdditionalContext | MacGeneralParams | CbcEncryptDataParams | KeyHandleParam
    | KeyValueParam | HkdfParams | Pbkdf2Params | CcmParams | ChaChaPolyParams
)
"""Any decoded mechanism parameter. CK_KEY_DERIVATION_STRING_DATA (the *_ECB_ENCRYPT_DATA and
CONCATENATE_*_DATA mechanisms) decodes to its bytes."""


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
    SIGN_CONTEXT = "sign_context"  # optional CK_SIGN_ADDITIONAL_CONTEXT (v3.2; NULL: none)
    MAC_GENERAL = "mac_general"    # CK_MAC_GENERAL_PARAMS (a CK_ULONG)
    STRING_DATA = "string_data"    # CK_KEY_DERIVATION_STRING_DATA -> bytes
    DES_CBC_DATA = "des_cbc_data"  # CK_DES_CBC_ENCRYPT_DATA_PARAMS
    AES_CBC_DATA = "aes_cbc_data"  # CK_AES_CBC_ENCRYPT_DATA_PARAMS
    OBJECT_HANDLE = "object_handle"  # a CK_OBJECT_HANDLE (CONCATENATE_BASE_AND_KEY)
    HKDF = "hkdf"          # CK_HKDF_PARAMS
    PBKD2 = "pbkd2"        # CK_PKCS5_PBKD2_PARAMS2 or the v2.40 CK_PKCS5_PBKD2_PARAMS
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
    CKM.ECDH1_COFACTOR_DERIVE: ParamKind.ECDH1,
    CKM.EDDSA: ParamKind.EDDSA,
    CKM.ML_DSA: ParamKind.SIGN_CONTEXT,
    CKM.DH_PKCS_DERIVE: ParamKind.BYTES,  # the other party's public value (v2.40 Current Mechanisms s2.4)
    CKM.DES_CBC: ParamKind.BYTES,
    CKM.DES_CBC_PAD: ParamKind.BYTES,
    CKM.DES3_CBC: ParamKind.BYTES,
    CKM.DES3_CBC_PAD: ParamKind.BYTES,
    CKM.DES3_CMAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.DES_MAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.DES3_MAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.AES_MAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.AES_ECB_ENCRYPT_DATA: ParamKind.STRING_DATA,
    CKM.DES_ECB_ENCRYPT_DATA: ParamKind.STRING_DATA,
    CKM.DES3_ECB_ENCRYPT_DATA: ParamKind.STRING_DATA,
    CKM.CONCATENATE_BASE_AND_DATA: ParamKind.STRING_DATA,
    CKM.CONCATENATE_DATA_AND_BASE: ParamKind.STRING_DATA,
    CKM.AES_CBC_ENCRYPT_DATA: ParamKind.AES_CBC_DATA,
    CKM.DES_CBC_ENCRYPT_DATA: ParamKind.DES_CBC_DATA,
    CKM.DES3_CBC_ENCRYPT_DATA: ParamKind.DES_CBC_DATA,
    CKM.CONCATENATE_BASE_AND_KEY: ParamKind.OBJECT_HANDLE,
    # SHA-3 RSA-PSS (PKCS #11 v3.0)
    CKM.SHA3_224_RSA_PKCS_PSS: ParamKind.PSS,
    CKM.SHA3_256_RSA_PKCS_PSS: ParamKind.PSS,
    CKM.SHA3_384_RSA_PKCS_PSS: ParamKind.PSS,
    CKM.SHA3_512_RSA_PKCS_PSS: ParamKind.PSS,
    # general-length HMACs
    CKM.SHA_1_HMAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.SHA224_HMAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.SHA256_HMAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.SHA384_HMAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.SHA512_HMAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.SHA512_224_HMAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.SHA512_256_HMAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.SHA3_224_HMAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.SHA3_256_HMAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.SHA3_384_HMAC_GENERAL: ParamKind.MAC_GENERAL,
    CKM.SHA3_512_HMAC_GENERAL: ParamKind.MAC_GENERAL,
    # key derivation (PKCS #11 v3.0)
    CKM.HKDF_DERIVE: ParamKind.HKDF,
    CKM.HKDF_DATA: ParamKind.HKDF,
    CKM.PKCS5_PBKD2: ParamKind.PBKD2,
    CKM.AES_CCM: ParamKind.CCM,
    CKM.CHACHA20_POLY1305: ParamKind.CHACHA_POLY,
}


def param_kind(mechanism_type: int) -> ParamKind:
    """How the parameter of ``mechanism_type`` is encoded in C."""
    return PARAM_KINDS.get(mechanism_type, ParamKind.NONE)
