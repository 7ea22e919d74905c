"""Per-class attribute schemas as data (PKCS #11 v2.40 s4.4-4.10, tables 10-45).

Each object class (and key / certificate type) is a list of sections; a section lists its
attributes with their default and the rules of the specification's footnotes (table 10):

  1 REQUIRED_CREATE    must be specified when the object is created with C_CreateObject
  2 FORBID_CREATE      must not be specified when created with C_CreateObject
  3 REQUIRED_GENERATE  must be specified when generated with C_GenerateKey(Pair)
  4 FORBID_GENERATE    must not be specified when generated (nor derived)
  5 REQUIRED_UNWRAP    must be specified when unwrapped with C_UnwrapKey
  6 FORBID_UNWRAP      must not be specified when unwrapped
  7 SENSITIVE          cannot be revealed if CKA_SENSITIVE is TRUE or CKA_EXTRACTABLE FALSE
  8 MODIFIABLE         may be modified after creation (C_SetAttributeValue, C_CopyObject)
 10 SO_ONLY_TRUE       can only be set to TRUE by the SO
 11 STICKY_TRUE        cannot be changed once set to TRUE
 12 STICKY_FALSE       cannot be changed once set to FALSE

plus tokenport's own rules:

    SECRET             key material, encrypted at rest when the object is private
    TOKEN_SET          only the token sets it (CKA_LOCAL, CKA_KEY_GEN_MECHANISM,
                       CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_UNIQUE_ID): no template
                       of C_CreateObject, C_CopyObject, C_SetAttributeValue, key generation,
                       unwrapping or derivation may name it, whatever the value
    USAGE              a usage flag (CKA_ENCRYPT .. CKA_DERIVE): FALSE is the stronger value
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CK_UNAVAILABLE_INFORMATION, CKA, CKC, CKK, CKO


class Rule:
    """The footnotes of PKCS #11 v2.40 table 10, as bit masks (plain ints: they are tested
    on every template attribute, and int arithmetic is much cheaper than IntFlag's)."""

    NONE = 0
    REQUIRED_CREATE = 1 << 0
    FORBID_CREATE = 1 << 1
    REQUIRED_GENERATE = 1 << 2
    FORBID_GENERATE = 1 << 3
    REQUIRED_UNWRAP = 1 << 4
    FORBID_UNWRAP = 1 << 5
    SENSITIVE = 1 << 6
    MODIFIABLE = 1 << 7
    SO_ONLY_TRUE = 1 << 9
    STICKY_TRUE = 1 << 10
    STICKY_FALSE = 1 << 11
    SECRET = 1 << 12
    TOKEN_SET = 1 << 13
    USAGE = 1 << 14
    READ_ONLY = FORBID_CREATE | FORBID_GENERATE | FORBID_UNWRAP
    COMPUTED = READ_ONLY | TOKEN_SET
    MATERIAL = REQUIRED_CREATE | FORBID_GENERATE | FORBID_UNWRAP


