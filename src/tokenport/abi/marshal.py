"""C values to Python values and back, for the PKCS #11 v2.40 C ABI (s3, s5.2).

Everything that touches a C pointer lives here: reading byte buffers, templates and
mechanism parameters, writing info structures, and the two output conventions of s5.2
(byte strings with the NULL-buffer / short-buffer length protocol, and counted lists).
Nothing here knows what a call means; entry modules decide that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from tokenport._pkcs11 import ffi
from tokenport.attributes.kinds import (
    ULONG_MAX,
    Template,
    check_value_length,
    decode_value,
    encode_value,
)
from tokenport.ck import CKF, CKR
from tokenport.core.info import (
    AttributeResult,
    LibraryInfo,
    MechanismInfo,
    SessionInfo,
    SlotInfo,
    TokenInfo,
    Version,
)
from tokenport.core.operation import Produced
from tokenport.errors import (
    ArgumentsBad,
    AttributeValueInvalid,
    DataLenRange,
    GeneralError,
    MechanismParamInvalid,
    PKCS11Error,
)
from tokenport.mechanisms.base import MAX_DATA_LEN
from tokenport.mechanisms.params import (
    PARAM_KINDS,
    CbcEncryptDataParams,
    CcmParams,
    ChaChaPolyParams,
    CtrParams,
    Ecdh1DeriveParams,
    EddsaParams,
    GcmParams,
    HkdfParams,
    KeyHandleParam,
    MacGeneralParams,
    Mechanism,
    OaepParams,
    ParamKind,
    Params,
    Pbkdf2Params,
    PssParams,
    SignAdditionalContext,
)

CData = Any
"""A cffi pointer or struct (cffi has no static types)."""

NULL = ffi.NULL
MAX_LENGTH = MAX_DATA_LEN + 1
"""Buffers this long or longer are refused before they are read (a garbage length such as
CK_UNAVAILABLE_INFORMATION, or a hostile one): no call reads more than MAX_DATA_LEN bytes
of one argument, so none stalls the host."""
GARBAGE_LENGTH = 1 << 32
"""Data lengths from here on are taken for garbage (CKR_ARGUMENTS_BAD), not for data that is
merely too long for the mechanism."""
MAX_PIN_BYTES = 1 << 16
"""PINs longer than this are refused (CKR_ARGUMENTS_BAD) before they are read or counted."""
MAX_COUNT = 1 << 20
"""Longer templates or lists than this are taken for a garbage count."""

UNAVAILABLE = ULONG_MAX
"""CK_UNAVAILABLE_INFORMATION for this platform's CK_ULONG."""


def is_null(ptr: CData) -> bool:
    """True for a NULL pointer."""
    return bool(ptr == NULL)


def require(*pointers: CData) -> None:
    """CKR_ARGUMENTS_BAD unless every pointer is non-NULL."""
    for pointer in pointers:
        if pointer == NULL:
            raise ArgumentsBad()


def _read(ptr: CData, length: int, error: type[PKCS11Error]) -> bytes:
    if length == 0:
        return b""
    if ptr == NULL or length >= MAX_LENGTH:
        raise error()
    return bytes(ffi.buffer(ffi.cast("char *", ptr), length))


def read_bytes(ptr: CData, length: int) -> bytes:
    """An input byte string (pData, ulDataLen): NULL with a non-zero length is ARGUMENTS_BAD."""
    return _read(ptr, length, ArgumentsBad)


def read_data(ptr: CData, length: int, too_long: type[PKCS11Error] = DataLenRange) -> bytes:
    """The data of a cryptographic call (s5.8-5.12): a length beyond MAX_DATA_LEN is
    ``too_long`` (CKR_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_LEN_RANGE ...) before a byte is
    read, so a hostile length costs nothing; a garbage length (2^32 or more, such as
    CK_UNAVAILABLE_INFORMATION) or NULL with a non-zero length is ARGUMENTS_BAD."""
    if MAX_DATA_LEN < length < GARBAGE_LENGTH:
        raise too_long(f"longer than the {MAX_DATA_LEN}-byte limit of one call")
    return _read(ptr, length, ArgumentsBad)


