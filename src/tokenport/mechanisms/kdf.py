"""Key derivation functions: HKDF (CKM_HKDF_DERIVE, CKM_HKDF_DATA, CKM_HKDF_KEY_GEN) and
PKCS #5 PBKDF2 (CKM_PKCS5_PBKD2).

HKDF, PKCS #11 v3.0 (3.2 s6.62; RFC 5869). CK_HKDF_PARAMS chooses extract, expand or both,
the PRF hash (any CKM_SHA* / CKM_SHA3_* digest mechanism but MD5), the salt (CKF_HKDF_SALT_NULL:
digest-length zeros; _DATA: pSalt, not empty; _KEY: the CKA_VALUE of hSaltKey, a CKK_HKDF or
CKK_GENERIC_SECRET secret key with CKA_DERIVE) and the expand stage's info. The salt is
ignored without extract, the info without expand, as the specification says. The base key is
a CKK_HKDF or CKK_GENERIC_SECRET secret key of any length (like Kryoptic, tokenport does not
hold it to the digest length: RFC 5869's own vectors use other lengths), or, as the
specification allows, a CKO_DATA object whose value is the digest length, extracted with a
salt (no CKA_DERIVE applies to it; the derived key is then never CKA_ALWAYS_SENSITIVE). The output
is CKA_VALUE_LEN bytes (expand; default: the digest length) or the PRK (extract only: the
digest length, and CKA_VALUE_LEN, if given, must say so). CKM_HKDF_DERIVE makes a secret key
(its CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE follow the base key, done by the object
factory); CKM_HKDF_DATA a CKO_DATA object holding the output. CKM_HKDF_KEY_GEN makes a
CKK_HKDF key of CKA_VALUE_LEN random bytes. Key sizes in CK_MECHANISM_INFO are in bytes.

PBKDF2, PKCS #11 v3.0 (3.2 s6.37.3-6.37.4; RFC 8018 s5.2), through C_GenerateKey: the
parameter (CK_PKCS5_PBKD2_PARAMS2, or the v2.40 CK_PKCS5_PBKD2_PARAMS) gives the salt
(CKZ_SALT_SPECIFIED only), the iteration count (1 .. 2^24), the PRF (CKP_PKCS5_PBKD2_HMAC_SHA1,
_SHA224, _SHA256, _SHA384, _SHA512, _SHA512_224, _SHA512_256; no PRF data; GOST R 34.11-94 is
not offered) and the password. The new key's type is the template's CKA_KEY_TYPE (required:
"this mechanism can be used to generate any type of secret key"), its length CKA_VALUE_LEN
or, for DES / DES2 / DES3, the type's fixed length (parity bits set). No key is used.
"""

from __future__ import annotations

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO, CKP, CKZ
from tokenport.errors import (
    AttributeValueInvalid,
    KeyFunctionNotPermitted,
    KeySizeRange,
    MechanismParamInvalid,
    TemplateIncomplete,
    TemplateInconsistent,
)
from tokenport.mechanisms.base import (
    AttrMap,
    KeyView,
    MechanismContext,
    MechanismRegistry,
    MechanismSpec,
)
from tokenport.mechanisms.common import check_key, check_size, no_param, secret_value, value_len
from tokenport.mechanisms.digest import PARAM_HASHES, digest_size
from tokenport.mechanisms.params import HkdfParams, Params, Pbkdf2Params
from tokenport.ports.crypto import HashName

MIN_KEY_BYTES = 1
MAX_KEY_BYTES = 512
MAX_ITERATIONS = 1 << 24
"""The most PBKDF2 iterations one C_GenerateKey runs (RFC 6070's largest vector): more is
CKR_MECHANISM_PARAM_INVALID rather than a token busy for minutes."""
HKDF_KEY_TYPES = frozenset({int(CKK.GENERIC_SECRET), int(CKK.HKDF)})

PBKD2_PRFS: dict[int, HashName] = {
    CKP.PKCS5_PBKD2_HMAC_SHA1: "sha1",
    CKP.PKCS5_PBKD2_HMAC_SHA224: "sha224",
    CKP.PKCS5_PBKD2_HMAC_SHA256: "sha256",
    CKP.PKCS5_PBKD2_HMAC_SHA384: "sha384",
    CKP.PKCS5_PBKD2_HMAC_SHA512: "sha512",
    CKP.PKCS5_PBKD2_HMAC_SHA512_224: "sha512_224",
    CKP.PKCS5_PBKD2_HMAC_SHA512_256: "sha512_256",
}
"""CKP_PKCS5_PBKD2_* -> the HMAC hash."""

