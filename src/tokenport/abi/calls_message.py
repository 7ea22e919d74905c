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
    read_data,
    read_mechanism,
)
from tokenport.ck import CKR
from tokenport.core.message import MessageOperation
from tokenport.core.operation import OpKind
from tokenport.errors import ArgumentsBad, SignatureLenRange

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


HANDLERS: Mapping[str, Handler] = MappingProxyType(
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
"""The handlers of this module by C function name."""
