"""Key derivation by data encryption and the simple concatenation derivations.

PKCS #11 v2.40 Current Mechanisms s2.17 "Key derivation by data encryption - DES & AES"
(CKM_DES_ECB_ENCRYPT_DATA, CKM_DES_CBC_ENCRYPT_DATA, CKM_DES3_ECB_ENCRYPT_DATA,
CKM_DES3_CBC_ENCRYPT_DATA, CKM_AES_ECB_ENCRYPT_DATA, CKM_AES_CBC_ENCRYPT_DATA): the derived
key's value is the encryption of the parameter's data under the base key, without padding
(the data is a non-empty multiple of the block size, else CKR_MECHANISM_PARAM_INVALID; the
ECB forms take CK_KEY_DERIVATION_STRING_DATA, the CBC forms CK_DES_CBC_ENCRYPT_DATA_PARAMS /
CK_AES_CBC_ENCRYPT_DATA_PARAMS with an 8- or 16-byte IV). Ciphertext too short for the
requested key is CKR_DATA_LEN_RANGE, as that section says.

"Miscellaneous simple key derivation mechanisms": CKM_CONCATENATE_BASE_AND_KEY (base
value || the value of the key whose handle is the parameter), CKM_CONCATENATE_BASE_AND_DATA
(base || data) and CKM_CONCATENATE_DATA_AND_BASE (data || base). Too short an output for the
requested key is CKR_TEMPLATE_INCONSISTENT.

Length of the derived key (both sections): CKA_VALUE_LEN when the template gives it, else
the fixed length of the key type (DES 8, DES2 16, DES3 24: the core passes it), else the
whole output; the key value is the *leading* bytes of the output (the trailing ones are
dropped). A DES key derived this way gets its parity bits set (mechanisms.des.des_key_value),
as the concatenation section requires.

Protection (the concatenation section's rules for CKA_SENSITIVE / CKA_EXTRACTABLE /
CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE, which tokenport applies to every mechanism
here): a derived key is never less protected than any of its base keys. Its value is a
function of the base key value and caller-chosen data (CONCATENATE_BASE_AND_DATA with empty
data *is* the base key). The spec says the derived key of a sensitive base "is" sensitive and
of a non-extractable base "is" not extractable; tokenport refuses a template that asks for
the opposite with CKR_TEMPLATE_INCONSISTENT rather than silently overriding it
(``check_protection``; the core calls it for every spec with ``derive_keeps_protection``);
left out, they default to the strong values (sensitive, not extractable).
CKA_ALWAYS_SENSITIVE is TRUE only if the new key is sensitive and every base key was always
sensitive; CKA_NEVER_EXTRACTABLE likewise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO
from tokenport.errors import DataLenRange, MechanismParamInvalid, PKCS11Error, TemplateInconsistent
from tokenport.mechanisms.aes import BLOCK as AES_BLOCK
from tokenport.mechanisms.aes import aes_key
from tokenport.mechanisms.base import (
    DeriveFunction,
    KeyView,
    MechanismContext,
    MechanismRegistry,
    MechanismSpec,
)
from tokenport.mechanisms.common import check_key, check_size, secret_value
from tokenport.mechanisms.des import DES_BLOCK, des_key
from tokenport.mechanisms.params import CbcEncryptDataParams, KeyValueParam, Params
from tokenport.ports.crypto import StreamCipher

MISC = "PKCS #11 v2.40 Current Mechanisms, miscellaneous simple key derivation: concatenation"
MIN_BASE_BYTES = 1
MAX_BASE_BYTES = 512
CONCATENATE_KEY_TYPES = frozenset(
    int(k)
    for k in (
        CKK.GENERIC_SECRET, CKK.AES, CKK.DES, CKK.DES2, CKK.DES3, CKK.SHA_1_HMAC,
        CKK.SHA224_HMAC, CKK.SHA256_HMAC, CKK.SHA384_HMAC, CKK.SHA512_HMAC,
    )
)
_AES = frozenset({int(CKK.AES)})
_DES = frozenset({int(CKK.DES)})
_DES3 = frozenset({int(CKK.DES2), int(CKK.DES3)})


def check_protection(template: Mapping[int, AttrValue], bases: Iterable[Mapping[int, AttrValue]]) -> None:
    """Refuse a derived key template weaker than a base key (TemplateInconsistent)."""
    for base in bases:
        if base.get(CKA.SENSITIVE) is True and template.get(CKA.SENSITIVE) is False:
            raise TemplateInconsistent("a key derived from a sensitive key must be sensitive")
        if base.get(CKA.EXTRACTABLE) is not True and template.get(CKA.EXTRACTABLE) is True:
            raise TemplateInconsistent(
                "a key derived from a non-extractable key must not be extractable"
            )


def _take(output: bytes, length: int | None,
          short: type[PKCS11Error] = TemplateInconsistent) -> bytes:
    """The leading ``length`` bytes of the output (all of it without a length); ``short``
    when the output is shorter than that (DataLenRange for derivation by encryption)."""
    if length is None:
        return output
    if not 0 < length <= len(output):
        raise short("the mechanism's output is shorter than the key length")
    return output[:length]


def _blocks(data: bytes, block: int) -> bytes:
    if not data or len(data) % block:
        raise MechanismParamInvalid("the data must be a non-empty multiple of the block size")
    return data


def _encrypt_all(stream: StreamCipher, data: bytes) -> bytes:
    return stream.update(data) + stream.finalize()


def _aes_ecb(ctx: MechanismContext, key: KeyView, param: Params, length: int | None) -> bytes:
    value = aes_key(key)
    if not isinstance(param, bytes):
        raise MechanismParamInvalid("CK_KEY_DERIVATION_STRING_DATA expected")
    data = _blocks(param, AES_BLOCK)
    return _take(_encrypt_all(ctx.crypto.aes_ecb(value, True), data), length, DataLenRange)


def _cbc_params(param: Params, block: int) -> CbcEncryptDataParams:
    if not isinstance(param, CbcEncryptDataParams) or len(param.iv) != block:
        raise MechanismParamInvalid("CBC_ENCRYPT_DATA needs its IV and data structure")
    _blocks(param.data, block)
    return param


def _aes_cbc(ctx: MechanismContext, key: KeyView, param: Params, length: int | None) -> bytes:
    value = aes_key(key)
    params = _cbc_params(param, AES_BLOCK)
    stream = ctx.crypto.aes_cbc(value, params.iv, True)
    return _take(_encrypt_all(stream, params.data), length, DataLenRange)


def _des_ecb(key_types: frozenset[int]) -> DeriveFunction:
    def derive(ctx: MechanismContext, key: KeyView, param: Params, length: int | None) -> bytes:
        value = des_key(key, key_types)
        if not isinstance(param, bytes):
            raise MechanismParamInvalid("CK_KEY_DERIVATION_STRING_DATA expected")
        data = _blocks(param, DES_BLOCK)
        return _take(_encrypt_all(ctx.crypto.des_ecb(value, True), data), length, DataLenRange)

    return derive


def _des_cbc(key_types: frozenset[int]) -> DeriveFunction:
    def derive(ctx: MechanismContext, key: KeyView, param: Params, length: int | None) -> bytes:
        value = des_key(key, key_types)
        params = _cbc_params(param, DES_BLOCK)
        stream = ctx.crypto.des_cbc(value, params.iv, True)
        return _take(_encrypt_all(stream, params.data), length, DataLenRange)

    return derive


def _base_value(key: KeyView) -> bytes:
    check_key(key, CKO.SECRET_KEY, CONCATENATE_KEY_TYPES)
    value = secret_value(key)
    check_size(len(value), MIN_BASE_BYTES, MAX_BASE_BYTES)
    return value


def _base_and_key(ctx: MechanismContext, key: KeyView, param: Params, length: int | None) -> bytes:
    base = _base_value(key)
    if not isinstance(param, KeyValueParam):
        raise MechanismParamInvalid("CONCATENATE_BASE_AND_KEY needs a key handle")
    check_size(len(param.value), MIN_BASE_BYTES, MAX_BASE_BYTES)
    return _take(base + param.value, length)


def _base_and_data(ctx: MechanismContext, key: KeyView, param: Params, length: int | None) -> bytes:
    base = _base_value(key)
    if not isinstance(param, bytes):
        raise MechanismParamInvalid("CK_KEY_DERIVATION_STRING_DATA expected")
    return _take(base + param, length)


def _data_and_base(ctx: MechanismContext, key: KeyView, param: Params, length: int | None) -> bytes:
    base = _base_value(key)
    if not isinstance(param, bytes):
        raise MechanismParamInvalid("CK_KEY_DERIVATION_STRING_DATA expected")
    return _take(param + base, length)


def register(registry: MechanismRegistry) -> None:
    """Add the derivation-by-encryption and concatenation mechanisms (key sizes in bytes)."""
    by_encryption = "PKCS #11 v2.40 Current Mechanisms s2.17"
    table: tuple[tuple[int, int, int, frozenset[int], DeriveFunction, str], ...] = (
        (CKM.AES_ECB_ENCRYPT_DATA, 16, 32, _AES, _aes_ecb, by_encryption + "; FIPS 197"),
        (CKM.AES_CBC_ENCRYPT_DATA, 16, 32, _AES, _aes_cbc, by_encryption + "; FIPS 197"),
        (CKM.DES_ECB_ENCRYPT_DATA, 8, 8, _DES, _des_ecb(_DES), by_encryption + "; FIPS 46-3"),
        (CKM.DES_CBC_ENCRYPT_DATA, 8, 8, _DES, _des_cbc(_DES), by_encryption + "; FIPS 46-3"),
        (CKM.DES3_ECB_ENCRYPT_DATA, 16, 24, _DES3, _des_ecb(_DES3),
         by_encryption + "; NIST SP 800-67"),
        (CKM.DES3_CBC_ENCRYPT_DATA, 16, 24, _DES3, _des_cbc(_DES3),
         by_encryption + "; NIST SP 800-67"),
        (CKM.CONCATENATE_BASE_AND_KEY, MIN_BASE_BYTES, MAX_BASE_BYTES, CONCATENATE_KEY_TYPES,
         _base_and_key, MISC + " (base and key)"),
        (CKM.CONCATENATE_BASE_AND_DATA, MIN_BASE_BYTES, MAX_BASE_BYTES, CONCATENATE_KEY_TYPES,
         _base_and_data, MISC + " (base and data)"),
        (CKM.CONCATENATE_DATA_AND_BASE, MIN_BASE_BYTES, MAX_BASE_BYTES, CONCATENATE_KEY_TYPES,
         _data_and_base, MISC + " (data and base)"),
    )
    for mech, low, high, types, derive, std in table:
        registry.add(
            MechanismSpec(
                mech, low, high, CKF.DERIVE, key_types=types, derive=derive,
                derive_keeps_protection=True, standard=std,
            )
        )