def read_pin(ptr: CData, length: int) -> bytes:
    """A PIN (pPin, ulPinLen): NULL with a non-zero length, or an absurd length, is
    CKR_ARGUMENTS_BAD (the core applies the token's PIN length rules)."""
    if length > MAX_PIN_BYTES:
        raise ArgumentsBad("the PIN length is absurd")
    return _read(ptr, length, ArgumentsBad)


def read_fixed(ptr: CData, length: int) -> bytes:
    """A fixed-size input such as the 32-byte label of C_InitToken; NULL is ARGUMENTS_BAD."""
    require(ptr)
    return _read(ptr, length, ArgumentsBad)


def read_init_args(ptr: CData) -> CData:
    """The CK_C_INITIALIZE_ARGS behind C_Initialize's pInitArgs (non-NULL)."""
    return ffi.cast("CK_C_INITIALIZE_ARGS *", ptr)


# -- templates (s4.1, CK_ATTRIBUTE) -----------------------------------------------------------


def _check_count(ptr: CData, count: int) -> None:
    if count and (ptr == NULL or count >= MAX_COUNT):
        raise ArgumentsBad()


def read_template(ptr: CData, count: int) -> Template:
    """Decode a CK_ATTRIBUTE array into typed (type, value) pairs.

    NULL pTemplate with ulCount > 0 is CKR_ARGUMENTS_BAD; NULL pValue with a non-zero
    ulValueLen is CKR_ATTRIBUTE_VALUE_INVALID; values are decoded by the attribute codec
    (wrong sizes: ATTRIBUTE_VALUE_INVALID, checked before the value is read; nested
    templates: ATTRIBUTE_TYPE_INVALID).
    """
    _check_count(ptr, count)
    template: list[tuple[int, Any]] = []
    for i in range(count):
        attr = ptr[i]
        kind = int(attr.type)
        length = int(attr.ulValueLen)
        check_value_length(kind, length)
        raw = _read(attr.pValue, length, AttributeValueInvalid)
        template.append((kind, decode_value(kind, raw)))
    return template


def read_attribute_types(ptr: CData, count: int) -> list[int]:
    """The types of a C_GetAttributeValue template (values are outputs)."""
    _check_count(ptr, count)
    return [int(ptr[i].type) for i in range(count)]


_ATTRIBUTE_ERROR_ORDER = (CKR.ATTRIBUTE_SENSITIVE, CKR.ATTRIBUTE_TYPE_INVALID, CKR.BUFFER_TOO_SMALL)


def write_attribute_values(ptr: CData, count: int, results: Sequence[AttributeResult]) -> int:
    """Fill a C_GetAttributeValue template (s5.7, C_GetAttributeValue, rules 1-5).

    Every entry is processed: an error gives ulValueLen = CK_UNAVAILABLE_INFORMATION; NULL
    pValue gives the encoded length; a short buffer gives CK_UNAVAILABLE_INFORMATION and
    CKR_BUFFER_TOO_SMALL; otherwise the value is copied. Returns the CK_RV.
    """
    if len(results) != count:
        raise GeneralError("the core answered a different number of attributes")
    seen: set[int] = set()
    for i, result in enumerate(results):
        attr = ptr[i]
        if result.error != CKR.OK or result.value is None:
            attr.ulValueLen = UNAVAILABLE
            seen.add(int(result.error) if result.error != CKR.OK else int(CKR.GENERAL_ERROR))
            continue
        raw = encode_value(result.type, result.value)
        if attr.pValue == NULL:
            attr.ulValueLen = len(raw)
        elif int(attr.ulValueLen) < len(raw):
            attr.ulValueLen = UNAVAILABLE
            seen.add(int(CKR.BUFFER_TOO_SMALL))
        else:
            ffi.memmove(attr.pValue, raw, len(raw))
            attr.ulValueLen = len(raw)
    for rv in _ATTRIBUTE_ERROR_ORDER:
        if rv in seen:
            return int(rv)
    return min(seen) if seen else int(CKR.OK)


