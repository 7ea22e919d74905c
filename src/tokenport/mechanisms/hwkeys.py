"""Private keys held by a hardware key port (ports/crypto/hardware.py), at the mechanism layer.

PKCS #11 v2.40 s4.9 (private key objects), s5.14 (C_GenerateKeyPair, C_UnwrapKey), s5.7
(C_CreateObject). On a token whose crypto port holds keys in hardware (the ``tpm2`` port),
an EC P-256 / P-384 or RSA-2048 / 3072 private key is a *hardware key*: the object keeps no
CKA_VALUE / CKA_PRIVATE_EXPONENT / primes, only

* CKA_TOKENPORT_TPM_BLOB: the hardware's wrapped key (for a TPM, bound to that TPM);
* CKA_TOKENPORT_TPM_AUTH: the key's authorization value, 32 bytes from the token's DRBG;
* CKA_TOKENPORT_KEY_LOCATION: the port's location name (b"tpm2"), readable.

The first two are secret attributes of the schema: sealed at rest under the token key that
the user PIN unlocks, and never readable (CKR_ATTRIBUTE_SENSITIVE). A hardware key is always
CKA_SENSITIVE, never CKA_EXTRACTABLE and CKA_PRIVATE: a template asking otherwise is
CKR_TEMPLATE_INCONSISTENT (the template contradicts the only kind of key the token makes of
it; CKR_ATTRIBUTE_VALUE_INVALID would say the value itself is malformed), on generation,
creation and unwrapping alike; C_SetAttributeValue and C_CopyObject cannot weaken it (the
schema's sticky rules), and C_WrapKey refuses it (CKR_KEY_UNEXTRACTABLE). Generated hardware
keys are CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE; imported ones (C_CreateObject,
C_UnwrapKey) are not, since their value was once in clear.

Other private keys of such a token stay software keys and are marked b"software".
"""

from __future__ import annotations

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKK, CKO
from tokenport.errors import (
    AttributeValueInvalid,
    DeviceError,
    MechanismParamInvalid,
    PKCS11Error,
    TemplateIncomplete,
    TemplateInconsistent,
)
from tokenport.mechanisms import keys
from tokenport.mechanisms.base import AttrMap, MechanismContext
from tokenport.mechanisms.common import Getter, get_bytes, get_int, int_bytes
from tokenport.ports.crypto import (
    CurveName,
    EcPort,
    EcPrivateKeyHandle,
    HashName,
    RsaPort,
    RsaPrivateKeyHandle,
)
from tokenport.ports.crypto.hardware import AUTH_SIZE, HardwareKeyPort, hardware_of

SOFTWARE = b"software"
RSA_PRIVATE_VALUES = (
    CKA.PRIVATE_EXPONENT, CKA.PRIME_1, CKA.PRIME_2, CKA.EXPONENT_1, CKA.EXPONENT_2,
    CKA.COEFFICIENT,
)


def ec_hardware(ctx: MechanismContext, curve: CurveName) -> HardwareKeyPort | None:
    """The hardware port if it holds keys on ``curve``."""
    hw = hardware_of(ctx.crypto)
    return hw if hw is not None and hw.holds_ec(curve) else None


def rsa_hardware(ctx: MechanismContext, bits: int) -> HardwareKeyPort | None:
    """The hardware port if it holds RSA keys of ``bits``."""
    hw = hardware_of(ctx.crypto)
    return hw if hw is not None and hw.holds_rsa(bits) else None


def check_template(template: AttrMap) -> None:
    """Refuse a private key template that a hardware key cannot honour."""
    if template.get(CKA.EXTRACTABLE) is True:
        raise TemplateInconsistent("a key held in hardware is never extractable")
    if template.get(CKA.SENSITIVE) is False:
        raise TemplateInconsistent("a key held in hardware is always sensitive")
    if template.get(CKA.PRIVATE) is False:
        raise TemplateInconsistent("a key held in hardware is private (its authorization "
                                   "value is sealed under the user PIN)")


def new_auth(ctx: MechanismContext) -> bytes:
    """A fresh authorization value from the token's DRBG."""
    return ctx.random_bytes(AUTH_SIZE)


def material(hw: HardwareKeyPort, blob: bytes, auth: bytes) -> dict[int, AttrValue]:
    """The attributes of a hardware key's private object."""
    return {
        CKA.TOKENPORT_TPM_BLOB: blob,
        CKA.TOKENPORT_TPM_AUTH: auth,
        CKA.TOKENPORT_KEY_LOCATION: hw.location.encode("ascii"),
    }


