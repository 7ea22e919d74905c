"""The registry as data: every mechanism present, CK_MECHANISM_INFO flags match operations."""

from __future__ import annotations

from tokenport.ck import CKF, CKM
from tokenport.mechanisms import default_registry
from tokenport.mechanisms.base import MechanismRegistry, MechanismSpec

REQUIRED = {
    CKM.MD5,
    CKM.SHA_1,
    CKM.SHA224,
    CKM.SHA256,
    CKM.SHA384,
    CKM.SHA512,
    CKM.EC_KEY_PAIR_GEN,
    CKM.ECDSA,
    CKM.ECDSA_SHA1,
    CKM.ECDSA_SHA224,
    CKM.ECDSA_SHA256,
    CKM.ECDSA_SHA384,
    CKM.ECDSA_SHA512,
    CKM.ECDH1_DERIVE,
    CKM.RSA_PKCS_KEY_PAIR_GEN,
    CKM.RSA_PKCS,
    CKM.RSA_X_509,
    CKM.RSA_PKCS_PSS,
    CKM.RSA_PKCS_OAEP,
    CKM.SHA1_RSA_PKCS,
    CKM.SHA224_RSA_PKCS,
    CKM.SHA256_RSA_PKCS,
    CKM.SHA384_RSA_PKCS,
    CKM.SHA512_RSA_PKCS,
    CKM.SHA1_RSA_PKCS_PSS,
    CKM.SHA224_RSA_PKCS_PSS,
    CKM.SHA256_RSA_PKCS_PSS,
    CKM.SHA384_RSA_PKCS_PSS,
    CKM.SHA512_RSA_PKCS_PSS,
    CKM.EC_EDWARDS_KEY_PAIR_GEN,
    CKM.EDDSA,
    CKM.EC_MONTGOMERY_KEY_PAIR_GEN,
    CKM.ECDH1_COFACTOR_DERIVE,
    CKM.AES_KEY_GEN,
    CKM.AES_ECB,
    CKM.AES_CBC,
    CKM.AES_CBC_PAD,
    CKM.AES_CTR,
    CKM.AES_GCM,
    CKM.AES_CCM,
    CKM.CHACHA20_KEY_GEN,
    CKM.CHACHA20_POLY1305,
    CKM.AES_CMAC,
    CKM.AES_KEY_WRAP,
    CKM.AES_KEY_WRAP_PAD,
    CKM.AES_MAC,
    CKM.AES_MAC_GENERAL,
    CKM.DES_KEY_GEN,
    CKM.DES2_KEY_GEN,
    CKM.DES3_KEY_GEN,
    CKM.DES_ECB,
    CKM.DES_CBC,
    CKM.DES_CBC_PAD,
    CKM.DES3_ECB,
    CKM.DES3_CBC,
    CKM.DES3_CBC_PAD,
    CKM.DES3_CMAC,
    CKM.DES3_CMAC_GENERAL,
    CKM.DES_MAC,
    CKM.DES_MAC_GENERAL,
    CKM.DES3_MAC,
    CKM.DES3_MAC_GENERAL,
    CKM.AES_ECB_ENCRYPT_DATA,
    CKM.AES_CBC_ENCRYPT_DATA,
    CKM.DES_ECB_ENCRYPT_DATA,
    CKM.DES_CBC_ENCRYPT_DATA,
    CKM.DES3_ECB_ENCRYPT_DATA,
    CKM.DES3_CBC_ENCRYPT_DATA,
    CKM.CONCATENATE_BASE_AND_KEY,
    CKM.CONCATENATE_BASE_AND_DATA,
    CKM.CONCATENATE_DATA_AND_BASE,
    CKM.GENERIC_SECRET_KEY_GEN,
    CKM.DSA_PARAMETER_GEN,
    CKM.DSA_KEY_PAIR_GEN,
    CKM.DSA,
    CKM.DSA_SHA1,
    CKM.DSA_SHA224,
    CKM.DSA_SHA256,
    CKM.DSA_SHA384,
    CKM.DSA_SHA512,
    CKM.DH_PKCS_PARAMETER_GEN,
    CKM.DH_PKCS_KEY_PAIR_GEN,
    CKM.DH_PKCS_DERIVE,
    CKM.SHA_1_HMAC,
    CKM.SHA224_HMAC,
    CKM.SHA256_HMAC,
    CKM.SHA384_HMAC,
    CKM.SHA512_HMAC,
    CKM.ML_DSA_KEY_PAIR_GEN,
    CKM.ML_DSA,
    CKM.ML_KEM_KEY_PAIR_GEN,
    CKM.ML_KEM,
    # SHA-512/t and SHA-3 digests, HMACs, HMAC key generation, SHA-3 signatures, HKDF, PBKDF2
    CKM.SHA512_224,
    CKM.SHA512_256,
    CKM.SHA3_224,
    CKM.SHA3_256,
    CKM.SHA3_384,
    CKM.SHA3_512,
    CKM.SHA512_224_HMAC,
    CKM.SHA512_256_HMAC,
    CKM.SHA3_224_HMAC,
    CKM.SHA3_256_HMAC,
    CKM.SHA3_384_HMAC,
    CKM.SHA3_512_HMAC,
    CKM.SHA_1_HMAC_GENERAL,
    CKM.SHA224_HMAC_GENERAL,
    CKM.SHA256_HMAC_GENERAL,
    CKM.SHA384_HMAC_GENERAL,
    CKM.SHA512_HMAC_GENERAL,
    CKM.SHA512_224_HMAC_GENERAL,
    CKM.SHA512_256_HMAC_GENERAL,
    CKM.SHA3_224_HMAC_GENERAL,
    CKM.SHA3_256_HMAC_GENERAL,
    CKM.SHA3_384_HMAC_GENERAL,
    CKM.SHA3_512_HMAC_GENERAL,
    CKM.SHA_1_KEY_GEN,
    CKM.SHA224_KEY_GEN,
    CKM.SHA256_KEY_GEN,
    CKM.SHA384_KEY_GEN,
    CKM.SHA512_KEY_GEN,
    CKM.SHA512_224_KEY_GEN,
    CKM.SHA512_256_KEY_GEN,
    CKM.SHA3_224_KEY_GEN,
    CKM.SHA3_256_KEY_GEN,
    CKM.SHA3_384_KEY_GEN,
    CKM.SHA3_512_KEY_GEN,
    CKM.SHA3_224_RSA_PKCS,
    CKM.SHA3_256_RSA_PKCS,
    CKM.SHA3_384_RSA_PKCS,
    CKM.SHA3_512_RSA_PKCS,
    CKM.SHA3_224_RSA_PKCS_PSS,
    CKM.SHA3_256_RSA_PKCS_PSS,
    CKM.SHA3_384_RSA_PKCS_PSS,
    CKM.SHA3_512_RSA_PKCS_PSS,
    CKM.ECDSA_SHA3_224,
    CKM.ECDSA_SHA3_256,
    CKM.ECDSA_SHA3_384,
    CKM.ECDSA_SHA3_512,
    CKM.HKDF_DERIVE,
    CKM.HKDF_DATA,
    CKM.HKDF_KEY_GEN,
    CKM.PKCS5_PBKD2,
}
EC_MECHANISMS = {
    CKM.EC_KEY_PAIR_GEN,
    CKM.ECDSA,
    CKM.ECDSA_SHA1,
    CKM.ECDSA_SHA224,
    CKM.ECDSA_SHA256,
    CKM.ECDSA_SHA384,
    CKM.ECDSA_SHA512,
    CKM.ECDSA_SHA3_224,
    CKM.ECDSA_SHA3_256,
    CKM.ECDSA_SHA3_384,
    CKM.ECDSA_SHA3_512,
    CKM.ECDH1_DERIVE,
    CKM.ECDH1_COFACTOR_DERIVE,
}
OPERATION_FLAGS = {
    "digest": CKF.DIGEST,
    "sign": CKF.SIGN,
    "verify": CKF.VERIFY,
    "encrypt": CKF.ENCRYPT,
    "decrypt": CKF.DECRYPT,
    "generate_key": CKF.GENERATE,
    "generate_key_pair": CKF.GENERATE_KEY_PAIR,
    "wrap": CKF.WRAP,
    "unwrap": CKF.UNWRAP,
    "derive": CKF.DERIVE,
}
EC_FLAGS = CKF.EC_F_P | CKF.EC_NAMEDCURVE | CKF.EC_UNCOMPRESS


