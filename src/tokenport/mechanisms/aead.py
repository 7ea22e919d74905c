"""AEAD mechanisms beyond AES-GCM: CKM_AES_CCM (CK_CCM_PARAMS; NIST SP 800-38C) and
CKM_CHACHA20_POLY1305 (CK_SALSA20_CHACHA20_POLY1305_PARAMS; RFC 8439) through C_Encrypt /
C_Decrypt, CKM_CHACHA20_KEY_GEN, and the message-based AEAD of PKCS #11 v3.0 (base
specification s5.13: C_MessageEncryptInit ..) for CKM_AES_GCM, CKM_AES_CCM and
CKM_CHACHA20_POLY1305 (CK_GCM_MESSAGE_PARAMS, CK_CCM_MESSAGE_PARAMS,
CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS; PKCS #11 v3.0 Current Mechanisms).

Single-part form: the ciphertext is followed by the tag (as for CKM_AES_GCM). Multi-part
calls buffer their input (CCM needs the whole message, and no plaintext is released before
the tag verifies) and produce everything at C_EncryptFinal / C_DecryptFinal.

ChaCha20-Poly1305 takes the 96-bit nonce of RFC 8439 only: the 64-bit nonce the PKCS #11
structure also allows is CKR_MECHANISM_PARAM_INVALID (pyca/cryptography has no such form).

IV generation (message-based encryption, CK_GENERATOR_FUNCTION): the leading ulIvFixedBits
bits of the caller's IV buffer are kept and the rest is generated; the IV used is written
back to that buffer. CKG_GENERATE_COUNTER (and CKG_GENERATE when fewer than 64 bits are free)
counts 0, 1, 2 .. in the free bits, one value per message: the counter lives in the operation,
so no IV repeats within one C_MessageEncryptInit .. C_MessageEncryptFinal; when every value
has been used (wrap-around) the operation refuses further messages (CKR_FUNCTION_FAILED) and a
new one needs another fixed field (SP 800-38D s8.2.1 makes the fixed field name the context).
CKG_GENERATE_RANDOM (and CKG_GENERATE with 64 or more free bits) fills the free bits from the
token's DRBG; fewer than 64 free bits is CKR_MECHANISM_PARAM_INVALID for it (a repeat would be
likely after 2^(bits/2) messages). CKG_NO_GENERATE uses the caller's IV as given: its
uniqueness is the caller's business. CKG_GENERATE_COUNTER_XOR is not offered.
"""

from __future__ import annotations

from collections.abc import Callable

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO, CKGen
from tokenport.errors import (
    AeadDecryptFailed,
    DataLenRange,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    FunctionFailed,
    MechanismParamInvalid,
    PKCS11Error,
)
from tokenport.mechanisms.aes import GCM_IV_BYTES, GCM_TAG_BITS, aes_key
from tokenport.mechanisms.base import (
    MAX_DATA_LEN,
    AttrMap,
    KeyView,
    MechanismContext,
    MechanismRegistry,
    MechanismSpec,
    MessageAead,
    Sealed,
)
from tokenport.mechanisms.common import check_key, check_size, no_param, secret_value, value_len
from tokenport.mechanisms.params import (
    POLY1305_TAG_BYTES,
    CcmParams,
    ChaChaPolyParams,
    MessageParams,
    Params,
)

CCM_MAC_BYTES = frozenset({4, 6, 8, 10, 12, 14, 16})
CCM_NONCE_BYTES = (7, 13)
CHACHA_KEY_BYTES = 32
CHACHA_NONCE_BYTES = 12
RANDOM_IV_MIN_BITS = 64
_CHACHA = frozenset({CKK.CHACHA20})


# -- keys -------------------------------------------------------------------------------------


def chacha20_key(key: KeyView) -> bytes:
    """CKA_VALUE of a CKK_CHACHA20 key (32 bytes)."""
    check_key(key, CKO.SECRET_KEY, _CHACHA)
    value = secret_value(key)
    check_size(len(value), CHACHA_KEY_BYTES, CHACHA_KEY_BYTES)
    return value


