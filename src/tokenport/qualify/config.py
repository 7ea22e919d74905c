"""The configuration of a qualification run, in the terms of the device tester.

A configuration file is JSON. Three shapes are read, alone or merged (later files win):

* flat settings: ``{"PKCS11": "ECC", "KeyProvisioning": "Onboard", "preProvisioned": "No",
  "pkcs11JITPCodeVerifyRootCertSupport": "Yes", "pkcs11LabelDevicePrivateKeyForTLS": "..."}``;
* the device tester's ``device.json``: a list of device pools (or one pool) whose
  ``features`` carry ``PKCS11`` and ``KeyProvisioning`` and whose first device's
  ``secureElementConfig`` may carry ``preProvisioned`` and
  ``pkcs11JITPCodeVerifyRootCertSupport``;
* the device tester's ``userdata.json``: its ``pkcs11LabelConfiguration`` object holds the labels.

Defaults: PKCS11 Both, KeyProvisioning Both, preProvisioned No, JITP/code-verify/root-cert
support Yes, and the porting guide's labels. Combinations the suite cannot run are refused
with a ConfigError that says why (the rules of the FreeRTOS test configuration).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PKCS11_VALUES = {"rsa": "RSA", "ecc": "ECC", "both": "Both"}
PROVISIONING_VALUES = {"import": "Import", "onboard": "Onboard", "both": "Both", "no": "No"}

#: setting name → Labels field
LABEL_SETTINGS = {
    "pkcs11LabelDevicePrivateKeyForTLS": "device_private_key",
    "pkcs11LabelDevicePublicKeyForTLS": "device_public_key",
    "pkcs11LabelDeviceCertificateForTLS": "device_certificate",
    "pkcs11LabelCodeVerifyKey": "code_verify_key",
    "pkcs11LabelJITPCertificate": "jitp_certificate",
    "pkcs11LabelRootCertificate": "root_certificate",
}
#: the device tester's labels of pre-provisioned credentials, per key family
PREPROVISIONED_LABEL_SETTINGS = {
    "ECC": {
        "pkcs11LabelPreProvisionedECDevicePrivateKeyForTLS": "device_private_key",
        "pkcs11LabelPreProvisionedECDevicePublicKeyForTLS": "device_public_key",
        "pkcs11LabelPreProvisionedECDeviceCertificateForTLS": "device_certificate",
    },
    "RSA": {
        "pkcs11LabelPreProvisionedRSADevicePrivateKeyForTLS": "device_private_key",
        "pkcs11LabelPreProvisionedRSADevicePublicKeyForTLS": "device_public_key",
        "pkcs11LabelPreProvisionedRSADeviceCertificateForTLS": "device_certificate",
    },
}
FLAG_SETTINGS = ("preProvisioned", "pkcs11JITPCodeVerifyRootCertSupport")
SETTINGS = (
    "PKCS11", "KeyProvisioning", *FLAG_SETTINGS, *LABEL_SETTINGS,
    *PREPROVISIONED_LABEL_SETTINGS["ECC"], *PREPROVISIONED_LABEL_SETTINGS["RSA"],
)


class ConfigError(ValueError):
    """A configuration the suite refuses, with the reason."""


@dataclass(frozen=True)
class Labels:
    """CKA_LABEL values of the objects the suite creates or expects."""

    device_private_key: str = "Device Priv TLS Key"
    device_public_key: str = "Device Pub TLS Key"
    device_certificate: str = "Device Cert"
    code_verify_key: str = "Code Verify Key"
    jitp_certificate: str = "JITP Cert"
    root_certificate: str = "Root Cert"


@dataclass(frozen=True)
class Config:
    """What the port supports, hence which tests run."""

    pkcs11: str = "Both"
    key_provisioning: str = "Both"
    preprovisioned: bool = False
    jitp_codeverify_root_cert: bool = True
    labels: Labels = field(default_factory=Labels)

    @property
    def rsa(self) -> bool:
        return self.pkcs11 in ("RSA", "Both")

    @property
    def ec(self) -> bool:
        return self.pkcs11 in ("ECC", "Both")

    @property
    def key_import(self) -> bool:
        """Private keys may be imported (C_CreateObject)."""
        return self.key_provisioning in ("Import", "Both")

    @property
    def key_generate(self) -> bool:
        """Key pairs may be generated on the token (C_GenerateKeyPair)."""
        return self.key_provisioning in ("Onboard", "Both")

    def describe(self) -> str:
        """One line in the configuration's own terms."""
        return (
            f"PKCS11={self.pkcs11} KeyProvisioning={self.key_provisioning} "
            f"preProvisioned={'Yes' if self.preprovisioned else 'No'} "
            f"pkcs11JITPCodeVerifyRootCertSupport={'Yes' if self.jitp_codeverify_root_cert else 'No'}"
        )


def label_overrides(config: Config) -> list[str]:
    """``setting="label"`` for each label that differs from the default."""
    default = Labels()
    return [
        f"{name}={getattr(config.labels, attr)!r}"
        for name, attr in LABEL_SETTINGS.items()
        if getattr(config.labels, attr) != getattr(default, attr)
    ]


def _choice(name: str, value: object, choices: Mapping[str, str]) -> str:
    if not isinstance(value, str) or value.strip().lower() not in choices:
        allowed = " | ".join(choices.values())
        raise ConfigError(f"{name} must be one of {allowed}, not {json.dumps(value)}")
    return choices[value.strip().lower()]