def test_every_required_mechanism_present(registry: MechanismRegistry) -> None:
    assert REQUIRED <= set(registry.specs)
    assert len(registry) == len(REQUIRED)


def test_flags_match_operations(registry: MechanismRegistry) -> None:
    for spec in registry:
        for attr, flag in OPERATION_FLAGS.items():
            present = getattr(spec, attr) is not None
            assert present == bool(spec.flags & flag), (hex(spec.mechanism), attr)


def test_ec_flags_exactly_on_ec_mechanisms(registry: MechanismRegistry) -> None:
    for spec in registry:
        expected = EC_FLAGS if spec.mechanism in EC_MECHANISMS else 0
        assert spec.flags & (EC_FLAGS | CKF.EC_COMPRESS) == expected, hex(spec.mechanism)


def test_sizes_and_key_types(registry: MechanismRegistry) -> None:
    for spec in registry:
        assert 0 <= spec.min_key_size <= spec.max_key_size
        keyed = any(
            getattr(spec, a) is not None
            for a in ("sign", "verify", "encrypt", "decrypt", "wrap", "unwrap", "derive",
                      "encapsulate", "decapsulate")
        )
        assert bool(spec.key_types) == keyed, hex(spec.mechanism)
        generates = spec.generate_key is not None or spec.generate_key_pair is not None
        assert (spec.generated_key_type is not None) == generates, hex(spec.mechanism)


def _info(spec: MechanismSpec) -> tuple[int, int]:
    return spec.min_key_size, spec.max_key_size


def test_key_size_units(registry: MechanismRegistry) -> None:
    get = registry.specs.__getitem__
    assert _info(get(CKM.AES_GCM)) == (16, 32)  # bytes
    assert _info(get(CKM.SHA256_HMAC)) == (1, 512)  # bytes
    assert _info(get(CKM.ECDSA)) == (192, 521)  # bits: P-192 .. P-521
    assert _info(get(CKM.EDDSA)) == (256, 456)  # bits: Ed25519 .. Ed448 (57-byte keys)
    assert _info(get(CKM.EC_MONTGOMERY_KEY_PAIR_GEN)) == (256, 448)  # bits: X25519 .. X448
    assert _info(get(CKM.RSA_PKCS_KEY_PAIR_GEN)) == (1024, 4096)  # bits
    assert _info(get(CKM.RSA_PKCS)) == (1024, 16384)
    assert _info(get(CKM.SHA256)) == (0, 0)
    assert _info(get(CKM.DSA_SHA256)) == (1024, 3072)  # bits of the prime p
    assert _info(get(CKM.DH_PKCS_DERIVE)) == (1024, 8192)  # bits of the prime p


def test_default_registry_is_fresh() -> None:
    assert default_registry() is not default_registry()
