"""Full_PKCS11_Capabilities: the mechanisms the port needs, as C_GetMechanismInfo reports them,
checked against what the configuration says the port supports."""

from __future__ import annotations

from tokenport.ck import CKF, CKM, CKR
from tokenport.qualify.assertions import expect_ok, expect_rv_in, expect_true, fail
from tokenport.qualify.context import Context
from tokenport.qualify.p11 import MechanismInfo
from tokenport.qualify.runner import Group, Test


def _info(ctx: Context, mechanism: int) -> MechanismInfo | None:
    """The info of an optional mechanism: CKR_OK or CKR_MECHANISM_INVALID, nothing else."""
    rv, info = ctx.client.get_mechanism_info(ctx.slot, mechanism)
    expect_rv_in(rv, (CKR.OK, CKR.MECHANISM_INVALID), f"C_GetMechanismInfo(CKM_{CKM(mechanism).name})")
    return info


def _in_range(info: MechanismInfo, size: int) -> bool:
    return info.min_key_size <= size <= info.max_key_size


def capabilities(ctx: Context) -> None:
    config = ctx.config
    rsa = _info(ctx, CKM.RSA_PKCS)
    if rsa is not None:
        expect_true(bool(rsa.flags & CKF.SIGN), "CKM_RSA_PKCS has CKF_SIGN")
        expect_true(_in_range(rsa, 2048),
                    f"2048 is within CKM_RSA_PKCS key sizes {rsa.min_key_size}-{rsa.max_key_size}")
        rv, x509 = ctx.client.get_mechanism_info(ctx.slot, CKM.RSA_X_509)
        expect_ok(rv, "C_GetMechanismInfo(CKM_RSA_X_509) of a module with CKM_RSA_PKCS")
        assert x509 is not None
        expect_true(bool(x509.flags & CKF.VERIFY), "CKM_RSA_X_509 has CKF_VERIFY")
        expect_true(_in_range(x509, 2048),
                    f"2048 is within CKM_RSA_X_509 key sizes {x509.min_key_size}-{x509.max_key_size}")
        ctx.note("The PKCS #11 module supports RSA signing.")
    ecdsa = _info(ctx, CKM.ECDSA)
    if ecdsa is not None:
        expect_true(bool(ecdsa.flags & (CKF.SIGN | CKF.VERIFY)), "CKM_ECDSA has CKF_SIGN or CKF_VERIFY")
        expect_true(_in_range(ecdsa, 256),
                    f"256 is within CKM_ECDSA key sizes {ecdsa.min_key_size}-{ecdsa.max_key_size}")
        ctx.note("The PKCS #11 module supports ECDSA.")
    ec_generation = None
    if not config.preprovisioned:
        ec_generation = _info(ctx, CKM.EC_KEY_PAIR_GEN)
        if ec_generation is not None:
            expect_true(bool(ec_generation.flags & CKF.GENERATE_KEY_PAIR),
                        "CKM_EC_KEY_PAIR_GEN has CKF_GENERATE_KEY_PAIR")
            expect_true(_in_range(ec_generation, 256),
                        "256 is within CKM_EC_KEY_PAIR_GEN key sizes "
                        f"{ec_generation.min_key_size}-{ec_generation.max_key_size}")
            ctx.note("The PKCS #11 module supports elliptic-curve key generation.")
    rv, sha256 = ctx.client.get_mechanism_info(ctx.slot, CKM.SHA256)
    expect_ok(rv, "C_GetMechanismInfo(CKM_SHA256)")
    assert sha256 is not None
    expect_true(bool(sha256.flags & CKF.DIGEST), "CKM_SHA256 has CKF_DIGEST")
    if config.key_import:
        ctx.note("The PKCS #11 module supports private key import.")

    # What the configuration claims must be there.
    if config.rsa and rsa is None:
        raise fail(f"PKCS11 is {config.pkcs11} but the module does not offer CKM_RSA_PKCS")
    if config.ec and (ecdsa is None or not ecdsa.flags & CKF.SIGN or not ecdsa.flags & CKF.VERIFY):
        raise fail(f"PKCS11 is {config.pkcs11} but the module does not offer CKM_ECDSA "
                   "for signing and verification")
    if config.ec and config.key_generate and ec_generation is None:
        raise fail(f"KeyProvisioning is {config.key_provisioning} but the module does not offer "
                   "CKM_EC_KEY_PAIR_GEN")
    if config.rsa and config.key_generate:
        rsa_generation = _info(ctx, CKM.RSA_PKCS_KEY_PAIR_GEN)
        if rsa_generation is None or not rsa_generation.flags & CKF.GENERATE_KEY_PAIR:
            raise fail(f"PKCS11 is {config.pkcs11} and KeyProvisioning is "
                       f"{config.key_provisioning} but the module does not offer "
                       "CKM_RSA_PKCS_KEY_PAIR_GEN")


GROUP = Group(
    "Full_PKCS11_Capabilities",
    (Test("PKCS11_Capabilities", capabilities),),
    setup=Context.start,
    teardown=Context.stop,
)