# -- mechanisms (s3.5 CK_MECHANISM, parameters per mechanism) ----------------------------------


def _param_struct(ptr: CData, length: int, ctype: str) -> CData:
    if ptr == NULL or length != ffi.sizeof(ctype):
        raise MechanismParamInvalid()
    return ffi.cast(ctype + " *", ptr)


def _param_bytes(ptr: CData, length: int) -> bytes:
    return _read(ptr, int(length), MechanismParamInvalid)


def _gcm(ptr: CData, length: int) -> GcmParams:
    """CK_GCM_PARAMS in either layout (ulIvBits came with the v2.40 errata; 3.0 keeps it).
    The IV length is ulIvLen; ulIvBits is redundant and clients set it to 0 or 8 * ulIvLen.
    Any other value contradicts ulIvLen and is refused (MECHANISM_PARAM_INVALID), not ignored."""
    if ptr != NULL and length == ffi.sizeof("TP_GCM_PARAMS_NO_IVBITS"):
        p = ffi.cast("TP_GCM_PARAMS_NO_IVBITS *", ptr)
    else:
        p = _param_struct(ptr, length, "CK_GCM_PARAMS")
        if int(p.ulIvBits) not in (0, 8 * int(p.ulIvLen)):
            raise MechanismParamInvalid()
    return GcmParams(
        iv=_param_bytes(p.pIv, p.ulIvLen),
        aad=_param_bytes(p.pAAD, p.ulAADLen),
        tag_bits=int(p.ulTagBits),
    )


def _ctr(ptr: CData, length: int) -> CtrParams:
    p = _param_struct(ptr, length, "CK_AES_CTR_PARAMS")
    return CtrParams(counter_bits=int(p.ulCounterBits), counter_block=bytes(ffi.buffer(p.cb)))


def _pss(ptr: CData, length: int) -> PssParams:
    p = _param_struct(ptr, length, "CK_RSA_PKCS_PSS_PARAMS")
    return PssParams(hash_alg=int(p.hashAlg), mgf=int(p.mgf), salt_len=int(p.sLen))


def _oaep(ptr: CData, length: int) -> OaepParams:
    p = _param_struct(ptr, length, "CK_RSA_PKCS_OAEP_PARAMS")
    return OaepParams(
        hash_alg=int(p.hashAlg),
        mgf=int(p.mgf),
        source=int(p.source),
        source_data=_param_bytes(p.pSourceData, p.ulSourceDataLen),
    )


def _ecdh1(ptr: CData, length: int) -> Ecdh1DeriveParams:
    p = _param_struct(ptr, length, "CK_ECDH1_DERIVE_PARAMS")
    return Ecdh1DeriveParams(
        kdf=int(p.kdf),
        shared_data=_param_bytes(p.pSharedData, p.ulSharedDataLen),
        public_data=_param_bytes(p.pPublicData, p.ulPublicDataLen),
    )


def _eddsa(ptr: CData, length: int) -> EddsaParams | None:
    if ptr == NULL:
        if length:
            raise MechanismParamInvalid()
        return None
    p = _param_struct(ptr, length, "CK_EDDSA_PARAMS")
    return EddsaParams(
        prehash=bool(p.phFlag), context=_param_bytes(p.pContextData, p.ulContextDataLen)
    )


def _align(offset: int, alignment: int) -> int:
    return (offset + alignment - 1) // alignment * alignment


