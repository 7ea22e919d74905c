"""Building blocks shared by the mechanism families (PKCS #11 v2.40 s5.8-5.12 call shapes).

Checks every factory performs (key class and type, key size, absence of a parameter) and the
three context shapes that recur: single-part only, hash-then-sign and MAC verification.
"""

from __future__ import annotations

import hmac as _hmac
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA
from tokenport.errors import (
    AttributeValueInvalid,
    DataLenRange,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    FunctionNotSupported,
    KeySizeRange,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    PKCS11Error,
    SignatureInvalid,
    SignatureLenRange,
    TemplateIncomplete,
    UnwrappingKeySizeRange,
    UnwrappingKeyTypeInconsistent,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
    WrappingKeySizeRange,
    WrappingKeyTypeInconsistent,
)
from tokenport.mechanisms.base import (
    AttrMap,
    CipherFactory,
    KeyView,
    MechanismContext,
    UnwrapFunction,
    WrapFunction,
)
from tokenport.mechanisms.params import Params
from tokenport.ports.crypto import HashContext

Getter = Callable[[int], AttrValue | None]
"""Attribute lookup of a key being built: ``KeyView.get`` or ``Mapping.get``."""


def no_param(param: Params) -> None:
    """Mechanisms without a parameter reject any (MechanismParamInvalid)."""
    if param is not None:
        raise MechanismParamInvalid("this mechanism takes no parameter")


def check_key(key: KeyView, object_class: int, key_types: Collection[int]) -> None:
    """KeyTypeInconsistent unless the key has this class and one of these key types."""
    if key.object_class != object_class or key.key_type not in key_types:
        raise KeyTypeInconsistent("key class or type does not match the mechanism")


def check_size(size: int, minimum: int, maximum: int) -> None:
    """KeySizeRange unless minimum <= size <= maximum."""
    if not minimum <= size <= maximum:
        raise KeySizeRange(f"key size {size} outside {minimum}..{maximum}")


def get_bytes(get: Getter, attr: int, missing: type[PKCS11Error]) -> bytes:
    """A byte-string attribute; ``missing`` when absent, AttributeValueInvalid when not bytes."""
    value = get(attr)
    if value is None:
        raise missing(f"attribute 0x{attr:x} is required")
    if not isinstance(value, bytes):
        raise AttributeValueInvalid(f"attribute 0x{attr:x} must be a byte string")
    return value


def get_int(get: Getter, attr: int, missing: type[PKCS11Error]) -> int:
    """A big-endian big-integer attribute (CKA_MODULUS ...) as an int."""
    return int.from_bytes(get_bytes(get, attr, missing), "big")


def opt_int(get: Getter, attr: int) -> int | None:
    value = get(attr)
    if isinstance(value, bytes) and value:
        return int.from_bytes(value, "big")
    return None


def int_bytes(value: int, length: int | None = None) -> bytes:
    """Big-endian bytes of ``value``: minimal (at least one byte) or exactly ``length``."""
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(size, "big")


def value_len(template: AttrMap) -> int:
    """CKA_VALUE_LEN of a key generation template (TemplateIncomplete if absent)."""
    length = template.get(CKA.VALUE_LEN)
    if length is None:
        raise TemplateIncomplete("CKA_VALUE_LEN is required")
    if not isinstance(length, int) or isinstance(length, bool):
        raise AttributeValueInvalid("CKA_VALUE_LEN must be a CK_ULONG")
    return length


def secret_value(key: KeyView) -> bytes:
    """CKA_VALUE of a secret key."""
    return get_bytes(key.get, CKA.VALUE, KeyTypeInconsistent)


def compare_mac(expected: bytes, signature: bytes) -> None:
    """Constant-time MAC comparison: SignatureLenRange / SignatureInvalid on mismatch."""
    if len(signature) != len(expected):
        raise SignatureLenRange("MAC has the wrong length")
    if not _hmac.compare_digest(expected, signature):
        raise SignatureInvalid("MAC does not verify")


class SinglePartSign:
    """A sign context of a mechanism without a multi-part form."""

    def __init__(self, sign: Callable[[bytes], bytes]) -> None:
        self._sign = sign

    def update(self, data: bytes) -> None:
        raise FunctionNotSupported("this mechanism is single-part only")

    def final(self) -> bytes:
        raise FunctionNotSupported("this mechanism is single-part only")

    def once(self, data: bytes) -> bytes:
        return self._sign(data)


class SinglePartVerify:
    """A verify context of a mechanism without a multi-part form."""

    def __init__(self, verify: Callable[[bytes, bytes], None]) -> None:
        self._verify = verify

    def update(self, data: bytes) -> None:
        raise FunctionNotSupported("this mechanism is single-part only")

    def final(self, signature: bytes) -> None:
        raise FunctionNotSupported("this mechanism is single-part only")

    def once(self, data: bytes, signature: bytes) -> None:
        self._verify(data, signature)


