"""The shared TPM connection against a real simulator: commands, errors, fork, reset."""

from __future__ import annotations

import os

import pytest

from tokenport.backends.tpm.connection import (
    TpmConnection,
    check_tcti,
    tpm_error_number,
    translate,
)
from tokenport.errors import DeviceError, PinIncorrect, PinLocked

from .swtpm import Swtpm


def _random(conn: TpmConnection) -> bytes:
    return bytes(conn.run("reading random bytes", lambda esys: esys.get_random(16)))


def test_get_random_from_the_simulator(swtpm: Swtpm) -> None:
    conn = TpmConnection(swtpm.tcti)
    try:
        first, second = _random(conn), _random(conn)
        assert len(first) == 16 and first != second
    finally:
        conn.close()


def test_unknown_tcti_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="unknown TCTI 'usb'"):
        check_tcti("usb:/dev/x")
    assert check_tcti("device:/dev/tpmrm0") == "device:/dev/tpmrm0"


def test_unreachable_tpm_is_a_device_error(fresh_swtpm: Swtpm) -> None:
    tcti = fresh_swtpm.tcti
    fresh_swtpm.stop()
    conn = TpmConnection(tcti)
    with pytest.raises(DeviceError, match="cannot open TCTI"):
        _random(conn)


def test_reset_tpm_gives_a_clear_error_then_recovers(fresh_swtpm: Swtpm) -> None:
    conn = TpmConnection(fresh_swtpm.tcti)
    try:
        _random(conn)
        fresh_swtpm.reset()
        with pytest.raises(DeviceError, match="reset and has not been started"):
            _random(conn)
        fresh_swtpm.startup()
        assert len(_random(conn)) == 16
    finally:
        conn.close()


def test_restarted_simulator_is_reached_again(fresh_swtpm: Swtpm) -> None:
    """A power-cycled TPM (simulator restarted on the same ports) answers the same
    connection again: the swtpm TCTI reconnects per command."""
    conn = TpmConnection(fresh_swtpm.tcti)
    try:
        _random(conn)
        fresh_swtpm.restart()
        assert len(_random(conn)) == 16
    finally:
        conn.close()


def test_forked_child_opens_its_own_context(swtpm: Swtpm) -> None:
    conn = TpmConnection(swtpm.tcti)
    try:
        _random(conn)
        parent_generation = conn.generation
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                _random(conn)
                code = 0 if conn.generation == parent_generation + 1 else 3
            except BaseException:  # noqa: BLE001 - any failure is the exit code
                code = 2
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert len(_random(conn)) == 16  # the parent's context still works
    finally:
        conn.close()


class _Rc(Exception):
    def __init__(self, rc: int) -> None:
        super().__init__("tpm said no")
        self.rc = rc


@pytest.mark.parametrize(
    ("rc", "error"),
    [
        (0x921, PinLocked),  # TPM_RC_LOCKOUT
        (0x98E, PinIncorrect),  # TPM_RC_AUTH_FAIL on session 1 (format one)
        (0x9A2, PinIncorrect),  # TPM_RC_BAD_AUTH on session 1
        (0x100, DeviceError),  # TPM_RC_INITIALIZE
        (0xA000A, DeviceError),  # TSS2_TCTI_RC_IO_ERROR
    ],
)
def test_response_codes_map_to_ckr(rc: int, error: type[Exception]) -> None:
    translated = translate(_Rc(rc), "signing")
    assert type(translated) is error
    assert f"0x{rc:x}" in str(translated) or "cannot reach" in str(translated)


def test_format_one_numbers_drop_the_parameter_bits() -> None:
    assert tpm_error_number(0x1C4) == 0x084  # TPM_RC_VALUE, parameter 1
    assert tpm_error_number(0x98E) == 0x08E
    assert tpm_error_number(0xA000A) == -1
