"""DES and Triple-DES: key objects, key generation, ECB, CBC, CBC-PAD and DES3-CMAC.

PKCS #11 v2.40 Historical Mechanisms (DES: CKK_DES, CKM_DES_KEY_GEN, CKM_DES_ECB,
CKM_DES_CBC, CKM_DES_CBC_PAD); Current Mechanisms s2.18 (Triple-DES: CKK_DES2, CKK_DES3,
CKM_DES2_KEY_GEN, CKM_DES3_KEY_GEN, CKM_DES3_ECB, CKM_DES3_CBC, CKM_DES3_CBC_PAD) and s2.19
(CKM_DES3_CMAC, CKM_DES3_CMAC_GENERAL, NIST SP 800-38B). The ciphers are NIST SP 800-67 TDEA
(single DES is TDEA with K1 = K2 = K3). The block size is 8 bytes; key sizes in
CK_MECHANISM_INFO are in bytes (8 for DES, 16..24 for the DES3 mechanisms, which take CKK_DES2
and CKK_DES3 keys).

Key objects (Historical Mechanisms, DES; Current Mechanisms s2.18.1-2.18.2) carry a CKA_VALUE
of 8, 16 or 24 bytes. A value of another length, empty included, is
CKR_ATTRIBUTE_VALUE_INVALID; a missing one CKR_TEMPLATE_INCOMPLETE (both as SoftHSM). The
length is fixed by the key type, so no template needs CKA_VALUE_LEN; tokenport reports it
(read-only, as for every secret key), C_CreateObject refuses it (CKR_ATTRIBUTE_READ_ONLY, as
for every secret key), and a C_GenerateKey / C_UnwrapKey / C_DeriveKey template may give it
only with the fixed length (another value, 0 included: CKR_TEMPLATE_INCONSISTENT), so clients
that always send it (pkcs11-tool --key-type DES3:24) work.

Parity: the spec lets a token refuse a value with wrong parity bits or fix them; tokenport
*fixes* them: every DES key value that enters the token (C_CreateObject, C_UnwrapKey,
C_DeriveKey) is stored with odd parity in each byte (``des_key_value``). Parity bits take no
part in the cipher, so keys imported from elsewhere encrypt exactly as before, and CKA_VALUE
always reads back with odd parity. Generated keys have odd parity and are neither weak nor
semi-weak DES keys (FIPS 74, NIST SP 800-67 s3.3.2) in any of their 8-byte parts, and their
parts are distinct (no TDEA key that collapses to single DES; a DES3 key is three-key TDEA).

Wrap/unwrap: CKM_DES_CBC_PAD and CKM_DES3_CBC_PAD, as CKM_AES_CBC_PAD. The block-mode
machinery (length protocol, PKCS #7 padding) is mechanisms.aes's, with an 8-byte block.

CKM_DES_MAC, CKM_DES3_MAC (4-byte MACs, half the block) and their _GENERAL forms (1..8 bytes,
CK_MAC_GENERAL_PARAMS) are CBC-MAC with zero padding (FIPS PUB 113, aes.CbcMac); CKM_DES3_MAC
is python-pkcs11's default signing mechanism for DES2/DES3 keys.

Not offered: CFB/OFB modes.
"""

from __future__ import annotations

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO
from tokenport.errors import AttributeValueInvalid, MechanismParamInvalid, TemplateInconsistent
from tokenport.mechanisms.aes import BlockMode, CbcMac, CbcPadDecrypt, CbcPadEncrypt
from tokenport.mechanisms.base import (
    AttrMap,
    CipherFactory,
    KeyGenerator,
    KeyView,
    MechanismContext,
    MechanismRegistry,
    MechanismSpec,
    SignFactory,
    VerifyFactory,
)
from tokenport.mechanisms.common import (
    HashThenSign,
    HashThenVerify,
    check_key,
    check_size,
    compare_mac,
    no_param,
    secret_value,
    unwrap_with,
    wrap_with,
)
from tokenport.mechanisms.params import MacGeneralParams, Params

