"""Fixtures of the TPM tests: one swtpm simulator per test session (see ``swtpm``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .swtpm import Swtpm, missing_reason


def _running(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Swtpm]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    tpm = Swtpm.start(tmp_path_factory.mktemp(name))
    try:
        yield tpm
    finally:
        tpm.stop()


@pytest.fixture(scope="session")
def swtpm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swtpm]:
    """A running swtpm with a fresh state directory on free 127.0.0.1 ports."""
    yield from _running(tmp_path_factory, "swtpm")


@pytest.fixture
def fresh_swtpm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swtpm]:
    """A simulator of the test's own, for tests that reset, restart or lock out the TPM."""
    yield from _running(tmp_path_factory, "swtpm-own")
