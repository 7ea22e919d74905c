"""One connection to a TPM 2.0 (TCG TPM 2.0 Library Part 3 commands, through tpm2-pytss's ESAPI).

Shared by the TPM ports (the ``tpm2`` crypto port, the ``tpm2`` entropy source and
``tokenport tpm info``). What it promises:

* **one command at a time**: an ESAPI context is not thread-safe, so every use holds
  the connection's lock (``with conn.esapi() as esys: ...``);
* **fork safety**: a child process never reuses its parent's socket or file descriptor;
  the first use in a new process opens a connection of its own;
* **clear errors**: every TSS2/TPM failure leaves as a tokenport error with a CKR code
  (``translate``), never as a tpm2-pytss exception, and never as CKR_OK. The message names
  the TPM's response code, not any key, PIN or authorization value;
* **quiet**: the TSS libraries log to stderr by default; a PKCS #11 module must not, so
  their logging is off unless the user set ``TSS2_LOG`` themselves.

The TCTI string is the one tpm2-tools take (``device:/dev/tpmrm0``,
``swtpm:host=127.0.0.1,port=2321``, ``tabrmd:bus_type=system``, ``mssim:...``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tokenport.errors import (
    DeviceError,
    DeviceMemory,
    PinIncorrect,
    PinLocked,
    PKCS11Error,
)

if TYPE_CHECKING:
    from tpm2_pytss import ESAPI

TCTI_NAMES = ("device", "swtpm", "mssim", "tabrmd", "libtpms", "cmd")
"""TCTI modules a configuration may name (the part before the first colon)."""

DEFAULT_TCTI = "device:/dev/tpmrm0"
"""The kernel's resource manager: what a Linux host with a TPM 2.0 offers."""

BUSY_RETRIES = 5
"""How often a command the TPM answered with TPM_RC_RETRY / YIELDED / TESTING is re-sent."""

# TPM 2.0 Library Part 2, s6.6 (TPM_RC): the codes given their own CKR code. Values are
# the format-zero/format-one error numbers without the parameter/handle/session bits.
RC_INITIALIZE = 0x100
RC_FAILURE = 0x101
RC_AUTH_FAIL = 0x08E
RC_BAD_AUTH = 0x0A2
RC_INTEGRITY = 0x09F
RC_LOCKOUT = 0x921
RC_RETRY = 0x922
RC_YIELDED = 0x908
RC_TESTING = 0x90A
RC_NV_RATE = 0x920
RC_OBJECT_MEMORY = 0x902
RC_SESSION_MEMORY = 0x903
RC_MEMORY = 0x904
_BUSY = frozenset({RC_RETRY, RC_YIELDED, RC_TESTING, RC_NV_RATE})
_MEMORY = frozenset({RC_OBJECT_MEMORY, RC_SESSION_MEMORY, RC_MEMORY})
TSS2_LAYER_MASK = 0xFF0000
TSS2_TPM_LAYER = 0x000000
TSS2_RESMGR_TPM_LAYER = 0x0B0000


def check_tcti(tcti: str) -> str:
    """``tcti`` if it names a known TCTI module; ValueError (one line) otherwise."""
    if not isinstance(tcti, str) or not tcti:
        raise ValueError("tcti must be a non-empty string such as 'device:/dev/tpmrm0'")
    name = tcti.split(":", 1)[0]
    if name not in TCTI_NAMES:
        raise ValueError(
            f"tcti {tcti!r}: unknown TCTI {name!r} (known: {', '.join(TCTI_NAMES)})"
        )
    return tcti


def tpm_error_number(rc: int) -> int:
    """The TPM_RC error number of a TPM-layer response code, without the parameter,
    handle or session number (TPM 2.0 Library Part 2 s6.6.2); -1 for another layer."""
    if rc & TSS2_LAYER_MASK not in (TSS2_TPM_LAYER, TSS2_RESMGR_TPM_LAYER):
        return -1
    rc &= 0xFFFF
    if rc & 0x080:  # format one: error number in bits 0..5, plus RC_FMT1
        return 0x080 | (rc & 0x03F)
    return rc & 0xFFF


