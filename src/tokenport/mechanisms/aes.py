"""AES: key generation, ECB, CBC, CBC-PAD, CTR, GCM, CMAC and key wrap.

PKCS #11 v2.40 Current Mechanisms: s2.10 AES (CKM_AES_KEY_GEN with CKA_VALUE_LEN 16/24/32;
CKM_AES_ECB and CKM_AES_CBC without padding, data a multiple of the block size;
CKM_AES_CBC_PAD with PKCS #7 padding, also for C_WrapKey / C_UnwrapKey), s2.11 AES with
Counter (CKM_AES_CTR, CK_AES_CTR_PARAMS: the counter is the low ulCounterBits of the block and
may not wrap), s2.13 (CKM_AES_GCM, CK_GCM_PARAMS, NIST SP 800-38D; the tag is appended to the
ciphertext), s2.14 (CKM_AES_CMAC, NIST SP 800-38B, 16-byte MAC), s2.16 AES Key Wrap
(CKM_AES_KEY_WRAP, RFC 3394, and CKM_AES_KEY_WRAP_PAD, RFC 5649; offered for wrap/unwrap and
single-part encrypt/decrypt). Key sizes in CK_MECHANISM_INFO are in bytes.

Multi-part GCM decryption releases no plaintext before the tag is verified: update() buffers
and returns nothing, final() verifies and returns everything. Generated key values come from
the token's random source; all IVs are supplied by the caller (v2.40 has no IV generation).

CKM_AES_MAC and CKM_AES_MAC_GENERAL (v2.40 Current Mechanisms s2.10 "General-length AES-MAC")
are CBC-MAC with zero padding (``CbcMac``): 8-byte MACs, or 1..16 bytes chosen by
CK_MAC_GENERAL_PARAMS.
CKM_AES_ECB_ENCRYPT_DATA / CKM_AES_CBC_ENCRYPT_DATA live in mechanisms.derive_data.

Not offered: CKM_AES_CTS, CKM_AES_CCM, CKM_AES_GMAC, CKM_AES_CMAC_GENERAL, CFB/OFB modes;
GCM IVs shorter than 8 or longer than 128 bytes (the crypto library's limits).
"""

from __future__ import annotations

import hmac as _hmac

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    DataLenRange,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    MechanismParamInvalid,
    PKCS11Error,
)
from tokenport.mechanisms.base import (
    MAX_DATA_LEN,
    AttrMap,
    CipherFactory,
    KeyView,
    MechanismContext,
    MechanismRegistry,
    MechanismSpec,
    SignFactory,
    UnwrapFunction,
    VerifyFactory,
    WrapFunction,
)
from tokenport.mechanisms.common import (
    DECRYPT_ERRORS,
    HashThenSign,
    HashThenVerify,
    SinglePartCipher,
    check_key,
    check_size,
    mac_verifier,
    no_param,
    remap,
    secret_value,
    unwrap_with,
    value_len,
    wrap_with,
)
from tokenport.mechanisms.params import CtrParams, GcmParams, MacGeneralParams, Params
from tokenport.ports.crypto import AeadEncryptor, CipherPort, StreamCipher

BLOCK = 16
MIN_KEY_BYTES = 16
MAX_KEY_BYTES = 32
KEY_SIZES = frozenset({16, 24, 32})
GCM_TAG_BITS = frozenset({32, 64, 96, 104, 112, 120, 128})
GCM_IV_BYTES = (8, 128)
KW_DEFAULT_IV = bytes.fromhex("A6A6A6A6A6A6A6A6")
KWP_DEFAULT_IV = bytes.fromhex("A65959A6")
_AES = frozenset({CKK.AES})


def _len_error(encrypt: bool) -> type[PKCS11Error]:
    return DataLenRange if encrypt else EncryptedDataLenRange


def aes_key(key: KeyView) -> bytes:
    """CKA_VALUE of an AES secret key (KeyTypeInconsistent / KeySizeRange)."""
    check_key(key, CKO.SECRET_KEY, _AES)
    value = secret_value(key)
    check_size(len(value), MIN_KEY_BYTES, MAX_KEY_BYTES)
    if len(value) not in KEY_SIZES:
        raise AttributeValueInvalid("AES keys are 16, 24 or 32 bytes")
    return value