_ULONG_SIZE = ffi.sizeof("CK_ULONG")
_ULONG_ALIGN = ffi.alignof("CK_ULONG")
_PTR_SIZE = ffi.sizeof("CK_BYTE_PTR")
_PTR_ALIGN = ffi.alignof("CK_BYTE_PTR")
_SIGN_CONTEXT_OFFSETS = (
    0,
    _align(_ULONG_SIZE, _PTR_ALIGN),
    _align(_align(_ULONG_SIZE, _PTR_ALIGN) + _PTR_SIZE, _ULONG_ALIGN),
)
SIGN_CONTEXT_SIZE = _align(
    _SIGN_CONTEXT_OFFSETS[2] + _ULONG_SIZE, max(_ULONG_ALIGN, _PTR_ALIGN)
)
"""sizeof(CK_SIGN_ADDITIONAL_CONTEXT) { CK_HEDGE_TYPE hedgeVariant; CK_BYTE_PTR pContext;
CK_ULONG ulContextLen; } (PKCS #11 v3.2 s6.67) under the platform's C layout rules: the
v2.40 header the module is built with has no such type, so its fields are read at their
natural offsets (24 bytes on LP64, 12 on 32-bit platforms)."""


def _sign_context(ptr: CData, length: int) -> SignAdditionalContext | None:
    """The optional CK_SIGN_ADDITIONAL_CONTEXT of CKM_ML_DSA: NULL with length 0 is no
    parameter; a wrong ulParameterLen, or a NULL pContext with a non-zero ulContextLen, is
    CKR_MECHANISM_PARAM_INVALID. The context (at most 255 bytes, checked by the mechanism)
    is read only up to MAX_DATA_LEN, like any parameter buffer."""
    if ptr == NULL:
        if length:
            raise MechanismParamInvalid()
        return None
    if length != SIGN_CONTEXT_SIZE:
        raise MechanismParamInvalid()
    base = ffi.cast("char *", ptr)
    hedge_at, context_at, length_at = _SIGN_CONTEXT_OFFSETS
    hedge = int(ffi.cast("CK_ULONG *", base + hedge_at)[0])
    context = ffi.cast("CK_BYTE_PTR *", base + context_at)[0]
    context_len = int(ffi.cast("CK_ULONG *", base + length_at)[0])
    return SignAdditionalContext(hedge=hedge, context=_param_bytes(context, context_len))


def _ulong(ptr: CData, length: int) -> int:
    """A CK_ULONG parameter (CK_MAC_GENERAL_PARAMS, a CK_OBJECT_HANDLE)."""
    return int(_param_struct(ptr, length, "CK_ULONG")[0])


def _mac_general(ptr: CData, length: int) -> MacGeneralParams:
    return MacGeneralParams(mac_len=_ulong(ptr, length))


def _string_data(ptr: CData, length: int) -> bytes:
    """CK_KEY_DERIVATION_STRING_DATA (v2.40 Current Mechanisms s2.17, and the miscellaneous
    simple key derivations) -> its bytes."""
    p = _param_struct(ptr, length, "CK_KEY_DERIVATION_STRING_DATA")
    return _param_bytes(p.pData, p.ulLen)


def _cbc_data(ctype: str) -> Callable[[CData, int], CbcEncryptDataParams]:
    """CK_DES_CBC_ENCRYPT_DATA_PARAMS / CK_AES_CBC_ENCRYPT_DATA_PARAMS (v2.40 Current
    Mechanisms s2.17)."""

    def decode(ptr: CData, length: int) -> CbcEncryptDataParams:
        p = _param_struct(ptr, length, ctype)
        return CbcEncryptDataParams(iv=bytes(ffi.buffer(p.iv)), data=_param_bytes(p.pData, p.length))

    return decode


def _hkdf(ptr: CData, length: int) -> HkdfParams:
    """CK_HKDF_PARAMS (PKCS #11 v3.0; 3.2 s6.62.2). pSalt is read only for the extract stage
    with CKF_HKDF_SALT_DATA, and pInfo only for the expand stage (the specification says to
    ignore them otherwise, so a client may leave them uninitialised); with
    CKF_HKDF_SALT_NULL, pSalt must be NULL and ulSaltLen 0. NULL with a length, or a salt
    given with CKF_HKDF_SALT_NULL, is MECHANISM_PARAM_INVALID."""
    p = _param_struct(ptr, length, "TP_HKDF_PARAMS")
    extract, expand = bool(p.bExtract), bool(p.bExpand)
    salt_type = int(p.ulSaltType)
    salt = b""
    if extract and salt_type == CKF.HKDF_SALT_DATA:
        salt = _param_bytes(p.pSalt, p.ulSaltLen)
    elif extract and salt_type == CKF.HKDF_SALT_NULL and (p.pSalt != NULL or p.ulSaltLen):
        raise MechanismParamInvalid()
    return HkdfParams(
        extract=extract,
        expand=expand,
        prf=int(p.prfHashMechanism),
        salt_type=salt_type,
        salt=salt,
        salt_key=int(p.hSaltKey),
        info=_param_bytes(p.pInfo, p.ulInfoLen) if expand else b"",
    )


