"""The ``tpm2`` entropy source: the TPM's random number generator (TPM2_GetRandom, TCG TPM
2.0 Library Part 3 s16.1), as an ``EntropySource`` of the entropy port (PKCS #11 v2.40
s5.15, C_GenerateRandom / C_SeedRandom are served by the DRBG it feeds).

It plugs in exactly as the ``os`` source does: ``DrbgRandomSource`` reads it for the
start-up health test (1024 samples), for the DRBG's instantiation (entropy input and
nonce) and for every reseed, and runs the SP 800-90B continuous health tests (repetition
count, adaptive proportion) on every byte it returns. A stuck or failing TPM therefore
stops the token's random source for good, as a stuck OS source would.

TPM2_GetRandom returns at most the size of the TPM's largest digest per command (32 bytes
on a SHA-256 TPM, 64 with SHA-512): ``read`` loops until it has the length asked for.

Claimed min-entropy: 4 bits per byte, as the ``os`` source (see
``tokenport.backends.entropy.sources``): the TPM's output is its own DRBG's output and
full-entropy by the TPM's claim, and the lower claim keeps the health tests' false-alarm
rate negligible over a token's life.

Errors: a TPM that cannot be reached (no ``/dev/tpmrm0``, a stopped simulator), is not
started or is in failure mode gives ``errors.DeviceError`` (CKR_DEVICE_ERROR) at the first
draw, which ``DrbgRandomSource`` makes permanent for that source (the Module builds a new
one at the next C_Initialize). Forks are safe: the connection
(``tokenport.backends.tpm.connection.TpmConnection``) opens a context of its own in a child
process, and the DRBG reseeds there before its first output.

Config (``[entropy]``): ``source = "tpm2"`` and ``tcti`` (default: ``[crypto.tpm2] tcti``
if set, else ``device:/dev/tpmrm0``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from tokenport import errors
from tokenport.backends.entropy.sources import CLAIMED_MIN_ENTROPY
from tokenport.backends.tpm.connection import DEFAULT_TCTI, TpmConnection, check_tcti
from tokenport.ports.entropy import EntropySource

if TYPE_CHECKING:
    from tpm2_pytss import ESAPI

MAX_REQUEST = 1024
"""The most bytes asked for in one TPM2_GetRandom (the TPM answers with at most its largest
digest size; asking for more costs nothing and covers future TPMs with larger digests)."""
MAX_EMPTY_ANSWERS = 3
"""After this many empty TPM2_GetRandom answers in a row the source fails
(CKR_DEVICE_ERROR) instead of asking forever."""


class TpmEntropySource:
    """Raw entropy from a TPM 2.0 (TPM2_GetRandom) through a ``TpmConnection``."""

    sample_bits = 8
    min_entropy_per_sample = CLAIMED_MIN_ENTROPY
    live = True

    def __init__(self, connection: TpmConnection) -> None:
        self._connection = connection

    def __repr__(self) -> str:
        return f"TpmEntropySource({self._connection.tcti!r})"

    @property
    def name(self) -> str:
        return f"tpm2 {self._connection.tcti}"

    @property
    def connection(self) -> TpmConnection:
        return self._connection

    def read(self, length: int) -> bytes:
        """``length`` bytes from TPM2_GetRandom, in as many commands as the TPM needs."""
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise errors.ArgumentsBad("the entropy length must be a non-negative integer")
        out = bytearray()
        empty = 0
        while len(out) < length:
            want = min(length - len(out), MAX_REQUEST)
            try:
                chunk: bytes = self._connection.run(
                    "reading random bytes (TPM2_GetRandom)",
                    functools.partial(_get_random, length=want),
                )
            except errors.DeviceError as exc:
                raise _explained(exc, self._connection.tcti) from None
            if not chunk:
                empty += 1
                if empty >= MAX_EMPTY_ANSWERS:
                    raise errors.DeviceError(
                        f"TPM ({self._connection.tcti}): TPM2_GetRandom returned no bytes"
                    )
                continue
            empty = 0
            out += chunk[: length - len(out)]
        return bytes(out)

    def after_seeding(self, derive: Callable[[int], bytes]) -> None:
        """A noise source keeps no seed."""

    def close(self) -> None:
        """Close the TPM connection (``DrbgRandomSource.close``, at C_Finalize): a
        resource manager counts connections (tabrmd allows 27). The next read reopens it."""
        self._connection.close()


def _explained(exc: errors.DeviceError, tcti: str) -> errors.DeviceError:
    """``exc``, or a plainer error when a device TCTI names a missing or inaccessible
    device (the TSS says only "IO failure")."""
    name, _, path = tcti.partition(":")
    if name != "device" or not path:
        return exc
    if not os.path.exists(path):
        return errors.DeviceError(
            f"TPM: no TPM at {path} (no such device; see docs/tpm.md)")
    if not os.access(path, os.R_OK | os.W_OK):
        return errors.DeviceError(
            f"TPM: {path}: permission denied (add the user to the tss group; see docs/tpm.md)")
    return exc


def _get_random(esys: ESAPI | Any, length: int) -> bytes:
    return bytes(esys.get_random(length))


class TpmSourceOptions(Protocol):
    """What the factory reads from the config's [entropy] section."""

    tcti: str | None


def tpm2_from_config(entropy: TpmSourceOptions) -> EntropySource:
    """The ``tpm2`` source on the TCTI ``entropy.tcti`` (default device:/dev/tpmrm0).
    Nothing is sent to the TPM until the first draw."""
    tcti = getattr(entropy, "tcti", None) or DEFAULT_TCTI
    return TpmEntropySource(TpmConnection(check_tcti(tcti)))