def generate_aes_key(
    ctx: MechanismContext, param: Params, template: AttrMap
) -> dict[int, AttrValue]:
    """CKM_AES_KEY_GEN: a random key of CKA_VALUE_LEN bytes."""
    no_param(param)
    length = value_len(template)
    check_size(length, MIN_KEY_BYTES, MAX_KEY_BYTES)
    if length not in KEY_SIZES:
        raise AttributeValueInvalid("CKA_VALUE_LEN of an AES key must be 16, 24 or 32")
    return {CKA.VALUE: ctx.random_bytes(length), CKA.VALUE_LEN: length}


# -- ECB, CBC ------------------------------------------------------------------------------------


class BlockMode:
    """ECB or CBC without padding: the total length must be a multiple of the block size
    (16 for AES; mechanisms.des passes 8)."""

    def __init__(self, stream: StreamCipher, encrypt: bool, block: int = BLOCK) -> None:
        self._stream = stream
        self._total = 0
        self._error = _len_error(encrypt)
        self._block = block

    def update_length(self, length: int) -> int:
        block = self._block
        return (self._total % block + length) // block * block

    def update(self, data: bytes) -> bytes:
        self._total += len(data)
        return self._stream.update(data)

    def final(self) -> bytes:
        if self._total % self._block:
            raise self._error("data is not a multiple of the block size")
        return self._stream.finalize()

    def once(self, data: bytes) -> bytes:
        if len(data) % self._block:
            raise self._error("data is not a multiple of the block size")
        return self._stream.update(data) + self._stream.finalize()


def _iv(param: Params) -> bytes:
    if not isinstance(param, bytes) or len(param) != BLOCK:
        raise MechanismParamInvalid("AES-CBC needs a 16-byte IV")
    return param


def _ecb(encrypt: bool) -> CipherFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> BlockMode:
        no_param(param)
        return BlockMode(ctx.crypto.aes_ecb(aes_key(key), encrypt), encrypt)

    return factory


def _cbc(encrypt: bool) -> CipherFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> BlockMode:
        value = aes_key(key)
        return BlockMode(ctx.crypto.aes_cbc(value, _iv(param), encrypt), encrypt)

    return factory


# -- CBC-PAD -----------------------------------------------------------------------------------


class CbcPadEncrypt:
    """CBC with PKCS #7 padding added at the end (block size 16 for AES, 8 for DES)."""

    def __init__(self, stream: StreamCipher, block: int = BLOCK) -> None:
        self._stream = stream
        self._total = 0
        self._block = block

    def update_length(self, length: int) -> int:
        block = self._block
        return (self._total % block + length) // block * block

    def update(self, data: bytes) -> bytes:
        self._total += len(data)
        return self._stream.update(data)

    def final(self) -> bytes:
        pad = self._block - self._total % self._block
        return self._stream.update(bytes([pad]) * pad) + self._stream.finalize()

    def once(self, data: bytes) -> bytes:
        return self.update(data) + self.final()


def _unpad(last: bytes, block: int = BLOCK) -> bytes:
    """Strip PKCS #7 padding from the last block, checking every pad byte."""
    pad = last[-1]
    in_range = 1 <= pad <= block
    count = pad if in_range else 1
    matches = _hmac.compare_digest(last[block - count :], bytes([pad]) * count)
    if not (in_range and matches):
        raise EncryptedDataInvalid("bad CBC padding")
    return last[: block - pad]


class CbcPadDecrypt:
    """CBC decryption removing PKCS #7 padding; the last block is held back until final."""

    def __init__(self, stream: StreamCipher, block: int = BLOCK) -> None:
        self._stream = stream
        self._pending = b""
        self._block = block

    def update_length(self, length: int) -> int:
        total = len(self._pending) + length
        return max(0, total - (self._block + total % self._block))

    def update(self, data: bytes) -> bytes:
        self._pending += data
        keep = self._block + len(self._pending) % self._block
        if len(self._pending) <= keep:
            return b""
        ready, self._pending = self._pending[:-keep], self._pending[-keep:]
        return self._stream.update(ready)

    def final(self) -> bytes:
        if len(self._pending) != self._block:
            raise EncryptedDataLenRange("ciphertext is not a positive multiple of the block size")
        last = self._stream.update(self._pending) + self._stream.finalize()
        return _unpad(last, self._block)

    def once(self, data: bytes) -> bytes:
        block = self._block
        if not data or len(data) % block:
            raise EncryptedDataLenRange("ciphertext is not a positive multiple of the block size")
        plain = self._stream.update(data) + self._stream.finalize()
        return plain[:-block] + _unpad(plain[-block:], block)


def cbc_pad_encrypt(ctx: MechanismContext, key: KeyView, param: Params) -> CbcPadEncrypt:
    value = aes_key(key)
    return CbcPadEncrypt(ctx.crypto.aes_cbc(value, _iv(param), True))


