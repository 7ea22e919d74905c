"""The per-message parameters of message-based AEAD (PKCS #11 v3.0 Current Mechanisms:
CK_GCM_MESSAGE_PARAMS, CK_CCM_MESSAGE_PARAMS, CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS) between
C and tokenport.mechanisms.aead.MessageParams, and the write-back of the IV used and the tag.

A structure of the wrong size, a NULL IV or tag buffer, or a tag length that is not whole
bytes is CKR_MECHANISM_PARAM_INVALID, like a malformed CK_MECHANISM parameter.
"""

from __future__ import annotations

from tokenport._pkcs11 import ffi
from tokenport.abi.marshal import NULL, CData, write_bytes
from tokenport.ck import CKM, CKGen
from tokenport.errors import MechanismParamInvalid
from tokenport.mechanisms.base import MAX_DATA_LEN, Sealed
from tokenport.mechanisms.params import POLY1305_TAG_BYTES, MessageParams

_STRUCTS = {
    int(CKM.AES_GCM): "CK_GCM_MESSAGE_PARAMS",
    int(CKM.AES_CCM): "CK_CCM_MESSAGE_PARAMS",
    int(CKM.CHACHA20_POLY1305): "CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS",
}
_MAX_IV = 1 << 16


def _struct(mechanism: int, ptr: CData, length: int) -> CData:
    ctype = _STRUCTS.get(mechanism)
    if ctype is None or ptr == NULL or length != ffi.sizeof(ctype):
        raise MechanismParamInvalid("a message-based AEAD call needs its mechanism's structure")
    return ffi.cast(ctype + " *", ptr)


def _buffer(ptr: CData, length: int) -> bytes:
    if length == 0:
        return b""
    if ptr == NULL or length >= _MAX_IV:
        raise MechanismParamInvalid("NULL or absurd IV, nonce or tag buffer")
    return bytes(ffi.buffer(ffi.cast("char *", ptr), length))


def read_message_params(mechanism: int, ptr: CData, length: int, decrypt: bool) -> MessageParams:
    """Decode one message's parameter; for decryption the tag is read too."""
    p = _struct(mechanism, ptr, length)
    if mechanism == CKM.AES_GCM:
        if int(p.ulTagBits) % 8:
            raise MechanismParamInvalid("ulTagBits must be whole bytes")
        tag_len = int(p.ulTagBits) // 8
        return MessageParams(
            nonce=_buffer(p.pIv, int(p.ulIvLen)), tag_len=tag_len,
            fixed_bits=int(p.ulIvFixedBits), generator=int(p.ivGenerator),
            tag=_buffer(p.pTag, tag_len) if decrypt else _require(p.pTag, tag_len),
        )
    if mechanism == CKM.AES_CCM:
        mac_len = int(p.ulMACLen)
        if int(p.ulDataLen) > MAX_DATA_LEN:
            raise MechanismParamInvalid("ulDataLen beyond the limit of one call")
        return MessageParams(
            nonce=_buffer(p.pNonce, int(p.ulNonceLen)), tag_len=mac_len,
            fixed_bits=int(p.ulNonceFixedBits), generator=int(p.nonceGenerator),
            tag=_buffer(p.pMAC, mac_len) if decrypt else _require(p.pMAC, mac_len),
            data_len=int(p.ulDataLen),
        )
    return MessageParams(
        nonce=_buffer(p.pNonce, int(p.ulNonceLen)), tag_len=POLY1305_TAG_BYTES,
        generator=CKGen.NO_GENERATE,
        tag=_buffer(p.pTag, POLY1305_TAG_BYTES) if decrypt
        else _require(p.pTag, POLY1305_TAG_BYTES),
    )


def _require(ptr: CData, length: int) -> bytes:
    """An output buffer of the parameter (the tag): it must be there."""
    if ptr == NULL and length:
        raise MechanismParamInvalid("no buffer for the tag")
    return b""


def write_sealed(mechanism: int, ptr: CData, length: int, sealed: Sealed) -> None:
    """After an encryption: the IV used into pIv / pNonce, the tag into pTag / pMAC."""
    p = _struct(mechanism, ptr, length)
    if mechanism == CKM.AES_GCM:
        iv, iv_len, tag, tag_len = p.pIv, int(p.ulIvLen), p.pTag, int(p.ulTagBits) // 8
    elif mechanism == CKM.AES_CCM:
        iv, iv_len, tag, tag_len = p.pNonce, int(p.ulNonceLen), p.pMAC, int(p.ulMACLen)
    else:
        iv, iv_len, tag, tag_len = p.pNonce, int(p.ulNonceLen), p.pTag, POLY1305_TAG_BYTES
    if iv_len != len(sealed.nonce) or tag_len != len(sealed.tag):
        raise MechanismParamInvalid("the IV or tag buffer is not the length used")
    write_bytes(iv, sealed.nonce)
    write_bytes(tag, sealed.tag)
