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
    CKM.GENERIC_SECRET_KEY_GEN,
    CKM.SHA_1_HMAC,
    CKM.SHA224_HMAC,
    CKM.SHA256_HMAC,
    CKM.SHA384_HMAC,
    CKM.SHA512_HMAC,
}
EC_MECHANISMS = {
    CKM.EC_KEY_PAIR_GEN,
    CKM.ECDSA,
    CKM.ECDSA_SHA1,
    CKM.ECDSA_SHA224,
    CKM.ECDSA_SHA256,
    CKM.ECDSA_SHA384,
    CKM.ECDSA_SHA512,
    CKM.ECDH1_DERIVE,
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
            for a in ("sign", "verify", "encrypt", "decrypt", "wrap", "unwrap", "derive")
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
    assert _info(get(CKM.ECDSA)) == (256, 521)  # bits
    assert _info(get(CKM.EDDSA)) == (256, 256)  # bits
    assert _info(get(CKM.RSA_PKCS_KEY_PAIR_GEN)) == (1024, 4096)  # bits
    assert _info(get(CKM.RSA_PKCS)) == (1024, 16384)
    assert _info(get(CKM.SHA256)) == (0, 0)


def test_default_registry_is_fresh() -> None:
    assert default_registry() is not default_registry()
