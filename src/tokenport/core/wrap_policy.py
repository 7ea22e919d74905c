"""Wrapping keys are not encryption keys (Clulow, "On the security of PKCS #11", CHES 2003).

A sensitive key wrapped under a key that can also decrypt comes out in clear from
C_Decrypt; chosen bytes encrypted under a key that can also unwrap come back from
C_UnwrapKey as a "sensitive" key whose value the caller knows. The rule has three doors,
each a function here, called by the C_WrapKey / C_UnwrapKey and C_SetAttributeValue /
C_CopyObject paths (PKCS #11 v2.40 s5.14, s5.7):

* ``check_wrap``: C_WrapKey of a sensitive key is refused when the wrapping key's value is
  held by any secret key that decrypts (the wrapping key itself, or a copy), or when the
  wrapping key is a public key whose private half on this token decrypts;
* ``check_unwrap``: C_UnwrapKey of a key that will be sensitive is refused when the
  unwrapping key's value is held by any secret key that encrypts;
* ``check_usage_change``: a secret key that wraps or unwraps never gains CKA_ENCRYPT or
  CKA_DECRYPT afterwards, by C_SetAttributeValue or in a copy (which holds its value).

Refusals are CKR_KEY_FUNCTION_NOT_PERMITTED (wrap, unwrap) and CKR_ATTRIBUTE_READ_ONLY
(set, copy). ``[policy] allow_wrap_with_decrypt_key = true`` lifts all three; the callers
skip these checks then.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKO
from tokenport.errors import AttributeReadOnly, KeyFunctionNotPermitted, UserNotLoggedIn
from tokenport.objects.model import TokenObject

SWITCH = "[policy] allow_wrap_with_decrypt_key"

ValueOf = Callable[[TokenObject], AttrValue | None]
"""CKA_VALUE of a key, unsealed (raises UserNotLoggedIn when nobody is logged in)."""


def _value_shared(key: TokenObject, usage: int, secret_keys: Iterable[TokenObject],
                  value_of: ValueOf) -> bool:
    """Does any of ``secret_keys`` holding ``key``'s value (or ``key`` itself) allow
    ``usage``? A value that cannot be compared (sealed, nobody logged in) counts as shared;
    values are compared in constant time."""
    if key.attrs.get(usage) is True:
        return True
    value = value_of(key)
    for other in secret_keys:
        if other is key or other.object_class != CKO.SECRET_KEY:
            continue
        if other.attrs.get(usage) is not True:
            continue
        try:
            candidate = value_of(other)
        except UserNotLoggedIn:
            return True
        if isinstance(candidate, bytes) and isinstance(value, bytes) and hmac.compare_digest(
            candidate, value
        ):
            return True
    return False


def check_wrap(wrapper: TokenObject, secret_keys: Iterable[TokenObject],
               private_keys: Iterable[TokenObject], value_of: ValueOf) -> None:
    """C_WrapKey of a sensitive key under ``wrapper`` (see the module docstring)."""
    refused = KeyFunctionNotPermitted(
        f"a sensitive key may not be wrapped under a key that can also decrypt ({SWITCH})"
    )
    if wrapper.object_class == CKO.SECRET_KEY:
        if _value_shared(wrapper, int(CKA.DECRYPT), secret_keys, value_of):
            raise refused
        return
    modulus = wrapper.attrs.get(CKA.MODULUS)
    if modulus is None:
        return
    for key in private_keys:
        if (
            key.object_class == CKO.PRIVATE_KEY
            and key.attrs.get(CKA.MODULUS) == modulus
            and key.attrs.get(CKA.DECRYPT) is True
        ):
            raise refused


def check_unwrap(unwrapper: TokenObject, template: Mapping[int, AttrValue],
                 secret_keys: Iterable[TokenObject], value_of: ValueOf) -> None:
    """C_UnwrapKey under ``unwrapper`` of a key made from ``template``."""
    if unwrapper.object_class != CKO.SECRET_KEY or template.get(CKA.SENSITIVE, True) is not True:
        return
    if _value_shared(unwrapper, int(CKA.ENCRYPT), secret_keys, value_of):
        raise KeyFunctionNotPermitted(
            f"a key that can encrypt may not unwrap a sensitive key ({SWITCH})"
        )


def check_usage_change(key: TokenObject, changes: Mapping[int, AttrValue]) -> None:
    """C_SetAttributeValue on ``key``, or C_CopyObject of it, with ``changes``."""
    if key.object_class != CKO.SECRET_KEY:
        return
    if key.attrs.get(CKA.WRAP) is not True and key.attrs.get(CKA.UNWRAP) is not True:
        return
    for usage in (CKA.ENCRYPT, CKA.DECRYPT):
        if changes.get(usage) is True and key.attrs.get(usage) is not True:
            raise AttributeReadOnly(
                f"a wrapping key cannot gain CKA_ENCRYPT or CKA_DECRYPT ({SWITCH})"
            )
