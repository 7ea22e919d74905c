"""A real TPM 2.0 simulator for the tests: swtpm, one per test session.

``Swtpm.start(state_dir)`` runs ``swtpm socket --tpm2`` on two free ports of 127.0.0.1 (the
command port and the control port) with a fresh state directory, waits until it answers, and
``stop()`` ends it by its pid. ``restart()`` stops and starts the same state (a power cycle:
the TPM's transient objects are gone, its persistent state stays); ``reset()`` sends
TPM_Init through the control channel without starting the TPM again, so that commands fail
with TPM_RC_INITIALIZE until someone sends TPM2_Startup.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SWTPM = shutil.which("swtpm")
SWTPM_IOCTL = shutil.which("swtpm_ioctl")


def missing_reason() -> str | None:
    """Why the simulator cannot run here (the tests skip with this), or None."""
    if SWTPM is None or SWTPM_IOCTL is None:
        return "swtpm is not installed (apt-get install swtpm swtpm-tools)"
    try:
        import tpm2_pytss  # noqa: F401
    except ImportError:
        return "tpm2-pytss is not installed (pip install 'tokenport[tpm2]'; needs libtss2-dev)"
    return None


def _free_port_pair() -> tuple[int, int]:
    """Two adjacent free ports: the swtpm TCTI expects the control port at port + 1."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port >= 65535:
            continue
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port, port + 1
    raise RuntimeError("no two adjacent free ports on 127.0.0.1")


@dataclass
class Swtpm:
    """A running swtpm process."""

    state_dir: Path
    port: int
    ctrl_port: int
    pid: int = 0

    @property
    def tcti(self) -> str:
        """The TCTI string for tokenport's config and tpm2-tools (``--tcti``)."""
        return f"swtpm:host=127.0.0.1,port={self.port}"

    @classmethod
    def start(cls, state_dir: Path) -> Swtpm:
        state_dir.mkdir(parents=True, exist_ok=True)
        port, ctrl_port = _free_port_pair()
        tpm = cls(state_dir, port, ctrl_port)
        tpm._launch()
        return tpm

    def _launch(self) -> None:
        assert SWTPM is not None
        pid_file = self.state_dir / "swtpm.pid"
        pid_file.unlink(missing_ok=True)
        subprocess.run(
            [
                SWTPM, "socket", "--tpm2",
                "--tpmstate", f"dir={self.state_dir}",
                "--server", f"type=tcp,port={self.port},bindaddr=127.0.0.1",
                "--ctrl", f"type=tcp,port={self.ctrl_port},bindaddr=127.0.0.1",
                "--flags", "not-need-init,startup-clear",
                "--pid", f"file={pid_file}",
                "--log", f"file={self.state_dir / 'swtpm.log'}",
                "--daemon",
            ],
            check=True,
            timeout=30,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if pid_file.exists() and pid_file.read_text().strip():
                self.pid = int(pid_file.read_text().strip())
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return
                except OSError:
                    pass
            time.sleep(0.02)
        raise RuntimeError(f"swtpm did not start (log: {self.state_dir / 'swtpm.log'})")

    def _ioctl(self, *args: str) -> None:
        assert SWTPM_IOCTL is not None
        subprocess.run(
            [SWTPM_IOCTL, "--tcp", f"127.0.0.1:{self.ctrl_port}", *args],
            check=True, timeout=30, capture_output=True,
        )

    def reset(self) -> None:
        """TPM_Init (a reset without TPM2_Startup): the next command fails with
        TPM_RC_INITIALIZE; ``startup()`` brings it back."""
        self._ioctl("-i")

    def startup(self) -> None:
        """TPM2_Startup(CLEAR) after ``reset()``, as the platform firmware would."""
        subprocess.run(
            ["tpm2_startup", "-c", "--tcti", self.tcti], check=True, timeout=30,
            capture_output=True,
        )

    def stop(self) -> None:
        """End the process by its pid and wait until its ports are free."""
        if not self.pid:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            self.pid = 0
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        else:
            os.kill(self.pid, signal.SIGKILL)
        self.pid = 0

    def restart(self) -> None:
        """Stop and start on the same state and ports (a power cycle)."""
        self.stop()
        self._launch()
