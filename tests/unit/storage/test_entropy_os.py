"""OsRandomSource: the entropy port on the OS CSPRNG (lives here with the other backends)."""

from __future__ import annotations

import os

import pytest

from tokenport import errors
from tokenport.backends.entropy.os import OsRandomSource
from tokenport.ports.entropy import RandomSource


def test_is_a_random_source() -> None:
    assert isinstance(OsRandomSource(), RandomSource)


@pytest.mark.parametrize("length", [0, 1, 32, 4096, 1 << 20])
def test_lengths(length: int) -> None:
    data = OsRandomSource().random_bytes(length)
    assert isinstance(data, bytes) and len(data) == length


def test_outputs_differ() -> None:
    source = OsRandomSource()
    samples = {source.random_bytes(16) for _ in range(100)}
    assert len(samples) == 100


@pytest.mark.parametrize("length", [-1, 1.5, "8", True])
def test_bad_lengths(length: object) -> None:
    with pytest.raises(errors.ArgumentsBad):
        OsRandomSource().random_bytes(length)  # type: ignore[arg-type]


def test_seed_is_accepted_and_ignored() -> None:
    source = OsRandomSource()
    source.seed(b"")
    source.seed(b"\x00" * 1000)
    source.seed(bytearray(b"abc"))
    assert source.random_bytes(32) != bytes(32)
    assert "abc" not in repr(source)


def test_seed_wrong_type() -> None:
    with pytest.raises(errors.ArgumentsBad):
        OsRandomSource().seed("text")  # type: ignore[arg-type]


def test_os_failure_is_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(n: int) -> bytes:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "urandom", broken)
    with pytest.raises(errors.DeviceError):
        OsRandomSource().random_bytes(16)
