"""Issue 12, item 4: messages name the object, token or file they are about."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_cli import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    cli = Cli(tmp_path)
    cli.run("token", "init", "--label", "dev")
    return cli


def one_line(result_stderr: str) -> str:
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1, result_stderr
    return lines[0]


def test_a_missing_object_is_named_with_its_token(cli: Cli) -> None:
    export = cli.run("object", "export", "--type", "pubkey", "--label", "nope", ok=False)
    assert one_line(export.stderr) == "Error: no public key 'nope' on token 'dev'"
    delete = cli.run("object", "delete", "--label", "nope", "--id", "01", ok=False)
    assert one_line(delete.stderr) == "Error: no object 'nope' (id 01) on token 'dev'"
    sign = cli.run("codesign", "sign", str(cli_file(cli)), "--out", str(cli_file(cli)) + ".sig",
                   "--label", "nope", ok=False)
    assert one_line(sign.stderr) == "Error: no private key 'nope' on token 'dev'"


def cli_file(cli: Cli) -> Path:
    path = Path(cli.env["TOKENPORT_HOME"]) / "image.bin"
    path.write_bytes(b"image")
    return path


def test_codesign_verify_without_a_key_names_the_token(cli: Cli) -> None:
    image = cli_file(cli)
    sig = image.with_suffix(".sig")
    sig.write_bytes(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    result = cli.run("codesign", "verify", str(image), "--sig", str(sig), ok=False)
    line = one_line(result.stderr)
    assert "no public key or certificate labelled 'Code Verify Key'" in line
    assert line.endswith("(on token 'dev')")


def test_several_tokens_are_listed_by_label(cli: Cli) -> None:
    cli.run("token", "init", "--label", "second")
    result = cli.run("object", "list", ok=False)
    assert one_line(result.stderr) == ("Error: several tokens exist ('dev', 'second'); choose "
                                       "one with --token or --slot")


def test_generate_again_says_use_force(cli: Cli) -> None:
    cli.run("provision", "--generate")
    again = cli.run("provision", "--generate", "ec:p384", ok=False)
    line = one_line(again.stderr)
    assert line == ("Error: token 'dev' already has a device key or certificate "
                    "('Device Priv TLS Key', 'Device Pub TLS Key'); use --force to replace it")
    assert "replace=True" not in line


def test_entropy_seed_names_the_missing_folder(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "device.seed"
    result = cli.run("entropy", "seed", "--out", str(target), ok=False)
    assert one_line(result.stderr) == (f"Error: cannot write {target}: no directory "
                                       f"{target.parent} (create it first)")
