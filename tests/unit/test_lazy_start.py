"""C_Initialize imports only what it needs (issue 10, "Fast start"), and what it defers still
works: the mechanism registry fills itself at first use, the crypto port opens at first use.

Must never: make a call fail or see an empty registry because a family was not loaded yet;
open the crypto port twice when two threads reach it at once; hide a configuration mistake
until the first signature (an option given to the crypto port is checked at C_Initialize).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tokenport import config as config_module
from tokenport.ck import CKM
from tokenport.mechanisms import default_registry
from tokenport.mechanisms.base import MechanismRegistry, MechanismSpec
from tokenport.mechanisms.params import Mechanism
from tokenport.wiring import DeferredCrypto, build_module

PROBE = r"""
import json, sys
from tokenport.wiring import build_module
module = build_module()
module.initialize()
slots = module.get_slot_list(True)
session = module.open_session(slots[0], 0x6) if slots else None
deferred = ("tokenport.core.crypto_calls", "tokenport.core.key_calls", "tokenport.core.message")
loaded_before = sorted(m for m in sys.modules
                       if m.split(".")[0] in ("cryptography", "logging")
                       or m == "tokenport.mechanisms" or m.startswith("tokenport.mechanisms.")
                       or m in deferred)
mechanisms = module.get_mechanism_list(slots[0]) if slots else []
print(json.dumps({"before": loaded_before, "slots": len(slots), "mechanisms": len(mechanisms),
                  "crypto_after": "cryptography" in sys.modules}))
"""


def run_probe(tmp_path: Path) -> dict[str, Any]:
    home = tmp_path / "home"
    env = {"TOKENPORT_HOME": str(home / "store"), "XDG_CONFIG_HOME": str(home / "config"),
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(config_module.__file__).parents[1])}
    init = subprocess.run([sys.executable, "-m", "tokenport", "token", "init", "--label", "lazy",
                           "--so-pin", "12345678", "--pin", "1234"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert init.returncode == 0, init.stderr
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_initialize_and_open_session_import_no_crypto_library_or_family(tmp_path: Path) -> None:
    result = run_probe(tmp_path)
    assert result["slots"] >= 1
    assert result["before"] == [], "imported before any call needed them"
    # the first call that needs the mechanisms gets all of them
    assert result["mechanisms"] == len(default_registry())
    assert result["mechanisms"] > 40


def test_registry_fills_itself_at_first_lookup_listing_or_count() -> None:
    for first_use in ("get", "iter", "len", "specs"):
        registry = default_registry()
        assert registry.loader is not None
        if first_use == "get":
            assert registry.get(CKM.ECDSA) is not None
        elif first_use == "iter":
            assert any(spec.mechanism == CKM.SHA256 for spec in registry)
        elif first_use == "len":
            assert len(registry) > 40
        else:
            assert CKM.AES_GCM in registry.specs
        assert registry.loader is None
        assert registry.get(0x7FFF_FFFF) is None


def test_registry_that_fails_to_load_stays_empty_and_retries() -> None:
    calls: list[int] = []

    def flaky(registry: MechanismRegistry) -> None:
        calls.append(1)
        registry.add(MechanismSpec(CKM.SHA256, 0, 0, 0))
        if len(calls) == 1:
            raise ImportError("a family failed to import")

    registry = MechanismRegistry(loader=flaky)
    with pytest.raises(ImportError):
        registry.get(CKM.SHA256)
    assert registry.loader is not None and len(registry._specs) == 0
    assert registry.get(CKM.SHA256) is not None  # no "registered twice" on the retry
    assert len(calls) == 2


def test_registry_loads_once_under_concurrent_first_use() -> None:
    calls: list[int] = []

    def slow(registry: MechanismRegistry) -> None:
        calls.append(1)
        time.sleep(0.05)
        registry.add(MechanismSpec(CKM.SHA256, 0, 0, 0))

    registry = MechanismRegistry(loader=slow)
    found: list[object] = []
    threads = [threading.Thread(target=lambda: found.append(registry.get(CKM.SHA256)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(found) == 4 and all(spec is not None for spec in found)


class CountingBackend:
    opened = 0

    def __init__(self) -> None:
        type(self).opened += 1
        time.sleep(0.05)

    def digest(self, data: bytes) -> bytes:
        return data[::-1]


def test_deferred_crypto_opens_once_and_then_reads_plain_attributes() -> None:
    CountingBackend.opened = 0
    deferred = DeferredCrypto(CountingBackend)  # type: ignore[arg-type]
    assert CountingBackend.opened == 0
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(deferred.digest(b"ab")))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert CountingBackend.opened == 1
    assert results == [b"ba"] * 4
    assert "digest" in vars(deferred)  # copied: the next read does not pass __getattr__
    with pytest.raises(AttributeError):
        deferred.no_such_method  # noqa: B018


def test_crypto_options_are_checked_at_initialize_not_deferred(tmp_path: Path) -> None:
    conf = tmp_path / "tokenport.toml"
    conf.write_text('[store]\nbackend = "memory"\n[crypto]\nbackend = "pyca"\n'
                    '[crypto.pyca]\nno_such_option = 1\n', encoding="utf-8")
    config = config_module.load_config(environ={"TOKENPORT_CONF": str(conf)})
    with pytest.raises(config_module.ConfigError, match="crypto.pyca"):
        build_module(config)


def test_default_config_defers_the_crypto_port_and_digests_through_it(tmp_path: Path) -> None:
    conf = tmp_path / "tokenport.toml"
    conf.write_text('[store]\nbackend = "memory"\n', encoding="utf-8")
    module = build_module(config_module.load_config(environ={"TOKENPORT_CONF": str(conf)}))
    assert isinstance(module.crypto, DeferredCrypto)
    module.initialize()
    try:
        module.init_token(0, b"12345678", b"deferred".ljust(32))
        session = module.open_session(0, 0x4)
        module.digest_init(session, Mechanism(CKM.SHA256, None))
        assert module.digest(session, b"abc") == hashlib.sha256(b"abc").digest()
    finally:
        module.finalize()


def test_closing_a_deferred_port_never_opens_it() -> None:
    """C_Finalize closes the crypto port; a port never used must not be opened for that."""
    opened: list[str] = []

    class Closable:
        closed = False

        def close(self) -> None:
            self.closed = True

    def opener() -> Any:
        opened.append("opened")
        return Closable()

    deferred = DeferredCrypto(opener)
    deferred.close()
    assert opened == []
    target = deferred._target()
    deferred.close()
    assert opened == ["opened"] and target.closed
