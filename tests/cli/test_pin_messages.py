"""Issue 12, item 4: a refused PIN says how many tries are left and, once the PIN is
locked, how to unlock it; the PIN itself is never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_cli import SO_PIN, Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def locked_after_three(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "tokenport.toml").write_text("[token]\nmax_pin_attempts = 3\n")
    cli.run("token", "init", "--label", "dev")


def test_wrong_user_pin_counts_down_then_names_pin_init(cli: Cli, tmp_path: Path) -> None:
    locked_after_three(cli, tmp_path)
    wrong = {"TOKENPORT_PIN": "wrong-pin-0001"}
    first = cli.run("object", "list", env=wrong, ok=False)
    assert first.returncode == 1
    assert first.stderr == ("Error: the user PIN of token 'dev' is not correct; 2 tries left "
                            "before it locks (CKR_PIN_INCORRECT)\n")
    second = cli.run("key", "generate", "--label", "k", env=wrong, ok=False).stderr
    assert "1 try left before it locks (CKR_PIN_INCORRECT)" in second
    third = cli.run("object", "list", env=wrong, ok=False).stderr
    assert third == ("Error: the user PIN of token 'dev' is not correct, and it is now locked; "
                     "the SO can set a new user PIN with 'tokenport pin init --token dev' "
                     "(CKR_PIN_INCORRECT)\n")
    locked = cli.run("object", "list", ok=False).stderr  # the right PIN, too late
    assert locked == ("Error: the user PIN of token 'dev' is locked; the SO can set a new user "
                      "PIN with 'tokenport pin init --token dev' (CKR_PIN_LOCKED)\n")
    for text in (first.stderr, second, third, locked):
        assert "wrong-pin-0001" not in text and "user-pin-1234" not in text
    cli.run("pin", "init", "--token", "dev", env={"TOKENPORT_NEW_PIN": "fresh-pin-1"})
    cli.run("object", "list", env={"TOKENPORT_PIN": "fresh-pin-1"})


def test_a_right_pin_resets_the_count(cli: Cli, tmp_path: Path) -> None:
    locked_after_three(cli, tmp_path)
    cli.run("object", "list", env={"TOKENPORT_PIN": "wrong-pin-0001"}, ok=False)
    cli.run("object", "list")
    again = cli.run("object", "list", env={"TOKENPORT_PIN": "wrong-pin-0001"}, ok=False).stderr
    assert "2 tries left" in again


def test_wrong_so_pin_and_locked_so_pin(cli: Cli, tmp_path: Path) -> None:
    locked_after_three(cli, tmp_path)
    wrong = {"TOKENPORT_SO_PIN": "wrong-so-0001", "TOKENPORT_NEW_PIN": "fresh-pin-1"}
    first = cli.run("pin", "init", env=wrong, ok=False).stderr
    assert first == ("Error: the SO PIN of token 'dev' is not correct; 2 tries left before it "
                     "locks (CKR_PIN_INCORRECT)\n")
    cli.run("pin", "init", env=wrong, ok=False)
    cli.run("pin", "init", env=wrong, ok=False)
    locked = cli.run("pin", "init", env={"TOKENPORT_NEW_PIN": "fresh-pin-1"}, ok=False).stderr
    assert locked == ("Error: the SO PIN of token 'dev' is locked; nothing can unlock an SO "
                      "PIN: delete the token with 'tokenport token delete --token dev' "
                      "(CKR_PIN_LOCKED)\n")
    assert SO_PIN not in locked and "wrong-so-0001" not in first


def test_pin_change_with_a_wrong_current_pin(cli: Cli, tmp_path: Path) -> None:
    locked_after_three(cli, tmp_path)
    refused = cli.run("pin", "change", env={"TOKENPORT_PIN": "wrong-pin-0001",
                                            "TOKENPORT_NEW_PIN": "fresh-pin-1"}, ok=False).stderr
    assert "user PIN of token 'dev' is not correct; 2 tries left" in refused


def test_reinitializing_with_a_wrong_so_pin_counts_down(cli: Cli, tmp_path: Path) -> None:
    locked_after_three(cli, tmp_path)
    refused = cli.run("token", "init", "--slot", "0", "--label", "again",
                      env={"TOKENPORT_SO_PIN": "wrong-so-0001"}, ok=False).stderr
    assert refused == ("Error: the SO PIN of token 'dev' is not correct; 2 tries left before "
                       "it locks (CKR_PIN_INCORRECT)\n")
