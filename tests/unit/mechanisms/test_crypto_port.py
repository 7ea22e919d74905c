"""The shape of the crypto port: family protocols, their composition, and key handles that
mypy keeps apart (an RSA key handed to an EC call is a type error)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tokenport import plugins
from tokenport.backends.crypto import pyca
from tokenport.ports import crypto as port

FAMILIES = (port.DigestPort, port.MacPort, port.CipherPort, port.SealPort, port.EcPort,
            port.RsaPort, port.EdDsaPort, port.Ed448Port, port.MontgomeryPort,
            port.KeyEncodingPort, port.PqPort, port.DsaPort, port.DhPort, port.DesPort,
            port.KdfPort, port.AeadPort)


def members(protocol: type) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")}


def test_crypto_backend_is_the_union_of_the_families() -> None:
    union: set[str] = set()
    for family in FAMILIES:
        assert not union & members(family), f"{family.__name__} repeats a call"
        union |= members(family)
    everything = {name for name in dir(port.CryptoBackend) if not name.startswith("_")}
    assert everything == union
    assert all(len(members(family)) <= 20 for family in FAMILIES)


def test_pyca_backend_implements_every_family() -> None:
    backend = pyca.PycaCrypto()
    for family in (*FAMILIES, port.CryptoBackend):
        assert isinstance(backend, family), family.__name__


def test_the_pyca_plugin_is_the_moved_module() -> None:
    assert plugins.find("crypto", "pyca") is pyca.from_config


def test_mypy_keeps_key_families_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mypy import api

    source = tmp_path / "wrong_family.py"
    source.write_text(textwrap.dedent("""
        from tokenport.ports.crypto import CryptoBackend, EcPort

        def sign(crypto: CryptoBackend, ec: EcPort) -> None:
            rsa_key = crypto.rsa_generate(2048, 65537)
            ec.ecdsa_sign_hash(rsa_key, b"h" * 32)
            ec_key = crypto.ec_private_from_scalar("P-256", 5)
            ec.ecdsa_sign_hash(ec_key, b"h" * 32)
            crypto.ed25519_sign(ec_key, b"m")
            public = crypto.ec_public_from_point("P-256", b"")
            crypto.ecdh(public, public)
    """))
    root = Path(pyca.__file__).resolve().parents[3]
    if root.name not in ("site-packages", "dist-packages"):
        # a source tree (src layout); an installed package is found through its py.typed
        # (mypy refuses site-packages in MYPYPATH)
        monkeypatch.setenv("MYPYPATH", str(root))
    out, _err, status = api.run([
        "--strict", "--follow-imports=silent", "--config-file=", "--python-version=3.11",
        f"--cache-dir={tmp_path / 'cache'}", str(source),
    ])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1
    assert len(errors) == 3, out
    assert '"ecdsa_sign_hash" of "EcPort" has incompatible type "RsaPrivateKeyHandle"' in out
    assert '"ed25519_sign" of "EdDsaPort" has incompatible type "EcPrivateKeyHandle"' in out
    assert '"ecdh" of "EcPort" has incompatible type "EcPublicKeyHandle"' in out


@pytest.mark.parametrize("alg", ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"])
def test_one_shot_digest_of_the_pyca_backend(alg: port.HashName) -> None:
    import hashlib

    backend = pyca.PycaCrypto()
    context = backend.hash_new(alg)
    context.update(b"one shot")
    assert backend.digest(alg, b"one shot") == context.finalize()
    assert backend.digest(alg, b"one shot") == hashlib.new(alg, b"one shot").digest()
