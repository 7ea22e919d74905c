"""Encryption at rest, seen from outside: keys go in through real clients (pkcs11-tool imports
PEM private keys, python-pkcs11 imports and generates secret keys), then the raw bytes of the
SQLite store (main file, -wal and -shm) are searched for the secrets.

The search is only meaningful if it can find what is stored in the clear, so the same bytes
are checked for positive controls: the labels and an RSA modulus (public attributes).
"""

from __future__ import annotations

import hmac
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .tools import Token, init_with_cli, needs_python_pkcs11, new_token, skip_without

pytestmark = [needs_python_pkcs11, skip_without("pkcs11-tool")]

SO_PIN = "so-Secret-PIN-4711"
USER_PIN = "user-Secret-PIN-0815"
HMAC_MESSAGE = b"known message for the brute-force search"


def _int_bytes(value: int, length: int | None = None) -> bytes:
    return value.to_bytes(length or (value.bit_length() + 7) // 8, "big")


def _find_hmac_key(blob: bytes, mac: bytes, length: int = 32) -> int | None:
    """The offset of a ``length``-byte window of ``blob`` that is the HMAC-SHA256 key of ``mac``."""
    for offset in range(len(blob) - length + 1):
        if hmac.digest(blob[offset : offset + length], HMAC_MESSAGE, "sha256") == mac:
            return offset
    return None


def test_brute_force_search_finds_a_key_in_the_clear() -> None:
    """The search used below is not vacuous."""
    key = os.urandom(32)
    blob = os.urandom(5000) + key + os.urandom(77)
    assert _find_hmac_key(blob, hmac.digest(key, HMAC_MESSAGE, "sha256")) == 5000


IMPORT_AND_GENERATE = r"""
with token.open(rw=True, user_pin=PIN) as s:
    known = s.create_object({
        Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
        Attribute.VALUE: bytes.fromhex(os.environ["AES"]), Attribute.TOKEN: True,
        Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
        Attribute.ENCRYPT: True, Attribute.LABEL: "rest-aes-imported"})
    generated = s.generate_key(KeyType.GENERIC_SECRET, 256, store=True, label="rest-hmac-generated",
                               template={Attribute.EXTRACTABLE: False, Attribute.SIGN: True})
    s.create_object({Attribute.CLASS: ObjectClass.DATA, Attribute.TOKEN: True, Attribute.PRIVATE: False,
                     Attribute.LABEL: "rest-public-data", Attribute.VALUE: b"public bytes"})
    ec_key = s.get_key(object_class=ObjectClass.PRIVATE_KEY, label="rest-ec-imported")
    rsa_key = s.get_key(object_class=ObjectClass.PRIVATE_KEY, label="rest-rsa-imported")
    emit(mac=generated.sign(os.environ["MSG"].encode(), mechanism=Mechanism.SHA256_HMAC),
         generated=[generated[Attribute.PRIVATE], generated[Attribute.EXTRACTABLE],
                    raised(lambda: generated[Attribute.VALUE])],
         imported=[k[Attribute.PRIVATE] for k in (known, ec_key, rsa_key)])
    sys.stdin.readline()  # keep the store open (its -wal in use) until the test has read it
"""


@pytest.fixture(scope="module")
def stored(module_path: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("at-rest")
    tok: Token = new_token(module_path, base, "interop-at-rest")
    tok.so_pin, tok.pin = SO_PIN, USER_PIN
    init_with_cli(tok)

    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for key, label, key_id in (
        (ec_key, "rest-ec-imported", "e1"),
        (rsa_key, "rest-rsa-imported", "e2"),
    ):
        pem = base / f"{label}.pem"
        pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        tok.tool_ok(
            "--write-object",
            str(pem),
            "--type",
            "privkey",
            "--id",
            key_id,
            "--label",
            label,
            login=True,
        )
        pem.unlink()

    aes_key = os.urandom(32)
    worker = tok.worker(
        IMPORT_AND_GENERATE, env={"AES": aes_key.hex(), "MSG": HMAC_MESSAGE.decode()}
    )
    try:
        result = worker.read()
        live = {p.name: p.read_bytes() for p in sorted(tok.home.glob("tokenport.sqlite3*"))}
        worker.send("")
    finally:
        code = worker.close()
    assert code == 0, worker.stderr()
    closed = {p.name: p.read_bytes() for p in sorted(tok.home.glob("tokenport.sqlite3*"))}
    return {
        "result": result,
        "live": live,
        "closed": closed,
        "ec": ec_key,
        "rsa": rsa_key,
        "aes": aes_key,
        "home": tok.home,
    }


@pytest.fixture(scope="module", params=["live", "closed"])
def blob(request: pytest.FixtureRequest, stored: dict[str, object]) -> bytes:
    """The store's bytes while a client has it open (WAL in use), and after all closed."""
    files = stored[request.param]
    assert isinstance(files, dict) and "tokenport.sqlite3" in files, files
    return b"".join(files.values())


def test_premises(stored: dict[str, object]) -> None:
    result = stored["result"]
    assert isinstance(result, dict)
    assert result["imported"] == [True, True, True]  # every imported key is a private object
    assert result["generated"] == [True, False, "AttributeSensitive"]
    assert "tokenport.sqlite3-wal" in stored["live"]  # type: ignore[operator]


def test_labels_and_public_attributes_are_visible(blob: bytes, stored: dict[str, object]) -> None:
    for label in (
        b"rest-ec-imported",
        b"rest-rsa-imported",
        b"rest-aes-imported",
        b"rest-hmac-generated",
        b"rest-public-data",
        b"interop-at-rest",
    ):
        assert label in blob, label
    rsa_key = stored["rsa"]
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    assert _int_bytes(rsa_key.public_key().public_numbers().n) in blob  # modulus, in the clear


def test_imported_private_keys_are_not_in_the_clear(blob: bytes, stored: dict[str, object]) -> None:
    ec_key, rsa_key = stored["ec"], stored["rsa"]
    assert isinstance(ec_key, ec.EllipticCurvePrivateKey) and isinstance(rsa_key, rsa.RSAPrivateKey)
    scalar = _int_bytes(ec_key.private_numbers().private_value, 32)
    assert scalar not in blob
    numbers = rsa_key.private_numbers()
    for name in ("d", "p", "q", "dmp1", "dmq1", "iqmp"):
        value = _int_bytes(getattr(numbers, name))
        assert value[:24] not in blob, f"RSA {name} (its first 24 bytes) is in the store"
    for key in (ec_key, rsa_key):  # nor the PKCS #8 encoding pkcs11-tool was given
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        assert der[:64] not in blob


def test_imported_secret_key_is_not_in_the_clear(blob: bytes, stored: dict[str, object]) -> None:
    aes_key = stored["aes"]
    assert isinstance(aes_key, bytes)
    assert aes_key not in blob and aes_key[:16] not in blob and aes_key[16:] not in blob


def test_generated_unextractable_key_is_not_in_the_clear(
    blob: bytes, stored: dict[str, object]
) -> None:
    result = stored["result"]
    assert isinstance(result, dict)
    assert _find_hmac_key(blob, result["mac"]) is None


def test_pins_are_not_in_the_store(blob: bytes) -> None:
    for pin in (SO_PIN, USER_PIN):
        assert pin.encode() not in blob, pin
        assert pin.encode("utf-16-le") not in blob, pin


def test_private_records_written_by_real_clients_are_authenticated(
    stored: dict[str, object],
) -> None:
    """Every private record pkcs11-tool and python-pkcs11 wrote through the compiled module
    is a version-2 record with its authentication entry (issue 9, item 9)."""
    from tokenport.backends.storage.sqlite import SqliteObjectStore
    from tokenport.storage_format import decode_record

    home = stored["home"]
    assert isinstance(home, os.PathLike)
    store = SqliteObjectStore(os.path.join(home, "tokenport.sqlite3"))
    store.initialize()
    try:
        records = [decode_record(store.get_object_value(entry.handle)[0])
                   for entry in store.enumerate_objects(b"t/") if b"/o/" in entry.label]
    finally:
        store.close()
    private = [r for r in records if r.private]
    assert len(private) == 4  # two imported private keys, the AES and the HMAC key
    assert all(r.version == 2 and r.auth is not None for r in private)
    assert all(r.auth is None for r in records if not r.private)
