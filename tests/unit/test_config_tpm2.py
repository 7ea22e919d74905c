"""The tpm2 crypto port in the configuration: `[crypto] port` as a synonym of `backend`, the
`[crypto.tpm2]` options, and one-line errors for bad ones (no TPM is needed here)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tpm2_pytss")  # the tpm2 port's factory needs it (the tpm2 extra)

from tokenport.backends.crypto.tpm2 import Tpm2Crypto
from tokenport.backends.tpm.connection import DEFAULT_TCTI
from tokenport.config import ConfigError, load_config, open_crypto
from tokenport.ports.crypto.hardware import hardware_of


def _config(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    conf = tmp_path / "tokenport.toml"
    conf.write_text(text, encoding="utf-8")
    return load_config({"HOME": str(tmp_path), "TOKENPORT_CONF": str(conf)})


def test_port_is_a_synonym_of_backend(tmp_path: Path) -> None:
    config = _config(tmp_path, '[crypto]\nport = "tpm2"\n\n[crypto.tpm2]\ntcti = "swtpm:port=2321"\n')
    assert config.crypto_backend == "tpm2"
    assert dict(config.crypto_options) == {"tcti": "swtpm:port=2321"}
    crypto = open_crypto(config)
    assert isinstance(crypto, Tpm2Crypto)
    assert hardware_of(crypto) is crypto.hardware
    assert "swtpm:port=2321" in repr(crypto)
    same = _config(tmp_path, '[crypto]\nbackend = "tpm2"\nport = "tpm2"\n')
    assert same.crypto_backend == "tpm2" and dict(same.crypto_options) == {}


def test_default_tcti_is_the_kernel_resource_manager(tmp_path: Path) -> None:
    crypto = open_crypto(_config(tmp_path, '[crypto]\nbackend = "tpm2"\n'))
    assert DEFAULT_TCTI == "device:/dev/tpmrm0" and DEFAULT_TCTI in repr(crypto)


def test_software_port_has_no_hardware(tmp_path: Path) -> None:
    assert hardware_of(open_crypto(_config(tmp_path, '[crypto]\nbackend = "pyca"\n'))) is None


@pytest.mark.parametrize("text,message", [
    ('[crypto]\nbackend = "pyca"\nport = "tpm2"\n', "contradicts"),
    ('[crypto]\nport = "tpm3"\n', "'tpm3' is not installed"),
])
def test_bad_crypto_sections(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(tmp_path, text)


@pytest.mark.parametrize("options,message", [
    ('tcti = "usb:/dev/x"', "unknown TCTI 'usb'"),
    ('tcti = ""', "tcti must be a non-empty string"),
    ('bogus = 1', "unknown option 'bogus'"),
    ("owner_auth = 5", "owner_auth must be a string"),
    ('auth_session = "none"', "auth_session must be one of 'hmac', 'password'"),
])
def test_bad_tpm2_options_are_one_line_config_errors(tmp_path: Path, options: str, message: str) -> None:
    config = _config(tmp_path, f'[crypto]\nbackend = "tpm2"\n\n[crypto.tpm2]\n{options}\n')
    with pytest.raises(ConfigError, match=message) as failure:
        open_crypto(config)
    assert "\n" not in str(failure.value) and "[crypto.tpm2]" in str(failure.value)