def translate(exc: BaseException, doing: str) -> PKCS11Error:
    """The tokenport error for a failed TPM command (``doing`` says what it was, e.g.
    "signing with the TPM key"). Never carries key material: only the response code."""
    if isinstance(exc, PKCS11Error):
        return exc
    rc = getattr(exc, "rc", None)
    if not isinstance(rc, int):
        return DeviceError(f"TPM: {doing} failed ({type(exc).__name__})")
    number = tpm_error_number(rc)
    where = f"TPM: {doing} failed (TPM_RC 0x{rc:x})"
    if number == RC_LOCKOUT:
        return PinLocked(
            f"{where}: the TPM's dictionary-attack lockout is active; wait for it to expire "
            "or clear it with the lockout authorization (tpm2_dictionarylockout -c)"
        )
    if number in (RC_AUTH_FAIL, RC_BAD_AUTH):
        return PinIncorrect(f"{where}: the TPM refused the key's authorization value")
    if number == RC_INITIALIZE:
        return DeviceError(f"{where}: the TPM was reset and has not been started (TPM2_Startup)")
    if number == RC_FAILURE:
        return DeviceError(f"{where}: the TPM is in failure mode")
    if number in _MEMORY:
        return DeviceMemory(f"{where}: the TPM is out of object or session memory")
    if number == -1:
        return DeviceError(f"TPM: {doing} failed: cannot reach the TPM ({exc})")
    return DeviceError(where)


def is_busy(exc: BaseException) -> bool:
    """Whether the TPM asked for the command to be sent again (RETRY, YIELDED, TESTING,
    NV_RATE)."""
    rc = getattr(exc, "rc", None)
    return isinstance(rc, int) and tpm_error_number(rc) in _BUSY


def quiet_tss_logging() -> None:
    """Turn the TSS libraries' stderr logging off unless the user configured it."""
    os.environ.setdefault("TSS2_LOG", "all+NONE")


class TpmConnection:
    """A lazily opened, lock-guarded, fork-aware ESAPI context for one TCTI."""

    def __init__(self, tcti: str = DEFAULT_TCTI) -> None:
        self.tcti = check_tcti(tcti)
        self._lock = threading.RLock()
        self._esapi: ESAPI | None = None
        self._pid = -1
        self._generation = 0
        self._reset_hooks: list[Callable[[], None]] = []

    @property
    def generation(self) -> int:
        """Counts the contexts opened so far: cached TPM handles made under another
        generation are gone (new process, reconnection after an error)."""
        return self._generation

    def on_reconnect(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` (under the lock) whenever a new context replaces the old one, so
        that holders of transient handles (a loaded primary key ...) drop them."""
        self._reset_hooks.append(hook)

    def _open(self) -> ESAPI:
        quiet_tss_logging()
        try:
            from tpm2_pytss import ESAPI
        except ImportError:
            raise DeviceError(
                "TPM: the tpm2-pytss package is not installed (pip install 'tokenport[tpm2]')"
            ) from None
        try:
            esapi = ESAPI(self.tcti)
        except Exception as exc:  # noqa: BLE001 - any failure to connect is a device error
            raise DeviceError(f"TPM: cannot open TCTI {self.tcti!r}: {exc}") from None
        self._generation += 1
        for hook in self._reset_hooks:
            hook()
        return esapi

    @contextmanager
    def esapi(self) -> Iterator[ESAPI]:
        """The context, held under the lock for the ``with`` block."""
        with self._lock:
            if self._esapi is None or self._pid != os.getpid():
                if self._esapi is not None and self._pid == os.getpid():
                    self._close_locked()
                self._esapi = self._open()
                self._pid = os.getpid()
            yield self._esapi

    def run(self, doing: str, command: Callable[[ESAPI], Any]) -> Any:
        """``command(esapi)`` under the lock, re-sent while the TPM is busy; failures are
        translated (``translate``). A failure to reach the TPM drops the context, so the
        next call reconnects (a restarted resource manager or simulator)."""
        for attempt in range(BUSY_RETRIES + 1):
            with self.esapi() as esys:
                try:
                    return command(esys)
                except PKCS11Error:
                    raise
                except Exception as exc:  # noqa: BLE001 - every TSS failure is translated
                    if is_busy(exc) and attempt < BUSY_RETRIES:
                        time.sleep(0.01 * (attempt + 1))
                        continue
                    error = translate(exc, doing)
                    rc = getattr(exc, "rc", None)
                    if not isinstance(rc, int) or tpm_error_number(rc) in (-1, RC_INITIALIZE):
                        self._close_locked()
                    raise error from None
        raise DeviceError(f"TPM: {doing} failed: the TPM stayed busy")  # pragma: no cover

    def _close_locked(self) -> None:
        esapi, self._esapi = self._esapi, None
        if esapi is not None and self._pid == os.getpid():
            try:
                esapi.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken context may fail
                pass

    def close(self) -> None:
        """Close the context (the next use opens a new one)."""
        with self._lock:
            self._close_locked()