def generate_chacha20_key(
    ctx: MechanismContext, param: Params, template: AttrMap
) -> dict[int, AttrValue]:
    """CKM_CHACHA20_KEY_GEN: 32 random bytes (CKA_VALUE_LEN, if given, must say 32)."""
    no_param(param)
    if CKA.VALUE_LEN in template and value_len(template) != CHACHA_KEY_BYTES:
        check_size(value_len(template), CHACHA_KEY_BYTES, CHACHA_KEY_BYTES)
    return {CKA.VALUE: ctx.random_bytes(CHACHA_KEY_BYTES), CKA.VALUE_LEN: CHACHA_KEY_BYTES}


# -- single-part and buffered multi-part C_Encrypt / C_Decrypt -----------------------------------

Seal = Callable[[bytes], bytes]


class BufferedAead:
    """An AEAD as a CipherContext: updates buffer, the final call does the whole message."""

    def __init__(self, run: Seal, too_long: type[PKCS11Error]) -> None:
        self._run = run
        self._too_long = too_long
        self._buffer = bytearray()

    def update_length(self, length: int) -> int:
        return 0

    def update(self, data: bytes) -> bytes:
        if len(self._buffer) + len(data) > MAX_DATA_LEN:
            raise self._too_long("an AEAD message holds at most MAX_DATA_LEN bytes")
        self._buffer += data
        return b""

    def final(self) -> bytes:
        return self._run(bytes(self._buffer))

    def once(self, data: bytes) -> bytes:
        self.update(data)
        return self.final()


def _ccm_params(param: Params) -> CcmParams:
    if not isinstance(param, CcmParams):
        raise MechanismParamInvalid("AES-CCM needs CK_CCM_PARAMS")
    if not CCM_NONCE_BYTES[0] <= len(param.nonce) <= CCM_NONCE_BYTES[1]:
        raise MechanismParamInvalid("AES-CCM nonce must be 7 to 13 bytes")
    if param.mac_len not in CCM_MAC_BYTES:
        raise MechanismParamInvalid("AES-CCM MAC length must be 4, 6 .. 16 bytes")
    return param


def ccm_encrypt(ctx: MechanismContext, key: KeyView, param: Params) -> BufferedAead:
    value, params = aes_key(key), _ccm_params(param)

    def run(data: bytes) -> bytes:
        if len(data) != params.data_len:
            raise DataLenRange("the data length differs from CK_CCM_PARAMS.ulDataLen")
        ciphertext, tag = ctx.crypto.aes_ccm_encrypt(
            value, params.nonce, data, params.aad, params.mac_len)
        return ciphertext + tag

    return BufferedAead(run, DataLenRange)


def ccm_decrypt(ctx: MechanismContext, key: KeyView, param: Params) -> BufferedAead:
    value, params = aes_key(key), _ccm_params(param)

    def run(data: bytes) -> bytes:
        if len(data) != params.data_len + params.mac_len:
            raise EncryptedDataLenRange("ciphertext length differs from ulDataLen + ulMACLen")
        cut = len(data) - params.mac_len
        return ctx.crypto.aes_ccm_decrypt(value, params.nonce, data[:cut], params.aad, data[cut:])

    return BufferedAead(run, EncryptedDataLenRange)


def _chacha_params(param: Params) -> ChaChaPolyParams:
    if not isinstance(param, ChaChaPolyParams):
        raise MechanismParamInvalid("ChaCha20-Poly1305 needs CK_SALSA20_CHACHA20_POLY1305_PARAMS")
    if len(param.nonce) != CHACHA_NONCE_BYTES:
        raise MechanismParamInvalid("ChaCha20-Poly1305 nonce must be 96 bits (RFC 8439)")
    return param


def chacha_encrypt(ctx: MechanismContext, key: KeyView, param: Params) -> BufferedAead:
    value, params = chacha20_key(key), _chacha_params(param)

    def run(data: bytes) -> bytes:
        ciphertext, tag = ctx.crypto.chacha20_poly1305_encrypt(value, params.nonce, data,
                                                               params.aad)
        return ciphertext + tag

    return BufferedAead(run, DataLenRange)


def chacha_decrypt(ctx: MechanismContext, key: KeyView, param: Params) -> BufferedAead:
    value, params = chacha20_key(key), _chacha_params(param)

    def run(data: bytes) -> bytes:
        if len(data) < POLY1305_TAG_BYTES:
            raise EncryptedDataLenRange("ciphertext shorter than the Poly1305 tag")
        cut = len(data) - POLY1305_TAG_BYTES
        return ctx.crypto.chacha20_poly1305_decrypt(value, params.nonce, data[:cut],
                                                    params.aad, data[cut:])

    return BufferedAead(run, EncryptedDataLenRange)


