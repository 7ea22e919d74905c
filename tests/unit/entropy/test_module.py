"""The entropy port in the core: each token draws from its own configured random source
(C_GenerateRandom, C_SeedRandom, key generation, master keys and salts), a failing
source is CKR_DEVICE_ERROR, an injected source serves every token, and a process that
forks never repeats its parent's output."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenport import errors
from tokenport.backends.entropy.drbg_source import DrbgRandomSource
from tokenport.backends.entropy.os import OsRandomSource
from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.ck import CKA, CKF, CKM, CKR, CKU
from tokenport.config import Config, EntropyConfig
from tokenport.core.module import Module
from tokenport.mechanisms.params import Mechanism
from tokenport.wiring import build_module

SO_PIN = b"so-secret-1"
USER_PIN = b"user-pin-1"
RW = int(CKF.SERIAL_SESSION | CKF.RW_SESSION)
STUCK = EntropyConfig(source="fixed", allow_fixed_source=True, fixed_pattern=b"\x00")
FIXED = EntropyConfig(source="fixed", allow_fixed_source=True)


def config(tmp_path: Path, **kwargs: object) -> Config:
    return Config(store_backend="memory", store_dir=tmp_path, **kwargs)  # type: ignore[arg-type]


def init_token(module: Module, label: str) -> tuple[int, str]:
    slot = module.get_slot_list(True)[-1]
    module.init_token(slot, SO_PIN, label.encode().ljust(32))
    session = module.open_session(slot, RW)
    module.login(session, CKU.SO, SO_PIN)
    module.init_pin(session, USER_PIN)
    module.close_session(session)
    return slot, module.get_token_info(slot).serial_number


def user_session(module: Module, slot: int) -> int:
    session = module.open_session(slot, RW)
    module.login(session, CKU.USER, USER_PIN)
    return session


@pytest.fixture
def store() -> MemoryObjectStore:
    return MemoryObjectStore()


@pytest.fixture
def two_tokens(tmp_path: Path, store: MemoryObjectStore) -> Iterator[dict[str, tuple[int, str]]]:
    """Tokens "good" and "bad" created with the default (os) source; the module is closed."""
    module = build_module(config(tmp_path), store=store)
    module.initialize()
    tokens = {label: init_token(module, label) for label in ("good", "bad")}
    module.finalize()
    yield tokens


def test_each_token_has_its_own_source(tmp_path: Path, store: MemoryObjectStore) -> None:
    ctr_config = EntropyConfig(drbg="ctr")
    module = build_module(config(tmp_path, token_entropy={"b": ctr_config}), store=store)
    module.initialize()
    slot_a, _ = init_token(module, "a")
    slot_b, _ = init_token(module, "b")
    token_a = module.directory().token_in_slot(slot_a)
    token_b = module.directory().token_in_slot(slot_b)
    assert token_a is not None and token_b is not None
    source_a, source_b = token_a.random, token_b.random
    assert isinstance(source_a, DrbgRandomSource) and isinstance(source_b, DrbgRandomSource)
    assert source_a is not source_b and token_a.random is source_a  # built once, kept
    assert source_a.mechanism.startswith("HMAC_DRBG") and source_b.mechanism.startswith("CTR")
    assert source_a.started and source_b.started  # master keys came from them
    session = user_session(module, slot_b)
    assert len(module.generate_random(session, 100)) == 100
    module.finalize()
    assert not source_a.started and not source_b.started  # zeroized at C_Finalize


def test_stuck_source_is_device_error(
    tmp_path: Path, store: MemoryObjectStore, two_tokens: dict[str, tuple[int, str]]
) -> None:
    """The token configured with a stuck source refuses every random draw with
    CKR_DEVICE_ERROR; the other token of the same module is unaffected."""
    slot_bad, serial_bad = two_tokens["bad"]
    slot_good, _ = two_tokens["good"]
    module = build_module(config(tmp_path, token_entropy={serial_bad: STUCK}), store=store)
    module.initialize()
    bad = user_session(module, slot_bad)
    with pytest.raises(errors.DeviceError, match="repetition count") as info:
        module.generate_random(bad, 16)
    assert info.value.rv == CKR.DEVICE_ERROR
    with pytest.raises(errors.DeviceError):
        module.seed_random(bad, b"seed")
    aes = Mechanism(CKM.AES_KEY_GEN)
    with pytest.raises(errors.DeviceError):
        module.generate_key(bad, aes, [(CKA.VALUE_LEN, 32)])
    with pytest.raises(errors.DeviceError):
        module.generate_key_pair(
            bad, Mechanism(CKM.EC_KEY_PAIR_GEN),
            [(CKA.EC_PARAMS, bytes.fromhex("06082a8648ce3d030107"))], [],
        )
    good = user_session(module, slot_good)
    assert len(module.generate_random(good, 16)) == 16
    assert module.generate_key(good, aes, [(CKA.VALUE_LEN, 32)])
    module.finalize()


def test_token_creation_fails_cleanly_with_a_stuck_source(
    tmp_path: Path, store: MemoryObjectStore
) -> None:
    module = build_module(config(tmp_path, entropy=STUCK), store=store)
    module.initialize()
    with pytest.raises(errors.DeviceError):
        module.init_token(0, SO_PIN, b"t".ljust(32))
    assert not module.get_token_info(0).flags & CKF.TOKEN_INITIALIZED
    module.finalize()


def test_seed_random_reaches_the_token_source(
    tmp_path: Path, store: MemoryObjectStore, two_tokens: dict[str, tuple[int, str]]
) -> None:
    module = build_module(config(tmp_path), store=store)
    module.initialize()
    slot, _ = two_tokens["good"]
    session = user_session(module, slot)
    token = module.directory().token_in_slot(slot)
    assert token is not None
    source = token.random
    assert isinstance(source, DrbgRandomSource)
    module.generate_random(session, 1)
    before = source.health.samples_tested
    module.seed_random(session, b"application seed")
    assert source.health.samples_tested == before + 64  # a reseed from the source
    module.finalize()


def test_a_label_change_selects_the_new_configuration(
    tmp_path: Path, store: MemoryObjectStore, two_tokens: dict[str, tuple[int, str]]
) -> None:
    module = build_module(config(tmp_path, token_entropy={"renamed": EntropyConfig(drbg="ctr")}),
                    store=store)
    module.initialize()
    slot, _ = two_tokens["good"]
    token = module.directory().token_in_slot(slot)
    assert token is not None
    first = token.random
    module.init_token(slot, SO_PIN, b"renamed".ljust(32))
    second = token.random
    assert isinstance(first, DrbgRandomSource) and isinstance(second, DrbgRandomSource)
    assert first is not second and second.mechanism.startswith("CTR_DRBG")
    assert not first.started  # the old one was zeroized
    module.finalize()


def test_injected_source_serves_every_token(tmp_path: Path, store: MemoryObjectStore) -> None:
    class Recording(OsRandomSource):
        def __init__(self) -> None:
            self.requests: list[int] = []
            self.seeds: list[bytes] = []

        def random_bytes(self, length: int) -> bytes:
            self.requests.append(length)
            return super().random_bytes(length)

        def seed(self, data: bytes | bytearray | memoryview) -> None:
            self.seeds.append(bytes(data))

    injected = Recording()
    module = build_module(config(tmp_path, entropy=STUCK), store=store, random=injected)
    module.initialize()
    slot, _ = init_token(module, "t")  # the stuck config is not used
    drawn_for_token = len(injected.requests)
    assert drawn_for_token >= 3  # master key, PBKDF2 salts, GCM nonces
    session = user_session(module, slot)
    module.generate_random(session, 48)
    module.seed_random(session, b"abc")
    aes = Mechanism(CKM.AES_KEY_GEN)
    module.generate_key(session, aes, [(CKA.VALUE_LEN, 16), (CKA.TOKEN, True)])
    assert 48 in injected.requests and 16 in injected.requests[drawn_for_token:]
    assert injected.seeds == [b"abc"]
    module.finalize()


def test_forked_module_never_repeats_the_parent(
    tmp_path: Path, store: MemoryObjectStore
) -> None:
    """A Python process forks with an initialized Module (no C_Initialize in the child):
    the token's source reseeds in the child before its first output. The fixed source
    gives parent and child identical entropy, so only the reseed can tell them apart."""
    module = build_module(config(tmp_path, entropy=FIXED), store=store)
    module.initialize()
    slot, _ = init_token(module, "forking")
    session = user_session(module, slot)
    module.generate_random(session, 16)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            os.write(write_end, module.generate_random(session, 64))
        finally:
            os._exit(0)
    os.close(write_end)
    parent = module.generate_random(session, 64)
    child = b""
    while chunk := os.read(read_end, 4096):
        child += chunk
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(child) == 64 and parent != child
    blocks = {parent[i:i + 8] for i in range(0, 64, 8)}
    assert not blocks & {child[i:i + 8] for i in range(0, 64, 8)}
    module.finalize()
