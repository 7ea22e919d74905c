"""The [entropy] section of the config file and its per-token overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenport import errors
from tokenport.backends.entropy.drbg_source import DrbgRandomSource
from tokenport.backends.entropy.sources import FixedEntropySource, NvSeedSource, OsEntropySource
from tokenport.config import (
    ConfigError,
    EntropyConfig,
    load_config,
    open_entropy_source,
    open_random_source,
)


def load(tmp_path: Path, text: str) -> tuple[Path, object]:
    conf = tmp_path / "etc" / "tokenport.toml"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(text, encoding="utf-8")
    return conf, load_config({"HOME": str(tmp_path), "TOKENPORT_CONF": str(conf)})


def test_defaults(tmp_path: Path) -> None:
    config = load_config({"HOME": str(tmp_path)})
    assert config.entropy == EntropyConfig()
    assert (config.entropy.drbg, config.entropy.source) == ("hmac", "os")
    assert config.entropy.reseed_interval == 10_000
    assert not config.entropy.prediction_resistance and not config.entropy.allow_fixed_source
    assert config.entropy_for("any", "0123") is config.entropy


def test_full_section(tmp_path: Path) -> None:
    conf, config = load(tmp_path, """
        [entropy]
        drbg = "ctr"
        source = "nv-seed"
        seed_file = "seeds/device.seed"
        reseed_interval = 500
    """)
    entropy = config.entropy  # type: ignore[attr-defined]
    assert entropy.drbg == "ctr" and entropy.source == "nv-seed"
    assert entropy.seed_file == conf.parent / "seeds" / "device.seed"  # relative to the file
    assert entropy.reseed_interval == 500


def test_home_relative_seed_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    _, config = load(tmp_path, '[entropy]\nsource = "nv-seed"\nseed_file = "~/s.seed"\n')
    assert config.entropy.seed_file == tmp_path / "s.seed"  # type: ignore[attr-defined]


def test_per_token_overrides(tmp_path: Path) -> None:
    _, config = load(tmp_path, """
        [entropy]
        drbg = "ctr"
        reseed_interval = 7

        [entropy.tokens."lab token"]
        source = "fixed"
        allow_fixed_source = true
        fixed_pattern = "00ff10"

        [entropy.tokens.0123456789abcdef]
        prediction_resistance = true
        drbg = "hmac"
    """)
    by_label = config.entropy_for("lab token", "fedcba9876543210")  # type: ignore[attr-defined]
    assert by_label.source == "fixed" and by_label.fixed_pattern == b"\x00\xff\x10"
    assert by_label.drbg == "ctr" and by_label.reseed_interval == 7  # inherited
    by_serial = config.entropy_for("other", "0123456789abcdef")  # type: ignore[attr-defined]
    assert by_serial.prediction_resistance and by_serial.drbg == "hmac"
    # a serial match wins over a label match
    assert config.entropy_for("lab token", "0123456789abcdef") is by_serial  # type: ignore[attr-defined]
    default = config.entropy_for("x", "y")  # type: ignore[attr-defined]
    assert default.source == "os" and default.drbg == "ctr"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('[entropy]\ndrbg = "hash"\n', "[entropy] drbg: must be one of 'ctr', 'hmac'"),
        ("[entropy]\ndrbg = 1\n", "[entropy] drbg: must be a string"),
        ('[entropy]\nsource = "rdrand"\n', "[entropy] source: 'rdrand' is not one of"),
        ('[entropy]\nsource = ""\n', "[entropy] source: must be a non-empty string"),
        ('[entropy]\nsource = "fixed"\n', "[entropy] source: \"fixed\" is a deterministic source"),
        ('[entropy]\nsource = "nv-seed"\n', "[entropy] seed_file: source = \"nv-seed\" needs"),
        ('[entropy]\nsource = "nv-seed"\nseed_file = ""\n', "[entropy] seed_file: must be a non"),
        (
            '[entropy]\nsource = "nv-seed"\nseed_file = "s"\nprediction_resistance = true\n',
            "[entropy] prediction_resistance: needs a live entropy source",
        ),
        ("[entropy]\nreseed_interval = 0\n", "[entropy] reseed_interval: must be 1 .. 2^48"),
        ("[entropy]\nreseed_interval = 281474976710657\n", "reseed_interval: must be 1 .. 2^48"),
        ('[entropy]\nreseed_interval = "10"\n', "[entropy] reseed_interval: must be an integer"),
        ("[entropy]\nreseed_interval = true\n", "[entropy] reseed_interval: must be an integer"),
        ('[entropy]\nprediction_resistance = "yes"\n', "prediction_resistance: must be true or"),
        ("[entropy]\nallow_fixed_source = 1\n", "[entropy] allow_fixed_source: must be true or"),
        ('[entropy]\nfixed_pattern = "zz"\n', "[entropy] fixed_pattern: must be a string of hex"),
        ('[entropy]\nfixed_pattern = ""\n', "[entropy] fixed_pattern: must be 1 .. 65536 bytes"),
        ("[entropy]\nseedfile = 'x'\n", "[entropy] seedfile: unknown key"),
        ("entropy = 5\n", "entropy: must be a table"),
        ("[entropy]\ntokens = 5\n", "[entropy] tokens: must be tables"),
        ('[entropy.tokens]\ndev = "os"\n', "[entropy.tokens.dev]: must be a table"),
        ('[entropy.tokens.dev]\ndrbg = "sha"\n', "[entropy.tokens.dev] drbg: must be one of"),
        ('[entropy.tokens."a b"]\nsource = "fixed"\n', '[entropy.tokens."a b"] source: "fixed"'),
        ("[entropy.tokens.dev.tokens.x]\ndrbg = 'ctr'\n", "[entropy.tokens.dev] tokens: unknown"),
        ("[tokens]\nmax_pin_attempts = 3\n", "[tokens]: unknown section"),
    ],
)
def test_bad_values(tmp_path: Path, text: str, names: str) -> None:
    conf = tmp_path / "bad.toml"
    conf.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config({"HOME": str(tmp_path), "TOKENPORT_CONF": str(conf)})
    message = str(info.value)
    assert message.startswith(f"{conf}: "), message
    assert names in message, message
    assert "\n" not in message
    assert isinstance(info.value, errors.GeneralError)


def test_entropy_config_checks_itself() -> None:
    with pytest.raises(ConfigError, match="allow_fixed_source"):
        EntropyConfig(source="fixed")
    assert EntropyConfig(source="fixed", allow_fixed_source=True).source == "fixed"


def test_open_sources(tmp_path: Path) -> None:
    assert isinstance(open_entropy_source(EntropyConfig()), OsEntropySource)
    seed = open_entropy_source(EntropyConfig(source="nv-seed", seed_file=tmp_path / "s"))
    assert isinstance(seed, NvSeedSource) and seed.path == tmp_path / "s"
    pattern = EntropyConfig(source="fixed", allow_fixed_source=True, fixed_pattern=b"\x01\x02")
    fixed = open_entropy_source(pattern)
    assert isinstance(fixed, FixedEntropySource) and fixed.read(3) == b"\x01\x02\x01"
    random = open_random_source(EntropyConfig(drbg="ctr"), b"token 1")
    assert isinstance(random, DrbgRandomSource) and random.mechanism.startswith("CTR_DRBG")
    assert open_random_source(EntropyConfig()).mechanism.startswith("HMAC_DRBG")
    assert len(random.random_bytes(40)) == 40