FIXED_KEY_LENGTHS: dict[int, int] = {CKK.DES: 8, CKK.DES2: 16, CKK.DES3: 24}
"""Secret key types whose length the type fixes (CKA_VALUE_LEN may be omitted)."""

HKDF_STANDARD = "PKCS #11 v3.0 HKDF (3.2 s6.62); RFC 5869"
PBKD2_STANDARD = "PKCS #11 v3.0 PKCS #5 PBKD2 (3.2 s6.37.4); RFC 8018 s5.2"


# -- HKDF ----------------------------------------------------------------------------------------


def _prf(mechanism: int) -> HashName:
    try:
        return PARAM_HASHES[mechanism]
    except KeyError:
        raise MechanismParamInvalid("prfHashMechanism is not a supported digest") from None


def _salt_key(ctx: MechanismContext, handle: int) -> bytes:
    """The CKA_VALUE of hSaltKey: a generic secret or HKDF key allowing derivation. Its
    CKA_DERIVE is checked here: only this mechanism knows the key is used."""
    if ctx.key_lookup is None:
        raise MechanismParamInvalid("CKF_HKDF_SALT_KEY needs C_DeriveKey")
    key = ctx.key_lookup(handle)
    check_key(key, CKO.SECRET_KEY, HKDF_KEY_TYPES)
    if key.get(CKA.DERIVE) is not True:
        raise KeyFunctionNotPermitted("the salt key does not allow derivation")
    return secret_value(key)


def _salt(ctx: MechanismContext, param: HkdfParams, alg: HashName) -> bytes:
    if param.salt_type == CKF.HKDF_SALT_NULL:
        if param.salt:
            raise MechanismParamInvalid("CKF_HKDF_SALT_NULL takes no salt data")
        return bytes(digest_size(alg))
    if param.salt_type == CKF.HKDF_SALT_DATA:
        if not param.salt:
            raise MechanismParamInvalid("CKF_HKDF_SALT_DATA needs salt data")
        return param.salt
    if param.salt_type == CKF.HKDF_SALT_KEY:
        return _salt_key(ctx, param.salt_key)
    raise MechanismParamInvalid("unknown ulSaltType")


def _data_material(param: HkdfParams, data: KeyView, size: int) -> bytes:
    """A CKO_DATA object as input keying material (3.2 s6.62.3): its value is exactly the
    digest length, and it is extracted with a salt (CKF_HKDF_SALT_DATA or _KEY)."""
    if not param.extract or param.salt_type == CKF.HKDF_SALT_NULL:
        raise MechanismParamInvalid("a data object is extracted with a salt")
    value = data.get(CKA.VALUE)
    if not isinstance(value, bytes) or len(value) != size:
        raise KeySizeRange("a data object's value must be the digest length")
    return value


def hkdf_derive(ctx: MechanismContext, key: KeyView, param: Params, length: int | None) -> bytes:
    """CKM_HKDF_DERIVE / CKM_HKDF_DATA: extract and/or expand the base key's value."""
    if not isinstance(param, HkdfParams):
        raise MechanismParamInvalid("HKDF needs CK_HKDF_PARAMS")
    if not (param.extract or param.expand):
        raise MechanismParamInvalid("bExtract or bExpand must be set")
    alg = _prf(param.prf)
    size = digest_size(alg)
    if key.object_class == CKO.DATA:
        material = _data_material(param, key, size)
    else:
        check_key(key, CKO.SECRET_KEY, HKDF_KEY_TYPES)
        material = secret_value(key)
        check_size(len(material), MIN_KEY_BYTES, MAX_KEY_BYTES)
    if param.expand:
        wanted = size if length is None else length
        if not 1 <= wanted <= 255 * size:
            raise TemplateInconsistent("CKA_VALUE_LEN is outside 1 .. 255 * digest length")
    elif length is not None and length != size:
        raise TemplateInconsistent("extract alone gives exactly the digest length")
    if param.extract:
        material = ctx.crypto.hkdf_extract(alg, _salt(ctx, param, alg), material)
    if not param.expand:
        return material
    return ctx.crypto.hkdf_expand(alg, material, param.info, wanted)


