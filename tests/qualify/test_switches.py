"""Each configuration switch, in a full run against tokenport's module: the tests it rules
out are reported as ignored (never passed), everything else still passes.

All runs happen at once (each on a token of its own) in one module-scoped fixture.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from .helpers import (
    Run,
    expect_clean,
    provision,
    qualify_args,
    run_many,
    token_objects,
    tokenport_token,
)

RSA_GROUP = {
    "PKCS11_RSA_GenerateKeyPair", "PKCS11_RSA_CreateObject", "PKCS11_RSA_JITPCodeVerifyRootCert",
    "PKCS11_RSA_FindObject", "PKCS11_RSA_GetAttributeValue", "PKCS11_RSA_Sign",
    "PKCS11_RSA_FindObjectMultiThread", "PKCS11_RSA_GetAttributeValueMultiThread", "PKCS11_RSA_DestroyObject",
}
EC_GROUP = {
    "PKCS11_EC_GenerateKeyPair", "PKCS11_EC_CreateObject", "PKCS11_EC_JITPCodeVerifyRootCert",
    "PKCS11_EC_FindObject", "PKCS11_EC_GetAttributeValue", "PKCS11_EC_Sign", "PKCS11_EC_Verify",
    "PKCS11_EC_FindObjectMultiThread", "PKCS11_EC_GetAttributeValueMultiThread",
    "PKCS11_EC_SignVerifyMultiThread", "PKCS11_EC_DestroyObject",
}
CRYPTO_RSA = {"CRYPTO_VerifySignatureTestVectors_RSA_SHA256", "CRYPTO_VerifySignatureTestVectors_RSA_SHA1"}
CRYPTO_EC = {"CRYPTO_VerifySignatureTestVectors_ECDSA_SHA256"}

CUSTOM_LABELS = {
    "pkcs11LabelDevicePrivateKeyForTLS": "qualify priv",
    "pkcs11LabelDevicePublicKeyForTLS": "qualify pub",
    "pkcs11LabelDeviceCertificateForTLS": "qualify cert",
    "pkcs11LabelCodeVerifyKey": "qualify code verify",
    "pkcs11LabelJITPCertificate": "qualify jitp",
    "pkcs11LabelRootCertificate": "qualify root",
}
DEFAULT_LABELS = ["Device Priv TLS Key", "Device Pub TLS Key", "Device Cert", "Code Verify Key", "JITP Cert",
                  "Root Cert"]

#: name -> (settings, objects to put on the token first)
SCENARIOS: dict[str, tuple[Mapping[str, object], Mapping[str, object]]] = {
    "rsa": ({"PKCS11": "RSA"}, {}),
    "ecc": ({"PKCS11": "ECC"}, {}),
    "import": ({"KeyProvisioning": "Import"}, {}),
    "onboard": ({"KeyProvisioning": "Onboard"}, {}),
    "no-jitp": ({"pkcs11JITPCodeVerifyRootCertSupport": "No"}, {}),
    "preprovisioned": (
        {"preProvisioned": "Yes", "PKCS11": "ECC", "KeyProvisioning": "No"},
        {"ec": {"private": "Device Priv TLS Key", "public": "Device Pub TLS Key", "certificate": "Device Cert"}},
    ),
    # Custom labels, with objects under every default label that must survive the run (which
    # runs next to them only with --allow-existing-objects, see EXTRA_ARGS).
    "labels": (CUSTOM_LABELS, {"sentinels": DEFAULT_LABELS}),
    # Pre-provisioned credentials only under custom labels: found only if the labels are used.
    "preprovisioned-labels": (
        {"preProvisioned": "Yes", "PKCS11": "ECC", **{k: v for k, v in CUSTOM_LABELS.items() if "Device" in k}},
        {"ec": {"private": "qualify priv", "public": "qualify pub", "certificate": "qualify cert"}},
    ),
}


#: name -> further options of the run
EXTRA_ARGS: dict[str, tuple[str, ...]] = {"labels": ("--allow-existing-objects",)}


@pytest.fixture(scope="module")
def switch_runs(module_path: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Run, dict[str, str]]]:
    base = tmp_path_factory.mktemp("switches")
    jobs = {}
    envs = {}
    for name, (settings, objects) in SCENARIOS.items():
        env = tokenport_token(base / name / "home")
        if objects:
            provision(module_path, env, **objects)
        config = base / name / "device.json"
        config.write_text(json.dumps(settings))
        jobs[name] = (qualify_args(module_path, "--config", str(config), *EXTRA_ARGS.get(name, ())), env)
        envs[name] = env
    runs = run_many(jobs)
    return {name: (runs[name], envs[name]) for name in SCENARIOS}


def test_pkcs11_rsa(switch_runs: dict[str, tuple[Run, dict[str, str]]]) -> None:
    result, _ = switch_runs["rsa"]
    expect_clean(result, EC_GROUP | CRYPTO_EC | {"PKCS11_SignVerifyRoundTripWithWrongECPublicKey"})
    assert RSA_GROUP | CRYPTO_RSA <= result.passed
    assert "PKCS11 is RSA: the port has no EC keys" in result.messages["Full_PKCS11_EC.PKCS11_EC_Sign"]


def test_pkcs11_ecc(switch_runs: dict[str, tuple[Run, dict[str, str]]]) -> None:
    result, _ = switch_runs["ecc"]
    expect_clean(result, RSA_GROUP | CRYPTO_RSA | {"PKCS11_SignVerifyRoundTripWithWrongRSAPublicKey"})
    assert EC_GROUP | CRYPTO_EC <= result.passed


def test_key_provisioning_import(switch_runs: dict[str, tuple[Run, dict[str, str]]]) -> None:
    result, _ = switch_runs["import"]
    expect_clean(result, {"PKCS11_RSA_GenerateKeyPair", "PKCS11_EC_GenerateKeyPair",
                          "PKCS11_GenerateKeyPair_InvalidParams"})
    assert {"PKCS11_RSA_CreateObject", "PKCS11_EC_CreateObject"} <= result.passed
    assert "KeyProvisioning is Import" in result.messages["Full_PKCS11_EC.PKCS11_EC_GenerateKeyPair"]


def test_key_provisioning_onboard(switch_runs: dict[str, tuple[Run, dict[str, str]]]) -> None:
    """Credentials generated on the token only: the object tests run on those."""
    result, _ = switch_runs["onboard"]
    expect_clean(result, {"PKCS11_RSA_CreateObject", "PKCS11_EC_CreateObject"})
    assert {"PKCS11_RSA_GenerateKeyPair", "PKCS11_EC_GenerateKeyPair", "PKCS11_EC_Sign",
            "PKCS11_EC_Verify", "PKCS11_RSA_Sign"} <= result.passed
    assert "no off-token signature checked (the key is generated" in result.stdout


def test_jitp_code_verify_root_cert_support(switch_runs: dict[str, tuple[Run, dict[str, str]]]) -> None:
    result, _ = switch_runs["no-jitp"]
    expect_clean(result, {"PKCS11_RSA_JITPCodeVerifyRootCert", "PKCS11_EC_JITPCodeVerifyRootCert"})
    default, _ = switch_runs["rsa"]
    assert "PKCS11_RSA_JITPCodeVerifyRootCert" in default.passed  # runs when supported (default Yes)


def test_preprovisioned(module_path: str, switch_runs: dict[str, tuple[Run, dict[str, str]]]) -> None:
    """Credentials already on the token: used, never imported, generated or destroyed."""
    result, env = switch_runs["preprovisioned"]
    expect_clean(result, RSA_GROUP | CRYPTO_RSA | CRYPTO_EC | {
        "PKCS11_EC_GenerateKeyPair", "PKCS11_EC_CreateObject", "PKCS11_EC_JITPCodeVerifyRootCert",
        "PKCS11_EC_DestroyObject", "PKCS11_CreateDestroyObject_InvalidParams",
        "PKCS11_GenerateKeyPair_InvalidParams", "PKCS11_SignVerifyRoundTripWithWrongRSAPublicKey",
        "PKCS11_SignVerifyRoundTripWithWrongECPublicKey", "PKCS11_HMAC_SHA256_KnownAnswer",
        "PKCS11_AES_CMAC_KnownAnswer",
    })
    assert {"PKCS11_EC_FindObject", "PKCS11_EC_GetAttributeValue", "PKCS11_EC_Sign", "PKCS11_EC_Verify",
            "PKCS11_EC_SignVerifyMultiThread", "PKCS11_PrivateObjects_RequireLogin"} <= result.passed
    assert sorted(token_objects(module_path, env)) == [
        ("Device Cert", "CERTIFICATE"), ("Device Priv TLS Key", "PRIVATE_KEY"), ("Device Pub TLS Key", "PUBLIC_KEY"),
    ]


def test_label_overrides(module_path: str, switch_runs: dict[str, tuple[Run, dict[str, str]]]) -> None:
    """The suite works under the configured labels: objects under the default labels are left
    alone, and pre-provisioned credentials are found under the configured labels only."""
    result, env = switch_runs["labels"]
    expect_clean(result)
    assert "labels: pkcs11LabelDevicePrivateKeyForTLS='qualify priv'" in result.stdout
    assert "existing objects: 6 (--allow-existing-objects: never destroyed)" in result.stdout
    assert sorted(token_objects(module_path, env)) == sorted((label, "CERTIFICATE") for label in DEFAULT_LABELS)
    preprovisioned, _ = switch_runs["preprovisioned-labels"]
    assert "PKCS11_EC_FindObject" in preprovisioned.passed
    assert preprovisioned.failed == set(), str(preprovisioned)


def test_every_run_has_the_same_tests(switch_runs: dict[str, tuple[Run, dict[str, str]]]) -> None:
    """A configuration changes what is ignored, never what is reported."""
    reported = {name: set(result.statuses) for name, (result, _) in switch_runs.items()}
    assert len({frozenset(names) for names in reported.values()}) == 1, reported

