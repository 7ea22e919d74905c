"""The configuration in the device tester's terms: shapes, defaults, overrides, refusals.

(The effect of each switch on which tests run is shown by full runs in test_switches.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenport.qualify.config import Config, ConfigError, Labels, load_config, parse_config

from .helpers import isolated_env, output, run, tokenport


def parse(*documents: object) -> Config:
    return parse_config([(f"doc{i}", doc) for i, doc in enumerate(documents)])


def test_defaults() -> None:
    config = parse({})
    assert (config.pkcs11, config.key_provisioning) == ("Both", "Both")
    assert not config.preprovisioned and config.jitp_codeverify_root_cert
    assert config.rsa and config.ec and config.key_import and config.key_generate
    assert config.labels == Labels(
        "Device Priv TLS Key", "Device Pub TLS Key", "Device Cert", "Code Verify Key", "JITP Cert",
        "Root Cert",
    )
    assert load_config([]) == config


@pytest.mark.parametrize(("value", "rsa", "ec"), [("RSA", True, False), ("ECC", False, True),
                                                   ("Both", True, True), ("ecc", False, True)])
def test_pkcs11_switch(value: str, rsa: bool, ec: bool) -> None:
    config = parse({"PKCS11": value})
    assert (config.rsa, config.ec) == (rsa, ec)


@pytest.mark.parametrize(("value", "key_import", "generate"), [
    ("Import", True, False), ("Onboard", False, True), ("Both", True, True)])
def test_key_provisioning_switch(value: str, key_import: bool, generate: bool) -> None:
    config = parse({"KeyProvisioning": value})
    assert (config.key_import, config.key_generate) == (key_import, generate)


def test_preprovisioned_switch_defaults_key_provisioning_to_no() -> None:
    config = parse({"preProvisioned": "Yes", "PKCS11": "ECC"})
    assert config.preprovisioned and config.key_provisioning == "No"
    assert not config.key_import and not config.key_generate
    assert parse({"preProvisioned": True, "PKCS11": "RSA", "KeyProvisioning": "No"}).preprovisioned


@pytest.mark.parametrize(("value", "expected"), [("Yes", True), ("No", False), (False, False), ("yes", True)])
def test_jitp_switch(value: object, expected: bool) -> None:
    assert parse({"pkcs11JITPCodeVerifyRootCertSupport": value}).jitp_codeverify_root_cert is expected


def test_label_overrides() -> None:
    names = {
        "pkcs11LabelDevicePrivateKeyForTLS": "device_private_key",
        "pkcs11LabelDevicePublicKeyForTLS": "device_public_key",
        "pkcs11LabelDeviceCertificateForTLS": "device_certificate",
        "pkcs11LabelCodeVerifyKey": "code_verify_key",
        "pkcs11LabelJITPCertificate": "jitp_certificate",
        "pkcs11LabelRootCertificate": "root_certificate",
    }
    config = parse({name: f"label of {attr}" for name, attr in names.items()})
    for attr in names.values():
        assert getattr(config.labels, attr) == f"label of {attr}"


def test_device_tester_files(tmp_path: Path) -> None:
    """device.json (pools with features and secureElementConfig) and userdata.json
    (pkcs11LabelConfiguration), merged."""
    device = [{
        "id": "pool", "sku": "board",
        "features": [{"name": "Wifi", "value": "No"}, {"name": "PKCS11", "value": "ECC"},
                     {"name": "KeyProvisioning", "value": "No"}],
        "devices": [{"id": "dev", "connectivity": {"protocol": "uart", "serialPort": "/dev/ttyUSB0"},
                     "secureElementConfig": {"preProvisioned": "Yes",
                                             "pkcs11JITPCodeVerifyRootCertSupport": "No"}}],
    }]
    userdata = {"sourcePath": "/src", "pkcs11LabelConfiguration": {
        "pkcs11LabelPreProvisionedECDevicePrivateKeyForTLS": "SE key",
        "pkcs11LabelPreProvisionedECDevicePublicKeyForTLS": "SE pub",
        "pkcs11LabelPreProvisionedECDeviceCertificateForTLS": "SE cert",
        "pkcs11LabelCodeVerifyKey": "OTA key",
    }}
    (tmp_path / "device.json").write_text(json.dumps(device))
    (tmp_path / "userdata.json").write_text(json.dumps(userdata))
    config = load_config([tmp_path / "device.json", tmp_path / "userdata.json"])
    assert config.pkcs11 == "ECC" and config.key_provisioning == "No"
    assert config.preprovisioned and not config.jitp_codeverify_root_cert
    assert (config.labels.device_private_key, config.labels.device_public_key,
            config.labels.device_certificate, config.labels.code_verify_key) == (
        "SE key", "SE pub", "SE cert", "OTA key")


def test_later_files_win() -> None:
    assert parse({"PKCS11": "RSA"}, {"PKCS11": "ECC"}).pkcs11 == "ECC"


@pytest.mark.parametrize(("settings", "message"), [
    ({"preProvisioned": "Yes", "PKCS11": "ECC", "KeyProvisioning": "Import"},
     "preProvisioned Yes cannot be combined with KeyProvisioning Import"),
    ({"preProvisioned": "Yes", "PKCS11": "ECC", "KeyProvisioning": "Onboard"},
     "preProvisioned Yes cannot be combined with KeyProvisioning Onboard"),
    ({"preProvisioned": "Yes", "PKCS11": "RSA", "KeyProvisioning": "Both"},
     "preProvisioned Yes cannot be combined with KeyProvisioning Both"),
    ({"preProvisioned": "Yes"}, "preProvisioned Yes needs exactly one key family"),
    ({"preProvisioned": "Yes", "PKCS11": "Both"}, "preProvisioned Yes needs exactly one key family"),
    ({"KeyProvisioning": "No"}, "KeyProvisioning No leaves the suite no way to get credentials"),
    ({"PKCS11": "No"}, "PKCS11 must be one of RSA | ECC | Both"),
    ({"KeyProvisioning": "Sometimes"}, "KeyProvisioning must be one of Import | Onboard | Both | No"),
    ({"preProvisioned": "maybe"}, "preProvisioned must be Yes or No"),
    ({"pkcs11LabelRootCertificate": ""}, "pkcs11LabelRootCertificate must be a non-empty string"),
    ({"pkcs11LabelDevicePrivateKeyForTls": "x"}, "unknown setting 'pkcs11LabelDevicePrivateKeyForTls'"),
    ({"pkcs11LabelPreProvisionedRSADevicePrivateKeyForTLS": "x"}, "given but preProvisioned is No"),
    ({"preProvisioned": "Yes", "PKCS11": "ECC", "pkcs11LabelPreProvisionedRSADevicePrivateKeyForTLS": "x"},
     "names RSA credentials but PKCS11 is ECC"),
])
def test_refusals(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(settings)


def test_refusals_of_the_file_shape(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="2 device pools"):
        parse([{"features": []}, {"features": []}])
    with pytest.raises(ConfigError, match="expected a JSON object"):
        parse("PKCS11=RSA")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config([bad])
    with pytest.raises(ConfigError, match="missing.json"):
        load_config([tmp_path / "missing.json"])


def test_command_refuses_an_impossible_configuration(tmp_path: Path) -> None:
    """Refused before the module is even loaded: one clear line, exit code 2."""
    config = tmp_path / "device.json"
    config.write_text(json.dumps({"preProvisioned": "Yes", "PKCS11": "ECC", "KeyProvisioning": "Onboard"}))
    proc = run(tokenport("qualify", "--module", str(tmp_path / "none.so"), "--config", str(config)),
               isolated_env(tmp_path / "home"))
    assert proc.returncode == 2, output(proc)
    assert "preProvisioned Yes cannot be combined with KeyProvisioning Onboard" in proc.stderr
    assert proc.stdout == ""
