"""The suite can fail: a broken double of a module (broken_module.c, forwarding to tokenport's
module) that corrupts one thing makes exactly the tests that check that thing fail, and the
exit code non-zero. The pass-through mode of the same double fails nothing."""

from __future__ import annotations

import pytest

from .helpers import Run, expect_clean, needs_gcc, qualify_args, run_many, tokenport_token

pytestmark = needs_gcc()

SIGNATURE_CHECKS = {
    "PKCS11_RSA_GenerateKeyPair", "PKCS11_RSA_Sign", "PKCS11_EC_GenerateKeyPair", "PKCS11_EC_Sign",
    "PKCS11_EC_Verify", "PKCS11_EC_SignVerifyMultiThread", "PKCS11_Verify_InvalidParams",
    "PKCS11_SignVerifyRoundTripWithWrongRSAPublicKey", "PKCS11_SignVerifyRoundTripWithWrongECPublicKey",
    "PKCS11_HMAC_SHA256_KnownAnswer", "PKCS11_AES_CMAC_KnownAnswer",
}
CRYPTO = {
    "CRYPTO_VerifySignatureTestVectors_RSA_SHA256", "CRYPTO_VerifySignatureTestVectors_RSA_SHA1",
    "CRYPTO_VerifySignatureTestVectors_ECDSA_SHA256",
}

#: mode -> the tests that must fail, and no other
EXPECTED: dict[str, set[str]] = {
    "getfunctionlist-null": {"PKCS11_GetFunctionList"},
    "sign-bitflip": SIGNATURE_CHECKS,
    "digest-wrong": {"PKCS11_Digest", "PKCS11_Digest_ErrorConditions", "PKCS11_Digest_InvalidParams"} | CRYPTO,
    "verify-always-ok": {
        "PKCS11_EC_Verify", "PKCS11_Verify_InvalidParams", "PKCS11_SignVerifyRoundTripWithWrongRSAPublicKey",
        "PKCS11_SignVerifyRoundTripWithWrongECPublicKey", "PKCS11_HMAC_SHA256_KnownAnswer",
        "PKCS11_AES_CMAC_KnownAnswer",
    } | CRYPTO,
    "sensitive-ok": {
        "PKCS11_RSA_GenerateKeyPair", "PKCS11_RSA_GetAttributeValue", "PKCS11_RSA_GetAttributeValueMultiThread",
        "PKCS11_EC_GenerateKeyPair", "PKCS11_EC_GetAttributeValue", "PKCS11_EC_GetAttributeValueMultiThread",
        "PKCS11_GetAttributeValue_InvalidParams",
    },
}
#: what each failure says (one test per mode)
MESSAGES = {
    "getfunctionlist-null": ("PKCS11_GetFunctionList", "Expected CKR_ARGUMENTS_BAD Was CKR_OK. C_GetFunctionList(NULL)"),
    "sign-bitflip": ("PKCS11_EC_Sign", "pyca/cryptography rejects the signature"),
    "digest-wrong": ("PKCS11_Digest", "SHA-256 of the 896-bit NIST message"),
    "verify-always-ok": ("PKCS11_EC_Verify", "Expected CKR_SIGNATURE_INVALID Was CKR_OK"),
    "sensitive-ok": ("PKCS11_RSA_GetAttributeValue", "Expected CKR_ATTRIBUTE_SENSITIVE Was CKR_OK"),
}


@pytest.fixture(scope="module")
def broken_runs(module_path: str, broken_module: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    base = tmp_path_factory.mktemp("broken-runs")
    jobs = {}
    for mode in ("pass-through", *EXPECTED):
        env = tokenport_token(base / mode / "home")
        env.update(QUALIFY_BROKEN_TARGET=module_path, QUALIFY_BROKEN_MODE=mode)
        jobs[mode] = (qualify_args(broken_module), env)
    return run_many(jobs)


def test_the_double_alone_fails_nothing(broken_runs: dict[str, Run]) -> None:
    expect_clean(broken_runs["pass-through"])


@pytest.mark.parametrize("mode", list(EXPECTED))
def test_a_broken_module_fails_the_matching_tests(broken_runs: dict[str, Run], mode: str) -> None:
    result = broken_runs[mode]
    assert result.failed == EXPECTED[mode], str(result)
    assert result.returncode == 1, str(result)
    assert result.summary == (len(result.statuses), len(EXPECTED[mode]), 0), str(result)
    assert result.verdict == "FAIL"
    name, text = MESSAGES[mode]
    key = next(k for k in result.statuses if k.endswith(f".{name}"))
    assert text in result.messages[key], result.messages[key]
