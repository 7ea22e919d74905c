"""Generate src/tokenport/ck.py from the official PKCS #11 header.

Usage: python tools/gen_ck.py [/usr/include/p11-kit-1/p11-kit/pkcs11.h] > src/tokenport/ck.py

The header (Debian package libp11-kit-dev) carries the constants of PKCS #11 v2.40 plus the
v3.0 names p11-kit already knows.  A few v3.0 constants it lacks are listed in EXTRAS.
"""

from __future__ import annotations

import re
import sys

PREFIXES = {
    "CKA": ("IntEnum", "Attribute types (PKCS #11 v2.40 section 4)."),
    "CKC": ("IntEnum", "Certificate types (section 4.6.2)."),
    "CKD": ("IntEnum", "Key derivation functions for ECDH (section 2.3.8)."),
    "CKF": ("IntFlag", "Bit flags; one namespace in the specification, values overlap by context."),
    "CKG": ("IntEnum", "Mask generation functions (section 2.1.6)."),
    "CKH": ("IntEnum", "Hardware feature types (section 4.3)."),
    "CKK": ("IntEnum", "Key types (section 4.7.2)."),
    "CKM": ("IntEnum", "Mechanism types (section 5.7 and the Current Mechanisms document)."),
    "CKO": ("IntEnum", "Object classes (section 4.2)."),
    "CKR": ("IntEnum", "Return values (section 5.1)."),
    "CKS": ("IntEnum", "Session states (section 5.6)."),
    "CKU": ("IntEnum", "User types (section 3.3)."),
    "CKZ": ("IntEnum", "OAEP encoding parameter sources (section 2.1.8)."),
}

# v3.0 and v3.2 constants that the p11-kit header does not define (v3.2: OASIS pkcs11t.h,
# the same values as python-pkcs11 0.10.1's constants).
EXTRAS = {
    "CKA": {"UNIQUE_ID": 0x4, "PARAMETER_SET": 0x61D, "ENCAPSULATE": 0x633,
            "DECAPSULATE": 0x634, "SEED": 0x637},
    "CKF": {"ENCAPSULATE": 0x10000000, "DECAPSULATE": 0x20000000},
    "CKK": {"ML_KEM": 0x49, "ML_DSA": 0x4A},
    "CKM": {"ML_KEM_KEY_PAIR_GEN": 0xF, "ML_KEM": 0x17, "ML_DSA_KEY_PAIR_GEN": 0x1C,
            "ML_DSA": 0x1D},
    "CKR": {"OPERATION_CANCEL_FAILED": 0x202, "PARAMETER_SET_NOT_SUPPORTED": 0x209},
}
# v3.0: SHA-3, SHA-512/t HMAC key types, HMAC key generation, HKDF, PBKDF2 salt source.
EXTRAS["CKD"] = {"SHA3_224_KDF": 0xA, "SHA3_256_KDF": 0xB, "SHA3_384_KDF": 0xC,
                 "SHA3_512_KDF": 0xD}
EXTRAS["CKF"].update({"HKDF_SALT_NULL": 0x1, "HKDF_SALT_DATA": 0x2, "HKDF_SALT_KEY": 0x4})
EXTRAS["CKG"] = {"MGF1_SHA3_224": 0x6, "MGF1_SHA3_256": 0x7, "MGF1_SHA3_384": 0x8,
                 "MGF1_SHA3_512": 0x9}
EXTRAS["CKK"].update({"SHA3_224_HMAC": 0x36, "SHA3_256_HMAC": 0x37, "SHA3_384_HMAC": 0x38,
                      "SHA3_512_HMAC": 0x39, "HKDF": 0x42, "SHA512_224_HMAC": 0x43,
                      "SHA512_256_HMAC": 0x44})