class SinglePartCipher:
    """An encrypt/decrypt context of a mechanism without a multi-part form."""

    def __init__(self, transform: Callable[[bytes], bytes]) -> None:
        self._transform = transform

    def update_length(self, length: int) -> int:
        raise FunctionNotSupported("this mechanism is single-part only")

    def update(self, data: bytes) -> bytes:
        raise FunctionNotSupported("this mechanism is single-part only")

    def final(self) -> bytes:
        raise FunctionNotSupported("this mechanism is single-part only")

    def once(self, data: bytes) -> bytes:
        return self._transform(data)


class LazyHash:
    """A hash (or MAC) context made at the first update; a single-part call with
    ``one_shot`` (the port's one-shot digest) makes none."""

    def __init__(self, start: HashContext | Callable[[], HashContext],
                 one_shot: Callable[[bytes], bytes] | None) -> None:
        self._start = start
        self._one_shot = one_shot
        self._context: HashContext | None = None

    def _running(self) -> HashContext:
        if self._context is None:
            start = self._start
            self._context = start() if callable(start) else start
        return self._context

    def update(self, data: bytes) -> None:
        self._running().update(data)

    def finalize(self) -> bytes:
        return self._running().finalize()

    def whole(self, data: bytes) -> bytes:
        if self._context is None and self._one_shot is not None:
            return self._one_shot(data)
        context = self._running()
        context.update(data)
        return context.finalize()


class HashThenSign:
    """Multi-part signing: feed a hash (or MAC) context, then sign what it produces.

    With ``sign`` the identity, this is a MAC computation (HMAC, CMAC). ``context`` is a
    context or a function making one at the first update; ``one_shot`` hashes a whole
    single-part input in one call.
    """

    def __init__(self, context: HashContext | Callable[[], HashContext],
                 sign: Callable[[bytes], bytes],
                 one_shot: Callable[[bytes], bytes] | None = None) -> None:
        self._hash = LazyHash(context, one_shot)
        self._sign = sign

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def final(self) -> bytes:
        return self._sign(self._hash.finalize())

    def once(self, data: bytes) -> bytes:
        return self._sign(self._hash.whole(data))


class HashThenVerify:
    """Multi-part verification: feed a hash context, then check the signature of its digest.

    ``verify(digest, signature)`` raises SignatureInvalid / SignatureLenRange; ``context``
    and ``one_shot`` as for HashThenSign.
    """

    def __init__(self, context: HashContext | Callable[[], HashContext],
                 verify: Callable[[bytes, bytes], None],
                 one_shot: Callable[[bytes], bytes] | None = None) -> None:
        self._hash = LazyHash(context, one_shot)
        self._verify = verify

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def final(self, signature: bytes) -> None:
        self._verify(self._hash.finalize(), signature)

    def once(self, data: bytes, signature: bytes) -> None:
        self._verify(self._hash.whole(data), signature)


def mac_verifier(context: HashContext) -> HashThenVerify:
    """Multi-part MAC verification with a constant-time comparison."""
    return HashThenVerify(context, compare_mac)


WRAP_ERRORS: dict[type[PKCS11Error], type[PKCS11Error]] = {
    DataLenRange: KeySizeRange,
    KeyTypeInconsistent: WrappingKeyTypeInconsistent,
    KeySizeRange: WrappingKeySizeRange,
}
"""C_WrapKey codes for what an encryption path raises (the data is the key to wrap)."""

UNWRAP_ERRORS: dict[type[PKCS11Error], type[PKCS11Error]] = {
    EncryptedDataInvalid: WrappedKeyInvalid,
    EncryptedDataLenRange: WrappedKeyLenRange,
    KeyTypeInconsistent: UnwrappingKeyTypeInconsistent,
    KeySizeRange: UnwrappingKeySizeRange,
}
"""C_UnwrapKey codes for what a decryption path raises."""

DECRYPT_ERRORS: dict[type[PKCS11Error], type[PKCS11Error]] = {
    WrappedKeyInvalid: EncryptedDataInvalid,
    WrappedKeyLenRange: EncryptedDataLenRange,
}
"""C_Decrypt codes for what a key-unwrap primitive raises."""


@contextmanager
def remap(mapping: Mapping[type[PKCS11Error], type[PKCS11Error]]) -> Iterator[None]:
    """Re-raise the listed error classes as their counterparts (same message)."""
    try:
        yield
    except PKCS11Error as exc:
        target = mapping.get(type(exc))
        if target is None:
            raise
        raise target(str(exc)) from None


def wrap_with(encrypt: CipherFactory) -> WrapFunction:
    """C_WrapKey as single-part encryption of the encoded key, with C_WrapKey error codes."""

    def wrap(ctx: MechanismContext, key: KeyView, param: Params, data: bytes) -> bytes:
        with remap(WRAP_ERRORS):
            return encrypt(ctx, key, param).once(data)

    return wrap


def unwrap_with(decrypt: CipherFactory) -> UnwrapFunction:
    """C_UnwrapKey as single-part decryption, with C_UnwrapKey error codes."""

    def unwrap(ctx: MechanismContext, key: KeyView, param: Params, data: bytes) -> bytes:
        with remap(UNWRAP_ERRORS):
            return decrypt(ctx, key, param).once(data)

    return unwrap
