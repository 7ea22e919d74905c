"""Python bodies of the PKCS #11 v3.0 message-based functions (base specification s5.13-5.15:
C_MessageEncryptInit .. C_MessageVerifyFinal), over tokenport.core.message.

Order of checks, as everywhere: initialization, then arguments, then the core. A failed call
ends the message it belongs to, never the message-based operation (the guard calls
``drop_message`` for calls the ABI refused; the core does it for its own errors).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from tokenport.abi.library import Library
from tokenport.abi.marshal import (
    NULL,
    CData,
    deliver,
    output_capacity,
    read_bytes,
    read_data,
    read_mechanism,
    require,
)
from tokenport.abi.marshal_message import read_message_params, write_sealed
from tokenport.ck import CKF, CKR
from tokenport.core.message import MessageOperation
from tokenport.core.operation import OpKind
from tokenport.errors import (
    ArgumentsBad,
    DataLenRange,
    EncryptedDataLenRange,
    SignatureLenRange,
)
from tokenport.mechanisms.params import Mechanism

OK = int(CKR.OK)
Handler = Callable[..., int]


def _no_parameter(parameter: CData, length: int) -> None:
    """Signature mechanisms take no per-message parameter (pParameter NULL, length 0)."""
    if parameter != NULL or length:
        raise ArgumentsBad("this mechanism takes no per-message parameter")


def _operation(lib: Library, session: int, kind: OpKind) -> MessageOperation:
    return lib.module().message_calls.operation(session, kind)


# -- v3.0 s5.14 message-based signing -------------------------------------------------------------


def C_MessageSignInit(lib: Library, session: int, mechanism: CData, key: int) -> int:
    """C_MessageSignInit: start signing messages with ``key``."""
    module = lib.module()
    module.message_calls.init(session, OpKind.MESSAGE_SIGN, read_mechanism(mechanism), key)
    return OK


def C_SignMessage(
    lib: Library, session: int, parameter: CData, parameter_len: int, data: CData,
    data_len: int, signature: CData, signature_len: CData,
) -> int:
    """C_SignMessage: one message, one signature (s5.2 length protocol)."""
    lib.module()
    _no_parameter(parameter, parameter_len)
    message = read_data(data, data_len)
    capacity = output_capacity(signature, signature_len)
    produced = _operation(lib, session, OpKind.MESSAGE_SIGN).sign(message, capacity)
    return deliver(produced, signature, signature_len)


def C_SignMessageBegin(lib: Library, session: int, parameter: CData, parameter_len: int) -> int:
    """C_SignMessageBegin: start a message given in parts."""
    lib.module()
    _no_parameter(parameter, parameter_len)
    _operation(lib, session, OpKind.MESSAGE_SIGN).begin()
    return OK


def C_SignMessageNext(
    lib: Library, session: int, parameter: CData, parameter_len: int, data: CData,
    data_len: int, signature: CData, signature_len: CData,
) -> int:
    """C_SignMessageNext: one more part; a NULL pulSignatureLen says it is not the last, else
    the signature follows the last part (s5.2 length protocol)."""
    lib.module()
    _no_parameter(parameter, parameter_len)
    part = read_data(data, data_len)
    operation = _operation(lib, session, OpKind.MESSAGE_SIGN)
    if signature_len == NULL:
        operation.update(part)
        return OK
    capacity = output_capacity(signature, signature_len)
    return deliver(operation.sign_last(part, capacity), signature, signature_len)


def C_MessageSignFinal(lib: Library, session: int) -> int:
    """C_MessageSignFinal: end the message-based signing operation."""
    lib.module()
    _operation(lib, session, OpKind.MESSAGE_SIGN).finish()
    return OK


# -- v3.0 s5.15 message-based verification ----------------------------------------------------------


def C_MessageVerifyInit(lib: Library, session: int, mechanism: CData, key: int) -> int:
    """C_MessageVerifyInit: start verifying messages with ``key``."""
    module = lib.module()
    module.message_calls.init(session, OpKind.MESSAGE_VERIFY, read_mechanism(mechanism), key)
    return OK


def C_VerifyMessage(
    lib: Library, session: int, parameter: CData, parameter_len: int, data: CData,
    data_len: int, signature: CData, signature_len: int,
) -> int:
    """C_VerifyMessage: CKR_OK or CKR_SIGNATURE_INVALID / CKR_SIGNATURE_LEN_RANGE."""
    lib.module()
    _no_parameter(parameter, parameter_len)
    message = read_data(data, data_len)
    sig = read_data(signature, signature_len, SignatureLenRange)
    _operation(lib, session, OpKind.MESSAGE_VERIFY).verify(message, sig)
    return OK


def C_VerifyMessageBegin(lib: Library, session: int, parameter: CData, parameter_len: int) -> int:
    """C_VerifyMessageBegin: start a message given in parts."""
    lib.module()
    _no_parameter(parameter, parameter_len)
    _operation(lib, session, OpKind.MESSAGE_VERIFY).begin()
    return OK


def C_VerifyMessageNext(
    lib: Library, session: int, parameter: CData, parameter_len: int, data: CData,
    data_len: int, signature: CData, signature_len: int,
) -> int:
    """C_VerifyMessageNext: one more part; a NULL pSignature says it is not the last, else
    the signature is checked after the last part."""
    lib.module()
    _no_parameter(parameter, parameter_len)
    part = read_data(data, data_len)
    operation = _operation(lib, session, OpKind.MESSAGE_VERIFY)
    if signature == NULL:
        operation.update(part)
        return OK
    operation.verify_last(part, read_data(signature, signature_len, SignatureLenRange))
    return OK


def C_MessageVerifyFinal(lib: Library, session: int) -> int:
    """C_MessageVerifyFinal: end the message-based verification operation."""
    lib.module()
    _operation(lib, session, OpKind.MESSAGE_VERIFY).finish()
    return OK


_SIGNATURE_HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        handler.__name__: handler
        for handler in (
            C_MessageSignInit,
            C_SignMessage,
            C_SignMessageBegin,
            C_SignMessageNext,
            C_MessageSignFinal,
            C_MessageVerifyInit,
            C_VerifyMessage,
            C_VerifyMessageBegin,
            C_VerifyMessageNext,
            C_MessageVerifyFinal,
        )
    }
)


# -- v3.0 s5.13 message-based encryption and decryption (AEAD) -------------------------------------


def _aead_mechanism(lib: Library, session: int, kind: OpKind) -> tuple[MessageOperation, int]:
    operation = _operation(lib, session, kind)
    return operation, operation.mechanism


def _message_init(lib: Library, session: int, kind: OpKind, mechanism: CData, key: int) -> int:
    """The parameters come with each message: the CK_MECHANISM's own is normally NULL (a
    non-NULL one is decoded and refused by the mechanism)."""
    module = lib.module()
    require(mechanism)
    if mechanism.pParameter == NULL and not mechanism.ulParameterLen:
        mech = Mechanism(int(mechanism.mechanism))
    else:
        mech = read_mechanism(mechanism)
    module.message_calls.init(session, kind, mech, key)
    return OK


def _crypt(
    lib: Library, session: int, kind: OpKind, parameter: CData, parameter_len: int,
    aad: CData, aad_len: int, data: CData, data_len: int, out: CData, out_len: CData,
) -> int:
    lib.module()
    decrypt = kind is OpKind.MESSAGE_DECRYPT
    operation, mechanism = _aead_mechanism(lib, session, kind)
    params = read_message_params(mechanism, parameter, parameter_len, decrypt)
    associated = read_bytes(aad, aad_len)
    message = read_data(data, data_len, EncryptedDataLenRange if decrypt else DataLenRange)
    capacity = output_capacity(out, out_len)
    produced, sealed = operation.crypt(params, associated, message, capacity)
    if sealed is not None and not decrypt:
        write_sealed(mechanism, parameter, parameter_len, sealed)
    return deliver(produced, out, out_len)


def _begin(lib: Library, session: int, kind: OpKind, parameter: CData, parameter_len: int,
           aad: CData, aad_len: int) -> int:
    lib.module()
    operation, mechanism = _aead_mechanism(lib, session, kind)
    params = read_message_params(mechanism, parameter, parameter_len,
                                 kind is OpKind.MESSAGE_DECRYPT)
    operation.begin_parts(params, read_bytes(aad, aad_len))
    return OK


def _next(
    lib: Library, session: int, kind: OpKind, parameter: CData, parameter_len: int,
    data: CData, data_len: int, out: CData, out_len: CData, flags: int,
) -> int:
    lib.module()
    decrypt = kind is OpKind.MESSAGE_DECRYPT
    if flags & ~int(CKF.END_OF_MESSAGE):
        raise ArgumentsBad("the only flag of C_*MessageNext is CKF_END_OF_MESSAGE")
    last = bool(flags & CKF.END_OF_MESSAGE)
    operation, mechanism = _aead_mechanism(lib, session, kind)
    params = read_message_params(mechanism, parameter, parameter_len, decrypt and last)
    part = read_data(data, data_len, EncryptedDataLenRange if decrypt else DataLenRange)
    capacity = output_capacity(out, out_len)
    produced, sealed = operation.crypt_part(params, part, capacity, last)
    if sealed is not None and not decrypt:
        write_sealed(mechanism, parameter, parameter_len, sealed)
    return deliver(produced, out, out_len)


def C_MessageEncryptInit(lib: Library, session: int, mechanism: CData, key: int) -> int:
    """C_MessageEncryptInit: start encrypting messages with ``key`` (MESSAGE_AEAD mechanisms)."""
    return _message_init(lib, session, OpKind.MESSAGE_ENCRYPT, mechanism, key)


def C_EncryptMessage(
    lib: Library, session: int, parameter: CData, parameter_len: int, aad: CData, aad_len: int,
    data: CData, data_len: int, out: CData, out_len: CData,
) -> int:
    """C_EncryptMessage: one message; the IV used and the tag go to the parameter."""
    return _crypt(lib, session, OpKind.MESSAGE_ENCRYPT, parameter, parameter_len, aad, aad_len,
                  data, data_len, out, out_len)


def C_EncryptMessageBegin(
    lib: Library, session: int, parameter: CData, parameter_len: int, aad: CData, aad_len: int
) -> int:
    """C_EncryptMessageBegin: a message in parts, its parameter and associated data."""
    return _begin(lib, session, OpKind.MESSAGE_ENCRYPT, parameter, parameter_len, aad, aad_len)


def C_EncryptMessageNext(
    lib: Library, session: int, parameter: CData, parameter_len: int, data: CData,
    data_len: int, out: CData, out_len: CData, flags: int,
) -> int:
    """C_EncryptMessageNext: a part; CKF_END_OF_MESSAGE ends the message (output, IV, tag)."""
    return _next(lib, session, OpKind.MESSAGE_ENCRYPT, parameter, parameter_len, data,
                 data_len, out, out_len, flags)


def C_MessageEncryptFinal(lib: Library, session: int) -> int:
    """C_MessageEncryptFinal: end the message-based encryption operation."""
    lib.module()
    _operation(lib, session, OpKind.MESSAGE_ENCRYPT).finish()
    return OK


def C_MessageDecryptInit(lib: Library, session: int, mechanism: CData, key: int) -> int:
    """C_MessageDecryptInit: start decrypting messages with ``key``."""
    return _message_init(lib, session, OpKind.MESSAGE_DECRYPT, mechanism, key)


def C_DecryptMessage(
    lib: Library, session: int, parameter: CData, parameter_len: int, aad: CData, aad_len: int,
    data: CData, data_len: int, out: CData, out_len: CData,
) -> int:
    """C_DecryptMessage: one message; a tag that does not verify is CKR_AEAD_DECRYPT_FAILED
    and releases nothing."""
    return _crypt(lib, session, OpKind.MESSAGE_DECRYPT, parameter, parameter_len, aad, aad_len,
                  data, data_len, out, out_len)


def C_DecryptMessageBegin(
    lib: Library, session: int, parameter: CData, parameter_len: int, aad: CData, aad_len: int
) -> int:
    """C_DecryptMessageBegin: a message in parts, its parameter and associated data."""
    return _begin(lib, session, OpKind.MESSAGE_DECRYPT, parameter, parameter_len, aad, aad_len)


def C_DecryptMessageNext(
    lib: Library, session: int, parameter: CData, parameter_len: int, data: CData,
    data_len: int, out: CData, out_len: CData, flags: int,
) -> int:
    """C_DecryptMessageNext: a part; CKF_END_OF_MESSAGE checks the tag (of this call's
    parameter) and releases the whole plaintext."""
    return _next(lib, session, OpKind.MESSAGE_DECRYPT, parameter, parameter_len, data,
                 data_len, out, out_len, flags)


def C_MessageDecryptFinal(lib: Library, session: int) -> int:
    """C_MessageDecryptFinal: end the message-based decryption operation."""
    lib.module()
    _operation(lib, session, OpKind.MESSAGE_DECRYPT).finish()
    return OK


HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        **_SIGNATURE_HANDLERS,
        **{
            handler.__name__: handler
            for handler in (
                C_MessageEncryptInit,
                C_EncryptMessage,
                C_EncryptMessageBegin,
                C_EncryptMessageNext,
                C_MessageEncryptFinal,
                C_MessageDecryptInit,
                C_DecryptMessage,
                C_DecryptMessageBegin,
                C_DecryptMessageNext,
                C_MessageDecryptFinal,
            )
        },
    }
)
"""The handlers of this module by C function name."""