EXTRAS["CKM"].update({
    "SHA3_256_RSA_PKCS": 0x60, "SHA3_384_RSA_PKCS": 0x61, "SHA3_512_RSA_PKCS": 0x62,
    "SHA3_256_RSA_PKCS_PSS": 0x63, "SHA3_384_RSA_PKCS_PSS": 0x64, "SHA3_512_RSA_PKCS_PSS": 0x65,
    "SHA3_224_RSA_PKCS": 0x66, "SHA3_224_RSA_PKCS_PSS": 0x67,
    "SHA3_256": 0x2B0, "SHA3_256_HMAC": 0x2B1, "SHA3_256_HMAC_GENERAL": 0x2B2,
    "SHA3_256_KEY_GEN": 0x2B3, "SHA3_224": 0x2B5, "SHA3_224_HMAC": 0x2B6,
    "SHA3_224_HMAC_GENERAL": 0x2B7, "SHA3_224_KEY_GEN": 0x2B8, "SHA3_384": 0x2C0,
    "SHA3_384_HMAC": 0x2C1, "SHA3_384_HMAC_GENERAL": 0x2C2, "SHA3_384_KEY_GEN": 0x2C3,
    "SHA3_512": 0x2D0, "SHA3_512_HMAC": 0x2D1, "SHA3_512_HMAC_GENERAL": 0x2D2,
    "SHA3_512_KEY_GEN": 0x2D3,
    "ECDSA_SHA3_224": 0x1047, "ECDSA_SHA3_256": 0x1048, "ECDSA_SHA3_384": 0x1049,
    "ECDSA_SHA3_512": 0x104A,
    "SHA_1_KEY_GEN": 0x4003, "SHA224_KEY_GEN": 0x4004, "SHA256_KEY_GEN": 0x4005,
    "SHA384_KEY_GEN": 0x4006, "SHA512_KEY_GEN": 0x4007, "SHA512_224_KEY_GEN": 0x4008,
    "SHA512_256_KEY_GEN": 0x4009, "HKDF_DERIVE": 0x402A, "HKDF_DATA": 0x402B,
    "HKDF_KEY_GEN": 0x402C,
})
EXTRAS["CKZ"] = {"SALT_SPECIFIED": 0x1}  # CK_PKCS5_PBKDF2_SALT_SOURCE_TYPE (an alias)
# v3.0: Montgomery curves, and the EC flags that name a curve by OID or by name.
EXTRAS["CKF"].update({"EC_OID": 0x800000, "EC_CURVENAME": 0x4000000})
EXTRAS["CKK"]["EC_MONTGOMERY"] = 0x41
EXTRAS["CKM"]["EC_MONTGOMERY_KEY_PAIR_GEN"] = 0x1056
# v3.0: C_SessionCancel's operation flags, message-based mechanism flags, interfaces, AEAD.
EXTRAS["CKF"].update({
    "FIND_OBJECTS": 0x40, "MESSAGE_ENCRYPT": 0x2, "MESSAGE_DECRYPT": 0x4, "MESSAGE_SIGN": 0x8,
    "MESSAGE_VERIFY": 0x10, "MULTI_MESSAGE": 0x20, "END_OF_MESSAGE": 0x1,
    "INTERFACE_FORK_SAFE": 0x1,
})
EXTRAS["CKK"]["CHACHA20"] = 0x33
EXTRAS["CKM"].update({"CHACHA20_KEY_GEN": 0x1225, "CHACHA20_POLY1305": 0x4021})
EXTRAS["CKR"]["AEAD_DECRYPT_FAILED"] = 0x35
# tokenport's vendor attributes (CKA_VENDOR_DEFINED | 0x54500000, "TP"): where a private key
# lives ("tpm2" or "software", readable) and, for a TPM-held key, its TPM2B_PUBLIC ||
# TPM2B_PRIVATE blob and its authValue (sealed at rest, never readable: docs/porting.md).
EXTRAS["CKA"].update({"TOKENPORT_KEY_LOCATION": 0x80545001, "TOKENPORT_TPM_BLOB": 0x80545002,
                      "TOKENPORT_TPM_AUTH": 0x80545003})

# v3.2 enumerations whose prefix or values collide with another group (OASIS pkcs11t.h).
EXTRA_CLASSES: dict[str, tuple[str, dict[str, int]]] = {
    "CKP": ("PKCS #5 PBKDF2 pseudo-random functions (PKCS #11 v3.0, OASIS pkcs11t.h).",
            {"PKCS5_PBKD2_HMAC_SHA1": 0x1, "PKCS5_PBKD2_HMAC_GOSTR3411": 0x2,
             "PKCS5_PBKD2_HMAC_SHA224": 0x3, "PKCS5_PBKD2_HMAC_SHA256": 0x4,
             "PKCS5_PBKD2_HMAC_SHA384": 0x5, "PKCS5_PBKD2_HMAC_SHA512": 0x6,
             "PKCS5_PBKD2_HMAC_SHA512_224": 0x7, "PKCS5_PBKD2_HMAC_SHA512_256": 0x8}),
    "CKP_ML_DSA": ("ML-DSA parameter sets, CK_ML_DSA_PARAMETER_SET_TYPE (PKCS #11 v3.2).",
                   {"ML_DSA_44": 0x1, "ML_DSA_65": 0x2, "ML_DSA_87": 0x3}),
    "CKP_ML_KEM": ("ML-KEM parameter sets, CK_ML_KEM_PARAMETER_SET_TYPE (PKCS #11 v3.2).",
                   {"ML_KEM_512": 0x1, "ML_KEM_768": 0x2, "ML_KEM_1024": 0x3}),
    "CKGen": (("IV / nonce generator functions, CK_GENERATOR_FUNCTION (PKCS #11 v3.0 message"
               " AEAD parameters); CKG_ prefix, a namespace apart from the MGF values of CKG."),
              {"NO_GENERATE": 0x0, "GENERATE": 0x1, "GENERATE_COUNTER": 0x2,
               "GENERATE_RANDOM": 0x3, "GENERATE_COUNTER_XOR": 0x4}),
    "CKH_HEDGE": (("CK_HEDGE_TYPE, the hedgeVariant of CK_SIGN_ADDITIONAL_CONTEXT (PKCS #11"
                   " v3.2); apart from CKH, whose hardware feature types share the values."),
                  {"HEDGE_PREFERRED": 0x0, "HEDGE_REQUIRED": 0x1, "DETERMINISTIC_REQUIRED": 0x2}),
}

