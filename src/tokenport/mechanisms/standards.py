"""Where each mechanism of the original families comes from, for the mechanism list.

A family registered later sets ``MechanismSpec.standard`` itself; this table fills it for the
mechanisms registered by the loops of the families that predate the field (digest, hmac, aes,
ec, eddsa, rsa), the SHA-3 signature rows included. Each entry names the
PKCS #11 document that defines the mechanism and the algorithm's own standard.
"""

from __future__ import annotations

from tokenport.ck import CKM

_CURR = "PKCS #11 v2.40 Current Mechanisms"
_V3 = "PKCS #11 v3.0"

_RSA = f"{_CURR}, RSA"
_EC = f"{_CURR}, Elliptic Curve"
_AES = f"{_CURR}, AES"
_DIGEST = f"{_CURR}, digests"
_HMAC = f"{_CURR}, HMAC"

STANDARDS: dict[int, str] = {
    CKM.RSA_PKCS_KEY_PAIR_GEN: f"{_RSA}; RFC 8017",
    CKM.RSA_PKCS: f"{_RSA} (PKCS #1 v1.5); RFC 8017",
    CKM.RSA_X_509: f"{_RSA} (raw RSA); RFC 8017",
    CKM.RSA_PKCS_OAEP: f"{_RSA} (OAEP); RFC 8017",
    CKM.RSA_PKCS_PSS: f"{_RSA} (PSS); RFC 8017",
    **{mechanism: f"{_RSA} (PKCS #1 v1.5 with hashing); RFC 8017, FIPS 180-4"
       for mechanism in (CKM.SHA1_RSA_PKCS, CKM.SHA224_RSA_PKCS, CKM.SHA256_RSA_PKCS,
                         CKM.SHA384_RSA_PKCS, CKM.SHA512_RSA_PKCS)},
    **{mechanism: f"{_RSA} (PSS with hashing); RFC 8017, FIPS 180-4"
       for mechanism in (CKM.SHA1_RSA_PKCS_PSS, CKM.SHA224_RSA_PKCS_PSS,
                         CKM.SHA256_RSA_PKCS_PSS, CKM.SHA384_RSA_PKCS_PSS,
                         CKM.SHA512_RSA_PKCS_PSS)},
    **{mechanism: f"{_V3}, SHA-3 with RSA (PKCS #1 v1.5); RFC 8017, FIPS 202"
       for mechanism in (CKM.SHA3_224_RSA_PKCS, CKM.SHA3_256_RSA_PKCS, CKM.SHA3_384_RSA_PKCS,
                         CKM.SHA3_512_RSA_PKCS)},
    **{mechanism: f"{_V3}, SHA-3 with RSA (PSS); RFC 8017, FIPS 202"
       for mechanism in (CKM.SHA3_224_RSA_PKCS_PSS, CKM.SHA3_256_RSA_PKCS_PSS,
                         CKM.SHA3_384_RSA_PKCS_PSS, CKM.SHA3_512_RSA_PKCS_PSS)},
    **{mechanism: f"{_V3}, ECDSA with SHA-3; FIPS 186-4, FIPS 202"
       for mechanism in (CKM.ECDSA_SHA3_224, CKM.ECDSA_SHA3_256, CKM.ECDSA_SHA3_384,
                         CKM.ECDSA_SHA3_512)},
    CKM.MD5: f"{_DIGEST}; RFC 1321",
    **{mechanism: f"{_DIGEST}; FIPS 180-4"
       for mechanism in (CKM.SHA_1, CKM.SHA224, CKM.SHA256, CKM.SHA384, CKM.SHA512)},
    **{mechanism: f"{_HMAC}; RFC 2104, FIPS 198-1"
       for mechanism in (CKM.SHA_1_HMAC, CKM.SHA224_HMAC, CKM.SHA256_HMAC, CKM.SHA384_HMAC,
                         CKM.SHA512_HMAC)},
    CKM.GENERIC_SECRET_KEY_GEN: f"{_CURR}, generic secret key",
    CKM.EC_KEY_PAIR_GEN: f"{_EC}; SEC 1, FIPS 186-4",
    CKM.ECDSA: f"{_EC} (ECDSA); FIPS 186-4",
    **{mechanism: f"{_EC} (ECDSA with hashing); FIPS 186-4, FIPS 180-4"
       for mechanism in (CKM.ECDSA_SHA1, CKM.ECDSA_SHA224, CKM.ECDSA_SHA256, CKM.ECDSA_SHA384,
                         CKM.ECDSA_SHA512)},
    CKM.ECDH1_DERIVE: f"{_EC} (ECDH); SEC 1, NIST SP 800-56A",
    CKM.EC_EDWARDS_KEY_PAIR_GEN: f"{_V3}, EdDSA; RFC 8032",
    CKM.EDDSA: f"{_V3}, EdDSA; RFC 8032",
    CKM.AES_KEY_GEN: f"{_AES}; FIPS 197",
    CKM.AES_ECB: f"{_AES}; FIPS 197, NIST SP 800-38A",
    CKM.AES_CBC: f"{_AES}; FIPS 197, NIST SP 800-38A",
    CKM.AES_CBC_PAD: f"{_AES}; NIST SP 800-38A, PKCS #7 padding",
    CKM.AES_CTR: f"{_AES} (counter mode); NIST SP 800-38A",
    CKM.AES_GCM: f"{_AES} (GCM); NIST SP 800-38D",
    CKM.AES_CMAC: f"{_AES} (CMAC); NIST SP 800-38B",
    CKM.AES_KEY_WRAP: f"{_AES} (key wrap); NIST SP 800-38F, RFC 3394",
    CKM.AES_KEY_WRAP_PAD: f"{_AES} (key wrap with padding); NIST SP 800-38F, RFC 5649",
}
