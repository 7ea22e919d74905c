"""`tokenport qualify` never destroys what it did not create, and never costs more than one
failed login: a provisioned device's token is refused by default (nothing changed on it),
runs next to its credentials only when told so (and leaves them byte for byte as they were),
and a wrong PIN stops the run after exactly one failed login (counted by the token's flags,
and by a logging double of the module in front of tokenport or SoftHSMv2)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from tokenport.ck import CKF

from .helpers import (
    SO_PIN,
    USER_PIN,
    Run,
    expect_clean,
    isolated_env,
    needs_gcc,
    needs_softhsm,
    parse,
    provision,
    provision_device,
    qualify_args,
    run,
    run_many,
    snapshot,
    softhsm_module,
    softhsm_token,
    token_flags,
    tokenport,
    tokenport_token,
)
from .test_switches import CRYPTO_EC, CRYPTO_RSA, CUSTOM_LABELS, RSA_GROUP

DEVICE_LABELS = ["Code Verify Key", "Device Cert", "Device Priv TLS Key", "Device Pub TLS Key", "JITP Cert",
                 "Root Cert"]
#: the tests a pre-provisioned EC run leaves out
PREPROVISIONED_IGNORED = RSA_GROUP | CRYPTO_RSA | CRYPTO_EC | {
    "PKCS11_EC_GenerateKeyPair", "PKCS11_EC_CreateObject", "PKCS11_EC_JITPCodeVerifyRootCert",
    "PKCS11_EC_DestroyObject", "PKCS11_CreateDestroyObject_InvalidParams", "PKCS11_GenerateKeyPair_InvalidParams",
    "PKCS11_SignVerifyRoundTripWithWrongRSAPublicKey", "PKCS11_SignVerifyRoundTripWithWrongECPublicKey",
    "PKCS11_HMAC_SHA256_KnownAnswer", "PKCS11_AES_CMAC_KnownAnswer",
}

#: name -> (configuration settings, further options) of a run on a provisioned device
DEVICE_RUNS: dict[str, tuple[Mapping[str, object], tuple[str, ...]]] = {
    "default": ({}, ()),
    "allowed": (CUSTOM_LABELS, ("--allow-existing-objects",)),
    "allowed-same-labels": ({}, ("--allow-existing-objects",)),
    "preprovisioned": ({"preProvisioned": "Yes", "PKCS11": "ECC"}, ()),
}


def labels_of(objects: list[dict[str, str]]) -> list[str]:
    return sorted(bytes.fromhex(o["3"]).decode() for o in objects)


def stopped_before_any_test(result: Run, message: str) -> None:
    """Exit 1, one `Error:` line on stderr holding ``message``, and no test run."""
    assert result.returncode == 1, str(result)
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("Error: ") and message in errors[0], str(result)
    assert "TEST(" not in result.stdout and result.summary is None, str(result)


@pytest.fixture(scope="module")
def device_runs(module_path: str, tmp_path_factory: pytest.TempPathFactory
                ) -> dict[str, tuple[Run, dict[str, str], list[dict[str, str]]]]:
    """Each run of DEVICE_RUNS on a token of its own that `tokenport provision` filled (key
    pair, device, root and JITP certificates, code-verification key), with the snapshot of
    every object's attribute values taken before the run."""
    base = tmp_path_factory.mktemp("device-runs")
    jobs = {}
    prepared: dict[str, tuple[dict[str, str], list[dict[str, str]]]] = {}
    for name, (settings, extra) in DEVICE_RUNS.items():
        env = tokenport_token(base / name / "home", label="device")
        provision_device(env, base / name / "files")
        before = snapshot(module_path, env)
        assert labels_of(before) == DEVICE_LABELS
        args = list(extra)
        if settings:
            config = base / name / "device.json"
            config.write_text(json.dumps(settings))
            args += ["--config", str(config)]
        jobs[name] = (qualify_args(module_path, *args), env)
        prepared[name] = (env, before)
    runs = run_many(jobs)
    return {name: (runs[name], *prepared[name]) for name in DEVICE_RUNS}


def test_a_provisioned_token_is_refused(module_path: str,
                                        device_runs: dict[str, tuple[Run, dict[str, str], list[dict[str, str]]]]
                                        ) -> None:
    """Defaults on the only token, a provisioned device's: the token is named, then refused
    before any test; every object is still there with the same attribute values."""
    result, env, before = device_runs["default"]
    stopped_before_any_test(result, "token 'device' (serial ")
    assert "holds 5 objects this run did not create" in result.stderr  # the public ones, before a login
    for label in ("Device Cert", "Root Cert", "JITP Cert", "Code Verify Key", "Device Pub TLS Key"):
        assert repr(label) in result.stderr, str(result)
    assert "--allow-existing-objects" in result.stderr and "preProvisioned" in result.stderr
    header = result.stdout.splitlines()
    assert header[1].startswith("slot 0: token 'device' (") and ", serial " in header[1], str(result)
    assert snapshot(module_path, env) == before


