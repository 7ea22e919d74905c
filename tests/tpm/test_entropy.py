"""The ``tpm2`` entropy source (issue 13, item 2): TPM2_GetRandom feeding the DRBG and its
SP 800-90B health tests, through the config, the core and the C ABI; a stuck TPM (a fake
ESAPI), a fork, a stopped and a reset simulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tokenport import errors
from tokenport.backends.entropy.drbg_source import DrbgRandomSource
from tokenport.backends.entropy.health import STARTUP_SAMPLES
from tokenport.backends.entropy.tpm2 import TpmEntropySource, tpm2_from_config
from tokenport.backends.tpm.connection import DEFAULT_TCTI, TpmConnection
from tokenport.ck import CKR
from tokenport.config import (
    Config,
    ConfigError,
    EntropyConfig,
    load_config,
    open_entropy_source,
    open_random_source,
)
from tokenport.wiring import build_module

from .swtpm import Swtpm

SO_PIN = b"so-secret-1"


class FakeEsapi:
    """An ESAPI answering TPM2_GetRandom with ``answer(n)``, at most ``limit`` bytes."""

    def __init__(self, answer: Any, limit: int = 32) -> None:
        self.answer = answer
        self.limit = limit
        self.requests: list[int] = []

    def get_random(self, n: int) -> bytes:
        self.requests.append(n)
        return bytes(self.answer(min(n, self.limit)))

    def close(self) -> None:
        pass


class FakeConnection(TpmConnection):
    def __init__(self, esapi: FakeEsapi) -> None:
        super().__init__("swtpm:host=127.0.0.1,port=1")
        self.fake = esapi

    def _open(self) -> Any:
        return self.fake


def fake_source(answer: Any, limit: int = 32) -> tuple[TpmEntropySource, FakeEsapi]:
    esapi = FakeEsapi(answer, limit)
    return TpmEntropySource(FakeConnection(esapi)), esapi


# -- with a fake ESAPI -----------------------------------------------------------------------


def test_read_loops_over_the_tpms_digest_sized_answers() -> None:
    source, esapi = fake_source(os.urandom, limit=32)
    data = source.read(100)
    assert len(data) == 100
    assert esapi.requests == [100, 68, 36, 4]  # 32 + 32 + 32 + 4 bytes
    assert source.read(0) == b"" and esapi.requests == [100, 68, 36, 4]
    assert (source.sample_bits, source.min_entropy_per_sample, source.live) == (8, 4.0, True)
    assert source.name == "tpm2 swtpm:host=127.0.0.1,port=1"


def test_a_tpm_that_returns_nothing_is_a_device_error() -> None:
    source, esapi = fake_source(lambda n: b"")
    with pytest.raises(errors.DeviceError, match="TPM2_GetRandom returned no bytes"):
        source.read(16)
    assert len(esapi.requests) == 3


def test_the_health_tests_see_the_tpms_output() -> None:
    """A stuck TPM (every byte 0x5a) trips the repetition count test at start-up: the DRBG
    refuses for good, CKR_DEVICE_ERROR."""
    source, esapi = fake_source(lambda n: b"\x5a" * n)
    random = DrbgRandomSource(source)
    with pytest.raises(errors.DeviceError, match="repetition count") as info:
        random.random_bytes(16)
    assert info.value.rv == CKR.DEVICE_ERROR
    calls = len(esapi.requests)
    with pytest.raises(errors.DeviceError, match="repetition count"):
        random.random_bytes(16)
    assert len(esapi.requests) == calls  # failed for good: the TPM is not asked again


def test_health_tests_count_every_tpm_byte() -> None:
    seen = bytearray()

    def answer(n: int) -> bytes:
        chunk = os.urandom(n)
        seen.extend(chunk)
        return chunk

    source, _ = fake_source(answer)
    random = DrbgRandomSource(source)
    random.random_bytes(32)
    assert random.health.samples_tested == len(seen) > STARTUP_SAMPLES


def test_a_tpm_error_during_a_draw_is_a_device_error() -> None:
    class Refused(Exception):
        rc = 0x101  # TPM_RC_FAILURE

    def answer(n: int) -> bytes:
        raise Refused()

    random = DrbgRandomSource(fake_source(answer)[0])
    with pytest.raises(errors.DeviceError, match="failure mode") as info:
        random.random_bytes(8)
    assert info.value.rv == CKR.DEVICE_ERROR


# -- configuration ---------------------------------------------------------------------------


def load(tmp_path: Path, text: str) -> Config:
    conf = tmp_path / "tokenport.toml"
    conf.write_text(text, encoding="utf-8")
    return load_config({"HOME": str(tmp_path), "TOKENPORT_CONF": str(conf)})


def test_config_selects_the_tpm_source(tmp_path: Path) -> None:
    config = load(tmp_path, '[entropy]\nsource = "tpm2"\ntcti = "swtpm:port=2321"\n')
    assert (config.entropy.source, config.entropy.tcti) == ("tpm2", "swtpm:port=2321")
    source = open_entropy_source(config.entropy)
    assert isinstance(source, TpmEntropySource)
    assert source.connection.tcti == "swtpm:port=2321"
    default = open_entropy_source(EntropyConfig(source="tpm2"))
    assert isinstance(default, TpmEntropySource) and default.connection.tcti == DEFAULT_TCTI
    assert isinstance(tpm2_from_config(EntropyConfig()), TpmEntropySource)


def test_entropy_tcti_defaults_to_the_crypto_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[crypto.tpm2] tcti is the default of [entropy] tcti (a crypto port named tpm2 is
    pretended installed here: it is another part of issue 13)."""
    from tokenport import plugins

    real = plugins.exists
    monkeypatch.setattr(plugins, "exists", lambda kind, name: (kind, name) == ("crypto", "tpm2")
                        or real(kind, name))
    config = load(tmp_path, '[crypto.tpm2]\ntcti = "tabrmd:bus_type=session"\n'
                            '[entropy]\nsource = "tpm2"\n')
    assert config.entropy.tcti == "tabrmd:bus_type=session"
    own = load(tmp_path, '[crypto.tpm2]\ntcti = "tabrmd:bus_type=session"\n'
                         '[entropy]\nsource = "tpm2"\ntcti = "device:/dev/tpm0"\n')
    assert own.entropy.tcti == "device:/dev/tpm0"
    bad = load(tmp_path, '[crypto.tpm2]\ntcti = "usb:x"\n[entropy]\nsource = "tpm2"\n')
    assert bad.entropy.tcti is None  # the crypto port reports its own bad option


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('[entropy]\nsource = "tpm2"\ntcti = "usb:/dev/x"\n', "[entropy] tcti: tcti 'usb:/dev/x'"),
        ('[entropy]\nsource = "tpm2"\ntcti = ""\n', "[entropy] tcti: tcti must be a non-empty"),
        ("[entropy]\nsource = 'tpm2'\ntcti = 5\n", "[entropy] tcti: must be a string"),
        ('[entropy.tokens.dev]\ntcti = "x"\n', "[entropy.tokens.dev] tcti: tcti 'x'"),
    ],
)
def test_bad_tcti_is_one_config_line(tmp_path: Path, text: str, names: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert names in str(info.value) and "\n" not in str(info.value)


# -- a real TPM (swtpm) ----------------------------------------------------------------------


def test_draws_through_the_drbg_from_the_simulator(swtpm: Swtpm) -> None:
    random = open_random_source(EntropyConfig(source="tpm2", tcti=swtpm.tcti), b"test")
    try:
        first, second = random.random_bytes(32), random.random_bytes(32)
        bulk = random.random_bytes(100_000)
        assert len(first) == 32 and first != second and len(bulk) == 100_000
        assert random.source.name == f"tpm2 {swtpm.tcti}"
        assert random.health.samples_tested > STARTUP_SAMPLES
        random.seed(b"caller bytes")
        assert random.random_bytes(32) not in (first, second)
    finally:
        random.close()


def test_c_generate_random_through_the_core(swtpm: Swtpm, tmp_path: Path) -> None:
    config = Config(store_backend="memory", store_dir=tmp_path,
                    entropy=EntropyConfig(source="tpm2", tcti=swtpm.tcti))
    module = build_module(config)
    module.initialize()
    try:
        slot = module.get_slot_list(True)[-1]
        module.init_token(slot, SO_PIN, b"tpm entropy".ljust(32))
        session = module.open_session(slot, 0x4 | 0x2)
        one, two = module.generate_random(session, 48), module.generate_random(session, 48)
        assert len(one) == 48 and one != two
    finally:
        module.finalize()


def test_a_forked_child_reads_the_tpm_on_its_own_connection(swtpm: Swtpm) -> None:
    source = TpmEntropySource(TpmConnection(swtpm.tcti))
    random = DrbgRandomSource(source)
    random.random_bytes(16)
    parent_generation = source.connection.generation
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        code = 0
        try:
            os.close(read_end)
            data = random.random_bytes(64)
            raw = source.read(64)
            os.write(write_end, data + raw + bytes([source.connection.generation]))
        except BaseException:  # noqa: BLE001
            code = 3
        os._exit(code)
    os.close(write_end)
    parent = random.random_bytes(64)
    child = b""
    while chunk := os.read(read_end, 4096):
        child += chunk
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(child) == 129 and child[:64] != parent
    assert child[128] == parent_generation + 1  # the child opened a context of its own
    assert len(source.read(16)) == 16  # the parent's context still works
    assert source.connection.generation == parent_generation
    source.connection.close()


def test_closing_the_drbg_closes_the_tpm_connection(swtpm: Swtpm) -> None:
    """C_Finalize closes the random sources: the TPM connection goes with them (a resource
    manager counts connections: tabrmd refuses the 28th), and the next draw reopens it."""
    closed: list[int] = []

    class Counting(TpmConnection):
        def close(self) -> None:
            closed.append(self.generation)
            super().close()

    source = TpmEntropySource(Counting(swtpm.tcti))
    random = DrbgRandomSource(source)
    random.random_bytes(16)
    assert source.connection.generation == 1 and closed == []
    random.close()
    assert closed == [1]
    assert len(random.random_bytes(16)) == 16
    assert source.connection.generation == 2  # a new context: the old one was closed
    random.close()
    assert closed == [1, 2]


def test_c_finalize_closes_the_tpm_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[FakeEsapi] = []
    closed: list[FakeEsapi] = []

    class Tracked(FakeEsapi):
        def close(self) -> None:
            closed.append(self)

    def factory(entropy: Any) -> TpmEntropySource:
        esapi = Tracked(os.urandom)
        opened.append(esapi)
        return TpmEntropySource(FakeConnection(esapi))

    import tokenport.config as config_module
    from tokenport.backends.storage.memory import MemoryObjectStore

    monkeypatch.setattr(config_module, "open_entropy_source", factory)
    config = Config(store_backend="memory", store_dir=tmp_path,
                    entropy=EntropyConfig(source="tpm2"))
    store = MemoryObjectStore()
    for _ in range(3):
        module = build_module(config, store=store)
        module.initialize()
        slot = module.get_slot_list(True)[-1]
        if not module.get_token_info(slot).flags & 0x400:  # CKF_TOKEN_INITIALIZED
            module.init_token(slot, SO_PIN, b"fin".ljust(32))
        session = module.open_session(module.get_slot_list(True)[0], 0x6)
        module.generate_random(session, 16)
        module.finalize()
    assert len(opened) >= 3 and closed == opened  # every connection opened was closed at C_Finalize


def test_a_stopped_simulator_is_a_device_error_at_the_first_draw(fresh_swtpm: Swtpm) -> None:
    tcti = fresh_swtpm.tcti
    fresh_swtpm.stop()
    random = open_random_source(EntropyConfig(source="tpm2", tcti=tcti))
    with pytest.raises(errors.DeviceError, match="cannot open TCTI") as info:
        random.random_bytes(16)
    assert info.value.rv == CKR.DEVICE_ERROR and "\n" not in str(info.value)


def test_a_simulator_stopped_mid_run_fails_the_source(fresh_swtpm: Swtpm) -> None:
    random = open_random_source(EntropyConfig(source="tpm2", tcti=fresh_swtpm.tcti),
                                b"test")
    random.random_bytes(16)
    fresh_swtpm.stop()
    with pytest.raises(errors.DeviceError, match="cannot reach the TPM") as info:
        random.seed(b"caller bytes")  # C_SeedRandom reseeds: entropy from the TPM first
    assert info.value.rv == CKR.DEVICE_ERROR
    with pytest.raises(errors.DeviceError, match="cannot reach the TPM"):
        random.random_bytes(16)  # the source failed for good, the pool was dropped


def test_a_reset_tpm_is_a_device_error(fresh_swtpm: Swtpm) -> None:
    source = TpmEntropySource(TpmConnection(fresh_swtpm.tcti))
    assert len(source.read(8)) == 8
    fresh_swtpm.reset()
    with pytest.raises(errors.DeviceError, match="has not been started"):
        source.read(8)
    fresh_swtpm.startup()
    assert len(source.read(8)) == 8
    source.connection.close()


def test_a_missing_device_is_a_device_error(tmp_path: Path) -> None:
    pytest.importorskip("tpm2_pytss")
    random = open_random_source(
        EntropyConfig(source="tpm2", tcti=f"device:{tmp_path}/no-tpmrm0")
    )
    with pytest.raises(errors.DeviceError) as info:
        random.random_bytes(16)
    assert str(info.value) == f"TPM: no TPM at {tmp_path}/no-tpmrm0 (no such device; see docs/tpm.md)"
    assert info.value.rv == CKR.DEVICE_ERROR


def test_an_unreadable_device_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/dev/tpmrm0 without the tss group (access is faked: the tests may run as root)."""
    pytest.importorskip("tpm2_pytss")
    import tokenport.backends.entropy.tpm2 as tpm2_source

    device = tmp_path / "tpmrm0"
    device.write_bytes(b"")
    monkeypatch.setattr(tpm2_source.os, "access", lambda path, mode: False)
    source = TpmEntropySource(FakeConnection(FakeEsapi(os.urandom)))
    assert len(source.read(8)) == 8  # a reachable TPM: access() is not asked
    source = TpmEntropySource(TpmConnection(f"device:{device}"))

    def unreachable(self: TpmConnection) -> Any:
        raise errors.DeviceError("TPM: cannot open TCTI: tcti:IO failure")

    monkeypatch.setattr(TpmConnection, "_open", unreachable)
    with pytest.raises(errors.DeviceError) as info:
        source.read(8)
    assert str(info.value) == (
        f"TPM: {device}: permission denied (add the user to the tss group; see docs/tpm.md)")


def test_token_init_without_the_tpm_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("tpm2_pytss")
    home = tmp_path / "home"
    home.mkdir()
    (home / "tokenport.toml").write_text(
        f'[entropy]\nsource = "tpm2"\ntcti = "device:{tmp_path}/none"\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "tokenport", "token", "init", "--label", "x"],
                          env=_client_env(home), capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 1
    expected = (f"Error: TPM: no TPM at {tmp_path}/none (no such device; see docs/tpm.md) "
                "(CKR_DEVICE_ERROR)")
    assert proc.stderr.strip().splitlines() == [expected]


PKCS11_DRAW = r"""
import pkcs11
from tokenport.abi import module_path
lib = pkcs11.lib(module_path())
token = lib.get_token(token_label="tpm")
with token.open(rw=True, so_pin="so-pin-1") as session:
    a, b = session.generate_random(256), session.generate_random(256)
    assert len(a) == 32 and a != b
    print("ok", a.hex())
"""


def _client_env(home: Path) -> dict[str, str]:
    env = dict(os.environ, TOKENPORT_HOME=str(home), XDG_CONFIG_HOME=str(home / "xdg"),
               XDG_DATA_HOME=str(home / "data"), TOKENPORT_SO_PIN="so-pin-1",
               TOKENPORT_PIN="user-pin-1")
    env.pop("TOKENPORT_CONF", None)
    return env  # the clients use the tokenport this interpreter imports (installed in CI)


def test_python_pkcs11_draws_from_the_tpm_through_the_c_abi(
    swtpm: Swtpm, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tokenport.toml").write_text(
        f'[entropy]\nsource = "tpm2"\ntcti = "{swtpm.tcti}"\n', encoding="utf-8")
    env = _client_env(home)
    init = subprocess.run([sys.executable, "-m", "tokenport", "token", "init", "--label", "tpm"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert init.returncode == 0, init.stderr
    proc = subprocess.run([sys.executable, "-c", PKCS11_DRAW], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("ok "), proc.stdout + proc.stderr
    assert proc.stderr == ""  # the TSS libraries stay quiet


def test_python_pkcs11_sees_ckr_device_error_without_the_tpm(
    fresh_swtpm: Swtpm, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tokenport.toml").write_text(
        f'[entropy]\nsource = "tpm2"\ntcti = "{fresh_swtpm.tcti}"\n', encoding="utf-8")
    env = _client_env(home)
    init = subprocess.run([sys.executable, "-m", "tokenport", "token", "init", "--label", "tpm"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert init.returncode == 0, init.stderr
    fresh_swtpm.stop()
    draw = PKCS11_DRAW.replace('print("ok"', 'print("unexpected"')
    probe = (
        "import pkcs11\n"
        "try:\n" + "".join(f"    {line}\n" for line in draw.strip().splitlines())
        + "except pkcs11.exceptions.DeviceError:\n    print('CKR_DEVICE_ERROR')\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.stdout.strip() == "CKR_DEVICE_ERROR", proc.stdout + proc.stderr
    selftest = subprocess.run([sys.executable, "-m", "tokenport", "entropy", "selftest"],
                              env=env, capture_output=True, text=True, timeout=120,
                              check=False)
    assert selftest.returncode == 1
    lines = selftest.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot open TCTI" in lines[0], selftest.stderr


def test_entropy_selftest_runs_the_tpm_source(swtpm: Swtpm, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tokenport.toml").write_text(
        f'[entropy]\nsource = "tpm2"\ntcti = "{swtpm.tcti}"\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "tokenport", "entropy", "selftest"],
                          env=_client_env(home), capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"pass  [entropy]: HMAC_DRBG (SHA-256) over tpm2 {swtpm.tcti}" in proc.stdout


def test_crypto_port_and_entropy_source_share_the_tpm(swtpm: Swtpm, tmp_path: Path) -> None:
    """[crypto] backend = "tpm2" and [entropy] source = "tpm2" on one simulator: the
    entropy source takes its TCTI from [crypto.tpm2], keys are made in the TPM and every
    random byte comes from it. (The crypto port is another part of issue 13: this runs
    once both are merged.)"""
    from tokenport import plugins

    if not plugins.exists("crypto", "tpm2"):
        pytest.skip("the tpm2 crypto port is not in this tree (issue 13, item 1)")
    home = tmp_path / "home"
    home.mkdir()
    (home / "tokenport.toml").write_text(
        f'[crypto]\nbackend = "tpm2"\n[crypto.tpm2]\ntcti = "{swtpm.tcti}"\n'
        '[entropy]\nsource = "tpm2"\n', encoding="utf-8")
    env = _client_env(home)
    for args in (["token", "init", "--label", "tpm"],
                 ["key", "generate", "--type", "ec", "--label", "k"]):
        proc = subprocess.run([sys.executable, "-m", "tokenport", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, "-c", PKCS11_DRAW], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("ok "), proc.stdout + proc.stderr
    selftest = subprocess.run([sys.executable, "-m", "tokenport", "entropy", "selftest"],
                              env=env, capture_output=True, text=True, timeout=120, check=False)
    assert selftest.returncode == 0, selftest.stderr
    assert f"over tpm2 {swtpm.tcti} " in selftest.stdout