PBKD2_POINTER_FLOOR = 1 << 16
"""Where CK_PKCS5_PBKD2_PARAMS2 and the v2.40 CK_PKCS5_PBKD2_PARAMS have the same size
(LP64: a CK_ULONG and a pointer are both 8 bytes), ulParameterLen cannot tell them apart;
the last field can: a value below this floor is a password length (PARAMS2: no password is
64 KiB long), one at or above it a pointer to the length (v2.40 PARAMS: Linux maps nothing
below 64 KiB, vm.mmap_min_addr, so no valid pointer is smaller)."""


def _pbkd2(ptr: CData, length: int) -> Pbkdf2Params:
    """CK_PKCS5_PBKD2_PARAMS2 (PKCS #11 v3.0) or the v2.40 CK_PKCS5_PBKD2_PARAMS, told apart
    by ulParameterLen where their sizes differ and by PBKD2_POINTER_FLOOR where not."""
    two, one = ffi.sizeof("TP_PKCS5_PBKD2_PARAMS2"), ffi.sizeof("TP_PKCS5_PBKD2_PARAMS")
    if ptr == NULL or length not in (two, one):
        raise MechanismParamInvalid()
    p2 = ffi.cast("TP_PKCS5_PBKD2_PARAMS2 *", ptr)
    if length == two and (two != one or int(p2.ulPasswordLen) < PBKD2_POINTER_FLOOR):
        password_len = int(p2.ulPasswordLen)
    else:
        p1 = ffi.cast("TP_PKCS5_PBKD2_PARAMS *", ptr)
        if p1.ulPasswordLen == NULL:
            raise MechanismParamInvalid()
        password_len = int(p1.ulPasswordLen[0])
    if password_len > MAX_PIN_BYTES:
        raise MechanismParamInvalid()
    return Pbkdf2Params(
        salt_source=int(p2.saltSource),
        salt=_param_bytes(p2.pSaltSourceData, p2.ulSaltSourceDataLen),
        iterations=int(p2.iterations),
        prf=int(p2.prf),
        password=_param_bytes(p2.pPassword, password_len),
        prf_data=_param_bytes(p2.pPrfData, p2.ulPrfDataLen),
    )


def _raw(ptr: CData, length: int, optional: bool) -> bytes | None:
    if ptr == NULL:
        if length:
            raise MechanismParamInvalid()
        return None
    if optional and length == 0:
        return None
    return _param_bytes(ptr, length)


def _ccm(ptr: CData, length: int) -> CcmParams:
    p = _param_struct(ptr, length, "CK_CCM_PARAMS")
    return CcmParams(
        data_len=int(p.ulDataLen),
        nonce=_param_bytes(p.pNonce, p.ulNonceLen),
        aad=_param_bytes(p.pAAD, p.ulAADLen),
        mac_len=int(p.ulMACLen),
    )


def _chacha_poly(ptr: CData, length: int) -> ChaChaPolyParams:
    p = _param_struct(ptr, length, "CK_SALSA20_CHACHA20_POLY1305_PARAMS")
    return ChaChaPolyParams(
        nonce=_param_bytes(p.pNonce, p.ulNonceLen), aad=_param_bytes(p.pAAD, p.ulAADLen)
    )