def _generate_hkdf_key(
    ctx: MechanismContext, param: Params, template: AttrMap
) -> dict[int, AttrValue]:
    """CKM_HKDF_KEY_GEN: CKA_VALUE_LEN random bytes."""
    no_param(param)
    length = value_len(template)
    check_size(length, MIN_KEY_BYTES, MAX_KEY_BYTES)
    return {CKA.VALUE: ctx.random_bytes(length), CKA.VALUE_LEN: length}


# -- PBKDF2 --------------------------------------------------------------------------------------


def _odd_parity(value: bytes) -> bytes:
    """DES keys carry odd parity in the low bit of each byte."""
    return bytes((b & 0xFE) | ((b >> 1).bit_count() + 1) % 2 for b in value)


def pbkd2_generate(ctx: MechanismContext, param: Params, template: AttrMap) -> dict[int, AttrValue]:
    """CKM_PKCS5_PBKD2: a secret key of the template's type from a password."""
    if not isinstance(param, Pbkdf2Params):
        raise MechanismParamInvalid("PBKDF2 needs CK_PKCS5_PBKD2_PARAMS2")
    if param.salt_source != CKZ.SALT_SPECIFIED:
        raise MechanismParamInvalid("the salt source must be CKZ_SALT_SPECIFIED")
    alg = PBKD2_PRFS.get(param.prf)
    if alg is None:
        raise MechanismParamInvalid("pseudo-random function not supported")
    if param.prf_data:
        raise MechanismParamInvalid("this pseudo-random function takes no data")
    if not 1 <= param.iterations <= MAX_ITERATIONS:
        raise MechanismParamInvalid(f"iterations must be 1 .. {MAX_ITERATIONS}")
    key_type = template.get(CKA.KEY_TYPE)
    if key_type is None:
        raise TemplateIncomplete("CKA_KEY_TYPE is required")
    if not isinstance(key_type, int) or isinstance(key_type, bool):
        raise AttributeValueInvalid("CKA_KEY_TYPE must be a CK_KEY_TYPE")
    fixed = FIXED_KEY_LENGTHS.get(key_type)
    if fixed is not None:
        asked = template.get(CKA.VALUE_LEN, fixed)
        if asked != fixed:
            raise TemplateInconsistent("CKA_VALUE_LEN differs from the key type's length")
        value = ctx.crypto.pbkdf2_hmac(alg, param.password, param.salt, param.iterations, fixed)
        return {CKA.VALUE: _odd_parity(value)}
    length = value_len(template)
    check_size(length, MIN_KEY_BYTES, MAX_KEY_BYTES)
    value = ctx.crypto.pbkdf2_hmac(alg, param.password, param.salt, param.iterations, length)
    return {CKA.VALUE: value, CKA.VALUE_LEN: length}


def register(registry: MechanismRegistry) -> None:
    """Add the HKDF mechanisms and CKM_PKCS5_PBKD2 (key sizes in bytes)."""
    for mechanism, data in ((CKM.HKDF_DERIVE, False), (CKM.HKDF_DATA, True)):
        registry.add(
            MechanismSpec(
                mechanism,
                MIN_KEY_BYTES,
                MAX_KEY_BYTES,
                CKF.DERIVE,
                key_types=HKDF_KEY_TYPES,
                derive=hkdf_derive,
                standard=HKDF_STANDARD,
                derives_data=data,
                data_base=True,
            )
        )
    registry.add(
        MechanismSpec(
            CKM.HKDF_KEY_GEN,
            MIN_KEY_BYTES,
            MAX_KEY_BYTES,
            CKF.GENERATE,
            generated_key_type=CKK.HKDF,
            generate_key=_generate_hkdf_key,
            standard=HKDF_STANDARD,
        )
    )
    registry.add(
        MechanismSpec(
            CKM.PKCS5_PBKD2,
            MIN_KEY_BYTES,
            MAX_KEY_BYTES,
            CKF.GENERATE,
            generated_key_type=CKK.GENERIC_SECRET,
            generate_key=pbkd2_generate,
            standard=PBKD2_STANDARD,
            key_type_from_template=True,
        )
    )