DES_BLOCK = 8
DES_KEY_LENGTHS: dict[int, int] = {int(CKK.DES): 8, int(CKK.DES2): 16, int(CKK.DES3): 24}
"""The fixed CKA_VALUE length of each DES key type (bytes)."""
_DES = frozenset({int(CKK.DES)})
_DES3 = frozenset({int(CKK.DES2), int(CKK.DES3)})

WEAK_KEYS = frozenset(
    bytes.fromhex(k)
    for k in (
        # weak keys (NIST SP 800-67 Rev. 2 s3.3.2)
        "0101010101010101", "fefefefefefefefe", "e0e0e0e0f1f1f1f1", "1f1f1f1f0e0e0e0e",
        # semi-weak key pairs
        "011f011f010e010e", "1f011f010e010e01", "01e001e001f101f1", "e001e001f101f101",
        "01fe01fe01fe01fe", "fe01fe01fe01fe01", "1fe01fe00ef10ef1", "e01fe01ff10ef10e",
        "1ffe1ffe0efe0efe", "fe1ffe1ffe0efe0e", "e0fee0fef1fef1fe", "fee0fee0fef1fef1",
    )
)
"""The 4 weak and 12 semi-weak DES keys, with odd parity."""


def _odd(byte: int) -> int:
    """``byte`` with its low (parity) bit set so that it has an odd number of ones."""
    high = byte & 0xFE
    return high | (high.bit_count() + 1) % 2


_ODD_PARITY = bytes(_odd(b) for b in range(256))


def set_odd_parity(value: bytes) -> bytes:
    """Each byte with its parity bit set for odd parity (the low bit of each byte is its parity
    bit: Historical Mechanisms, DES key objects)."""
    return value.translate(_ODD_PARITY)


def has_odd_parity(value: bytes) -> bool:
    return set_odd_parity(value) == value


def is_weak(value: bytes) -> bool:
    """Is any 8-byte part of a DES key weak or semi-weak (parity bits ignored)?"""
    fixed = set_odd_parity(value)
    return any(fixed[i : i + 8] in WEAK_KEYS for i in range(0, len(fixed), 8))


def des_key_value(key_type: int, value: bytes, value_len: AttrValue | None = None) -> dict[int, AttrValue]:
    """The attributes the token sets on a new CKK_DES / DES2 / DES3 key, at every door that
    brings key material in (create, generate, unwrap, derive): CKA_VALUE_LEN, and CKA_VALUE
    again when its parity bits had to be set (see the module docstring). A value of another
    length is AttributeValueInvalid; a template CKA_VALUE_LEN other than the fixed length
    TemplateInconsistent."""
    length = DES_KEY_LENGTHS[key_type]
    if value_len is not None and value_len != length:
        raise TemplateInconsistent("CKA_VALUE_LEN of a DES key is 8, of DES2 16, of DES3 24")
    if len(value) != length:
        raise AttributeValueInvalid("a DES key is 8 bytes, DES2 16 and DES3 24")
    fixed = set_odd_parity(value)
    out: dict[int, AttrValue] = {CKA.VALUE_LEN: length}
    if fixed != value:
        out[CKA.VALUE] = fixed
    return out


def _generator(key_type: int) -> KeyGenerator:
    length = DES_KEY_LENGTHS[key_type]

    def generate(ctx: MechanismContext, param: Params, template: AttrMap) -> dict[int, AttrValue]:
        """CKM_DES_KEY_GEN / DES2 / DES3: odd parity, no weak part, distinct parts."""
        no_param(param)
        given = template.get(CKA.VALUE_LEN)
        if given is not None and given != length:
            raise TemplateInconsistent("CKA_VALUE_LEN of a DES key is 8, of DES2 16, of DES3 24")
        while True:
            value = set_odd_parity(ctx.random_bytes(length))
            parts = [value[i : i + 8] for i in range(0, length, 8)]
            if is_weak(value) or len(set(parts)) != len(parts):
                continue
            return {CKA.VALUE: value, CKA.VALUE_LEN: length}

    return generate