# -- message-based AEAD (v3.0 s5.13) ----------------------------------------------------------


class IvSource:
    """The IVs a message-based encryption generates (module docstring: the rules)."""

    def __init__(self, random_bytes: Callable[[int], bytes]) -> None:
        self._random = random_bytes
        self._counter = 0

    def next(self, params: MessageParams) -> bytes:
        length, fixed = len(params.nonce), params.fixed_bits
        generator = params.generator
        if generator == CKGen.NO_GENERATE:
            return params.nonce
        free = 8 * length - fixed
        if not 0 <= fixed < 8 * length:
            raise MechanismParamInvalid("the fixed IV bits leave nothing to generate")
        if generator == CKGen.GENERATE:
            generator = CKGen.GENERATE_RANDOM if free >= RANDOM_IV_MIN_BITS else (
                CKGen.GENERATE_COUNTER)
        if generator == CKGen.GENERATE_COUNTER:
            if self._counter >= 1 << free:
                raise FunctionFailed("every IV of this operation's counter has been used")
            value = self._counter
            self._counter += 1
        elif generator == CKGen.GENERATE_RANDOM:
            if free < RANDOM_IV_MIN_BITS:
                raise MechanismParamInvalid("random IVs need at least 64 generated bits")
            value = int.from_bytes(self._random((free + 7) // 8), "big") & ((1 << free) - 1)
        else:
            raise MechanismParamInvalid("IV generator function not supported")
        keep = int.from_bytes(params.nonce, "big") >> free << free
        return (keep | value).to_bytes(length, "big")


def _opened(open_: Callable[[], bytes]) -> bytes:
    """v3.0 message-based decryption reports a bad tag as CKR_AEAD_DECRYPT_FAILED."""
    try:
        return open_()
    except EncryptedDataInvalid:
        raise AeadDecryptFailed("authentication tag does not verify") from None


class GcmMessages:
    """CKM_AES_GCM with CK_GCM_MESSAGE_PARAMS."""

    def __init__(self, ctx: MechanismContext, key: bytes) -> None:
        self._ctx, self._key, self._ivs = ctx, key, IvSource(ctx.random_bytes)

    @staticmethod
    def _check(params: MessageParams) -> None:
        if not GCM_IV_BYTES[0] <= len(params.nonce) <= GCM_IV_BYTES[1]:
            raise MechanismParamInvalid("AES-GCM IV must be 8 to 128 bytes")
        if 8 * params.tag_len not in GCM_TAG_BITS:
            raise MechanismParamInvalid("AES-GCM tag length not supported")

    def encrypt(self, params: MessageParams, aad: bytes, data: bytes) -> Sealed:
        self._check(params)
        iv = self._ivs.next(params)
        encryptor = self._ctx.crypto.aes_gcm_encryptor(self._key, iv, aad)
        body = encryptor.update(data)
        tail, tag = encryptor.finalize()
        return Sealed(body + tail, iv, tag[: params.tag_len])

    def decrypt(self, params: MessageParams, aad: bytes, data: bytes) -> bytes:
        self._check(params)
        if len(params.tag) != params.tag_len:
            raise MechanismParamInvalid("the tag buffer and ulTagBits differ")
        return _opened(lambda: self._ctx.crypto.aes_gcm_decrypt_detached(
            self._key, params.nonce, data, aad, params.tag))


class CcmMessages:
    """CKM_AES_CCM with CK_CCM_MESSAGE_PARAMS."""

    def __init__(self, ctx: MechanismContext, key: bytes) -> None:
        self._ctx, self._key, self._ivs = ctx, key, IvSource(ctx.random_bytes)

    @staticmethod
    def _check(params: MessageParams, data: bytes, too_long: type[PKCS11Error]) -> None:
        if not CCM_NONCE_BYTES[0] <= len(params.nonce) <= CCM_NONCE_BYTES[1]:
            raise MechanismParamInvalid("AES-CCM nonce must be 7 to 13 bytes")
        if params.tag_len not in CCM_MAC_BYTES:
            raise MechanismParamInvalid("AES-CCM MAC length must be 4, 6 .. 16 bytes")
        if params.data_len != len(data):
            raise too_long("the message length differs from CK_CCM_MESSAGE_PARAMS.ulDataLen")

    def encrypt(self, params: MessageParams, aad: bytes, data: bytes) -> Sealed:
        self._check(params, data, DataLenRange)
        nonce = self._ivs.next(params)
        ciphertext, tag = self._ctx.crypto.aes_ccm_encrypt(self._key, nonce, data, aad,
                                                            params.tag_len)
        return Sealed(ciphertext, nonce, tag)

    def decrypt(self, params: MessageParams, aad: bytes, data: bytes) -> bytes:
        self._check(params, data, EncryptedDataLenRange)
        if len(params.tag) != params.tag_len:
            raise MechanismParamInvalid("the MAC buffer and ulMACLen differ")
        return _opened(lambda: self._ctx.crypto.aes_ccm_decrypt(
            self._key, params.nonce, data, aad, params.tag))


class ChaChaMessages:
    """CKM_CHACHA20_POLY1305 with CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS (no generator:
    the caller's nonce is used as given)."""

    def __init__(self, ctx: MechanismContext, key: bytes) -> None:
        self._ctx, self._key = ctx, key

    @staticmethod
    def _check(params: MessageParams) -> None:
        if len(params.nonce) != CHACHA_NONCE_BYTES:
            raise MechanismParamInvalid("ChaCha20-Poly1305 nonce must be 96 bits (RFC 8439)")

    def encrypt(self, params: MessageParams, aad: bytes, data: bytes) -> Sealed:
        self._check(params)
        ciphertext, tag = self._ctx.crypto.chacha20_poly1305_encrypt(
            self._key, params.nonce, data, aad)
        return Sealed(ciphertext, params.nonce, tag)

    def decrypt(self, params: MessageParams, aad: bytes, data: bytes) -> bytes:
        self._check(params)
        return _opened(lambda: self._ctx.crypto.chacha20_poly1305_decrypt(
            self._key, params.nonce, data, aad, params.tag))


MessageFactory = Callable[[MechanismContext, KeyView, Params], MessageAead]


def _message(make: Callable[[MechanismContext, bytes], MessageAead],
             key_value: Callable[[KeyView], bytes]) -> MessageFactory:
    def factory(ctx: MechanismContext, key: KeyView, param: Params) -> MessageAead:
        no_param(param)  # the parameters come with each message
        return make(ctx, key_value(key))

    return factory


MESSAGE_AEAD: dict[int, MessageFactory] = {
    CKM.AES_GCM: _message(GcmMessages, aes_key),
    CKM.AES_CCM: _message(CcmMessages, aes_key),
    CKM.CHACHA20_POLY1305: _message(ChaChaMessages, chacha20_key),
}
"""The mechanisms of C_MessageEncryptInit / C_MessageDecryptInit and their contexts."""


def register(registry: MechanismRegistry) -> None:
    """Add CKM_AES_CCM (key sizes in bytes, as AES), CKM_CHACHA20_KEY_GEN and
    CKM_CHACHA20_POLY1305 (key sizes in bits, as the v3.0 ChaCha20 sections give them)."""
    crypt = CKF.ENCRYPT | CKF.DECRYPT
    registry.add(MechanismSpec(
        CKM.AES_CCM, 16, 32, crypt, key_types=frozenset({CKK.AES}),
        encrypt=ccm_encrypt, decrypt=ccm_decrypt,
        standard="PKCS #11 v3.0 Current Mechanisms (AES-CCM); NIST SP 800-38C",
    ))
    registry.add(MechanismSpec(
        CKM.CHACHA20_KEY_GEN, 256, 256, CKF.GENERATE, generated_key_type=CKK.CHACHA20,
        generate_key=generate_chacha20_key,
        standard="PKCS #11 v3.0 Current Mechanisms (ChaCha20); RFC 8439",
    ))
    registry.add(MechanismSpec(
        CKM.CHACHA20_POLY1305, 256, 256, crypt, key_types=_CHACHA,
        encrypt=chacha_encrypt, decrypt=chacha_decrypt,
        standard="PKCS #11 v3.0 Current Mechanisms (ChaCha20-Poly1305); RFC 8439",
    ))