DEFINE = re.compile(r"^#define\s+(CK[A-Z])_(\w+)\s+(.+?)\s*(?:/\*.*)?$")


def evaluate(expression: str, known: dict[str, int]) -> int:
    text = expression.replace("(unsigned long)", "")
    text = re.sub(r"(0x[0-9A-Fa-f]+|\d+)UL\b", r"\1", text)
    text = re.sub(r"\b(CK[A-Z]_\w+)\b", lambda m: str(known[m.group(1)]), text)
    if not re.fullmatch(r"[0-9xXa-fA-F\s()|<+]*", text):
        raise ValueError(expression)
    return int(eval(text))  # digits and operators only, checked above


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "/usr/include/p11-kit-1/p11-kit/pkcs11.h"
    known: dict[str, int] = {}
    groups: dict[str, dict[str, int]] = {prefix: {} for prefix in PREFIXES}
    with open(path, encoding="ascii") as header:
        for line in header:
            match = DEFINE.match(line.strip())
            if not match:
                continue
            prefix, name, expression = match.groups()
            if prefix not in PREFIXES:
                continue
            value = evaluate(expression, known)
            known[f"{prefix}_{name}"] = value
            groups[prefix].setdefault(name, value)
    for prefix, extra in EXTRAS.items():
        for name, value in extra.items():
            groups[prefix].setdefault(name, value)

    out = [
        '"""PKCS #11 constants, one enumeration per prefix.',
        "",
        "Generated by tools/gen_ck.py from the official header shipped by p11-kit",
        "(libp11-kit-dev, pkcs11.h). Do not edit by hand.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from enum import IntEnum, IntFlag",
        "from typing import TYPE_CHECKING, TypeVar",
        "",
        "if TYPE_CHECKING:",
        "    _IntEnumBody = IntEnum",
        "    _IntFlagBody = IntFlag",
        '    _Enumeration = TypeVar("_Enumeration", bound=type)',
        "",
        "    def _int_enum(cls: _Enumeration) -> _Enumeration:",
        "        return cls",
        "",
        "    _int_flag = _int_enum",
        "else:",
        "    # The enumerations are built from plain classes by the stdlib's fast path (what",
        "    # http.HTTPStatus and re.RegexFlag use): about half the import time of subclassing",
        "    # IntEnum, for the same members, names and aliases. Type checkers see IntEnum.",
        "    from enum import _simple_enum",
        "",
        "    class _IntEnumBody:",
        "        pass",
        "",
        "    _IntFlagBody = _IntEnumBody",
        "",
        "    def _members_as_attributes(enumeration: type) -> type:",
        "        # _simple_enum leaves each member behind a descriptor (about 200 ns a read,",
        "        # against 75 ns for a plain class attribute): put the members themselves there.",
        "        for name, member in enumeration.__members__.items():",
        "            type.__setattr__(enumeration, name, member)",
        "        return enumeration",
        "",
        "    def _int_enum(cls: type) -> type:",
        "        return _members_as_attributes(_simple_enum(IntEnum)(cls))",
        "",
        "    def _int_flag(cls: type) -> type:",
        "        return _members_as_attributes(_simple_enum(IntFlag)(cls))",
        "",
        "CK_UNAVAILABLE_INFORMATION = 0xFFFFFFFFFFFFFFFF",
        "CK_EFFECTIVELY_INFINITE = 0",
        "CK_INVALID_HANDLE = 0",
        "CRYPTOKI_VERSION = (2, 40)",
    ]
    for prefix, (base, doc) in PREFIXES.items():
        decorator = "@_int_flag" if base == "IntFlag" else "@_int_enum"
        out += ["", "", decorator, f"class {prefix}(_{base}Body):", f'    """{doc}"""', ""]
        for name, value in groups[prefix].items():
            ident = name if not name[0].isdigit() else f"_{name}"
            out.append(f"    {ident} = 0x{value:X}")
    for name, (doc, members) in EXTRA_CLASSES.items():
        out += ["", "", "@_int_enum", f"class {name}(_IntEnumBody):", f'    """{doc}"""', ""]
        out += [f"    {member} = 0x{value:X}" for member, value in members.items()]
    out.append("")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
