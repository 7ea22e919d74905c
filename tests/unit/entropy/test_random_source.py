"""DrbgRandomSource: the token's RandomSource (source -> health tests -> DRBG)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tokenport import errors
from tokenport.backends.entropy.drbg import MAX_REQUEST_BYTES
from tokenport.backends.entropy.drbg_source import DrbgRandomSource
from tokenport.backends.entropy.sources import FixedEntropySource, NvSeedSource, OsEntropySource
from tokenport.ports.entropy import RandomSource

DRBG_KINDS = ["ctr", "hmac"]


class Counting:
    """Wraps an EntropySource and counts its reads; can go stuck after ``good`` bytes."""

    def __init__(self, inner: object | None = None, *, good: int | None = None,
                 live: bool = True) -> None:
        self.inner = inner if inner is not None else OsEntropySource()
        self.reads: list[int] = []
        self.good = good
        self.live = live
        self.sample_bits = 8
        self.min_entropy_per_sample = 4.0
        self.seedings = 0

    @property
    def name(self) -> str:
        return "counting"

    def read(self, length: int) -> bytes:
        self.reads.append(length)
        data = self.inner.read(length)  # type: ignore[attr-defined]
        if self.good is not None:
            served = sum(self.reads[:-1])
            keep = max(0, self.good - served)
            data = data[:keep] + bytes(length - keep) if keep < length else data
        return bytes(data)

    def after_seeding(self, derive: Callable[[int], bytes]) -> None:
        self.seedings += 1


def fixed(pattern: bytes = bytes(range(256))) -> FixedEntropySource:
    return FixedEntropySource(pattern, allow=True)


@pytest.fixture(params=DRBG_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_is_a_random_source_that_starts_lazily(kind: str) -> None:
    counting = Counting()
    source = DrbgRandomSource(counting, drbg=kind)  # type: ignore[arg-type]
    assert isinstance(source, RandomSource)
    assert not source.started and counting.reads == []
    source.random_bytes(1)
    # start-up test over 1024 samples, then 256 bits of entropy input and a 128-bit nonce
    # at 4 bits per byte
    assert source.started and counting.reads == [1024, 32, 64]
    assert counting.seedings == 1
    assert source.health.samples_tested == 1024 + 96
    assert "source=counting" in repr(source) and kind.upper() in repr(source)


@pytest.mark.parametrize("length", [0, 1, 32, MAX_REQUEST_BYTES, MAX_REQUEST_BYTES + 1, 1 << 20])
def test_lengths(kind: str, length: int) -> None:
    data = DrbgRandomSource(OsEntropySource(), drbg=kind).random_bytes(length)
    assert isinstance(data, bytes) and len(data) == length


def test_outputs_differ(kind: str) -> None:
    source = DrbgRandomSource(OsEntropySource(), drbg=kind)
    assert len({source.random_bytes(16) for _ in range(200)}) == 200


@pytest.mark.parametrize("length", [-1, 1.5, "8", True])
def test_bad_lengths(length: object) -> None:
    with pytest.raises(errors.ArgumentsBad):
        DrbgRandomSource(OsEntropySource()).random_bytes(length)  # type: ignore[arg-type]


def test_seed_wrong_type() -> None:
    with pytest.raises(errors.ArgumentsBad):
        DrbgRandomSource(OsEntropySource()).seed("text")  # type: ignore[arg-type]


def test_unknown_drbg_and_prediction_resistance_without_a_live_source(tmp_path: Path) -> None:
    with pytest.raises(errors.ArgumentsBad, match="unknown DRBG"):
        DrbgRandomSource(OsEntropySource(), drbg="hash")
    with pytest.raises(errors.ArgumentsBad, match="live entropy source"):
        DrbgRandomSource(NvSeedSource(tmp_path / "s"), prediction_resistance=True)


# -- deterministic twins (same entropy, same personalization) ---------------------------------


@pytest.fixture
def twins(monkeypatch: pytest.MonkeyPatch) -> Callable[..., DrbgRandomSource]:
    """Sources whose personalization string is fixed, so equal entropy gives equal output."""
    monkeypatch.setattr(DrbgRandomSource, "_personal", lambda self: b"twin")

    def make(pattern: bytes = bytes(range(256)), **kwargs: object) -> DrbgRandomSource:
        return DrbgRandomSource(fixed(pattern), **kwargs)  # type: ignore[arg-type]

    return make


def test_twins_agree(twins: Callable[..., DrbgRandomSource]) -> None:
    assert twins().random_bytes(64) == twins().random_bytes(64)
    assert twins().random_bytes(64) != twins(bytes(range(255, -1, -1))).random_bytes(64)
    assert twins().random_bytes(64) != twins(drbg="ctr").random_bytes(64)


def test_seed_random_mixes_additional_input_in(twins: Callable[..., DrbgRandomSource]) -> None:
    """C_SeedRandom reseeds with the caller's bytes as additional input: different bytes,
    different stream; the same bytes over different entropy still give different streams
    (the caller's bytes never replace the source's entropy)."""
    a, b, c = twins(), twins(), twins()
    other = twins(bytes(range(255, -1, -1)))
    for source, data in ((a, b"x"), (b, b"y"), (c, b"x"), (other, b"x")):
        source.random_bytes(16)
        source.seed(data)
    outputs = [s.random_bytes(32) for s in (a, b, c, other)]
    assert outputs[0] == outputs[2]
    assert len({outputs[0], outputs[1], outputs[3]}) == 3
    plain = twins()
    plain.random_bytes(16)
    assert plain.random_bytes(32) != outputs[0]


def test_seed_random_reseeds_from_the_source(kind: str) -> None:
    counting = Counting()
    source = DrbgRandomSource(counting, drbg=kind)  # type: ignore[arg-type]
    source.seed(b"caller bytes")  # starts, then reseeds
    assert counting.reads == [1024, 32, 64, 64]
    assert counting.seedings == 2


# -- reseeding --------------------------------------------------------------------------------


def test_reseed_interval(kind: str) -> None:
    counting = Counting()
    source = DrbgRandomSource(counting, drbg=kind, reseed_interval=2)  # type: ignore[arg-type]
    for _ in range(6):
        source.random_bytes(16)
    # instantiation, then a reseed before requests 3 and 5
    assert counting.reads == [1024, 32, 64, 64, 64]
    assert counting.seedings == 3


def test_large_requests_are_several_drbg_requests(kind: str) -> None:
    counting = Counting()
    source = DrbgRandomSource(counting, drbg=kind, reseed_interval=1)  # type: ignore[arg-type]
    source.random_bytes(3 * MAX_REQUEST_BYTES)  # requests 2 and 3 need a reseed each
    assert counting.reads == [1024, 32, 64, 64, 64]


def test_prediction_resistance_reseeds_before_every_request(kind: str) -> None:
    counting = Counting()
    source = DrbgRandomSource(  # type: ignore[arg-type]
        counting, drbg=kind, prediction_resistance=True
    )
    source.random_bytes(16)
    source.random_bytes(16)
    source.random_bytes(2 * MAX_REQUEST_BYTES)
    assert counting.reads == [1024, 32, 64] + [64] * 4


# -- failures ---------------------------------------------------------------------------------


def test_stuck_source_stops_output_at_start_up(kind: str) -> None:
    source = DrbgRandomSource(fixed(b"\x00"), drbg=kind)
    with pytest.raises(errors.DeviceError, match="repetition count"):
        source.random_bytes(16)
    assert source.failure is not None and not source.started
    with pytest.raises(errors.DeviceError, match="repetition count"):
        source.random_bytes(16)  # and keeps failing
    with pytest.raises(errors.DeviceError, match="repetition count"):
        source.seed(b"more")


def test_biased_source_stops_output(kind: str) -> None:
    """A pattern the repetition count test cannot see (0x00 every other byte)."""
    source = DrbgRandomSource(fixed(b"\x00\x01\x00\x02\x00\x03"), drbg=kind)
    with pytest.raises(errors.DeviceError, match="adaptive proportion"):
        source.random_bytes(16)


def test_source_failing_later_is_caught_by_the_continuous_tests(kind: str) -> None:
    """Good for start-up and instantiation, stuck afterwards: the next reseed fails, the
    DRBG state is zeroized, and every later request fails, reseed or not."""
    counting = Counting(good=1024 + 96)
    source = DrbgRandomSource(counting, drbg=kind)  # type: ignore[arg-type]
    first = source.random_bytes(32)
    assert len(first) == 32
    with pytest.raises(errors.DeviceError, match="repetition count"):
        source.seed(b"")
    buffers = [v for v in vars(source._drbg).values() if isinstance(v, bytearray)]
    assert buffers and all(not any(b) for b in buffers)
    with pytest.raises(errors.DeviceError, match="repetition count"):
        source.random_bytes(1)
    with pytest.raises(errors.DeviceError):
        source.random_bytes(0)


def test_os_error_stops_output(monkeypatch: pytest.MonkeyPatch) -> None:
    source = DrbgRandomSource(OsEntropySource())
    source.random_bytes(8)

    def broken(n: int, flags: int = 0) -> bytes:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "getrandom", broken)
    with pytest.raises(errors.DeviceError, match="OS entropy source failed"):
        source.seed(b"")
    monkeypatch.undo()
    with pytest.raises(errors.DeviceError, match="OS entropy source failed"):
        source.random_bytes(8)  # until a new source is built


def test_short_read_from_a_source_is_a_failure() -> None:
    class Short(Counting):
        def read(self, length: int) -> bytes:
            return bytes(length // 2)

    with pytest.raises(errors.DeviceError, match="short read"):
        DrbgRandomSource(Short()).random_bytes(8)  # type: ignore[arg-type]


def test_close_zeroizes_and_a_later_request_starts_again(kind: str) -> None:
    counting = Counting()
    source = DrbgRandomSource(counting, drbg=kind)  # type: ignore[arg-type]
    source.random_bytes(8)
    source.close()
    assert not source.started
    source.random_bytes(8)
    assert counting.reads == [1024, 32, 64, 1024, 32, 64]


# -- nv-seed through the DRBG -----------------------------------------------------------------


def test_seed_file_is_refreshed_after_each_seeding(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "device.seed"
    path.write_bytes(os.urandom(128))
    seen = [path.read_bytes()]
    source = DrbgRandomSource(NvSeedSource(path), drbg=kind, reseed_interval=2)
    source.random_bytes(32)  # instantiation
    seen.append(path.read_bytes())
    source.seed(b"x")  # reseed
    seen.append(path.read_bytes())
    source.random_bytes(32)
    source.random_bytes(32)  # the interval forces a reseed
    seen.append(path.read_bytes())
    assert len(set(seen)) == 4 and all(len(s) == 128 for s in seen)
    # a second start-up (the next boot) reads the refreshed seed, never the first one
    again = DrbgRandomSource(NvSeedSource(path), drbg=kind)
    again.random_bytes(1)
    assert path.read_bytes() not in seen


def test_missing_seed_file_fails_without_fallback(tmp_path: Path) -> None:
    source = DrbgRandomSource(NvSeedSource(tmp_path / "none.seed"))
    with pytest.raises(errors.DeviceError, match="none.seed: no such file"):
        source.random_bytes(16)
    (tmp_path / "none.seed").write_bytes(os.urandom(128))
    with pytest.raises(errors.DeviceError, match="no such file"):
        source.random_bytes(16)  # failed until re-initialised


def test_stuck_seed_file_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "zero.seed"
    path.write_bytes(bytes(128))
    with pytest.raises(errors.DeviceError, match="repetition count"):
        DrbgRandomSource(NvSeedSource(path)).random_bytes(16)
    assert path.read_bytes() == bytes(128)  # never refreshed from a failed source


# -- fork -------------------------------------------------------------------------------------


def _fork_and_draw(source: DrbgRandomSource, length: int = 32) -> tuple[bytes, bytes]:
    """Fork; parent and child each draw ``length`` bytes; returns (parent, child)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read_end)
            os.write(write_end, source.random_bytes(length))
        finally:
            os._exit(0)
    os.close(write_end)
    parent = source.random_bytes(length)
    child = b""
    while chunk := os.read(read_end, 4096):
        child += chunk
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return parent, child


