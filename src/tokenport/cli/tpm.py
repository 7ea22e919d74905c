"""`tokenport tpm info`: what the TPM 2.0 behind the ``tpm2`` ports is (issue 13, item 4).

Read-only: it sends TPM2_GetCapability only (TCG TPM 2.0 Library Part 3 s30.2), never a
command that writes the TPM's NV memory, and it never opens the token store. What it
reports, from the capability data of TCG TPM 2.0 Library Part 2:

* TPM_CAP_TPM_PROPERTIES, fixed group (s6.13, TPM_PT): the manufacturer (TPM_PT_MANUFACTURER,
  four ASCII characters, the TCG vendor ID), the vendor strings (TPM_PT_VENDOR_STRING_1..4),
  the firmware version (TPM_PT_FIRMWARE_VERSION_1 and _2, shown a.b.c.d: the high and low
  16 bits of each, as the TPM vendors and Windows show it), the specification family,
  level, revision and date;
* TPM_CAP_TPM_PROPERTIES, variable group: the dictionary-attack lockout state
  (TPM_PT_LOCKOUT_COUNTER, TPM_PT_MAX_AUTH_FAIL, TPM_PT_LOCKOUT_INTERVAL and
  TPM_PT_LOCKOUT_RECOVERY in seconds, and the inLockout bit of TPM_PT_PERMANENT, TPMA_PERMANENT
  s8.6);
* TPM_CAP_ALGS (the algorithms, named as in the TCG Algorithm Registry and tpm2-tools),
  TPM_CAP_ECC_CURVES (the curves) and TPM_CAP_PCRS (the allocated PCR banks).

Which TPM: ``--tcti``; else the configured one (``[crypto.tpm2] tcti`` when the crypto port
is tpm2, else ``[entropy] tcti``, which defaults to it); else ``$TPM2TOOLS_TCTI``; else
``device:/dev/tpmrm0``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import click

from tokenport.backends.tpm.connection import DEFAULT_TCTI, TpmConnection, check_tcti
from tokenport.cli.common import emit_json, fail, reports_errors

# TCG TPM 2.0 Library Part 2: TPM_CAP (s6.12) and TPM_PT (s6.13) numbers.
CAP_ALGS = 0x0
CAP_TPM_PROPERTIES = 0x6
CAP_PCRS = 0x5
CAP_ECC_CURVES = 0x8
PT_FIXED = 0x100
PT_VAR = 0x200
PT_FAMILY_INDICATOR = PT_FIXED + 0
PT_LEVEL = PT_FIXED + 1
PT_REVISION = PT_FIXED + 2
PT_DAY_OF_YEAR = PT_FIXED + 3
PT_YEAR = PT_FIXED + 4
PT_MANUFACTURER = PT_FIXED + 5
PT_VENDOR_STRINGS = (PT_FIXED + 6, PT_FIXED + 7, PT_FIXED + 8, PT_FIXED + 9)
PT_VENDOR_TPM_TYPE = PT_FIXED + 10
PT_FIRMWARE_VERSION_1 = PT_FIXED + 11
PT_FIRMWARE_VERSION_2 = PT_FIXED + 12
PT_PERMANENT = PT_VAR + 0
PT_LOCKOUT_COUNTER = PT_VAR + 14
PT_MAX_AUTH_FAIL = PT_VAR + 15
PT_LOCKOUT_INTERVAL = PT_VAR + 16
PT_LOCKOUT_RECOVERY = PT_VAR + 17
PERMANENT_IN_LOCKOUT = 0x200
"""TPMA_PERMANENT inLockout (Part 2 s8.6)."""
MAX_ROUNDS = 64
"""TPM2_GetCapability calls per capability at most (each answers as much as fits)."""

ALGORITHMS: Mapping[int, str] = {
    0x0001: "rsa", 0x0003: "tdes", 0x0004: "sha1", 0x0005: "hmac", 0x0006: "aes",
    0x0007: "mgf1", 0x0008: "keyedhash", 0x000A: "xor", 0x000B: "sha256", 0x000C: "sha384",
    0x000D: "sha512", 0x0010: "null", 0x0012: "sm3_256", 0x0013: "sm4", 0x0014: "rsassa",
    0x0015: "rsaes", 0x0016: "rsapss", 0x0017: "oaep", 0x0018: "ecdsa", 0x0019: "ecdh",
    0x001A: "ecdaa", 0x001B: "sm2", 0x001C: "ecschnorr", 0x001D: "ecmqv",
    0x0020: "kdf1_sp800_56a", 0x0021: "kdf2", 0x0022: "kdf1_sp800_108", 0x0023: "ecc",
    0x0025: "symcipher", 0x0026: "camellia", 0x0027: "sha3_256", 0x0028: "sha3_384",
    0x0029: "sha3_512", 0x003F: "cmac", 0x0040: "ctr", 0x0041: "ofb", 0x0042: "cbc",
    0x0043: "cfb", 0x0044: "ecb",
}
"""TPM_ALG_ID -> name (TCG Algorithm Registry; the names tpm2-tools print)."""

CURVES: Mapping[int, str] = {
    0x0001: "nist_p192", 0x0002: "nist_p224", 0x0003: "nist_p256", 0x0004: "nist_p384",
    0x0005: "nist_p521", 0x0010: "bn_p256", 0x0011: "bn_p638", 0x0020: "sm2_p256",
}
"""TPM_ECC_CURVE -> name (TCG Algorithm Registry)."""


@dataclass
class Lockout:
    """The dictionary-attack protection state (TPM 2.0 Library Part 1 s19.8)."""

    in_lockout: bool
    counter: int
    max_auth_fail: int
    interval_seconds: int
    recovery_seconds: int


@dataclass
class TpmInfo:
    """What ``tokenport tpm info`` reports."""

    tcti: str
    manufacturer: str
    manufacturer_id: int
    vendor_strings: list[str]
    vendor: str
    firmware_version: str
    firmware_version_1: int
    firmware_version_2: int
    family: str
    level: int
    revision: str
    year: int
    day_of_year: int
    vendor_tpm_type: int
    algorithms: list[str]
    ecc_curves: list[str]
    pcr_banks: dict[str, list[int]]
    lockout: Lockout
    properties: dict[int, int] = field(default_factory=dict, repr=False)


def ascii_of(value: int) -> str:
    """A TPM_PT value holding four ASCII characters (big-endian), without NULs and the
    surrounding blanks; characters that are not printable show as '.'."""
    text = value.to_bytes(4, "big").replace(b"\0", b"").decode("ascii", "replace")
    return "".join(c if c.isprintable() and c.isascii() else "." for c in text).strip()


def firmware_version(first: int, second: int) -> str:
    """TPM_PT_FIRMWARE_VERSION_1 and _2 as a.b.c.d (16-bit halves, most significant first)."""
    return f"{first >> 16}.{first & 0xFFFF}.{second >> 16}.{second & 0xFFFF}"


def _properties(esys: Any, group: int) -> dict[int, int]:
    """Every TPM property of the group starting at ``group`` (PT_FIXED or PT_VAR)."""
    found: dict[int, int] = {}
    start = group
    for _ in range(MAX_ROUNDS):
        more, data = esys.get_capability(CAP_TPM_PROPERTIES, start, 0x100)
        last = start - 1
        for prop in data.data.tpmProperties:
            number = int(prop.property)
            if number >= group + 0x100:
                return found
            found[number] = int(prop.value)
            last = number
        if not more or last < start:
            break
        start = last + 1
    return found


def _listed(esys: Any, capability: int, read: Any) -> list[int]:
    """Every entry of an ALGS or ECC_CURVES capability (``read`` picks the numbers)."""
    found: list[int] = []
    start = 0 if capability == CAP_ECC_CURVES else 1
    for _ in range(MAX_ROUNDS):
        more, data = esys.get_capability(capability, start, 0x400)
        numbers = [int(n) for n in read(data.data)]
        found += [n for n in numbers if n not in found]
        if not more or not numbers:
            break
        start = max(numbers) + 1
    return found


def _pcr_banks(esys: Any) -> dict[str, list[int]]:
    _, data = esys.get_capability(CAP_PCRS, 0, 1)
    banks: dict[str, list[int]] = {}
    for selection in data.data.assignedPCR:
        bits = bytes(selection.pcrSelect)[: int(selection.sizeofSelect)]
        name = ALGORITHMS.get(int(selection.hash), f"0x{int(selection.hash):04x}")
        banks[name] = [8 * i + b for i, byte in enumerate(bits) for b in range(8) if byte >> b & 1]
    return banks


def _name(table: Mapping[int, str], number: int) -> str:
    return table.get(number, f"0x{number:04x}")


def read_info(esys: Any, tcti: str) -> TpmInfo:
    """Ask the TPM behind ``esys`` (an ESAPI context) for its capabilities; GetCapability
    only."""
    fixed = _properties(esys, PT_FIXED)
    variable = _properties(esys, PT_VAR)
    algorithms = _listed(esys, CAP_ALGS, lambda d: [a.alg for a in d.algorithms])
    curves = _listed(esys, CAP_ECC_CURVES, lambda d: list(d.eccCurves))
    strings = [ascii_of(fixed.get(p, 0)) for p in PT_VENDOR_STRINGS]
    raw_vendor = b"".join(fixed.get(p, 0).to_bytes(4, "big") for p in PT_VENDOR_STRINGS)
    vendor = "".join(c if c.isprintable() and c.isascii() else "."
                     for c in raw_vendor.replace(b"\0", b"").decode("ascii", "replace")).strip()
    revision = fixed.get(PT_REVISION, 0)
    first, second = fixed.get(PT_FIRMWARE_VERSION_1, 0), fixed.get(PT_FIRMWARE_VERSION_2, 0)
    return TpmInfo(
        tcti=tcti,
        manufacturer=ascii_of(fixed.get(PT_MANUFACTURER, 0)),
        manufacturer_id=fixed.get(PT_MANUFACTURER, 0),
        vendor_strings=strings,
        vendor=vendor,
        firmware_version=firmware_version(first, second),
        firmware_version_1=first,
        firmware_version_2=second,
        family=ascii_of(fixed.get(PT_FAMILY_INDICATOR, 0)),
        level=fixed.get(PT_LEVEL, 0),
        revision=f"{revision // 100}.{revision % 100:02d}",
        year=fixed.get(PT_YEAR, 0),
        day_of_year=fixed.get(PT_DAY_OF_YEAR, 0),
        vendor_tpm_type=fixed.get(PT_VENDOR_TPM_TYPE, 0),
        algorithms=[_name(ALGORITHMS, a) for a in algorithms],
        ecc_curves=[_name(CURVES, c) for c in curves],
        pcr_banks=_pcr_banks(esys),
        lockout=Lockout(
            in_lockout=bool(variable.get(PT_PERMANENT, 0) & PERMANENT_IN_LOCKOUT),
            counter=variable.get(PT_LOCKOUT_COUNTER, 0),
            max_auth_fail=variable.get(PT_MAX_AUTH_FAIL, 0),
            interval_seconds=variable.get(PT_LOCKOUT_INTERVAL, 0),
            recovery_seconds=variable.get(PT_LOCKOUT_RECOVERY, 0),
        ),
        properties={**fixed, **variable},
    )


def default_tcti(environ: Mapping[str, str] = os.environ) -> str:
    """The TPM ``tpm info`` reads without --tcti (see the module docstring)."""
    from tokenport.config import load_config

    config = load_config(environ)
    configured = config.crypto_options.get("tcti") if config.crypto_backend == "tpm2" else None
    if isinstance(configured, str) and configured:
        return configured
    if config.entropy.tcti:
        return config.entropy.tcti
    from_env = environ.get("TPM2TOOLS_TCTI", "")
    if from_env:
        try:
            return check_tcti(from_env)
        except ValueError as exc:
            raise click.ClickException(f"TPM2TOOLS_TCTI: {exc}") from None
    return DEFAULT_TCTI


def _check_device(tcti: str) -> None:
    """A device TCTI naming a missing or unreadable character device: say so plainly."""
    name, _, path = tcti.partition(":")
    if name != "device":
        return
    path = path or DEFAULT_TCTI.partition(":")[2]
    if not os.path.exists(path):
        fail(f"no TPM at {path} (no such device; is there a TPM 2.0 and its kernel driver? "
             "see docs/tpm.md)")
    if not os.access(path, os.R_OK | os.W_OK):
        fail(f"{path}: permission denied (add the user to the tss group; see docs/tpm.md)")


def describe(info: TpmInfo) -> dict[str, Any]:
    """The --json form (the raw property table is left out)."""
    data = asdict(info)
    data.pop("properties")
    return data


def _words(items: Iterable[str]) -> str:
    return " ".join(items) or "(none)"


def render(info: TpmInfo) -> str:
    """The text report."""
    lock = info.lockout
    state = "IN LOCKOUT" if lock.in_lockout else "not in lockout"
    banks = ", ".join(f"{name} ({len(pcrs)} PCRs)" for name, pcrs in info.pcr_banks.items())
    lines = [
        f"TPM:               {info.tcti}",
        f"Manufacturer:      {info.manufacturer} (0x{info.manufacturer_id:08x})",
        f"Vendor:            {info.vendor or '(none)'}",
        f"Firmware version:  {info.firmware_version}",
        (f"Specification:     TPM {info.family}, level {info.level}, revision {info.revision}"
         f" ({info.year}, day {info.day_of_year})"),
        f"Algorithms:        {_words(info.algorithms)}",
        f"ECC curves:        {_words(info.ecc_curves)}",
        f"PCR banks:         {banks or '(none)'}",
        (f"Lockout:           {state}; {lock.counter} of {lock.max_auth_fail} failed "
         f"authorizations; a failure is forgotten after {lock.interval_seconds} s; "
         f"lockout authorization retry after {lock.recovery_seconds} s"),
    ]
    return "\n".join(lines)


@click.group("tpm")
def tpm_group() -> None:
    """The TPM 2.0 behind the tpm2 crypto port and entropy source (see docs/tpm.md)."""


@tpm_group.command("info")
@click.option(
    "--tcti", "tcti", metavar="TCTI",
    help="The TPM to ask, as tpm2-tools name it (device:/dev/tpmrm0, "
         "swtpm:host=127.0.0.1,port=2321, tabrmd:bus_type=system). Default: the configured "
         "[crypto.tpm2] / [entropy] tcti, else $TPM2TOOLS_TCTI, else device:/dev/tpmrm0.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reports_errors
def info_command(tcti: str | None, as_json: bool) -> None:
    """Show the TPM's manufacturer, firmware, specification level, algorithms, ECC
    curves, PCR banks and dictionary-attack lockout state. Read-only: it asks the TPM
    (TPM2_GetCapability) and changes nothing, on the TPM or in the store."""
    chosen = default_tcti() if tcti is None else tcti
    try:
        check_tcti(chosen)
    except ValueError as exc:
        fail(f"--tcti: {exc}")
    _check_device(chosen)
    connection = TpmConnection(chosen)
    try:
        info: TpmInfo = connection.run(
            "reading the TPM's capabilities (TPM2_GetCapability)",
            lambda esys: read_info(esys, chosen),
        )
    finally:
        connection.close()
    if as_json:
        emit_json(describe(info))
    else:
        click.echo(render(info))
