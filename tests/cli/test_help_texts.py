"""Issue 12, item 4: --help texts match what the code accepts, and quickstart says where
the store is."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from tokenport.cli import app
from tokenport.cli.provision import DEVICE_KEY_CHOICES
from tokenport.config import config_search_paths
from tokenport.provisioning import EC_CURVES, RSA_SIZES, KeySpec, ProvisioningError

from .test_cli import Cli


def help_text(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_provision_help_shows_every_device_key_choice() -> None:
    text = help_text("provision")
    assert f"--generate [{'|'.join(DEVICE_KEY_CHOICES)}]" in text
    for choice in DEVICE_KEY_CHOICES:
        KeySpec.parse(choice)  # each shown choice is accepted
    assert {f"ec:{c}" for c in EC_CURVES} | {f"rsa:{b}" for b in RSA_SIZES} <= set(DEVICE_KEY_CHOICES)
    for refused in ("ec:p192", "rsa:1024"):
        assert refused not in DEVICE_KEY_CHOICES
        try:
            KeySpec.parse(refused)
        except ProvisioningError:
            pass
        else:
            raise AssertionError(f"{refused} is accepted but not shown")


def test_top_help_lists_the_config_search_order() -> None:
    text = help_text()
    placeholders = {"TOKENPORT_CONF": "$TOKENPORT_CONF", "TOKENPORT_HOME": "$TOKENPORT_HOME",
                    "HOME": "~"}
    shown = [str(path) for path in config_search_paths(placeholders)]
    assert shown == ["$TOKENPORT_CONF", "$TOKENPORT_HOME/tokenport.toml",
                     "~/.config/tokenport/tokenport.toml"]
    positions = [text.index(path) for path in shown]
    assert positions == sorted(positions), text
    assert "$XDG_CONFIG_HOME/tokenport/tokenport.toml" in text


def test_quickstart_says_where_the_store_is(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home")
    out = cli.run("quickstart").stdout
    assert re.search(rf"^Store: {re.escape(str(tmp_path / 'home'))} ", out, re.MULTILINE), out


def test_key_generate_help_names_every_key_family() -> None:
    from tokenport.cli.keys import DES_KEYS, KEY_TYPES, ML_DSA_SETS, ML_KEM_SETS, OCTET_CURVES

    text = help_text("key", "generate")
    assert " ".join(KEY_TYPES.split()) in text
    for name in (*OCTET_CURVES, *DES_KEYS, "rsa", "aes", "dsa", "dh", "hmac", "hkdf", "ec"):
        assert re.search(rf"\b{name}\b", KEY_TYPES), name
    for name in (*ML_DSA_SETS, *ML_KEM_SETS):
        family, _, size = name.rpartition("-")
        assert re.search(rf"{family}-[0-9|]*\b{size}\b", KEY_TYPES), name