def des_key(key: KeyView, key_types: frozenset[int]) -> bytes:
    """CKA_VALUE of a DES key of one of ``key_types`` (KeyTypeInconsistent / KeySizeRange)."""
    check_key(key, CKO.SECRET_KEY, key_types)
    value = secret_value(key)
    expected = DES_KEY_LENGTHS[key.key_type]
    check_size(len(value), expected, expected)
    return value


def _iv(param: Params) -> bytes:
    if not isinstance(param, bytes) or len(param) != DES_BLOCK:
        raise MechanismParamInvalid("DES-CBC needs an 8-byte IV")
    return param


def _ecb(key_types: frozenset[int], encrypt: bool) -> CipherFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> BlockMode:
        no_param(param)
        stream = ctx.crypto.des_ecb(des_key(key, key_types), encrypt)
        return BlockMode(stream, encrypt, DES_BLOCK)

    return factory


def _cbc(key_types: frozenset[int], encrypt: bool) -> CipherFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> BlockMode:
        value = des_key(key, key_types)
        return BlockMode(ctx.crypto.des_cbc(value, _iv(param), encrypt), encrypt, DES_BLOCK)

    return factory


def _cbc_pad_encrypt(key_types: frozenset[int]) -> CipherFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> CbcPadEncrypt:
        value = des_key(key, key_types)
        return CbcPadEncrypt(ctx.crypto.des_cbc(value, _iv(param), True), DES_BLOCK)

    return factory


def _cbc_pad_decrypt(key_types: frozenset[int]) -> CipherFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> CbcPadDecrypt:
        value = des_key(key, key_types)
        return CbcPadDecrypt(ctx.crypto.des_cbc(value, _iv(param), False), DES_BLOCK)

    return factory


# -- DES3-CMAC (s2.19) ---------------------------------------------------------------------------


def _cmac_len(param: Params, general: bool) -> int:
    """CKM_DES3_CMAC: no parameter, 8 bytes; CKM_DES3_CMAC_GENERAL: CK_MAC_GENERAL_PARAMS
    of 1..8 bytes (MechanismParamInvalid otherwise)."""
    if not general:
        no_param(param)
        return DES_BLOCK
    if not isinstance(param, MacGeneralParams) or not 1 <= param.mac_len <= DES_BLOCK:
        raise MechanismParamInvalid("DES3-CMAC-GENERAL needs a MAC length of 1 to 8 bytes")
    return param.mac_len


def _cmac_sign(general: bool) -> SignFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenSign:
        length = _cmac_len(param, general)
        mac = ctx.crypto.cmac_des3_new(des_key(key, _DES3))
        return HashThenSign(mac, lambda value: value[:length])

    return factory


def _cmac_verify(general: bool) -> VerifyFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenVerify:
        length = _cmac_len(param, general)
        mac = ctx.crypto.cmac_des3_new(des_key(key, _DES3))

        def check(value: bytes, signature: bytes) -> None:
            compare_mac(value[:length], signature)

        return HashThenVerify(mac, check)

    return factory


# -- DES-MAC / DES3-MAC (CBC-MAC) ----------------------------------------------------------------


def _cbc_mac_len(param: Params, general: bool) -> int:
    """*_MAC: no parameter, half the block (4 bytes); *_MAC_GENERAL: CK_MAC_GENERAL_PARAMS of
    1..8 bytes (MechanismParamInvalid otherwise)."""
    if not general:
        no_param(param)
        return DES_BLOCK // 2
    if not isinstance(param, MacGeneralParams) or not 1 <= param.mac_len <= DES_BLOCK:
        raise MechanismParamInvalid("DES-MAC-GENERAL needs a MAC length of 1 to 8 bytes")
    return param.mac_len


def _cbc_mac(ctx: MechanismContext, key: KeyView, param: Params, key_types: frozenset[int],
             general: bool) -> CbcMac:
    length = _cbc_mac_len(param, general)
    stream = ctx.crypto.des_cbc(des_key(key, key_types), bytes(DES_BLOCK), True)
    return CbcMac(stream, length, DES_BLOCK)


