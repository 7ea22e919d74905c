"""The raw entropy sources: os (getrandom), nv-seed (a seed file), fixed (tests only)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tokenport import errors
from tokenport.backends.entropy import sources as entropy_sources
from tokenport.backends.entropy.sources import (
    MIN_SEED_BYTES,
    FixedEntropySource,
    FixedSourceNotAllowed,
    NvSeedSource,
    OsEntropySource,
    read_seed_file,
    write_seed_file,
)
from tokenport.ports.entropy import EntropySource


def derive_counter() -> tuple[list[int], object]:
    calls: list[int] = []

    def derive(n: int) -> bytes:
        calls.append(n)
        return bytes([len(calls)]) * n

    return calls, derive


# -- os --------------------------------------------------------------------------------------


def test_os_source() -> None:
    source = OsEntropySource()
    assert isinstance(source, EntropySource)
    assert (source.name, source.sample_bits, source.min_entropy_per_sample, source.live) == (
        "os", 8, 4.0, True
    )
    assert len(source.read(0)) == 0 and len(source.read(1 << 20)) == 1 << 20
    assert source.read(32) != source.read(32)
    source.after_seeding(lambda n: pytest.fail("a noise source derives nothing"))


def test_os_source_completes_short_getrandom_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.getrandom
    monkeypatch.setattr(os, "getrandom", lambda n, flags=0: real(min(n, 7), flags))
    assert len(OsEntropySource().read(100)) == 100


def test_os_failure_is_a_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(n: int, flags: int = 0) -> bytes:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "getrandom", broken)
    with pytest.raises(errors.DeviceError, match="OS entropy source failed"):
        OsEntropySource().read(16)


@pytest.mark.parametrize("length", [-1, 1.5, True])
def test_bad_lengths(length: object) -> None:
    with pytest.raises(errors.ArgumentsBad):
        OsEntropySource().read(length)  # type: ignore[arg-type]


# -- fixed ---------------------------------------------------------------------------------------


def test_fixed_source_is_refused_unless_allowed() -> None:
    with pytest.raises(FixedSourceNotAllowed, match="tests only") as info:
        FixedEntropySource()
    assert isinstance(info.value, errors.PKCS11Error)
    with pytest.raises(FixedSourceNotAllowed):
        FixedEntropySource(b"\x01", allow=False)


def test_fixed_source_repeats_its_pattern() -> None:
    source = FixedEntropySource(b"abc", allow=True)
    assert isinstance(source, EntropySource)
    assert source.read(4) + source.read(5) + source.read(0) + source.read(3) == b"abcabcabcabc"
    assert FixedEntropySource(allow=True).read(300) == bytes(range(256)) + bytes(range(44))


def test_fixed_source_needs_a_pattern() -> None:
    with pytest.raises(errors.ArgumentsBad):
        FixedEntropySource(b"", allow=True)


# -- nv-seed ----------------------------------------------------------------------------------


def seed_file(tmp_path: Path, size: int = 128) -> Path:
    path = tmp_path / "device.seed"
    path.write_bytes(os.urandom(size))
    return path


def test_missing_seed_file_is_a_clear_error(tmp_path: Path) -> None:
    source = NvSeedSource(tmp_path / "absent.seed")
    with pytest.raises(errors.DeviceError, match="absent.seed: no such file") as info:
        source.read(16)
    assert "tokenport entropy seed --out" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("size", [0, 1, MIN_SEED_BYTES - 1])
def test_short_seed_file_is_a_clear_error(tmp_path: Path, size: int) -> None:
    path = seed_file(tmp_path, size)
    with pytest.raises(errors.DeviceError, match=f"{size} bytes, at least {MIN_SEED_BYTES}"):
        NvSeedSource(path).read(16)


def test_oversized_or_unreadable_seed_file(tmp_path: Path) -> None:
    big = seed_file(tmp_path, entropy_sources.MAX_SEED_BYTES + 1)
    with pytest.raises(errors.DeviceError, match="larger than"):
        read_seed_file(big)
    with pytest.raises(errors.DeviceError, match="cannot read"):
        read_seed_file(tmp_path)  # a directory


def test_seed_is_handed_out_once(tmp_path: Path) -> None:
    path = seed_file(tmp_path)
    data = path.read_bytes()
    source = NvSeedSource(path)
    assert isinstance(source, EntropySource) and not source.live
    assert source.read(64) + source.read(32) == data[:96]
    with pytest.raises(errors.DeviceError, match="cannot supply this seeding"):
        source.read(64)  # only 32 left until the seed is refreshed


def test_after_seeding_replaces_the_file_atomically(tmp_path: Path) -> None:
    path = seed_file(tmp_path)
    before = path.read_bytes()
    inode = path.stat().st_ino
    source = NvSeedSource(path)
    source.read(96)
    calls, derive = derive_counter()
    source.after_seeding(derive)  # type: ignore[arg-type]
    assert calls == [128]  # a fresh seed of the same size
    after = path.read_bytes()
    assert after == bytes([1]) * 128 != before
    assert path.stat().st_ino != inode  # a new file renamed into place
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device.seed"]  # no temp file left
    assert source.read(96) == after[:96]  # the fresh seed is the current one


def test_failed_refresh_keeps_the_old_seed_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = seed_file(tmp_path)
    before = path.read_bytes()
    source = NvSeedSource(path)
    source.read(96)

    def no_space(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(errors.DeviceError, match="cannot write the refreshed seed"):
        source.after_seeding(lambda n: bytes(n))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device.seed"]


def test_write_seed_file_without_replace_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "new.seed"
    write_seed_file(path, b"a" * 100, replace=False)
    assert path.read_bytes() == b"a" * 100
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_seed_file(path, b"b" * 100, replace=False)
    assert path.read_bytes() == b"a" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.seed"]


def test_sources_are_found_by_name_and_unknown_names_are_refused() -> None:
    from tokenport import plugins

    assert {"os", "nv-seed", "fixed"} <= set(plugins.available("entropy"))
    with pytest.raises(plugins.PluginNotFound):
        plugins.find("entropy", "no-such-entropy-source")