_DECODERS: Mapping[ParamKind, Callable[[CData, int], Params]] = MappingProxyType(
    {
        ParamKind.NONE: lambda ptr, length: _raw(ptr, length, optional=True),
        ParamKind.BYTES: lambda ptr, length: _raw(ptr, length, optional=False),
        ParamKind.GCM: _gcm,
        ParamKind.CTR: _ctr,
        ParamKind.PSS: _pss,
        ParamKind.OAEP: _oaep,
        ParamKind.ECDH1: _ecdh1,
        ParamKind.EDDSA: _eddsa,
        ParamKind.SIGN_CONTEXT: _sign_context,
        ParamKind.MAC_GENERAL: _mac_general,
        ParamKind.STRING_DATA: _string_data,
        ParamKind.DES_CBC_DATA: _cbc_data("CK_DES_CBC_ENCRYPT_DATA_PARAMS"),
        ParamKind.AES_CBC_DATA: _cbc_data("CK_AES_CBC_ENCRYPT_DATA_PARAMS"),
        ParamKind.OBJECT_HANDLE: lambda ptr, length: KeyHandleParam(_ulong(ptr, length)),
        ParamKind.HKDF: _hkdf,
        ParamKind.PBKD2: _pbkd2,
        ParamKind.CCM: _ccm,
        ParamKind.CHACHA_POLY: _chacha_poly,
    }
)


def read_mechanism(ptr: CData) -> Mechanism:
    """Decode a CK_MECHANISM; NULL is CKR_ARGUMENTS_BAD, a malformed parameter (wrong
    ulParameterLen, NULL where a structure is needed, NULL inner pointer with a length)
    CKR_MECHANISM_PARAM_INVALID. Parameterless mechanisms given bytes pass them on raw
    (the mechanism rejects them); a non-NULL pointer with length 0 counts as no parameter."""
    if ptr == NULL:
        raise ArgumentsBad()
    mechanism = ptr.mechanism
    param, length = ptr.pParameter, ptr.ulParameterLen
    kind = PARAM_KINDS.get(mechanism)
    if kind is None:  # ParamKind.NONE, the common case, decoded inline
        if param == NULL:
            if length:
                raise MechanismParamInvalid()
            return Mechanism(mechanism)
        return Mechanism(mechanism, _raw(param, length, optional=True))
    return Mechanism(mechanism, _DECODERS[kind](param, length))


# -- outputs (s5.2) ------------------------------------------------------------------------------


def output_capacity(out: CData, out_len: CData) -> int | None:
    """The caller's output buffer size for the s5.2 length protocol (None: pBuf is NULL, a
    length query); a NULL pulBufLen is CKR_ARGUMENTS_BAD."""
    require(out_len)
    if out == NULL:
        return None
    return int(out_len[0])


def deliver(produced: Produced, out: CData, out_len: CData) -> int:
    """Finish an output call of the s5.2 convention with what the core produced: the
    length always; the bytes when they were handed out; CKR_BUFFER_TOO_SMALL when a
    buffer was given and the core kept the result (or measured it) instead."""
    out_len[0] = produced.length
    if produced.output is None:
        return int(CKR.OK) if out == NULL else int(CKR.BUFFER_TOO_SMALL)
    if produced.output:
        ffi.memmove(out, produced.output, len(produced.output))
    return int(CKR.OK)


def return_bytes(compute: Callable[[], bytes], out: CData, out_len: CData) -> int:
    """The s5.2 convention for a call that keeps no state (C_WrapKey): compute, then
    report the length (NULL or short buffer) or copy the bytes."""
    capacity = output_capacity(out, out_len)
    data = compute()
    output = data if capacity is not None and capacity >= len(data) else None
    return deliver(Produced(len(data), output), out, out_len)


def return_ulongs(values: Sequence[int], out: CData, count: CData) -> int:
    """The counted-list convention (C_GetSlotList, C_GetMechanismList; s5.5)."""
    require(count)
    if out == NULL:
        count[0] = len(values)
        return int(CKR.OK)
    if int(count[0]) < len(values):
        count[0] = len(values)
        return int(CKR.BUFFER_TOO_SMALL)
    for i, value in enumerate(values):
        out[i] = value
    count[0] = len(values)
    return int(CKR.OK)