def cbc_pad_decrypt(ctx: MechanismContext, key: KeyView, param: Params) -> CbcPadDecrypt:
    value = aes_key(key)
    return CbcPadDecrypt(ctx.crypto.aes_cbc(value, _iv(param), False))


# -- CTR -----------------------------------------------------------------------------------------


class Ctr:
    """AES-CTR; the counter occupies the low ``counter_bits`` bits and must not wrap.

    s2.11 (AES with Counter): an operation that would overflow the counter bits is refused
    (a length error), the final post-increment excepted: with ulCounterBits = 2 and the
    counter at 1, three blocks may be processed. This holds for ulCounterBits = 128 too
    (a counter block of all ones leaves one block), so the crypto library's 128-bit counter
    never carries into the nonce bits nor wraps around.
    """

    def __init__(self, stream: StreamCipher, params: CtrParams, encrypt: bool) -> None:
        self._stream = stream
        bits = params.counter_bits
        start = int.from_bytes(params.counter_block, "big") & ((1 << bits) - 1)
        self._blocks_left = (1 << bits) - start
        self._total = 0
        self._error = _len_error(encrypt)

    def _check(self, total: int) -> None:
        if -(-total // BLOCK) > self._blocks_left:
            raise self._error("AES-CTR counter would wrap")

    def _account(self, length: int) -> None:
        self._check(self._total + length)
        self._total += length

    def update_length(self, length: int) -> int:
        self._check(self._total + length)
        return length

    def update(self, data: bytes) -> bytes:
        self._account(len(data))
        return self._stream.update(data)

    def final(self) -> bytes:
        return self._stream.finalize()

    def once(self, data: bytes) -> bytes:
        return self.update(data) + self.final()


def _ctr_params(param: Params) -> CtrParams:
    """CK_AES_CTR_PARAMS: 0 < ulCounterBits <= 128, else MECHANISM_PARAM_INVALID (s2.11)."""
    if not isinstance(param, CtrParams):
        raise MechanismParamInvalid("AES-CTR needs CK_AES_CTR_PARAMS")
    if not 1 <= param.counter_bits <= 128 or len(param.counter_block) != BLOCK:
        raise MechanismParamInvalid("AES-CTR counter bits or block invalid")
    return param


def _ctr(encrypt: bool) -> CipherFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> Ctr:
        value = aes_key(key)
        params = _ctr_params(param)
        return Ctr(ctx.crypto.aes_ctr(value, params.counter_block), params, encrypt)

    return factory


# -- GCM -----------------------------------------------------------------------------------------


def _gcm_params(param: Params) -> GcmParams:
    if not isinstance(param, GcmParams):
        raise MechanismParamInvalid("AES-GCM needs CK_GCM_PARAMS")
    if not GCM_IV_BYTES[0] <= len(param.iv) <= GCM_IV_BYTES[1]:
        raise MechanismParamInvalid("AES-GCM IV must be 8 to 128 bytes")
    if param.tag_bits not in GCM_TAG_BITS:
        raise MechanismParamInvalid("AES-GCM tag length not supported")
    return param


class GcmEncrypt:
    """AES-GCM encryption; final() returns the last bytes followed by the tag."""

    def __init__(self, encryptor: AeadEncryptor, tag_len: int) -> None:
        self._encryptor = encryptor
        self._tag_len = tag_len

    def update_length(self, length: int) -> int:
        return length

    def update(self, data: bytes) -> bytes:
        return self._encryptor.update(data)

    def final(self) -> bytes:
        tail, tag = self._encryptor.finalize()
        return tail + tag[: self._tag_len]

    def once(self, data: bytes) -> bytes:
        return self.update(data) + self.final()


class GcmDecrypt:
    """AES-GCM decryption; buffers everything and releases plaintext only once verified."""

    def __init__(self, crypto: CipherPort, key: bytes, params: GcmParams) -> None:
        self._crypto = crypto
        self._key = key
        self._params = params
        self._buffer = bytearray()

    def update_length(self, length: int) -> int:
        return 0

    def update(self, data: bytes) -> bytes:
        if len(self._buffer) + len(data) > MAX_DATA_LEN:
            raise EncryptedDataLenRange("AES-GCM decryption holds at most MAX_DATA_LEN bytes")
        self._buffer += data
        return b""

    def final(self) -> bytes:
        tag_len = self._params.tag_bits // 8
        data = bytes(self._buffer)
        if len(data) < tag_len:
            raise EncryptedDataLenRange("ciphertext shorter than the GCM tag")
        return self._crypto.aes_gcm_decrypt_detached(
            self._key, self._params.iv, data[:-tag_len], self._params.aad, data[-tag_len:]
        )

    def once(self, data: bytes) -> bytes:
        self.update(data)
        return self.final()


def gcm_encrypt(ctx: MechanismContext, key: KeyView, param: Params) -> GcmEncrypt:
    value = aes_key(key)
    params = _gcm_params(param)
    encryptor = ctx.crypto.aes_gcm_encryptor(value, params.iv, params.aad)
    return GcmEncrypt(encryptor, params.tag_bits // 8)


def gcm_decrypt(ctx: MechanismContext, key: KeyView, param: Params) -> GcmDecrypt:
    value = aes_key(key)
    return GcmDecrypt(ctx.crypto, value, _gcm_params(param))


# -- CMAC ----------------------------------------------------------------------------------------


def cmac_sign(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenSign:
    no_param(param)
    return HashThenSign(ctx.crypto.cmac_aes_new(aes_key(key)), lambda mac: mac)


def cmac_verify(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenVerify:
    no_param(param)
    return mac_verifier(ctx.crypto.cmac_aes_new(aes_key(key)))


# -- AES-MAC (CBC-MAC) -------------------------------------------------------------------------


class CbcMac:
    """CBC-MAC (a HashContext): CBC encryption under a zero IV of the data padded with zero
    bytes to a positive multiple of the block size (ISO/IEC 9797-1 padding method 1, so an
    empty message is one zero block); the MAC is the leading ``mac_len`` bytes of the last
    ciphertext block. v2.40 Current Mechanisms s2.10 "General-length AES-MAC"; the DES
    MAC mechanisms use the same construction (FIPS PUB 113)."""

    def __init__(self, stream: StreamCipher, mac_len: int, block: int = BLOCK) -> None:
        self._stream = stream
        self._mac_len = mac_len
        self._block = block
        self._total = 0
        self._last = b""

    def update(self, data: bytes) -> None:
        self._total += len(data)
        out = self._stream.update(data)
        if out:
            self._last = out[-self._block :]

    def finalize(self) -> bytes:
        pad = -self._total % self._block if self._total else self._block
        out = self._stream.update(bytes(pad)) + self._stream.finalize()
        last = out[-self._block :] if out else self._last
        return last[: self._mac_len]


def _mac_len(param: Params, general: bool) -> int:
    """CKM_AES_MAC: no parameter, half the block (8 bytes); CKM_AES_MAC_GENERAL:
    CK_MAC_GENERAL_PARAMS of 1..16 bytes (MechanismParamInvalid otherwise)."""
    if not general:
        no_param(param)
        return BLOCK // 2
    if not isinstance(param, MacGeneralParams) or not 1 <= param.mac_len <= BLOCK:
        raise MechanismParamInvalid("AES-MAC-GENERAL needs a MAC length of 1 to 16 bytes")
    return param.mac_len


def _aes_mac_context(ctx: MechanismContext, key: KeyView, param: Params, general: bool) -> CbcMac:
    mac_len = _mac_len(param, general)
    return CbcMac(ctx.crypto.aes_cbc(aes_key(key), bytes(BLOCK), True), mac_len)


def _aes_mac_sign(general: bool) -> SignFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenSign:
        mac = _aes_mac_context(ctx, key, param, general)
        return HashThenSign(mac, lambda value: value)

    return factory


def _aes_mac_verify(general: bool) -> VerifyFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenVerify:
        return mac_verifier(_aes_mac_context(ctx, key, param, general))

    return factory


# -- key wrap (RFC 3394 / RFC 5649) ------------------------------------------------------------


def _kw_param(param: Params, default_iv: bytes) -> None:
    if param is not None and param != default_iv:
        raise MechanismParamInvalid("only the default key wrap IV is supported")


def _kw_encrypt(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartCipher:
    kek = aes_key(key)
    _kw_param(param, KW_DEFAULT_IV)

    def encrypt(data: bytes) -> bytes:
        if len(data) < 16 or len(data) % 8:
            raise DataLenRange("RFC 3394 input must be a multiple of 8 bytes, at least 16")
        return ctx.crypto.aes_key_wrap(kek, data)

    return SinglePartCipher(encrypt)


def _kw_decrypt(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartCipher:
    kek = aes_key(key)
    _kw_param(param, KW_DEFAULT_IV)

    def decrypt(data: bytes) -> bytes:
        if len(data) < 24 or len(data) % 8:
            raise EncryptedDataLenRange("RFC 3394 output is a multiple of 8 bytes, at least 24")
        with remap(DECRYPT_ERRORS):
            return ctx.crypto.aes_key_unwrap(kek, data)

    return SinglePartCipher(decrypt)


def _kwp_encrypt(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartCipher:
    kek = aes_key(key)
    _kw_param(param, KWP_DEFAULT_IV)

    def encrypt(data: bytes) -> bytes:
        if not data:
            raise DataLenRange("RFC 5649 input must not be empty")
        return ctx.crypto.aes_key_wrap_pad(kek, data)

    return SinglePartCipher(encrypt)


def _kwp_decrypt(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartCipher:
    kek = aes_key(key)
    _kw_param(param, KWP_DEFAULT_IV)

    def decrypt(data: bytes) -> bytes:
        if len(data) < 16 or len(data) % 8:
            raise EncryptedDataLenRange("RFC 5649 output is a multiple of 8 bytes, at least 16")
        with remap(DECRYPT_ERRORS):
            return ctx.crypto.aes_key_unwrap_pad(kek, data)

    return SinglePartCipher(decrypt)


# -- registration --------------------------------------------------------------------------------


def _spec(
    mechanism: int,
    flags: int,
    *,
    encrypt: CipherFactory | None = None,
    decrypt: CipherFactory | None = None,
    sign: SignFactory | None = None,
    verify: VerifyFactory | None = None,
    wrap: WrapFunction | None = None,
    unwrap: UnwrapFunction | None = None,
    standard: str = "",
) -> MechanismSpec:
    return MechanismSpec(
        mechanism,
        MIN_KEY_BYTES,
        MAX_KEY_BYTES,
        flags,
        key_types=_AES,
        encrypt=encrypt,
        decrypt=decrypt,
        sign=sign,
        verify=verify,
        wrap=wrap,
        unwrap=unwrap,
        standard=standard,
    )


def register(registry: MechanismRegistry) -> None:
    """Add the AES mechanisms (key sizes in bytes)."""
    crypt = CKF.ENCRYPT | CKF.DECRYPT
    wrap = CKF.WRAP | CKF.UNWRAP
    registry.add(
        MechanismSpec(
            CKM.AES_KEY_GEN,
            MIN_KEY_BYTES,
            MAX_KEY_BYTES,
            CKF.GENERATE,
            generated_key_type=CKK.AES,
            generate_key=generate_aes_key,
        )
    )
    registry.add(_spec(CKM.AES_ECB, crypt, encrypt=_ecb(True), decrypt=_ecb(False)))
    registry.add(_spec(CKM.AES_CBC, crypt, encrypt=_cbc(True), decrypt=_cbc(False)))
    registry.add(
        _spec(
            CKM.AES_CBC_PAD,
            crypt | wrap,
            encrypt=cbc_pad_encrypt,
            decrypt=cbc_pad_decrypt,
            wrap=wrap_with(cbc_pad_encrypt),
            unwrap=unwrap_with(cbc_pad_decrypt),
        )
    )
    registry.add(_spec(CKM.AES_CTR, crypt, encrypt=_ctr(True), decrypt=_ctr(False)))
    registry.add(_spec(CKM.AES_GCM, crypt, encrypt=gcm_encrypt, decrypt=gcm_decrypt))
    registry.add(_spec(CKM.AES_CMAC, CKF.SIGN | CKF.VERIFY, sign=cmac_sign, verify=cmac_verify))
    for mac, general in ((CKM.AES_MAC, False), (CKM.AES_MAC_GENERAL, True)):
        registry.add(
            _spec(
                mac, CKF.SIGN | CKF.VERIFY, sign=_aes_mac_sign(general),
                verify=_aes_mac_verify(general),
                standard="PKCS #11 v2.40 Current Mechanisms s2.10; ISO/IEC 9797-1 MAC algorithm 1",
            )
        )
    registry.add(
        _spec(
            CKM.AES_KEY_WRAP,
            crypt | wrap,
            encrypt=_kw_encrypt,
            decrypt=_kw_decrypt,
            wrap=wrap_with(_kw_encrypt),
            unwrap=unwrap_with(_kw_decrypt),
        )
    )
    registry.add(
        _spec(
            CKM.AES_KEY_WRAP_PAD,
            crypt | wrap,
            encrypt=_kwp_encrypt,
            decrypt=_kwp_decrypt,
            wrap=wrap_with(_kwp_encrypt),
            unwrap=unwrap_with(_kwp_decrypt),
        )
    )
