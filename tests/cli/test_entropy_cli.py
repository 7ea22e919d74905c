"""`tokenport entropy selftest` and `tokenport entropy seed`, and the nv-seed source used by
the installed command."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from .test_cli import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def configure(cli: Cli, tmp_path: Path, text: str) -> None:
    conf = tmp_path / "tokenport.toml"
    conf.write_text(text, encoding="utf-8")
    cli.env["TOKENPORT_CONF"] = str(conf)


def test_selftest_passes_and_reports(cli: Cli) -> None:
    result = cli.run("entropy", "selftest")
    out = result.stdout
    for variant in ("no_reseed", "pr_false", "pr_true"):
        assert f"pass  CTR_DRBG (AES-256, derivation function), {variant}" in out
        assert f"pass  HMAC_DRBG (SHA-256), {variant}" in out
    assert "stuck source: caught by the repetition count test after 6 samples" in out
    assert "biased source: caught by the adaptive proportion test" in out
    assert "pass  [entropy]: HMAC_DRBG (SHA-256) over os" in out
    assert "FAIL" not in out and "11 of 11 checks passed." in out
    assert result.stderr == ""


def test_selftest_of_every_configured_source(cli: Cli, tmp_path: Path) -> None:
    seed = tmp_path / "dev.seed"
    cli.run("entropy", "seed", "--out", str(seed))
    configure(cli, tmp_path, f"""
        [entropy]
        drbg = "ctr"
        [entropy.tokens.dev]
        source = "nv-seed"
        seed_file = "{seed}"
    """)
    before = seed.read_bytes()
    out = cli.run("entropy", "selftest").stdout
    assert "pass  [entropy]: CTR_DRBG (AES-256, derivation function) over os" in out
    ctr = "CTR_DRBG (AES-256, derivation function)"
    assert f'pass  [entropy.tokens."dev"]: {ctr} over nv-seed {seed}' in out
    assert "12 of 12 checks passed." in out
    assert seed.read_bytes() != before  # the seed was refreshed after the seeding


def test_selftest_fails_with_one_line_on_a_missing_seed_file(cli: Cli, tmp_path: Path) -> None:
    configure(cli, tmp_path, f'[entropy]\nsource = "nv-seed"\nseed_file = "{tmp_path}/no.seed"\n')
    result = cli.run("entropy", "selftest", ok=False)
    assert result.returncode == 1
    assert "FAIL  [entropy]: seed file" in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: entropy self-test failed: [entropy]")
    assert "no.seed: no such file" in lines[0]


def test_selftest_fails_on_a_stuck_source(cli: Cli, tmp_path: Path) -> None:
    configure(cli, tmp_path, """
        [entropy]
        source = "fixed"
        allow_fixed_source = true
        fixed_pattern = "42"
    """)
    result = cli.run("entropy", "selftest", ok=False)
    assert result.returncode == 1 and "repetition count test" in result.stderr


def test_bad_config_is_one_line(cli: Cli, tmp_path: Path) -> None:
    configure(cli, tmp_path, '[entropy]\nsource = "fixed"\n')
    result = cli.run("entropy", "selftest", ok=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "allow_fixed_source = true" in result.stderr


def test_seed_file_creation(cli: Cli, tmp_path: Path) -> None:
    seed = tmp_path / "device.seed"
    result = cli.run("entropy", "seed", "--out", str(seed))
    assert "Wrote a 128-byte seed" in result.stdout
    first = seed.read_bytes()
    assert len(first) == 128 and stat.S_IMODE(seed.stat().st_mode) == 0o600
    refused = cli.run("entropy", "seed", "--out", str(seed), ok=False)
    assert refused.returncode == 1 and "exists; use --force" in refused.stderr
    assert seed.read_bytes() == first
    cli.run("entropy", "seed", "--out", str(seed), "--force", "--bytes", "200")
    assert len(seed.read_bytes()) == 200 and seed.read_bytes()[:128] != first
    too_small = cli.run("entropy", "seed", "--out", str(tmp_path / "x"), "--bytes", "95", ok=False)
    assert too_small.returncode == 2 and not (tmp_path / "x").exists()


def test_tokens_on_a_seed_file(cli: Cli, tmp_path: Path) -> None:
    """A token whose only entropy is a seed file: it works, the seed changes with every
    start, and without the file the command fails with one clear line."""
    seed = tmp_path / "device.seed"
    configure(cli, tmp_path, f'[entropy]\nsource = "nv-seed"\nseed_file = "{seed}"\n')
    missing = cli.run("token", "init", "--label", "dev", ok=False)
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1
    assert "device.seed: no such file" in missing.stderr and "CKR_DEVICE_ERROR" in missing.stderr
    cli.run("entropy", "seed", "--out", str(seed))
    seen = {seed.read_bytes()}
    cli.run("token", "init", "--label", "dev")
    seen.add(seed.read_bytes())
    cli.run("key", "generate", "--type", "aes:256", "--label", "k")
    seen.add(seed.read_bytes())
    assert len(seen) == 3