@pytest.mark.parametrize("entropy", ["os", "fixed"])
def test_parent_and_child_never_share_output(kind: str, entropy: str) -> None:
    """Even when the source gives the child the very same entropy (fixed), the child
    reseeds with its pid before its first output."""
    source = DrbgRandomSource(OsEntropySource() if entropy == "os" else fixed(), drbg=kind)
    source.random_bytes(16)
    parent, child = _fork_and_draw(source)
    assert len(child) == 32 and parent != child
    parent2, child2 = _fork_and_draw(source)
    assert len({parent, child, parent2, child2}) == 4


def test_fork_without_hooks_is_caught_by_the_pid_check(
    twins: Callable[..., DrbgRandomSource],
) -> None:
    a, b = twins(), twins()
    a.random_bytes(16)
    b.random_bytes(16)
    b._pid = -1  # as if this process were a child whose fork ran no Python hooks
    assert a.random_bytes(32) != b.random_bytes(32)
    assert a.random_bytes(32) != b.random_bytes(32)


# -- the pool of small requests -----------------------------------------------------------------


def test_small_requests_never_repeat_and_seed_random_drops_the_pool(
    twins: Callable[..., DrbgRandomSource], kind: str
) -> None:
    """Small requests come from output generated ahead: each byte is handed out once, and
    C_SeedRandom drops what was generated before it (the next bytes depend on the seed)."""
    a, b = twins(drbg=kind), twins(drbg=kind)
    chunks = [a.random_bytes(32) for _ in range(300)]  # more than one pool
    assert len(set(chunks)) == len(chunks)
    assert [b.random_bytes(32) for _ in range(3)] == chunks[:3]  # same entropy, same stream
    a.seed(b"x")
    b.seed(b"y")
    after_a, after_b = a.random_bytes(32), b.random_bytes(32)
    assert after_a != after_b
    assert after_a not in chunks and after_b not in chunks