class _Absent:
    """Marker: the attribute has no default; it exists only when given or computed."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()
Default = AttrValue | _Absent


@dataclass(frozen=True)
class AttributeRule:
    """One attribute of a schema: its default value and its rules."""

    type: int
    default: Default
    rules: int = Rule.NONE


def _r(attr: int, default: Default, rules: int = Rule.NONE) -> AttributeRule:
    return AttributeRule(int(attr), default, int(rules))


M = Rule.MODIFIABLE
U = Rule.MODIFIABLE | Rule.USAGE
# s4.4 table 17, common attributes of every storage object.
STORAGE = (
    _r(CKA.CLASS, ABSENT, Rule.REQUIRED_CREATE),
    _r(CKA.TOKEN, False),
    _r(CKA.PRIVATE, False),
    _r(CKA.MODIFIABLE, True),
    _r(CKA.LABEL, b"", M),
    _r(CKA.COPYABLE, True, M | Rule.STICKY_FALSE),
    _r(CKA.DESTROYABLE, True, M | Rule.STICKY_FALSE),
    _r(CKA.UNIQUE_ID, ABSENT, Rule.COMPUTED),
)
# s4.5 table 19, data objects.
DATA = (
    _r(CKA.APPLICATION, b"", M),
    _r(CKA.OBJECT_ID, b"", M),
    _r(CKA.VALUE, b"", M | Rule.SECRET),
)
# s4.6 table 20, common certificate attributes.
CERTIFICATE = (
    _r(CKA.CERTIFICATE_TYPE, ABSENT, Rule.REQUIRED_CREATE),
    _r(CKA.TRUSTED, False, Rule.SO_ONLY_TRUE),
    _r(CKA.CERTIFICATE_CATEGORY, 0),
    _r(CKA.CHECK_VALUE, ABSENT),
    _r(CKA.START_DATE, b"", M),
    _r(CKA.END_DATE, b"", M),
    _r(CKA.PUBLIC_KEY_INFO, ABSENT),
)
# s4.6.3 table 22, X.509 public key certificates (subject/issuer/serial filled from the DER).
X509 = (
    _r(CKA.SUBJECT, ABSENT, M),
    _r(CKA.ID, b"", M),
    _r(CKA.ISSUER, ABSENT, M),
    _r(CKA.SERIAL_NUMBER, ABSENT, M),
    _r(CKA.VALUE, ABSENT, Rule.REQUIRED_CREATE),
    _r(CKA.URL, b""),
    _r(CKA.HASH_OF_SUBJECT_PUBLIC_KEY, b""),
    _r(CKA.HASH_OF_ISSUER_PUBLIC_KEY, b""),
    _r(CKA.JAVA_MIDP_SECURITY_DOMAIN, 0),
    _r(CKA.NAME_HASH_ALGORITHM, ABSENT),
)
# s4.7 table 26, common key attributes.
KEY = (
    _r(CKA.KEY_TYPE, ABSENT, Rule.REQUIRED_CREATE | Rule.REQUIRED_UNWRAP),
    _r(CKA.ID, b"", M),
    _r(CKA.START_DATE, b"", M),
    _r(CKA.END_DATE, b"", M),
    _r(CKA.DERIVE, False, U),
    _r(CKA.LOCAL, False, Rule.COMPUTED),
    _r(CKA.KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION, Rule.COMPUTED),
    _r(CKA.ALLOWED_MECHANISMS, (), M),
)
# s4.8 table 29, public keys. Usage defaults are token-specific (footnote 9): TRUE, as SoftHSM.
PUBLIC_KEY = (
    _r(CKA.SUBJECT, b"", M),
    _r(CKA.ENCRYPT, True, U),
    _r(CKA.VERIFY, True, U),
    _r(CKA.VERIFY_RECOVER, True, U),
    _r(CKA.WRAP, True, U),
    _r(CKA.TRUSTED, False, Rule.SO_ONLY_TRUE),
    _r(CKA.PUBLIC_KEY_INFO, ABSENT),
)
# s4.9 table 32, private keys. CKA_SENSITIVE defaults to TRUE, CKA_EXTRACTABLE to FALSE.
PRIVATE_KEY = (
    _r(CKA.SUBJECT, b"", M),
    _r(CKA.SENSITIVE, True, M | Rule.STICKY_TRUE),
    _r(CKA.DECRYPT, True, U),
    _r(CKA.SIGN, True, U),
    _r(CKA.SIGN_RECOVER, True, U),
    _r(CKA.UNWRAP, True, U),
    _r(CKA.EXTRACTABLE, False, M | Rule.STICKY_FALSE),
    _r(CKA.ALWAYS_SENSITIVE, ABSENT, Rule.COMPUTED),
    _r(CKA.NEVER_EXTRACTABLE, ABSENT, Rule.COMPUTED),
    _r(CKA.WRAP_WITH_TRUSTED, False, M | Rule.STICKY_TRUE),
    _r(CKA.ALWAYS_AUTHENTICATE, False),
    _r(CKA.PUBLIC_KEY_INFO, ABSENT),
    # tokenport vendor attribute: where the private key lives, b"tpm2" or b"software" on a
    # token whose crypto port holds keys in hardware (absent: software)
    _r(CKA.TOKENPORT_KEY_LOCATION, ABSENT, Rule.COMPUTED),
)
# s4.10 table 35, secret keys. CKA_WRAP and CKA_UNWRAP default to FALSE: a key that both
# wraps and decrypts hands out the keys it wraps (Clulow, "On the security of PKCS #11",
# CHES 2003); a key is a wrapping key only when its template says so.
SECRET_KEY = (
    _r(CKA.SENSITIVE, True, M | Rule.STICKY_TRUE),
    _r(CKA.ENCRYPT, True, U),
    _r(CKA.DECRYPT, True, U),
    _r(CKA.SIGN, True, U),
    _r(CKA.VERIFY, True, U),
    _r(CKA.WRAP, False, U),
    _r(CKA.UNWRAP, False, U),
    _r(CKA.EXTRACTABLE, False, M | Rule.STICKY_FALSE),
    _r(CKA.ALWAYS_SENSITIVE, ABSENT, Rule.COMPUTED),
    _r(CKA.NEVER_EXTRACTABLE, ABSENT, Rule.COMPUTED),
    _r(CKA.CHECK_VALUE, ABSENT),
    _r(CKA.WRAP_WITH_TRUSTED, False, M | Rule.STICKY_TRUE),
    _r(CKA.TRUSTED, False, Rule.SO_ONLY_TRUE),
)

PRIV = Rule.MATERIAL | Rule.SENSITIVE | Rule.SECRET
# tokenport vendor attributes of a key held by a hardware key port (the TPM 2.0 port,
# docs/porting.md): its TPM2B_PUBLIC || TPM2B_PRIVATE blob and its authValue. Set by the
# token only, sealed at rest like key material, never readable (CKR_ATTRIBUTE_SENSITIVE).
HARDWARE_KEY = (
    _r(CKA.TOKENPORT_TPM_BLOB, ABSENT, Rule.COMPUTED | Rule.SENSITIVE | Rule.SECRET),
    _r(CKA.TOKENPORT_TPM_AUTH, ABSENT, Rule.COMPUTED | Rule.SENSITIVE | Rule.SECRET),
)
# Current Mechanisms s2.1.2-2.1.3, RSA public and private key objects.
RSA_PUBLIC = (
    _r(CKA.MODULUS, ABSENT, Rule.MATERIAL),
    _r(CKA.MODULUS_BITS, ABSENT, Rule.REQUIRED_GENERATE | Rule.FORBID_CREATE),
    _r(CKA.PUBLIC_EXPONENT, ABSENT, Rule.MATERIAL & ~Rule.FORBID_GENERATE),
)
RSA_PRIVATE = (
    _r(CKA.MODULUS, ABSENT, Rule.MATERIAL),
    _r(CKA.PUBLIC_EXPONENT, ABSENT, Rule.MATERIAL & ~Rule.REQUIRED_CREATE),
    _r(CKA.PRIVATE_EXPONENT, ABSENT, PRIV),
    _r(CKA.PRIME_1, ABSENT, PRIV & ~Rule.REQUIRED_CREATE),
    _r(CKA.PRIME_2, ABSENT, PRIV & ~Rule.REQUIRED_CREATE),
    _r(CKA.EXPONENT_1, ABSENT, PRIV & ~Rule.REQUIRED_CREATE),
    _r(CKA.EXPONENT_2, ABSENT, PRIV & ~Rule.REQUIRED_CREATE),
    _r(CKA.COEFFICIENT, ABSENT, PRIV & ~Rule.REQUIRED_CREATE),
    *HARDWARE_KEY,
)
# Current Mechanisms s2.3.3-2.3.4 (EC), PKCS #11 v3.0 s2.3.5-2.3.6 (Edwards) and s2.3.7-2.3.8
# (Montgomery): the same two attributes each.
EC_PUBLIC = (
    _r(CKA.EC_PARAMS, ABSENT, Rule.REQUIRED_CREATE | Rule.REQUIRED_GENERATE),
    _r(CKA.EC_POINT, ABSENT, Rule.MATERIAL),
)
EC_PRIVATE = (
    _r(CKA.EC_PARAMS, ABSENT, Rule.REQUIRED_CREATE | Rule.FORBID_GENERATE),
    _r(CKA.VALUE, ABSENT, PRIV),
)
# PKCS #11 v3.2 s6.66-6.67 (ML-KEM, ML-DSA), footnotes of v3.2 table 13. CKA_PARAMETER_SET of
# a private key is contributed by key pair generation (equal values in the template are
# tolerated); CKA_SEED / CKA_VALUE: at least one on C_CreateObject (checked in
# tokenport.mechanisms.pqkeys, which needs CKA_SEED). CKA_ENCAPSULATE / CKA_DECAPSULATE
# (v3.2 s4.9-4.10 usage flags) default to TRUE like the other usage flags.
PQ_PUBLIC = (
    _r(CKA.PARAMETER_SET, ABSENT, Rule.REQUIRED_CREATE | Rule.REQUIRED_GENERATE),
    _r(CKA.VALUE, ABSENT, Rule.MATERIAL),
)
PQ_PRIVATE = (
    _r(CKA.PARAMETER_SET, ABSENT, Rule.REQUIRED_CREATE | Rule.FORBID_UNWRAP),
    _r(CKA.SEED, ABSENT, PRIV & ~Rule.REQUIRED_CREATE),
    _r(CKA.VALUE, ABSENT, PRIV & ~Rule.REQUIRED_CREATE),
)
KEM_PUBLIC = (_r(CKA.ENCAPSULATE, True, U),)
KEM_PRIVATE = (_r(CKA.DECAPSULATE, True, U),)
# Secret key value attributes: AES (s2.8.2), generic secret (s2.4.1) and HMAC key types.
SECRET_VALUE = (
    _r(CKA.VALUE, ABSENT, PRIV),
    _r(CKA.VALUE_LEN, ABSENT, Rule.FORBID_CREATE),
)

# Current Mechanisms s2.2 (DSA) and s2.4 (PKCS #3 Diffie-Hellman) key objects: the domain
# parameters of a public key are given when it is created or generated (footnotes 1, 3); a
# private key's are set by the token on generation (1, 4, 6).
DOMAIN_PUBLIC = Rule.REQUIRED_CREATE | Rule.REQUIRED_GENERATE
DSA_PUBLIC = (
    _r(CKA.PRIME, ABSENT, DOMAIN_PUBLIC),
    _r(CKA.SUBPRIME, ABSENT, DOMAIN_PUBLIC),
    _r(CKA.BASE, ABSENT, DOMAIN_PUBLIC),
    _r(CKA.VALUE, ABSENT, Rule.MATERIAL),
)
DSA_PRIVATE = (
    _r(CKA.PRIME, ABSENT, Rule.MATERIAL),
    _r(CKA.SUBPRIME, ABSENT, Rule.MATERIAL),
    _r(CKA.BASE, ABSENT, Rule.MATERIAL),
    _r(CKA.VALUE, ABSENT, PRIV),
)
DH_PUBLIC = (
    _r(CKA.PRIME, ABSENT, DOMAIN_PUBLIC),
    _r(CKA.BASE, ABSENT, DOMAIN_PUBLIC),
    _r(CKA.VALUE, ABSENT, Rule.MATERIAL),
)
DH_PRIVATE = (
    _r(CKA.PRIME, ABSENT, Rule.MATERIAL),
    _r(CKA.BASE, ABSENT, Rule.MATERIAL),
    _r(CKA.VALUE, ABSENT, PRIV),
    _r(CKA.VALUE_BITS, ABSENT, Rule.FORBID_CREATE | Rule.FORBID_UNWRAP),
)
# v2.40 s4.11, domain parameter objects (CKA_LOCAL: set by the token, TRUE when
# made by C_GenerateKey), with the DSA (Current Mechanisms s2.2) and DH (s2.4)
# attributes: the values are given on creation, the sizes on generation.
DOMAIN_PARAMETERS = (
    _r(CKA.KEY_TYPE, ABSENT, Rule.REQUIRED_CREATE),
    _r(CKA.LOCAL, False, Rule.COMPUTED),
)
DOMAIN_VALUE = Rule.REQUIRED_CREATE | Rule.FORBID_GENERATE
DSA_DOMAIN = (
    _r(CKA.PRIME, ABSENT, DOMAIN_VALUE),
    _r(CKA.SUBPRIME, ABSENT, DOMAIN_VALUE),
    _r(CKA.BASE, ABSENT, DOMAIN_VALUE),
    _r(CKA.PRIME_BITS, ABSENT, Rule.FORBID_CREATE | Rule.REQUIRED_GENERATE),
    _r(CKA.SUB_PRIME_BITS, ABSENT, Rule.FORBID_CREATE),
)
DH_DOMAIN = (
    _r(CKA.PRIME, ABSENT, DOMAIN_VALUE),
    _r(CKA.BASE, ABSENT, DOMAIN_VALUE),
    _r(CKA.PRIME_BITS, ABSENT, Rule.FORBID_CREATE | Rule.REQUIRED_GENERATE),
)
# v2.40 Historical Mechanisms (DES) and Current Mechanisms s2.18.1-2.18.2 (DES2, DES3) key objects:
# CKA_VALUE of fixed length (8 / 16 / 24 bytes, checked and given odd parity by
# mechanisms.des.des_key_value). As for every secret key, tokenport reports CKA_VALUE_LEN
# (computed); a generate / unwrap / derive template may name it only with the fixed length.
DES_KEY_TYPES = frozenset(int(k) for k in (CKK.DES, CKK.DES2, CKK.DES3))

SECRET_KEY_TYPES = frozenset(
    int(k)
    for k in (
        CKK.AES, CKK.GENERIC_SECRET, CKK.SHA_1_HMAC, CKK.SHA224_HMAC, CKK.SHA256_HMAC,
        CKK.SHA384_HMAC, CKK.SHA512_HMAC,
        # PKCS #11 v3.0: SHA-512/t and SHA-3 HMAC keys, HKDF keys (3.2 s6.62)
        CKK.SHA512_224_HMAC, CKK.SHA512_256_HMAC, CKK.SHA3_224_HMAC, CKK.SHA3_256_HMAC,
        CKK.SHA3_384_HMAC, CKK.SHA3_512_HMAC, CKK.HKDF,
        CKK.CHACHA20,  # PKCS #11 v3.0
    )
)

SCHEMAS: dict[tuple[int, int | None], tuple[AttributeRule, ...]] = {
    (CKO.DATA, None): STORAGE + DATA,
    (CKO.CERTIFICATE, CKC.X_509): STORAGE + CERTIFICATE + X509,
    (CKO.PUBLIC_KEY, CKK.RSA): STORAGE + KEY + PUBLIC_KEY + RSA_PUBLIC,
    (CKO.PRIVATE_KEY, CKK.RSA): STORAGE + KEY + PRIVATE_KEY + RSA_PRIVATE,
    (CKO.PUBLIC_KEY, CKK.EC): STORAGE + KEY + PUBLIC_KEY + EC_PUBLIC,
    (CKO.PRIVATE_KEY, CKK.EC): STORAGE + KEY + PRIVATE_KEY + EC_PRIVATE + HARDWARE_KEY,
    (CKO.PUBLIC_KEY, CKK.EC_EDWARDS): STORAGE + KEY + PUBLIC_KEY + EC_PUBLIC,
    (CKO.PRIVATE_KEY, CKK.EC_EDWARDS): STORAGE + KEY + PRIVATE_KEY + EC_PRIVATE,
    (CKO.PUBLIC_KEY, CKK.ML_DSA): STORAGE + KEY + PUBLIC_KEY + PQ_PUBLIC,
    (CKO.PRIVATE_KEY, CKK.ML_DSA): STORAGE + KEY + PRIVATE_KEY + PQ_PRIVATE,
    (CKO.PUBLIC_KEY, CKK.ML_KEM): STORAGE + KEY + PUBLIC_KEY + PQ_PUBLIC + KEM_PUBLIC,
    (CKO.PRIVATE_KEY, CKK.ML_KEM): STORAGE + KEY + PRIVATE_KEY + PQ_PRIVATE + KEM_PRIVATE,
    (CKO.PUBLIC_KEY, CKK.EC_MONTGOMERY): STORAGE + KEY + PUBLIC_KEY + EC_PUBLIC,
    (CKO.PRIVATE_KEY, CKK.EC_MONTGOMERY): STORAGE + KEY + PRIVATE_KEY + EC_PRIVATE,
    **{(CKO.SECRET_KEY, k): STORAGE + KEY + SECRET_KEY + SECRET_VALUE for k in SECRET_KEY_TYPES},
    (CKO.PUBLIC_KEY, CKK.DSA): STORAGE + KEY + PUBLIC_KEY + DSA_PUBLIC,
    (CKO.PRIVATE_KEY, CKK.DSA): STORAGE + KEY + PRIVATE_KEY + DSA_PRIVATE,
    (CKO.PUBLIC_KEY, CKK.DH): STORAGE + KEY + PUBLIC_KEY + DH_PUBLIC,
    (CKO.PRIVATE_KEY, CKK.DH): STORAGE + KEY + PRIVATE_KEY + DH_PRIVATE,
    (CKO.DOMAIN_PARAMETERS, CKK.DSA): STORAGE + DOMAIN_PARAMETERS + DSA_DOMAIN,
    (CKO.DOMAIN_PARAMETERS, CKK.DH): STORAGE + DOMAIN_PARAMETERS + DH_DOMAIN,
    **{(CKO.SECRET_KEY, k): STORAGE + KEY + SECRET_KEY + SECRET_VALUE for k in DES_KEY_TYPES},
}
"""(class, key type or certificate type) -> attribute rules; later sections win on overlap."""

SUBTYPE_ATTRIBUTE = {
    int(CKO.CERTIFICATE): int(CKA.CERTIFICATE_TYPE),
    int(CKO.PUBLIC_KEY): int(CKA.KEY_TYPE),
    int(CKO.PRIVATE_KEY): int(CKA.KEY_TYPE),
    int(CKO.SECRET_KEY): int(CKA.KEY_TYPE),
    int(CKO.DOMAIN_PARAMETERS): int(CKA.KEY_TYPE),
}
"""Which attribute selects the schema within a class (None for data objects)."""

PRIVATE_BY_DEFAULT = frozenset({int(CKO.PRIVATE_KEY), int(CKO.SECRET_KEY)})
"""Classes whose CKA_PRIVATE defaults to TRUE (footnote 9: token-specific; keys are private)."""


@dataclass(frozen=True)
class Schema:
    """The merged rules of one (class, subtype), indexed by attribute type."""

    object_class: int
    subtype: int | None
    rules: dict[int, AttributeRule]
    defaults: dict[int, AttrValue] = field(default_factory=dict)
    _by_rule: dict[int, frozenset[int]] = field(default_factory=dict, repr=False)

    def rule(self, attr: int) -> AttributeRule | None:
        return self.rules.get(attr)

    def having(self, rule: int) -> frozenset[int]:
        """The attributes carrying any bit of ``rule`` (memoized: schemas are immutable)."""
        found = self._by_rule.get(rule)
        if found is None:
            found = frozenset(a for a, r in self.rules.items() if r.rules & rule)
            self._by_rule[rule] = found
        return found

    def secret_attributes(self) -> frozenset[int]:
        return self.having(Rule.SECRET)

    def sensitive_attributes(self) -> frozenset[int]:
        return self.having(Rule.SENSITIVE)


def _merge(object_class: int, subtype: int | None, sections: tuple[AttributeRule, ...]) -> Schema:
    rules: dict[int, AttributeRule] = {}
    for rule in sections:
        rules[rule.type] = rule
    if object_class in PRIVATE_BY_DEFAULT:
        rules[CKA.PRIVATE] = _r(CKA.PRIVATE, True)
    defaults: dict[int, AttrValue] = {
        a: r.default for a, r in rules.items() if not isinstance(r.default, _Absent)
    }
    return Schema(object_class, subtype, rules, defaults)


_MERGED = {key: _merge(key[0], key[1], sections) for key, sections in SCHEMAS.items()}


def schema_for(object_class: int, subtype: int | None) -> Schema | None:
    """The schema of (class, subtype), or None when tokenport does not support it."""
    return _MERGED.get((object_class, subtype))


def subtype_attribute(object_class: int) -> int | None:
    """CKA_KEY_TYPE / CKA_CERTIFICATE_TYPE for classes that have a subtype, else None."""
    return SUBTYPE_ATTRIBUTE.get(object_class)