def _mac_sign(key_types: frozenset[int], general: bool) -> SignFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenSign:
        return HashThenSign(_cbc_mac(ctx, key, param, key_types, general), lambda value: value)

    return factory


def _mac_verify(key_types: frozenset[int], general: bool) -> VerifyFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenVerify:
        return HashThenVerify(_cbc_mac(ctx, key, param, key_types, general), compare_mac)

    return factory


# -- registration --------------------------------------------------------------------------------

_DES_STD = "PKCS #11 v2.40 Historical Mechanisms (DES); FIPS 46-3, NIST SP 800-67"
_DES3_STD = "PKCS #11 v2.40 Current Mechanisms s2.18; NIST SP 800-67"


def register(registry: MechanismRegistry) -> None:
    """Add the DES and Triple-DES mechanisms (key sizes in bytes)."""
    crypt = CKF.ENCRYPT | CKF.DECRYPT
    wrap = CKF.WRAP | CKF.UNWRAP
    for mech, key_type, std in (
        (CKM.DES_KEY_GEN, CKK.DES, _DES_STD),
        (CKM.DES2_KEY_GEN, CKK.DES2, _DES3_STD),
        (CKM.DES3_KEY_GEN, CKK.DES3, _DES3_STD),
    ):
        size = DES_KEY_LENGTHS[key_type]
        registry.add(
            MechanismSpec(
                mech, size, size, CKF.GENERATE, generated_key_type=key_type,
                generate_key=_generator(key_type), standard=std,
            )
        )
    families = (
        (_DES, 8, 8, CKM.DES_ECB, CKM.DES_CBC, CKM.DES_CBC_PAD, _DES_STD),
        (_DES3, 16, 24, CKM.DES3_ECB, CKM.DES3_CBC, CKM.DES3_CBC_PAD, _DES3_STD),
    )
    for types, low, high, ecb, cbc, cbc_pad, std in families:
        registry.add(
            MechanismSpec(
                ecb, low, high, crypt, key_types=types,
                encrypt=_ecb(types, True), decrypt=_ecb(types, False), standard=std,
            )
        )
        registry.add(
            MechanismSpec(
                cbc, low, high, crypt, key_types=types,
                encrypt=_cbc(types, True), decrypt=_cbc(types, False), standard=std,
            )
        )
        encrypt, decrypt = _cbc_pad_encrypt(types), _cbc_pad_decrypt(types)
        registry.add(
            MechanismSpec(
                cbc_pad, low, high, crypt | wrap, key_types=types,
                encrypt=encrypt, decrypt=decrypt,
                wrap=wrap_with(encrypt), unwrap=unwrap_with(decrypt), standard=std,
            )
        )
    for mech, types, low, high, general, std in (
        (CKM.DES_MAC, _DES, 8, 8, False, _DES_STD),
        (CKM.DES_MAC_GENERAL, _DES, 8, 8, True, _DES_STD),
        (CKM.DES3_MAC, _DES3, 16, 24, False, _DES3_STD),
        (CKM.DES3_MAC_GENERAL, _DES3, 16, 24, True, _DES3_STD),
    ):
        registry.add(
            MechanismSpec(
                mech, low, high, CKF.SIGN | CKF.VERIFY, key_types=types,
                sign=_mac_sign(types, general), verify=_mac_verify(types, general),
                standard=std + "; FIPS PUB 113",
            )
        )
    cmac_std = "PKCS #11 v2.40 Current Mechanisms s2.19; NIST SP 800-38B"
    for mech, general in ((CKM.DES3_CMAC, False), (CKM.DES3_CMAC_GENERAL, True)):
        registry.add(
            MechanismSpec(
                mech, 16, 24, CKF.SIGN | CKF.VERIFY, key_types=_DES3,
                sign=_cmac_sign(general), verify=_cmac_verify(general), standard=cmac_std,
            )
        )