def mark_software(ctx: MechanismContext, object_class: int, attrs: dict[int, AttrValue]) -> None:
    """Mark a private key that stays in software on a token with a hardware port."""
    if object_class == CKO.PRIVATE_KEY and hardware_of(ctx.crypto) is not None:
        attrs.setdefault(CKA.TOKENPORT_KEY_LOCATION, SOFTWARE)


def adopt(ctx: MechanismContext, object_class: int, key_type: int,
          attrs: dict[int, AttrValue]) -> None:
    """C_CreateObject / C_UnwrapKey of a private key with clear values: if the hardware
    holds keys of its type and size, import it (TPM2_Import) and replace the clear values
    in ``attrs`` by the blob and the auth. Best effort only: the clear values are dropped
    from the object, but Python cannot zero the memory that held them."""
    if object_class != CKO.PRIVATE_KEY:
        return
    hw = hardware_of(ctx.crypto)
    if hw is None:
        return
    get = attrs.get
    if key_type == CKK.EC:
        curve = keys.ec_curve(get, TemplateIncomplete)
        if hw.holds_ec(curve.name):
            check_template(attrs)
            d = keys.ec_scalar(curve, get_bytes(get, CKA.VALUE, TemplateIncomplete))
            point = ctx.crypto.ec_public_point(ctx.crypto.ec_private_from_scalar(curve.name, d))
            auth = new_auth(ctx)
            blob = hw.import_ec(curve.name, d, point, auth)
            del d
            attrs.pop(CKA.VALUE, None)
            attrs.update(material(hw, blob, auth))
    elif key_type == CKK.RSA:
        bits = get_int(get, CKA.MODULUS, TemplateIncomplete).bit_length()
        if hw.holds_rsa(bits):
            check_template(attrs)
            handle = keys.build_rsa_private(ctx.crypto, get, TemplateIncomplete, validate=False)
            numbers = ctx.crypto.rsa_private_numbers(handle)
            auth = new_auth(ctx)
            blob = hw.import_rsa(numbers, auth)
            attrs.setdefault(CKA.PUBLIC_EXPONENT, int_bytes(numbers.e))
            del handle, numbers
            for attr in RSA_PRIVATE_VALUES:
                attrs.pop(attr, None)
            attrs.update(material(hw, blob, auth))
    attrs.setdefault(CKA.TOKENPORT_KEY_LOCATION, SOFTWARE)


def blob_and_auth(get: Getter, missing: type[PKCS11Error]) -> tuple[bytes, bytes] | None:
    """(blob, auth) of a hardware key's object, or None for a software key."""
    blob = get(CKA.TOKENPORT_TPM_BLOB)
    if blob is None:
        return None
    auth = get_bytes(get, CKA.TOKENPORT_TPM_AUTH, missing)
    if not isinstance(blob, bytes):
        raise missing("the hardware key blob is malformed")
    return blob, auth


def _port(crypto: object) -> HardwareKeyPort:
    """The hardware port that holds a stored hardware key; CKR_DEVICE_ERROR when the
    configuration selects a software-only port (the key's device is not there)."""
    hw = hardware_of(crypto)
    if hw is None:
        raise DeviceError(
            "the key is held in hardware, and this token's crypto port has none "
            "(configure the port that made it, e.g. [crypto] backend = \"tpm2\")")
    return hw


def ec_private(crypto: EcPort, curve: CurveName, blob: bytes, auth: bytes) -> EcPrivateKeyHandle:
    """The port handle of a hardware-held EC key."""
    return _port(crypto).ec_key(curve, blob, auth)


def rsa_private(crypto: RsaPort, get: Getter, blob: bytes, auth: bytes) -> RsaPrivateKeyHandle:
    """The port handle of a hardware-held RSA key (its modulus must be the object's)."""
    hw = _port(crypto)
    n = get(CKA.MODULUS)
    if isinstance(n, bytes) and int.from_bytes(n, "big") != hw.rsa_modulus(blob):
        raise AttributeValueInvalid("CKA_MODULUS differs from the hardware key's modulus")
    return hw.rsa_key(blob, auth)


def check_pss(crypto: object, key: RsaPrivateKeyHandle, alg: HashName, mgf_alg: HashName,
              salt_len: int) -> None:
    """C_SignInit of RSA-PSS: refuse parameters a hardware key cannot sign with
    (MechanismParamInvalid) before any data is given."""
    hw = hardware_of(crypto)
    if hw is None:
        return
    wanted = hw.rsa_pss_salt(key, alg, mgf_alg)
    if wanted is not None and salt_len != wanted:
        raise MechanismParamInvalid(
            f"a TPM-held key signs PSS with a {wanted}-byte salt for this hash and key size")