def test_allow_existing_objects_leaves_them_alone(
        module_path: str, device_runs: dict[str, tuple[Run, dict[str, str], list[dict[str, str]]]]) -> None:
    """--allow-existing-objects with labels of its own: a full clean run, and afterwards the
    device's objects are there, byte for byte, and nothing else is."""
    result, env, before = device_runs["allowed"]
    expect_clean(result)
    assert "existing objects: 6 (--allow-existing-objects: never destroyed)" in result.stdout
    assert snapshot(module_path, env) == before


def test_allow_existing_objects_never_replaces_them(
        module_path: str, device_runs: dict[str, tuple[Run, dict[str, str], list[dict[str, str]]]]) -> None:
    """--allow-existing-objects with the device's own labels: the suite would have to replace
    the credentials, so it refuses (after naming the token), and nothing changed."""
    result, env, before = device_runs["allowed-same-labels"]
    stopped_before_any_test(result, "holds objects under labels this run stores its own under")
    assert "PRIVATE_KEY 'Device Priv TLS Key'" in result.stderr  # seen after the login
    assert snapshot(module_path, env) == before


def test_preprovisioned_mode_uses_the_credentials(
        module_path: str, device_runs: dict[str, tuple[Run, dict[str, str], list[dict[str, str]]]]) -> None:
    result, env, before = device_runs["preprovisioned"]
    expect_clean(result, PREPROVISIONED_IGNORED)
    assert {"PKCS11_EC_Sign", "PKCS11_EC_Verify", "PKCS11_EC_GetAttributeValue"} <= result.passed
    assert "existing objects: 6 (preProvisioned: used, never destroyed)" in result.stdout
    assert snapshot(module_path, env) == before


def test_private_objects_are_found_after_one_login(module_path: str, tmp_path: Path) -> None:
    """A token whose only object is private: seen after the login, refused, still there."""
    env = tokenport_token(tmp_path / "home")
    provision(module_path, env, private_secrets=["device secret"])
    before = snapshot(module_path, env)
    assert labels_of(before) == ["device secret"]
    result = parse(qualify_args(module_path), run(qualify_args(module_path), with_pins(env)))
    stopped_before_any_test(result, "holds 1 object this run did not create: SECRET_KEY 'device secret'")
    assert snapshot(module_path, env) == before


def test_objects_of_an_interrupted_run_are_named(module_path: str, tmp_path: Path) -> None:
    """Objects an interrupted run left (its CKA_ID marker) are not this run's either: refused,
    and the message says where they come from."""
    env = tokenport_token(tmp_path / "home")
    provision(module_path, env, leftovers=["Root Cert"], sentinels=["Device Cert"])
    before = snapshot(module_path, env)
    result = parse(qualify_args(module_path), run(qualify_args(module_path), with_pins(env)))
    stopped_before_any_test(result, "holds 2 objects this run did not create (public ones, listed before any "
                                    "login): CERTIFICATE ")
    assert "(1 of them left by an interrupted run of tokenport qualify, CKA_ID tokenport-qualify:...)" in result.stderr
    assert snapshot(module_path, env) == before


# -- PINs ---------------------------------------------------------------------------------------


def with_pins(env: Mapping[str, str], user: str = USER_PIN, so: str = SO_PIN) -> dict[str, str]:
    return {**env, "QUALIFY_TEST_PIN": user, "QUALIFY_TEST_SO_PIN": so}


def three_tries(home: Path) -> dict[str, str]:
    """A fresh tokenport token whose PINs lock after 3 wrong tries: 1 failure sets
    CKF_*_PIN_COUNT_LOW, 2 add CKF_*_PIN_FINAL_TRY, 3 lock. So COUNT_LOW without FINAL_TRY
    means exactly one failed login."""
    config = home.parent / "tokenport.toml"
    home.mkdir(parents=True)
    config.write_text("[token]\nmax_pin_attempts = 3\n", encoding="utf-8")
    env = isolated_env(home, TOKENPORT_CONF=str(config))
    proc = run(tokenport("token", "init", "--label", "qualify"),
               {**env, "TOKENPORT_SO_PIN": SO_PIN, "TOKENPORT_PIN": USER_PIN})
    assert proc.returncode == 0, proc.stderr
    return env


USER_FLAGS = CKF.USER_PIN_COUNT_LOW | CKF.USER_PIN_FINAL_TRY | CKF.USER_PIN_LOCKED
SO_FLAGS = CKF.SO_PIN_COUNT_LOW | CKF.SO_PIN_FINAL_TRY | CKF.SO_PIN_LOCKED


