"""Issue 12, item 4: read-only commands never create a store. On a TOKENPORT_HOME that does
not exist (or holds no store), listings say there is no store and exit 0, the other
commands say so in one line and exit 1, and the directory is left as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tokenport.cli.common import STORE_FILES

from .test_cli import Cli

IMAGE_ARGS = ("{tmp}/image.bin", "--sig", "{tmp}/image.bin")
FAILING = [
    ("token", "info"), ("token", "delete", "--yes"), ("object", "list"),
    ("object", "export", "--type", "pubkey", "--label", "k"),
    ("object", "delete", "--label", "k"), ("key", "generate", "--label", "k"),
    ("pin", "change"), ("pin", "init"), ("provision", "status"),
    ("provision", "--generate"), ("codesign", "verify", *IMAGE_ARGS),
    ("store", "check"), ("store", "export", "--out", "{tmp}/out.export"),
]


@pytest.fixture
def absent(tmp_path: Path) -> tuple[Cli, Path]:
    home = tmp_path / "home"
    (tmp_path / "image.bin").write_bytes(b"image")
    return Cli(home), home


def test_listings_say_there_is_no_store(absent: tuple[Cli, Path]) -> None:
    cli, home = absent
    listed = cli.run("token", "list")
    assert listed.stdout == (f"no tokens: there is no store in {home} yet ('tokenport "
                             "quickstart' or 'tokenport token init' creates it)\n")
    assert cli.json("token", "list") == [
        {"slot": 0, "label": "", "serial": "", "initialized": False, "damaged": False,
         "flags": ["LOGIN_REQUIRED", "RNG"], "min_pin_len": 4, "max_pin_len": 255},
    ]
    assert cli.json("store", "info") == {"backend": "sqlite", "store_dir": str(home),
                                         "exists": False, "tokens": []}
    assert "no store in" in cli.run("store", "info").stdout
    assert isinstance(cli.json("mechanisms"), list)
    assert not home.exists()


@pytest.mark.parametrize("args", FAILING, ids=" ".join)
def test_other_commands_fail_without_creating_it(absent: tuple[Cli, Path],
                                                 args: tuple[str, ...]) -> None:
    cli, home = absent
    result = cli.run(*(a.format(tmp=home.parent) for a in args),
                     env={"TOKENPORT_NEW_PIN": "new-pin-1"}, ok=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"no store in {home} yet" in lines[0], result.stderr
    assert not home.exists()


@pytest.mark.parametrize("backend", sorted(STORE_FILES))
def test_an_empty_home_stays_empty_for_every_backend(tmp_path: Path, backend: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    conf = tmp_path / "tokenport.toml"
    conf.write_text(f'[store]\nbackend = "{backend}"\n')
    cli = Cli(home)
    env = {"TOKENPORT_CONF": str(conf)}
    assert "no tokens" in cli.run("token", "list", env=env).stdout
    assert "no store in" in cli.run("object", "list", env=env, ok=False).stderr
    assert os.listdir(home) == []
    cli.run("token", "init", "--label", "dev", env=env)  # the store's file is the one named
    option, default = STORE_FILES[backend]
    assert (home / default).exists(), (option, os.listdir(home))
    assert "'dev'" in cli.run("token", "list", env=env).stdout


def test_quickstart_and_token_init_create_it(absent: tuple[Cli, Path]) -> None:
    cli, home = absent
    cli.run("token", "init", "--label", "dev")
    assert (home / "tokenport.sqlite3").exists()
