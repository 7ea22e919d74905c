"""Issue 9, seen through the tokenport command and the real store files, one process per
command: a lock survives a config change (item 5), a damaged token record is listed,
checked and repaired (item 8), an edited private record in the SQLite file does not open and
`store check` reports it, and an old-format store still opens and signs (item 9)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.core.records import find_record, make_legacy, with_entry
from tokenport.backends.crypto.pyca import PycaCrypto
from tokenport.backends.storage.sqlite import SqliteObjectStore
from tokenport.ck import CKA, CKM, CKO

from .test_cli import SO_PIN, USER_PIN, Cli
from .test_store_cli import cli_for, sign_with_token, verify_outside


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def objects(cli: Cli, *args: str) -> list[tuple[str, str]]:
    rows = cli.json("object", "list", *args)
    assert isinstance(rows, list)
    return sorted((r["class"], r["label"]) for r in rows)


# -- item 5 ------------------------------------------------------------------------------------

def test_a_locked_pin_stays_locked_when_the_config_raises_the_limit(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "tokenport.toml"
    config.write_text("[token]\nmax_pin_attempts = 3\n")
    cli.run("token", "init", "--label", "dev")
    for _ in range(3):
        assert "CKR_PIN_INCORRECT" in cli.run(
            "object", "list", "--login", env={"TOKENPORT_PIN": "wrong-pin"}, ok=False).stderr
    config.write_text("[token]\nmax_pin_attempts = 10\n")  # the next process reads this
    info = cli.json("token", "info")
    assert isinstance(info, dict) and "USER_PIN_LOCKED" in info["flags"]
    assert "CKR_PIN_LOCKED" in cli.run("object", "list", "--login", ok=False).stderr
    cli.run("pin", "init", env={"TOKENPORT_NEW_PIN": "fresh-pin-1"})
    info = cli.json("token", "info")
    assert isinstance(info, dict) and "USER_PIN_LOCKED" not in info["flags"]
    cli.run("object", "list", "--login", env={"TOKENPORT_PIN": "fresh-pin-1"})


# -- item 8 ------------------------------------------------------------------------------------

def garble_token_record(cli: Cli, backend: str, serial: str) -> None:
    label = f"t/{serial}/info".encode()
    home = Path(cli.env["TOKENPORT_HOME"])
    if backend == "sqlite":
        with sqlite3.connect(home / "tokenport.sqlite3") as db:
            db.execute("UPDATE records SET data = ? WHERE label = ?", (b"\x17garbage\x17", label))
    else:
        (path,) = (home / "objects").glob(f"*.{label.hex()}.obj")
        raw = bytearray(path.read_bytes())
        raw[60:70] = b"\xff" * 10
        path.write_bytes(bytes(raw))


@pytest.mark.parametrize("backend", ["sqlite", "files"])
def test_a_damaged_token_is_listed_checked_and_repaired(tmp_path: Path, backend: str) -> None:
    cli = cli_for(tmp_path, backend)
    cli.run("token", "init", "--label", "dev")
    cli.run("key", "generate", "--type", "ec", "--label", "k")
    info = cli.json("token", "info")
    assert isinstance(info, dict)
    serial = info["serial"]
    garble_token_record(cli, backend, serial)

    listed = cli.run("token", "list")
    assert f"DAMAGED token, serial {serial}" in listed.stdout
    assert f"token {serial} is damaged" in listed.stderr  # the ERROR line of the library
    rows = cli.json("token", "list")
    assert isinstance(rows, list)
    (damaged,) = [r for r in rows if r["damaged"]]
    assert damaged["serial"] == serial and damaged["initialized"] is True
    assert [r["initialized"] for r in rows if not r["damaged"]] == [False]  # one free slot

    check = cli.run("store", "check", ok=False)
    assert check.returncode == 1 and f"token repair --serial {serial}" in check.stdout
    refused = cli.run("object", "list", "--token", serial, ok=False)
    assert refused.returncode == 1 and f"Error: token {serial} in slot" in refused.stderr
    cli.run("token", "init", "--label", "other")  # the free slot is still free to use
    refused = cli.run("token", "repair", "--serial", serial, ok=False, stdin="n\n")
    assert refused.returncode == 1 and "1 object(s) cannot be recovered" in refused.stdout
    assert "CKO_PRIVATE_KEY 'k'" in refused.stdout
    assert f"DAMAGED token, serial {serial}" in cli.run("token", "list").stdout

    repaired = cli.run("token", "repair", "--serial", serial, "--yes",
                       env={"TOKENPORT_SO_PIN": "new-so-pin-1"})
    assert "1 object(s) kept, 1 deleted" in repaired.stdout
    assert "DAMAGED" not in cli.run("token", "list").stdout
    assert "is not damaged" in cli.run("token", "repair", "--serial", serial, "--yes",
                                       ok=False).stderr
    assert "no token with serial" in cli.run("token", "repair", "--serial", "0" * 16, "--yes",
                                             ok=False).stderr
    assert objects(cli, "--token", serial, "--login") == [("pubkey", "k")]
    assert objects(cli, "--token", "other", "--login") == []
    assert "CKR_PIN_INCORRECT" in cli.run(  # the old SO PIN went with the damaged record
        "pin", "init", "--token", serial, env={"TOKENPORT_NEW_PIN": "x-pin-12"}, ok=False).stderr
    cli.run("pin", "init", "--token", serial,
            env={"TOKENPORT_SO_PIN": "new-so-pin-1", "TOKENPORT_NEW_PIN": "x-pin-12"})


def test_a_damaged_token_can_be_deleted_by_serial(tmp_path: Path) -> None:
    cli = cli_for(tmp_path, "files")
    cli.run("token", "init", "--label", "dev")
    cli.run("key", "generate", "--type", "ec", "--label", "k")
    info = cli.json("token", "info")
    assert isinstance(info, dict)
    garble_token_record(cli, "files", info["serial"])
    out = cli.run("token", "delete", "--token", info["serial"], "--yes").stdout
    assert f"Deleted token '' ({info['serial']})" in out
    rows = cli.json("token", "list")
    assert isinstance(rows, list) and [r["initialized"] for r in rows] == [False]
    assert list((Path(cli.env["TOKENPORT_HOME"]) / "objects").glob("*.obj")) == []


# -- item 9 ------------------------------------------------------------------------------------

def edit_sqlite_record(cli: Cli, cls: int, label: bytes, change: Callable[[bytes], bytes]) -> None:
    """What an attacker with write access to tokenport.sqlite3 does to one object record."""
    path = Path(cli.env["TOKENPORT_HOME"]) / "tokenport.sqlite3"
    store = SqliteObjectStore(path)
    store.initialize()
    try:
        entry = find_record(store, cls, label)
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        (data,) = db.execute("SELECT data FROM records WHERE label = ?", (entry.label,)).fetchone()
        db.execute("UPDATE records SET data = ? WHERE label = ?", (change(data), entry.label))


@pytest.mark.parametrize(("attr", "payload"), [
    (CKA.SENSITIVE, b"\x00"), (CKA.EXTRACTABLE, b"\x01"), (CKA.LABEL, b"K"),
])
def test_an_edited_private_key_in_the_sqlite_file_does_not_open(
    cli: Cli, attr: int, payload: bytes,
) -> None:
    cli.run("token", "init", "--label", "dev")
    cli.run("key", "generate", "--type", "ec", "--label", "k")
    assert cli.run("store", "check", "--pin", USER_PIN).stdout.strip().endswith("OK")
    edit_sqlite_record(cli, CKO.PRIVATE_KEY, b"k", lambda data: with_entry(data, attr, payload))

    listed = cli.run("object", "list", "--login", "--json")
    assert "skipping unreadable object record" in listed.stderr
    assert "failed its authentication" in listed.stderr and USER_PIN not in listed.stderr
    assert objects(cli, "--login") == [("pubkey", "k")]
    assert cli.run("store", "check").returncode == 0  # without the PIN nothing can tell
    check = cli.run("store", "check", "--pin", USER_PIN, ok=False)
    assert check.returncode == 1
    assert "DAMAGED:" in check.stdout and "failed its authentication" in check.stdout


def test_a_private_key_made_public_in_the_sqlite_file_is_no_public_object(cli: Cli) -> None:
    cli.run("token", "init", "--label", "dev")
    cli.run("key", "generate", "--type", "ec", "--label", "k")
    edit_sqlite_record(cli, CKO.PRIVATE_KEY, b"k",
                       lambda data: with_entry(data, CKA.PRIVATE, b"\x00"))
    nobody = Cli(Path(cli.env["TOKENPORT_HOME"]))
    del nobody.env["TOKENPORT_PIN"]  # a public listing, no login
    public = nobody.run("object", "list", "--json")
    assert "CKA_PRIVATE is not TRUE" in public.stderr
    assert objects(nobody) == [("pubkey", "k")]
    check = cli.run("store", "check", ok=False)
    assert check.returncode == 1 and "CKA_PRIVATE is not TRUE" in check.stdout


def test_an_old_format_sqlite_store_opens_signs_and_is_migrated(cli: Cli) -> None:
    from tokenport.storage_format import decode_record

    cli.run("token", "init", "--label", "dev")
    cli.run("key", "generate", "--type", "ec", "--label", "k")
    path = Path(cli.env["TOKENPORT_HOME"]) / "tokenport.sqlite3"
    store = SqliteObjectStore(path)
    store.initialize()
    crypto = PycaCrypto()
    make_legacy(store, crypto, os.urandom, SO_PIN.encode(), USER_PIN.encode())
    key = find_record(store, CKO.PRIVATE_KEY, b"k")
    assert decode_record(store.get_object_value(key.handle)[0]).version == 1
    store.close()
    check = cli.run("store", "check")
    assert "private record in the old format" in check.stdout and check.stdout.strip().endswith("OK")

    signature, spki = sign_with_token(cli, b"k", CKM.ECDSA_SHA256, b"old but good")
    verify_outside(spki, CKM.ECDSA_SHA256, b"old but good", signature)
    store = SqliteObjectStore(path)
    store.initialize()
    decoded = decode_record(store.get_object_value(find_record(store, CKO.PRIVATE_KEY, b"k")
                                                   .handle)[0])
    store.close()
    assert decoded.version == 2 and decoded.auth is not None
    assert cli.run("store", "check", "--pin", USER_PIN).stdout.strip().endswith("OK")