def _flag(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "no", "true", "false"):
        return value.strip().lower() in ("yes", "true")
    raise ConfigError(f"{name} must be Yes or No, not {json.dumps(value)}")


def _label(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name} must be a non-empty string, not {json.dumps(value)}")
    return value


def _settings_of(data: object, source: str) -> dict[str, Any]:
    """The flat settings found in one parsed JSON document."""
    if isinstance(data, list):
        if len(data) != 1:
            raise ConfigError(
                f"{source}: a device.json with {len(data)} device pools; give a file with one pool"
            )
        data = data[0]
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object or a list of device pools")
    found: dict[str, Any] = {}
    features = data.get("features")
    if features is not None:
        if not isinstance(features, list):
            raise ConfigError(f"{source}: 'features' must be a list of {{name, value}} objects")
        for feature in features:
            if isinstance(feature, dict) and feature.get("name") in ("PKCS11", "KeyProvisioning"):
                found[feature["name"]] = feature.get("value")
    devices = data.get("devices")
    if isinstance(devices, list) and devices and isinstance(devices[0], dict):
        secure_element = devices[0].get("secureElementConfig")
        if isinstance(secure_element, dict):
            for key in FLAG_SETTINGS:
                if key in secure_element:
                    found[key] = secure_element[key]
    labels = data.get("pkcs11LabelConfiguration")
    if labels is not None:
        if not isinstance(labels, dict):
            raise ConfigError(f"{source}: 'pkcs11LabelConfiguration' must be an object")
        found.update(_known_settings(labels, f"{source}: pkcs11LabelConfiguration"))
    found.update(_known_settings(data, source))
    return found


def _known_settings(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The settings among ``data``'s keys; an unknown ``pkcs11...`` key is refused (a typo
    in a label name would otherwise silently test the default label)."""
    found: dict[str, Any] = {}
    for key, value in data.items():
        if key in SETTINGS:
            found[key] = value
        elif key.lower().startswith("pkcs11") and key != "pkcs11LabelConfiguration":
            raise ConfigError(f"{source}: unknown setting {key!r} (known: {', '.join(SETTINGS)})")
    return found


def parse_config(documents: Sequence[tuple[str, object]]) -> Config:
    """The configuration from parsed JSON documents ``(source name, data)``, merged in order."""
    settings: dict[str, Any] = {}
    for source, data in documents:
        settings.update(_settings_of(data, source))
    return config_from_settings(settings)


def config_from_settings(settings: Mapping[str, Any]) -> Config:
    """Validate flat settings and apply the defaults."""
    config = Config()
    if "PKCS11" in settings:
        config = replace(config, pkcs11=_choice("PKCS11", settings["PKCS11"], PKCS11_VALUES))
    if "KeyProvisioning" in settings:
        config = replace(config, key_provisioning=_choice(
            "KeyProvisioning", settings["KeyProvisioning"], PROVISIONING_VALUES))
    if "preProvisioned" in settings:
        config = replace(config, preprovisioned=_flag("preProvisioned", settings["preProvisioned"]))
        if config.preprovisioned and "KeyProvisioning" not in settings:
            # Pre-provisioned credentials are neither imported nor generated: the default
            # KeyProvisioning (Both) would contradict it, so it defaults to No here.
            config = replace(config, key_provisioning="No")
    if "pkcs11JITPCodeVerifyRootCertSupport" in settings:
        config = replace(config, jitp_codeverify_root_cert=_flag(
            "pkcs11JITPCodeVerifyRootCertSupport", settings["pkcs11JITPCodeVerifyRootCertSupport"]))
    labels = {
        attr: _label(name, settings[name]) for name, attr in LABEL_SETTINGS.items() if name in settings
    }
    for family, names in PREPROVISIONED_LABEL_SETTINGS.items():
        given = [name for name in names if name in settings]
        if not given:
            continue
        if not config.preprovisioned:
            raise ConfigError(f"{given[0]} is given but preProvisioned is No")
        if config.pkcs11 != family:
            raise ConfigError(
                f"{given[0]} names {family} credentials but PKCS11 is {config.pkcs11}"
            )
        labels.update({names[name]: _label(name, settings[name]) for name in given})
    config = replace(config, labels=replace(config.labels, **labels))
    check(config)
    return config


def check(config: Config) -> None:
    """Refuse the combinations the suite cannot run."""
    if config.preprovisioned:
        if config.key_provisioning != "No":
            raise ConfigError(
                f"preProvisioned Yes cannot be combined with KeyProvisioning "
                f"{config.key_provisioning}: pre-provisioned credentials are neither imported "
                "nor generated (set KeyProvisioning to No)"
            )
        if config.pkcs11 == "Both":
            raise ConfigError(
                "preProvisioned Yes needs exactly one key family: set PKCS11 to RSA or ECC "
                "(the family of the credentials on the token)"
            )
    elif config.key_provisioning == "No":
        raise ConfigError(
            "KeyProvisioning No leaves the suite no way to get credentials: choose Import, "
            "Onboard or Both, or set preProvisioned Yes for credentials already on the token"
        )


def load_config(paths: Sequence[str | Path]) -> Config:
    """The configuration from JSON files (none: the defaults)."""
    documents: list[tuple[str, object]] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: {exc.strerror or exc}") from None
        try:
            documents.append((str(path), json.loads(text)))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    return parse_config(documents)
