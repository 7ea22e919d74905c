"""Python bodies of the PKCS #11 v2.40 cryptographic functions (s5.8-5.16).

Same conventions as calls_general: handlers take the Library and the C arguments, return a
CK_RV or raise a PKCS11Error. An output call passes the caller's buffer size to the core,
which implements the s5.2 length protocol once (``Module.produce``); ``marshal.deliver``
copies what it hands out. Data lengths beyond MAX_DATA_LEN are refused before reading. Functions outside
v1 (recovery, dual-function, operation state) return CKR_FUNCTION_NOT_SUPPORTED once the
library is initialized; C_GetFunctionStatus and C_CancelFunction return
CKR_FUNCTION_NOT_PARALLEL (s5.16, legacy functions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from tokenport.abi.library import Library
from tokenport.abi.marshal import (
    CData,
    check_output,
    deliver,
    output_capacity,
    read_data,
    read_mechanism,
    read_template,
    require,
    return_bytes,
    write_bytes,
    write_ulong,
)
from tokenport.ck import CKR
from tokenport.core.operation import OpKind, Step
from tokenport.errors import (
    ArgumentsBad,
    EncryptedDataLenRange,
    FunctionNotParallel,
    FunctionNotSupported,
    GeneralError,
    SignatureLenRange,
    WrappedKeyLenRange,
)

OK = int(CKR.OK)
Handler = Callable[..., int]


def _produce(
    lib: Library, session: int, kind: OpKind, step: Step, data: bytes, out: CData, out_len: CData
) -> int:
    capacity = output_capacity(out, out_len)
    produced = lib.module().crypto_calls.produce(session, kind, step, data, capacity)
    return deliver(produced, out, out_len)


# -- s5.8 encryption -------------------------------------------------------------------------------


def C_EncryptInit(lib: Library, session: int, mechanism: CData, key: int) -> int:
    """s5.8 C_EncryptInit."""
    module = lib.module()
    module.crypto_calls.encrypt_init(session, read_mechanism(mechanism), key)
    return OK


def C_Encrypt(
    lib: Library, session: int, data: CData, data_len: int, out: CData, out_len: CData
) -> int:
    """s5.8 C_Encrypt."""
    lib.module()
    plain = read_data(data, data_len)
    return _produce(lib, session, OpKind.ENCRYPT, Step.ONCE, plain, out, out_len)


def C_EncryptUpdate(
    lib: Library, session: int, part: CData, part_len: int, out: CData, out_len: CData
) -> int:
    """s5.8 C_EncryptUpdate."""
    lib.module()
    plain = read_data(part, part_len)
    return _produce(lib, session, OpKind.ENCRYPT, Step.UPDATE, plain, out, out_len)


def C_EncryptFinal(lib: Library, session: int, out: CData, out_len: CData) -> int:
    """s5.8 C_EncryptFinal."""
    lib.module()
    return _produce(lib, session, OpKind.ENCRYPT, Step.FINAL, b"", out, out_len)


# -- s5.9 decryption -------------------------------------------------------------------------------


def C_DecryptInit(lib: Library, session: int, mechanism: CData, key: int) -> int:
    """s5.9 C_DecryptInit."""
    module = lib.module()
    module.crypto_calls.decrypt_init(session, read_mechanism(mechanism), key)
    return OK


def C_Decrypt(
    lib: Library, session: int, data: CData, data_len: int, out: CData, out_len: CData
) -> int:
    """s5.9 C_Decrypt."""
    lib.module()
    cipher = read_data(data, data_len, EncryptedDataLenRange)
    return _produce(lib, session, OpKind.DECRYPT, Step.ONCE, cipher, out, out_len)


def C_DecryptUpdate(
    lib: Library, session: int, part: CData, part_len: int, out: CData, out_len: CData
) -> int:
    """s5.9 C_DecryptUpdate."""
    lib.module()
    cipher = read_data(part, part_len, EncryptedDataLenRange)
    return _produce(lib, session, OpKind.DECRYPT, Step.UPDATE, cipher, out, out_len)


def C_DecryptFinal(lib: Library, session: int, out: CData, out_len: CData) -> int:
    """s5.9 C_DecryptFinal."""
    lib.module()
    return _produce(lib, session, OpKind.DECRYPT, Step.FINAL, b"", out, out_len)


# -- s5.10 message digesting -----------------------------------------------------------------------


def C_DigestInit(lib: Library, session: int, mechanism: CData) -> int:
    """s5.10 C_DigestInit."""
    module = lib.module()
    module.crypto_calls.digest_init(session, read_mechanism(mechanism))
    return OK


def C_Digest(
    lib: Library, session: int, data: CData, data_len: int, out: CData, out_len: CData
) -> int:
    """s5.10 C_Digest."""
    lib.module()
    message = read_data(data, data_len)
    return _produce(lib, session, OpKind.DIGEST, Step.ONCE, message, out, out_len)


def C_DigestUpdate(lib: Library, session: int, part: CData, part_len: int) -> int:
    """s5.10 C_DigestUpdate."""
    module = lib.module()
    module.crypto_calls.digest_update(session, read_data(part, part_len))
    return OK


def C_DigestKey(lib: Library, session: int, key: int) -> int:
    """s5.10 C_DigestKey."""
    lib.module().crypto_calls.digest_key(session, key)
    return OK


def C_DigestFinal(lib: Library, session: int, out: CData, out_len: CData) -> int:
    """s5.10 C_DigestFinal."""
    lib.module()
    return _produce(lib, session, OpKind.DIGEST, Step.FINAL, b"", out, out_len)


# -- s5.11 signing and MACing ----------------------------------------------------------------------


def C_SignInit(lib: Library, session: int, mechanism: CData, key: int) -> int:
    """s5.11 C_SignInit."""
    module = lib.module()
    module.crypto_calls.sign_init(session, read_mechanism(mechanism), key)
    return OK


def C_Sign(
    lib: Library, session: int, data: CData, data_len: int, out: CData, out_len: CData
) -> int:
    """s5.11 C_Sign."""
    lib.module()
    message = read_data(data, data_len)
    return _produce(lib, session, OpKind.SIGN, Step.ONCE, message, out, out_len)


def C_SignUpdate(lib: Library, session: int, part: CData, part_len: int) -> int:
    """s5.11 C_SignUpdate."""
    module = lib.module()
    module.crypto_calls.sign_update(session, read_data(part, part_len))
    return OK


def C_SignFinal(lib: Library, session: int, out: CData, out_len: CData) -> int:
    """s5.11 C_SignFinal."""
    lib.module()
    return _produce(lib, session, OpKind.SIGN, Step.FINAL, b"", out, out_len)


def C_SignRecoverInit(lib: Library, session: int, mechanism: CData, key: int) -> int:
    """s5.11 C_SignRecoverInit: not supported in v1."""
    lib.module()
    raise FunctionNotSupported()


def C_SignRecover(
    lib: Library, session: int, data: CData, data_len: int, out: CData, out_len: CData
) -> int:
    """s5.11 C_SignRecover: not supported in v1."""
    lib.module()
    raise FunctionNotSupported()


# -- s5.12 verifying signatures and MACs -----------------------------------------------------------


def C_VerifyInit(lib: Library, session: int, mechanism: CData, key: int) -> int:
    """s5.12 C_VerifyInit."""
    module = lib.module()
    module.crypto_calls.verify_init(session, read_mechanism(mechanism), key)
    return OK


def C_Verify(
    lib: Library, session: int, data: CData, data_len: int, sig: CData, sig_len: int
) -> int:
    """s5.12 C_Verify (an invalid signature raises SignatureInvalid in the core)."""
    module = lib.module()
    message = read_data(data, data_len)
    module.crypto_calls.verify(session, message, read_data(sig, sig_len, SignatureLenRange))
    return OK


def C_VerifyUpdate(lib: Library, session: int, part: CData, part_len: int) -> int:
    """s5.12 C_VerifyUpdate."""
    module = lib.module()
    module.crypto_calls.verify_update(session, read_data(part, part_len))
    return OK


def C_VerifyFinal(lib: Library, session: int, sig: CData, sig_len: int) -> int:
    """s5.12 C_VerifyFinal."""
    module = lib.module()
    module.crypto_calls.verify_final(session, read_data(sig, sig_len, SignatureLenRange))
    return OK


def C_VerifyRecoverInit(lib: Library, session: int, mechanism: CData, key: int) -> int:
    """s5.12 C_VerifyRecoverInit: not supported in v1."""
    lib.module()
    raise FunctionNotSupported()


def C_VerifyRecover(
    lib: Library, session: int, sig: CData, sig_len: int, out: CData, out_len: CData
) -> int:
    """s5.12 C_VerifyRecover: not supported in v1."""
    lib.module()
    raise FunctionNotSupported()


# -- s5.13 dual-function cryptographic functions (not supported in v1) ------------------------------


def _dual(
    lib: Library, session: int, part: CData, part_len: int, out: CData, out_len: CData
) -> int:
    lib.module()
    raise FunctionNotSupported()


def C_DigestEncryptUpdate(
    lib: Library, session: int, part: CData, part_len: int, out: CData, out_len: CData
) -> int:
    """s5.13 C_DigestEncryptUpdate: not supported in v1."""
    return _dual(lib, session, part, part_len, out, out_len)


def C_DecryptDigestUpdate(
    lib: Library, session: int, part: CData, part_len: int, out: CData, out_len: CData
) -> int:
    """s5.13 C_DecryptDigestUpdate: not supported in v1."""
    return _dual(lib, session, part, part_len, out, out_len)


def C_SignEncryptUpdate(
    lib: Library, session: int, part: CData, part_len: int, out: CData, out_len: CData
) -> int:
    """s5.13 C_SignEncryptUpdate: not supported in v1."""
    return _dual(lib, session, part, part_len, out, out_len)


def C_DecryptVerifyUpdate(
    lib: Library, session: int, part: CData, part_len: int, out: CData, out_len: CData
) -> int:
    """s5.13 C_DecryptVerifyUpdate: not supported in v1."""
    return _dual(lib, session, part, part_len, out, out_len)


# -- s5.14 key management ------------------------------------------------------------------------


def C_GenerateKey(
    lib: Library, session: int, mechanism: CData, template: CData, count: int, key: CData
) -> int:
    """s5.14 C_GenerateKey."""
    module = lib.module()
    require(key)
    mech = read_mechanism(mechanism)
    write_ulong(key, module.key_calls.generate_key(session, mech, read_template(template, count)))
    return OK


def C_GenerateKeyPair(
    lib: Library,
    session: int,
    mechanism: CData,
    public_template: CData,
    public_count: int,
    private_template: CData,
    private_count: int,
    public_key: CData,
    private_key: CData,
) -> int:
    """s5.14 C_GenerateKeyPair."""
    module = lib.module()
    require(public_key, private_key)
    mech = read_mechanism(mechanism)
    public = read_template(public_template, public_count)
    private = read_template(private_template, private_count)
    public_handle, private_handle = module.key_calls.generate_key_pair(session, mech, public, private)
    write_ulong(public_key, public_handle)
    write_ulong(private_key, private_handle)
    return OK


def C_WrapKey(
    lib: Library,
    session: int,
    mechanism: CData,
    wrapping_key: int,
    key: int,
    out: CData,
    out_len: CData,
) -> int:
    """s5.14 C_WrapKey (length protocol on the wrapped key)."""
    module = lib.module()
    mech = read_mechanism(mechanism)
    return return_bytes(lambda: module.key_calls.wrap_key(session, mech, wrapping_key, key), out, out_len)


def C_UnwrapKey(
    lib: Library,
    session: int,
    mechanism: CData,
    unwrapping_key: int,
    wrapped: CData,
    wrapped_len: int,
    template: CData,
    count: int,
    key: CData,
) -> int:
    """s5.14 C_UnwrapKey."""
    module = lib.module()
    require(key)
    mech = read_mechanism(mechanism)
    blob = read_data(wrapped, wrapped_len, WrappedKeyLenRange)
    handle = module.key_calls.unwrap_key(session, mech, unwrapping_key, blob, read_template(template, count))
    write_ulong(key, handle)
    return OK


def C_DeriveKey(
    lib: Library,
    session: int,
    mechanism: CData,
    base_key: int,
    template: CData,
    count: int,
    key: CData,
) -> int:
    """s5.14 C_DeriveKey."""
    module = lib.module()
    require(key)
    mech = read_mechanism(mechanism)
    write_ulong(key, module.key_calls.derive_key(session, mech, base_key, read_template(template, count)))
    return OK


# -- s5.15 random number generation ----------------------------------------------------------


def C_SeedRandom(lib: Library, session: int, seed: CData, seed_len: int) -> int:
    """s5.15 C_SeedRandom."""
    module = lib.module()
    module.key_calls.seed_random(session, read_data(seed, seed_len, ArgumentsBad))
    return OK


def C_GenerateRandom(lib: Library, session: int, out: CData, length: int) -> int:
    """s5.15 C_GenerateRandom: exactly ulRandomLen bytes (no length protocol)."""
    module = lib.module()
    check_output(out, length)
    data = module.key_calls.generate_random(session, length)
    if len(data) != length:
        raise GeneralError("the core returned a wrong number of random bytes")
    write_bytes(out, data)
    return OK


# -- s5.16 parallel function management (legacy) ---------------------------------------------


def C_GetFunctionStatus(lib: Library, session: int) -> int:
    """s5.16 C_GetFunctionStatus: legacy, always CKR_FUNCTION_NOT_PARALLEL."""
    lib.module()
    raise FunctionNotParallel()


def C_CancelFunction(lib: Library, session: int) -> int:
    """s5.16 C_CancelFunction: legacy, always CKR_FUNCTION_NOT_PARALLEL."""
    lib.module()
    raise FunctionNotParallel()


HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        handler.__name__: handler
        for handler in (
            C_EncryptInit,
            C_Encrypt,
            C_EncryptUpdate,
            C_EncryptFinal,
            C_DecryptInit,
            C_Decrypt,
            C_DecryptUpdate,
            C_DecryptFinal,
            C_DigestInit,
            C_Digest,
            C_DigestUpdate,
            C_DigestKey,
            C_DigestFinal,
            C_SignInit,
            C_Sign,
            C_SignUpdate,
            C_SignFinal,
            C_SignRecoverInit,
            C_SignRecover,
            C_VerifyInit,
            C_Verify,
            C_VerifyUpdate,
            C_VerifyFinal,
            C_VerifyRecoverInit,
            C_VerifyRecover,
            C_DigestEncryptUpdate,
            C_DecryptDigestUpdate,
            C_SignEncryptUpdate,
            C_DecryptVerifyUpdate,
            C_GenerateKey,
            C_GenerateKeyPair,
            C_WrapKey,
            C_UnwrapKey,
            C_DeriveKey,
            C_SeedRandom,
            C_GenerateRandom,
            C_GetFunctionStatus,
            C_CancelFunction,
        )
    }
)
"""The handlers of this module by C function name."""