def test_a_wrong_pin_costs_one_failed_login(module_path: str, tmp_path: Path) -> None:
    """`TOKENPORT_PIN=wrong tokenport qualify`: stopped after one C_Login, the token counts one
    failure (not locked); a second such run counts the second; the third is not tried."""
    env = three_tries(tmp_path / "home")
    args = tokenport("qualify", "--module", module_path)
    first = parse(args, run(args, {**env, "TOKENPORT_PIN": "wrong-pin"}))
    stopped_before_any_test(first, "the user PIN was refused: C_Login(CKU_USER) on token 'qualify' (serial ")
    assert "returned CKR_PIN_INCORRECT; stopped after that one login" in first.stderr
    assert token_flags(module_path, env) & USER_FLAGS == CKF.USER_PIN_COUNT_LOW
    second = parse(args, run(args, {**env, "TOKENPORT_PIN": "wrong-pin"}))
    stopped_before_any_test(second, "CKR_PIN_INCORRECT")
    assert token_flags(module_path, env) & USER_FLAGS == CKF.USER_PIN_COUNT_LOW | CKF.USER_PIN_FINAL_TRY
    third = parse(args, run(args, {**env, "TOKENPORT_PIN": "wrong-pin"}))
    stopped_before_any_test(third, "has one try left (CKF_USER_PIN_FINAL_TRY): qualify does not risk locking it")
    assert token_flags(module_path, env) & USER_FLAGS == CKF.USER_PIN_COUNT_LOW | CKF.USER_PIN_FINAL_TRY


def test_a_wrong_so_pin_costs_one_failed_login(module_path: str, tmp_path: Path) -> None:
    env = three_tries(tmp_path / "home")
    result = parse(qualify_args(module_path), run(qualify_args(module_path), with_pins(env, so="wrong-so-pin")))
    stopped_before_any_test(result, "the SO PIN was refused: C_Login(CKU_SO) on token 'qualify'")
    flags = token_flags(module_path, env)
    assert flags & SO_FLAGS == CKF.SO_PIN_COUNT_LOW
    assert flags & USER_FLAGS == 0


def login_log(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("C_Login ")]


@needs_gcc()
@pytest.mark.parametrize("target", ["tokenport", pytest.param("softhsm", marks=needs_softhsm())])
def test_exactly_one_login_reaches_the_module(module_path: str, broken_module: str, tmp_path: Path,
                                              target: str) -> None:
    """Through the logging double: with a wrong PIN exactly one C_Login reaches the module
    (tokenport or SoftHSMv2), it returns CKR_PIN_INCORRECT, and the token says COUNT_LOW."""
    if target == "softhsm":
        env, real = softhsm_token(tmp_path / "softhsm"), softhsm_module()
        assert real is not None
    else:
        env, real = tokenport_token(tmp_path / "home"), module_path
    log = tmp_path / "calls.log"
    env.update(QUALIFY_BROKEN_TARGET=real, QUALIFY_BROKEN_LOG=str(log), TOKENPORT_PIN="wrong-pin")
    args = tokenport("qualify", "--module", broken_module)
    result = parse(args, run(args, env))
    stopped_before_any_test(result, "returned CKR_PIN_INCORRECT; stopped after that one login")
    assert login_log(log) == ["C_Login 1 0xa0"]
    assert token_flags(real, env) & CKF.USER_PIN_COUNT_LOW
    assert not token_flags(real, env) & (CKF.USER_PIN_FINAL_TRY | CKF.USER_PIN_LOCKED)


@needs_gcc()
@needs_softhsm()
def test_softhsm_token_with_objects_is_refused(broken_module: str, tmp_path: Path) -> None:
    """SoftHSMv2 with objects on its token: refused with no login at all and nothing
    destroyed; with --allow-existing-objects and labels of its own, a clean run, and the
    objects are still there."""
    softhsm = softhsm_module()
    assert softhsm is not None
    env = softhsm_token(tmp_path / "softhsm")
    provision(softhsm, env, sentinels=["Device Cert", "Root Cert"], private_secrets=["Device Secret"])
    before = snapshot(softhsm, env)
    log = tmp_path / "calls.log"
    env.update(QUALIFY_BROKEN_TARGET=softhsm, QUALIFY_BROKEN_LOG=str(log))
    refused_args = qualify_args(broken_module, "--token-label", "qualify")
    refused = parse(refused_args, run(refused_args, with_pins(env)))
    stopped_before_any_test(refused, "holds 2 objects this run did not create")
    assert not log.exists() or log.read_text() == ""  # no login, no destroy reached the module
    config = tmp_path / "labels.json"
    config.write_text(json.dumps(CUSTOM_LABELS))
    allowed_args = qualify_args(broken_module, "--token-label", "qualify", "--config", str(config),
                                "--allow-existing-objects")
    allowed = parse(allowed_args, run(allowed_args, with_pins(env)))
    expect_clean(allowed)
    after = snapshot(softhsm, env)
    # Every object is still there, byte for byte. (SoftHSMv2 2.6 adds one: its C_CreateObject
    # of an EC public key without CKA_EC_POINT returns CKR_TEMPLATE_INCOMPLETE and still stores
    # an object, which the suite, not having created it, leaves alone.)
    assert [o for o in before if o not in after] == []
    assert len(after) <= len(before) + 1
    assert all(not line.endswith(" 0xa0") for line in login_log(log))
