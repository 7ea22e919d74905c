"""`tokenport store`: moving a token between backends, read-only checks, info, and the
errors of an unusable store (issue 4)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from tokenport.ck import CKA, CKF, CKM, CKO, CKU
from tokenport.config import load_config
from tokenport.mechanisms.params import Mechanism
from tokenport.wiring import build_module

from .test_cli import SO_PIN, USER_PIN, Cli

BACKENDS = {
    "sqlite": "",
    "flash": '[store]\nbackend = "flash"\n[store.flash]\nsectors = 64\nsector_size = 4096\n',
    "files": '[store]\nbackend = "files"\n',
}


def cli_for(tmp_path: Path, backend: str) -> Cli:
    home = tmp_path / backend
    home.mkdir()
    if BACKENDS[backend]:
        (home / "tokenport.toml").write_text(BACKENDS[backend])
    return Cli(home)


def sign_with_token(cli: Cli, label: bytes, mechanism: int, data: bytes) -> tuple[bytes, bytes]:
    """(signature, SubjectPublicKeyInfo) made through the core with the store ``cli`` uses."""
    module = build_module(load_config(cli.env))
    module.initialize()
    try:
        session = module.open_session(0, int(CKF.SERIAL_SESSION | CKF.RW_SESSION))
        module.login(session, CKU.USER, USER_PIN.encode())
        found = {}
        for cls in (CKO.PRIVATE_KEY, CKO.PUBLIC_KEY):
            module.find_objects_init(session, [(CKA.LABEL, label), (CKA.CLASS, int(cls))])
            (found[cls],) = module.find_objects(session, 5)
            module.find_objects_final(session)
        (spki,) = module.get_attribute_value(session, found[CKO.PUBLIC_KEY], [CKA.PUBLIC_KEY_INFO])
        module.sign_init(session, Mechanism(mechanism), found[CKO.PRIVATE_KEY])
        signature = module.sign(session, data)
        assert isinstance(spki.value, bytes)
        return signature, spki.value
    finally:
        module.finalize()


def verify_outside(spki: bytes, mechanism: int, data: bytes, signature: bytes) -> None:
    key = serialization.load_der_public_key(spki)
    if mechanism == CKM.ECDSA_SHA256:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        half = len(signature) // 2
        der = utils.encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                         int.from_bytes(signature[half:], "big"))
        key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    else:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]


def objects_of(cli: Cli) -> list[tuple[str, str, str]]:
    rows = cli.json("object", "list")
    assert isinstance(rows, list)
    return sorted((r["class"], r["label"], r["id"]) for r in rows)


def test_a_token_moves_sqlite_to_flash_to_files_and_its_keys_still_sign(tmp_path: Path) -> None:
    first = cli_for(tmp_path, "sqlite")
    first.run("token", "init", "--label", "mover")
    first.run("key", "generate", "--type", "ec", "--label", "ec-key")
    first.run("key", "generate", "--type", "rsa:2048", "--label", "rsa-key")
    first.run("key", "generate", "--type", "aes", "--label", "aes-key")
    expected = objects_of(first)
    serial = first.json("token", "info")["serial"]  # type: ignore[index]
    assert len(expected) == 5

    export = tmp_path / "one.export"
    first.run("store", "export", "--out", str(export))
    assert export.stat().st_mode & 0o777 == 0o600
    from tokenport.storage_format import decode_object
    from tokenport.store_tools import parse_export

    records = parse_export(export.read_text().splitlines(keepends=True))
    private = [decode_object(r.data) for r in records if b"/o/" in r.label and r.private]
    assert len(private) == 3  # EC and RSA private keys, the AES key
    for clear, sealed in private:  # key material travels sealed, never in clear
        assert sealed and not set(sealed) & set(clear)
    for backend in ("flash", "files"):
        target = cli_for(tmp_path, backend)
        out = target.run("store", "import", str(export)).stdout
        assert f"into the {backend} store" in out
        assert objects_of(target) == expected
        assert target.json("token", "info")["serial"] == serial  # type: ignore[index]
        for label, mechanism in ((b"ec-key", CKM.ECDSA_SHA256), (b"rsa-key", CKM.SHA256_RSA_PKCS)):
            data = b"signed after the move to " + backend.encode()
            signature, spki = sign_with_token(target, label, mechanism, data)
            verify_outside(spki, mechanism, data, signature)
        check = target.run("store", "check", "--token", "mover").stdout
        assert check.strip().endswith("OK")
        export = tmp_path / f"{backend}.export"
        target.run("store", "export", "--out", str(export))


def test_store_info_shows_flash_wear_and_tokens(tmp_path: Path) -> None:
    cli = cli_for(tmp_path, "flash")
    cli.run("token", "init", "--label", "dev")
    cli.run("key", "generate", "--type", "ec", "--label", "k")
    info = cli.json("store", "info")
    assert isinstance(info, dict)
    assert info["backend"] == "flash" and info["sectors"] == 64
    assert len(info["erase_counts"]) == 64
    assert info["tokens"] == [{"serial": cli.json("token", "info")["serial"], "objects": 2}]  # type: ignore[index]


def test_check_reports_damage_and_changes_nothing(tmp_path: Path) -> None:
    cli = cli_for(tmp_path, "flash")
    cli.run("token", "init", "--label", "dev")
    cli.run("key", "generate", "--type", "ec", "--label", "damaged-key")
    image = tmp_path / "flash" / "tokenport.flash"
    raw = bytearray(image.read_bytes())
    where = raw.find(b"damaged-key")
    assert where > 0
    raw[where + 2] ^= 0x01  # flip one bit inside a record's label: its CRC no longer matches
    image.write_bytes(bytes(raw))
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    result = cli.run("store", "check", "--json", ok=False)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and any("corrupt" in p for p in report["problems"])
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before


def test_check_with_the_pin_verifies_sealed_values(tmp_path: Path) -> None:
    cli = cli_for(tmp_path, "sqlite")
    cli.run("token", "init", "--label", "dev")
    cli.run("key", "generate", "--type", "aes", "--label", "a")
    assert "OK" in cli.run("store", "check", "--token", "dev").stdout
    wrong = cli.run("store", "check", "--token", "dev", env={"TOKENPORT_PIN": "not-the-pin"}, ok=False)
    assert wrong.returncode == 1 and "not correct" in wrong.stdout


def test_import_refuses_clashes_and_damaged_files(tmp_path: Path) -> None:
    cli = cli_for(tmp_path, "sqlite")
    cli.run("token", "init", "--label", "dev")
    export = tmp_path / "dev.export"
    cli.run("store", "export", "--out", str(export))
    clash = cli.run("store", "import", str(export), ok=False)
    assert clash.returncode == 1 and "already exist" in clash.stderr and "--replace" in clash.stderr
    cli.run("store", "import", str(export), "--replace")
    lines = export.read_text().splitlines(keepends=True)
    truncated = tmp_path / "truncated.export"
    truncated.write_text("".join(lines[:-2] + lines[-1:]))
    other = cli_for(tmp_path, "files")
    bad = other.run("store", "import", str(truncated), ok=False)
    assert bad.returncode == 1 and "truncated or was modified" in bad.stderr
    slots = other.json("token", "list")
    assert isinstance(slots, list) and not slots[0]["initialized"]  # nothing was written


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_an_unusable_store_is_a_clear_error(tmp_path: Path, backend: str) -> None:
    """The store directory cannot be created (its parent is a file): CKR_DEVICE_ERROR at
    C_Initialize through the C ABI, and one line from the CLI."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    home = blocker / "store"
    conf = tmp_path / "tokenport.toml"
    conf.write_text(BACKENDS[backend])
    env = {**os.environ, "TOKENPORT_HOME": str(home), "TOKENPORT_CONF": str(conf)}
    result = subprocess.run([sys.executable, "-m", "tokenport", "token", "list"], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "CKR_DEVICE_ERROR" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    script = (
        "import ctypes, sys; from tokenport.abi import module_path; "
        "lib = ctypes.CDLL(module_path()); print(lib.C_Initialize(None))"
    )
    rv = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                        timeout=60, check=False)
    assert rv.stdout.strip() == str(0x30), rv.stderr  # CKR_DEVICE_ERROR


_ = (SO_PIN,)


def test_a_storage_port_from_another_package_is_chosen_by_name(tmp_path: Path) -> None:
    """A port in its own installed package (a distribution with an entry point in the group
    tokenport.storage) is found by the name the config gives."""
    site = tmp_path / "site"
    package = site / "thirdparty_store"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from tokenport.backends.storage.memory import MemoryObjectStore\n"
        "class ThirdPartyStore(MemoryObjectStore):\n"
        "    def info(self):\n"
        "        return {'made_by': 'thirdparty_store', 'records': 0}\n"
        "def from_config(store_dir, options):\n"
        "    return ThirdPartyStore()\n"
    )
    dist = site / "thirdparty_store-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-store\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[tokenport.storage]\nthirdparty = thirdparty_store:from_config\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    (home / "tokenport.toml").write_text('[store]\nbackend = "thirdparty"\n')
    cli = Cli(home)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    info = json.loads(cli.run("store", "info", "--json", env=env).stdout)
    assert info["backend"] == "thirdparty" and info["made_by"] == "thirdparty_store"
    unknown = cli.run("store", "info", ok=False)  # without the package: one clear line
    assert unknown.returncode == 1 and "thirdparty" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