def check_output(ptr: CData, length: int) -> None:
    """A fixed-length output buffer: NULL with a non-zero (or absurd) length is ARGUMENTS_BAD."""
    if length and (ptr == NULL or length >= MAX_LENGTH):
        raise ArgumentsBad()


def write_bytes(ptr: CData, data: bytes) -> None:
    """Copy ``data`` into a buffer already checked by ``check_output``."""
    if data:
        ffi.memmove(ptr, data, len(data))


def write_ulong(ptr: CData, value: int) -> None:
    """Store a CK_ULONG output (a handle, a size); NULL is CKR_ARGUMENTS_BAD."""
    require(ptr)
    ptr[0] = value


# -- information structures (s3.1-3.5) --------------------------------------------------------


def pad(text: str, width: int) -> bytes:
    """UTF-8, blank-padded to ``width`` bytes, truncated on a character boundary."""
    raw = text.encode("utf-8")
    if len(raw) > width:
        raw = raw[:width].decode("utf-8", errors="ignore").encode("utf-8")
    return raw.ljust(width, b" ")


def _text(field: CData, text: str) -> None:
    width = ffi.sizeof(field)
    ffi.memmove(field, pad(text, width), width)


def _version(field: CData, version: Version) -> None:
    field.major = version.major
    field.minor = version.minor


def write_info(ptr: CData, info: LibraryInfo) -> None:
    """CK_INFO (C_GetInfo, s5.4)."""
    _version(ptr.cryptokiVersion, info.cryptoki_version)
    _text(ptr.manufacturerID, info.manufacturer_id)
    ptr.flags = info.flags
    _text(ptr.libraryDescription, info.library_description)
    _version(ptr.libraryVersion, info.library_version)


def write_slot_info(ptr: CData, info: SlotInfo) -> None:
    """CK_SLOT_INFO (C_GetSlotInfo, s5.5)."""
    _text(ptr.slotDescription, info.slot_description)
    _text(ptr.manufacturerID, info.manufacturer_id)
    ptr.flags = info.flags
    _version(ptr.hardwareVersion, info.hardware_version)
    _version(ptr.firmwareVersion, info.firmware_version)


def write_token_info(ptr: CData, info: TokenInfo) -> None:
    """CK_TOKEN_INFO (C_GetTokenInfo, s5.5)."""
    _text(ptr.label, info.label)
    _text(ptr.manufacturerID, info.manufacturer_id)
    _text(ptr.model, info.model)
    _text(ptr.serialNumber, info.serial_number)
    ptr.flags = info.flags
    ptr.ulMaxSessionCount = info.max_session_count
    ptr.ulSessionCount = info.session_count
    ptr.ulMaxRwSessionCount = info.max_rw_session_count
    ptr.ulRwSessionCount = info.rw_session_count
    ptr.ulMaxPinLen = info.max_pin_len
    ptr.ulMinPinLen = info.min_pin_len
    ptr.ulTotalPublicMemory = info.total_public_memory
    ptr.ulFreePublicMemory = info.free_public_memory
    ptr.ulTotalPrivateMemory = info.total_private_memory
    ptr.ulFreePrivateMemory = info.free_private_memory
    _version(ptr.hardwareVersion, info.hardware_version)
    _version(ptr.firmwareVersion, info.firmware_version)
    _text(ptr.utcTime, info.utc_time)


def write_session_info(ptr: CData, info: SessionInfo) -> None:
    """CK_SESSION_INFO (C_GetSessionInfo, s5.6)."""
    ptr.slotID = info.slot_id
    ptr.state = info.state
    ptr.flags = info.flags
    ptr.ulDeviceError = info.device_error


def write_mechanism_info(ptr: CData, info: MechanismInfo) -> None:
    """CK_MECHANISM_INFO (C_GetMechanismInfo, s5.5)."""
    ptr.ulMinKeySize = info.min_key_size
    ptr.ulMaxKeySize = info.max_key_size
    ptr.flags = info.flags
